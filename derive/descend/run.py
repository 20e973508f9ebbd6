"""The run: a random start, steps against the gradient, and the checks of the result against
numbers (a finite difference of the loss; the closed form for mse and ridge)."""

import math
from dataclasses import dataclass, field

import numpy as np

from derive.errors import DeriveError
from derive.descend.compile import Compiled
from derive.descend.data import Data


SUPPORTED = ("mse", "ridge", "bce", "mae", "huber", "relu", "mlp")
HYPER_DEFAULTS = {"lambda": 0.1, "delta": 1.0}
START_RANGE = (-1.0, 1.0)
CLOSED_FORM_TOLERANCE = 1e-3  # |gradient descent − closed form| ≤ this · max(1, |closed form|)
CHECK_RTOL = 1e-6  # the compiled gradient vs a central difference of the loss
MAX_STEPS = 1_000_000
GREW_KEPT = 20  # the first steps at which the loss grew, kept to name them



# -- closed forms (independent of the gradient code) -------------------------------------------
@dataclass
class ClosedForm:
    values: dict  # long name -> value
    loss: float
    method: str  # "least_squares" or "ridge_normal_equations" (descend_words.j2 says each in words)
    tolerance: float = CLOSED_FORM_TOLERANCE
    compared: bool = False
    agrees: bool | None = None
    difference: float | None = None  # the largest |descent − closed form| / max(1, |closed form|)
    unique: bool = True
    why_not_unique: str | None = None  # "same_x" (every x is the same) or "close_x"

    def to_dict(self):
        return {**self.values, "loss": self.loss, "method": self.method, "unique": self.unique,
                "why_not_unique": self.why_not_unique,
                "compared": self.compared, "agrees": self.agrees, "difference": self.difference,
                "tolerance": self.tolerance}


def closed_form(name, data, hyper=None):
    """The exact minimiser of mse (least squares) or ridge (with the penalty), else None.

    Solved from the normal equations with NumPy on the design matrix [x, 1], with nothing
    shared with the compiled gradient. The columns are first divided by a power of two near
    their largest value (exact in binary), so data near the limits of float64 (|x| ~ 10²⁰⁰,
    whose squares overflow) is solved as well as data near 1.
    """
    x, y = data.x, data.y
    n = data.n
    sx, sy = _scale(x), _scale(y)
    xs, ys = x / sx, y / sy
    design = np.column_stack([xs, np.ones_like(xs)])
    spread = float(np.ptp(xs))
    if spread == 0:
        why_not = "same_x"  # every x is the same: any line through (x, mean y) fits as well
    elif np.linalg.matrix_rank(np.column_stack([xs - xs.mean(), np.ones_like(xs)])) < 2:
        why_not = "close_x"  # the x values differ by less than float64 can tell apart
    else:
        why_not = None
    with np.errstate(over="ignore", invalid="ignore"):
        if name == "mse":
            solution, *_ = np.linalg.lstsq(design, ys, rcond=None)
            method = "least_squares"
            penalty = 0.0
        elif name == "ridge":
            lam = float((hyper or {}).get("lambda", HYPER_DEFAULTS["lambda"]))
            # λ w² with w = w′·sy/sx is (λ/sx²)·w′² in the scaled units
            gram = design.T @ design / n + np.diag([lam / (sx * sx), 0.0])
            try:
                solution = np.linalg.solve(gram, design.T @ ys / n)
            except np.linalg.LinAlgError:
                return None
            method, penalty = "ridge_normal_equations", lam
            why_not = None  # the penalty makes the minimum unique
        else:
            return None
        w, b = float(solution[0]) * (sy / sx), float(solution[1]) * sy
        residual = solution[0] * xs + solution[1] - ys  # in units of sy
        loss = float(np.mean(residual * residual) * sy * sy + penalty * w * w)
    return ClosedForm({"weight": w, "bias": b}, loss, method, unique=why_not is None, why_not_unique=why_not)


def _scale(column):
    """A power of two near the largest |value| (1 for a column of zeros): dividing by it is exact."""
    top = float(np.max(np.abs(column))) if column.size else 0.0
    return math.ldexp(1.0, math.frexp(top)[1]) if top > 0 and math.isfinite(top) else 1.0


# -- the numeric check of the gradient ----------------------------------------------------------
@dataclass
class GradientCheck:
    where: str  # "start" or "end"
    step: int
    values: dict  # long name -> parameter value
    rows: list  # [{"parameter", "compiled", "central", "difference", "tolerance", "passed", "kink"}]
    skipped: str | None = None

    @property
    def passed(self):
        return self.skipped is not None or all(row["passed"] for row in self.rows)

    def to_dict(self):
        return {"where": self.where, "step": self.step, "at": self.values, "passed": self.passed,
                "skipped": self.skipped, "partials": self.rows}


def check_gradient(compiled, theta, where="start", step=0):
    """The compiled gradient against a central difference of the compiled loss, at ``theta``."""
    names = compiled.names
    loss, grad = compiled.value_and_gradient(theta)
    values = dict(zip(names, map(float, theta)))
    if not math.isfinite(loss) or not all(math.isfinite(g) for g in grad):
        return GradientCheck(where, step, values, [], skipped="the loss is not a finite number there")
    rows = []
    for k, name in enumerate(names):
        h = 1e-5 * max(1.0, abs(theta[k]))
        up, down = list(theta), list(theta)
        up[k] += h
        down[k] -= h
        f_up, f_down = compiled.loss(up), compiled.loss(down)
        central = (f_up - f_down) / (2 * h)
        forward, backward = (f_up - loss) / h, (loss - f_down) / h
        g = float(grad[k])
        tol = CHECK_RTOL * max(1.0, abs(g), abs(central)) + 1e-12 * max(1.0, abs(loss)) / h
        ok = abs(g - central) <= tol
        # At a corner of |e| or max(0, z) within h, the gradient lies between the one-sided slopes.
        kink = not ok and min(forward, backward) - tol <= g <= max(forward, backward) + tol
        rows.append({"parameter": name, "compiled": g, "central": float(central), "difference": abs(g - central),
                     "tolerance": tol, "passed": bool(ok or kink), "kink": bool(kink)})
    return GradientCheck(where, step, values, rows)


# -- the run -------------------------------------------------------------------------------------
class History:
    """Every step of a run in one float64 array: the step, each parameter, the loss and each
    partial derivative. ``history[k]`` is step k as a dict (``h["loss"]``, ``h["dL/dweight"]``,
    ``h["step"]``); ``column("loss")`` is one column as an array. A million steps of a line
    take 40 MB, not the gigabytes of a million dicts. Rows arrive as tuples and are copied
    into the array a few thousand at a time, which costs a step less than a dict did."""

    BATCH = 4096

    def __init__(self, names, capacity=1024):
        self.names = list(names)
        self.keys = ["step", *self.names, "loss", *(f"dL/d{name}" for name in self.names)]
        self._column = {key: k for k, key in enumerate(self.keys)}
        self._rows = np.empty((max(1, capacity), len(self.keys)))
        self._count = 0
        self._pending = []

    def append(self, step, theta, loss, grad):
        self._pending.append((step, *theta, loss, *grad))
        if len(self._pending) == self.BATCH:
            self._flush()

    def _flush(self):
        if not self._pending:
            return
        need = self._count + len(self._pending)
        if need > self._rows.shape[0]:
            grown = np.empty((max(need, 2 * self._rows.shape[0]), len(self.keys)))
            grown[:self._count] = self._rows[:self._count]
            self._rows = grown
        self._rows[self._count:need] = self._pending
        self._count = need
        self._pending = []

    def __len__(self):
        return self._count + len(self._pending)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[j] for j in range(*k.indices(len(self)))]
        self._flush()
        if k < 0:
            k += self._count
        if not 0 <= k < self._count:
            raise IndexError("history index out of range")
        row = dict(zip(self.keys, map(float, self._rows[k])))
        row["step"] = int(row["step"])
        return row

    def __iter__(self):
        self._flush()
        return (self[k] for k in range(self._count))

    def column(self, key):
        """One quantity at every step (a read-only view): ``column("loss")``."""
        self._flush()
        view = self._rows[:self._count, self._column[key]]
        view.flags.writeable = False
        return view

    @property
    def nbytes(self):
        self._flush()
        return self._rows.nbytes


STATUSES = ("converged", "stalled", "max_steps", "diverged")
REMAINING_FACTOR = 1000  # converged: the loss could fall by at most this many tolerances more


@dataclass
class Descent:
    """A gradient-descent run and everything needed to show and check it.

    ``status`` says how it ended: ``"converged"`` (the loss stopped changing, at a minimum),
    ``"stalled"`` (it stopped changing only because the steps were too small to move it),
    ``"max_steps"`` (it ran every step asked for and was still falling) or ``"diverged"``
    (the loss overflowed, or ended higher than it started).
    """

    problem: object
    gradient: object  # derive.derivation.Gradient: the symbolic partials used
    data: Data
    learning_rate: float
    steps: int  # asked for
    seed: int
    tol: float
    hyper: dict
    start: dict
    history: History  # step 0 is the start
    stopped: str  # why the loop ended: "tol", "zero_gradient", "no_change" (a step moved nothing), "steps", "overflow"
    grew: list  # the first steps at which the loss grew (at most GREW_KEPT of them)
    checks: list  # GradientCheck at the start and at the end
    closed_form: ClosedForm | None
    plot: str | None = None
    operations: int = 0
    notes: list = field(default_factory=list)
    grew_count: int = 0  # how many steps the loss grew at, in all
    remaining: float | None = None  # when it stopped by tol: about how much lower the loss could go
    curvature: float | None = None  # the largest curvature of the loss at the start (Hessian eigenvalue)
    status: str = "max_steps"
    digits: int = 4  # significant digits of every number shown (derive.descend.rounding)

    @property
    def names(self):
        return [p.name for p in self.problem.parameters]

    @property
    def final(self):
        last = self.history[-1]
        return {**{k: last[k] for k in self.names}, "loss": last["loss"]}

    @property
    def steps_run(self):
        return self.history[-1]["step"]

    @property
    def converged(self):
        return self.status == "converged"

    @property
    def diverged(self):
        return self.status == "diverged"

    @property
    def diverging(self):
        """The loss grew somewhere (diverged, or grew at some steps before falling again)."""
        return self.diverged or self.grew_count > 0

    @property
    def steady_learning_rate(self):
        """About 1/(the largest curvature of the loss at the start), rounded down to one digit:
        for a quadratic loss, the largest learning rate whose steps never overshoot."""
        return _one_digit_down(1.0 / self.curvature) if self.curvature and self.curvature > 0 else None

    @property
    def suggested_learning_rate(self):
        """A learning rate to try instead, or ``None``: smaller when the loss grew (the steady
        one, else α/10), larger when the steps were too small to get anywhere."""
        steady = self.steady_learning_rate
        if self.diverging:
            return steady if steady is not None and steady < self.learning_rate else self.learning_rate / 10
        return steady if steady is not None and steady > self.learning_rate else None

    @property
    def check_passed(self):
        return all(c.passed for c in self.checks)

    @property
    def engine_check(self):
        return self.gradient.check

    def selected(self, rows=12):
        """A few steps for a table: the first four, then roughly 1, 2, 5 × 10ᵏ, and the last."""
        last = self.steps_run
        wanted = {0, 1, 2, 3, last}
        k = 1
        while k <= last:
            for m in (1, 2, 5):
                if m * k <= last:
                    wanted.add(m * k)
            k *= 10
        picked = sorted(wanted)
        if len(picked) > rows:
            head, tail = picked[:4], picked[4:]
            keep = np.unique(np.linspace(0, len(tail) - 1, rows - 4).round().astype(int))
            picked = head + [tail[j] for j in keep]
        return [self.history[s] for s in picked if s < len(self.history)]

    def to_dict(self, history=True):
        """Everything as plain values; ``history=False`` leaves out the per-step records."""
        out = {
            "problem": self.problem.name,
            "data": self.data.to_dict(),
            "learning_rate": self.learning_rate,
            "steps": self.steps,
            "steps_run": self.steps_run,
            "tol": self.tol,
            "seed": self.seed,
            "hyper": self.hyper,
            "status": self.status,
            "stopped": self.stopped,
            "converged": self.converged,
            "diverged": self.diverged,
            "remaining": self.remaining,
            "start": self.start,
            "final": self.final,
            "closed_form": self.closed_form.to_dict() if self.closed_form is not None else None,
            "diverging": ({"grew_at_steps": self.grew_count, "first": self.grew[0] if self.grew else None,
                           "overflow": self.stopped == "overflow",
                           "suggested_learning_rate": self.suggested_learning_rate}
                          if self.diverging else None),
            "suggested_learning_rate": self.suggested_learning_rate,
            "gradient": {p.name: str(d.result) for p, d in zip(self.problem.parameters, self.gradient.derivations)},
            "update": {p.name: f"{d.wrt} <- {d.update}"
                       for p, d in zip(self.problem.parameters, self.gradient.derivations)},
            "checks": {"passed": self.check_passed,
                       "engine": self.engine_check.passed if self.engine_check is not None else None,
                       "finite_difference": [c.to_dict() for c in self.checks]},
        }
        if self.plot:
            out["plot"] = self.plot
        if history:
            out["history"] = list(self.history)
        return out

    def to_json(self):
        """Strict JSON: a number that overflowed (∞, NaN) is written as null."""
        import io

        buffer = io.StringIO()
        self.write_json(buffer)
        return buffer.getvalue().rstrip("\n")

    def write_json(self, handle):
        """The JSON of ``to_json`` written to a text ``handle`` piece by piece: the history
        one step to a line, so a million steps never sit in memory as text."""
        import json

        marker = "\u0000history\u0000"
        head = json.dumps({**_finite(self.to_dict(history=False)), "history": marker}, indent=2,
                          ensure_ascii=False, allow_nan=False)
        before, after = head.split(json.dumps(marker), 1)
        handle.write(before + "[")
        rows = len(self.history)
        chunk = []
        for k, row in enumerate(self.history):
            chunk.append("\n    " + json.dumps(_finite(row), allow_nan=False)
                         + ("," if k < rows - 1 else ""))
            if len(chunk) == 4096:
                handle.write("".join(chunk))
                chunk = []
        handle.write("".join(chunk) + "\n  ]" + after + "\n")

    def render(self, fmt="text", standalone=False):
        from derive.descend.report import render

        return render(self, fmt, standalone=standalone)

    def writer(self, fmt):
        """How this run's numbers are written in ``fmt`` (its one rounding rule): see
        ``derive.descend.report.Writer``. A handout's template asks for it."""
        from derive.descend.report import writer

        return writer(self, fmt)


def _finite(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _one_digit_down(value):
    """``value`` rounded down to one significant digit: 0.87 -> 0.8 (a round number to type)."""
    if not (math.isfinite(value) and value > 0):
        return None
    power = 10.0 ** math.floor(math.log10(value))
    return float(f"{math.floor(value / power + 1e-9) * power:.1g}")


def get_descent_problem(name):
    """The catalog problem ``name`` as a loss over a data set with columns x and y."""
    from derive.engine.problems import get_problem

    try:
        problem = get_problem(name, mean=True)
    except DeriveError:
        problem = None
    if problem is None or problem.name not in SUPPORTED:
        raise DeriveError(f"derive descend cannot run '{name}'; it runs a loss over a data set of x and y: "
                          f"{', '.join(SUPPORTED)}")
    return problem


def descend(name, data, *, learning_rate=0.05, steps=200, seed=0, tol=1e-10, hyper=None, check=True, digits=4):
    """Run gradient descent on the named loss over ``data`` (a ``Data``); returns a ``Descent``.

    ``hyper`` sets λ (``{"lambda": 0.1}``, ridge) and δ (``{"delta": 1.0}``, huber);
    ``digits`` is how many significant digits its reports show. Raises ``DeriveError`` for
    bad input (one line), including data too large for float64 arithmetic.
    """
    from derive.derivation import gradient as symbolic_gradient
    from derive.descend.rounding import check_digits

    problem = get_descent_problem(name)
    if not (isinstance(learning_rate, (int, float)) and math.isfinite(learning_rate) and learning_rate > 0):
        raise DeriveError(f"the learning rate must be a positive number, not {learning_rate}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise DeriveError("the number of steps must be a whole number, 0 or more")
    if steps > MAX_STEPS:
        raise DeriveError(f"at most {MAX_STEPS:,} steps (asked for {steps:,})")
    if not (isinstance(tol, (int, float)) and tol >= 0 and math.isfinite(tol)):
        raise DeriveError("the tolerance must be a finite number, 0 or more")
    try:
        check_digits(digits)
    except ValueError as error:
        raise DeriveError(str(error)) from None
    hyper = dict(hyper or {})
    for key in list(hyper):
        if hyper[key] is None:
            del hyper[key]
        elif key not in problem.hyper:
            raise DeriveError(f"{problem.name} has no {key}: --{key} is for "
                              f"{'ridge' if key == 'lambda' else 'huber'}")
    for key in problem.hyper:
        hyper.setdefault(key, HYPER_DEFAULTS[key])
        if not (math.isfinite(hyper[key]) and hyper[key] > 0):
            raise DeriveError(f"--{key} must be a positive number, not {hyper[key]}")
    if problem.labels == "binary":
        bad = np.flatnonzero((data.y < 0) | (data.y > 1))
        if bad.size:
            raise DeriveError(f"{problem.name} needs labels between 0 and 1 (0 or 1 for two classes); "
                              f"data row {bad[0] + 1} has {data.y_name} = {data.y[bad[0]]:g}")

    g = symbolic_gradient(problem.name, mean=True, check=check, seed=seed)
    compiled = Compiled(problem, [d.result for d in g.derivations], data, hyper)
    names = compiled.names

    rng = np.random.default_rng(seed)
    theta = rng.uniform(*START_RANGE, len(names))
    loss, grad = compiled.value_and_gradient(theta)
    if not (math.isfinite(loss) and all(math.isfinite(v) for v in grad)):
        raise DeriveError(_too_large(data, problem))
    start = {"seed": seed, "range": list(START_RANGE), **{k: float(v) for k, v in zip(names, theta)},
             "loss": float(loss)}
    checks = [check_gradient(compiled, list(theta), "start", 0)] if check else []
    history, stopped, grew = iterate(compiled, theta, learning_rate, steps, tol, first=(loss, grad))
    if check:
        last = history[-1]
        if stopped == "overflow":
            finite = np.flatnonzero(np.isfinite(history.column("loss")))
            last = history[int(finite[-1])] if finite.size else history[0]
        checks.append(check_gradient(compiled, [last[k] for k in names], "end", last["step"]))
    form = closed_form(problem.name, data, hyper)
    run = Descent(problem, g, data, float(learning_rate), steps, seed, tol, {k: hyper[k] for k in problem.hyper},
                  start, history, stopped, list(grew), checks, form, operations=compiled.operations,
                  grew_count=grew.count, digits=digits)
    run.remaining = _remaining(history, learning_rate) if stopped == "tol" else None
    run.status = _status(run)
    if run.status != "converged" or run.grew_count:
        run.curvature = _curvature(compiled, theta)
    if form is not None and run.converged and form.unique:
        diff = max(abs(run.final[k] - v) / max(1.0, abs(v)) for k, v in form.values.items())
        form.compared, form.difference = True, float(diff)
        form.agrees = bool(diff <= form.tolerance)
    return run



class _Grew(list):
    """The first few steps at which the loss grew, and how many there were in all."""

    count = 0

    def add(self, step):
        self.count += 1
        if len(self) < GREW_KEPT:
            self.append(step)


def _status(run):
    if run.stopped == "overflow" or not run.final["loss"] <= run.start["loss"]:
        return "diverged"
    if run.stopped == "tol":
        scale = max(run.tol, 4 * np.finfo(float).eps * abs(run.final["loss"]))
        return "converged" if run.remaining is not None and run.remaining <= REMAINING_FACTOR * scale else "stalled"
    if run.stopped == "zero_gradient":
        return "converged"  # a fixed point of the steps: the loss is flat here (the words say so)
    if run.stopped == "no_change":
        return "stalled"
    return "max_steps"


def _remaining(history, learning_rate):
    """About how much lower the loss could still go, from the last step: the slope and the
    curvature along it (from how the gradient changed) give the drop to the minimum of the
    parabola through it, ‖g‖²/(2c). Steps too small to change the gradient give ∞."""
    if len(history) < 2:
        return math.inf
    names = history.names
    before = np.array([history[-2][f"dL/d{k}"] for k in names])
    after = np.array([history[-1][f"dL/d{k}"] for k in names])
    norm = float(before @ before)
    if norm == 0.0:
        return 0.0  # the gradient was exactly zero: a stationary point
    curvature = float(before @ (before - after)) / (learning_rate * norm)
    if not (curvature > 0 and math.isfinite(curvature)):
        return math.inf
    return float(after @ after) / (2 * curvature)


def _curvature(compiled, theta):
    """The largest eigenvalue of the loss's Hessian at ``theta``, by central differences of
    the compiled gradient (``None`` where it is not a finite number)."""
    theta = np.asarray(theta, dtype=np.float64)
    p = theta.size
    hessian = np.empty((p, p))
    for k in range(p):
        h = 1e-4 * max(1.0, abs(theta[k]))
        up, down = theta.copy(), theta.copy()
        up[k] += h
        down[k] -= h
        with np.errstate(all="ignore"):
            hessian[:, k] = (np.asarray(compiled.value_and_gradient(up)[1])
                             - np.asarray(compiled.value_and_gradient(down)[1])) / (2 * h)
    if not np.all(np.isfinite(hessian)):
        return None
    top = float(np.linalg.eigvalsh((hessian + hessian.T) / 2).max())
    return top if top > 0 else None


def _too_large(data, problem):
    from derive.descend.rounding import Numbers

    n = Numbers()
    biggest = {name: float(np.max(np.abs(column))) for name, column in (("x", data.x), ("y", data.y))}
    return (f"the loss at the start is not a finite number in 64-bit floating point: the data are too large "
            f"for {problem.name} (the largest |{data.x_name}| is {n.setting(biggest['x'])}, the largest "
            f"|{data.y_name}| {n.setting(biggest['y'])}); divide the columns by a power of ten first")


def iterate(compiled, theta, learning_rate, steps, tol, first=None):
    """The loop of the lesson: from ``theta``, step against the gradient (every parameter at
    once, from the same old values), calculate the new loss, repeat.

    Returns ``(history, stopped, grew)``: a ``History`` (step 0 is the start); ``stopped``
    is "tol" when the loss changed by at most ``tol``, "zero_gradient" when the gradient was
    exactly zero (a flat spot: no step can move), "no_change" when a step left every
    parameter as it was although the gradient was not zero (the learning rate is too small
    to move them), "overflow" when the loss stopped being a finite number, else "steps"; ``grew`` lists the first steps at
    which the loss grew (``grew.count`` is how many in all).
    """
    names = compiled.names
    theta = [float(t) for t in theta]  # a few parameters: plain floats step faster than arrays
    loss, grad = first if first is not None else compiled.value_and_gradient(theta)
    history = History(names, capacity=min(steps + 1, 1 << 16))
    history.append(0, theta, loss, grad)
    grew, stopped = _Grew(), "steps"
    if not math.isfinite(loss):
        return history, "overflow", grew
    rate = float(learning_rate)
    isfinite = math.isfinite
    for step in range(1, steps + 1):
        before, used = theta, grad
        theta = [t - rate * g for t, g in zip(theta, grad)]  # the same IEEE arithmetic as NumPy's
        new_loss, grad = compiled.value_and_gradient(theta)
        history.append(step, theta, new_loss, grad)
        if not (isfinite(new_loss) and all(isfinite(v) for v in grad)):
            stopped = "overflow"
            break
        if new_loss > loss:
            grew.add(step)
        if abs(loss - new_loss) <= tol:
            stopped = "tol" if theta != before else ("no_change" if any(used) else "zero_gradient")
            break
        loss = new_loss
    history._flush()
    return history, stopped, grew
