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

    def to_dict(self):
        return {**self.values, "loss": self.loss, "method": self.method, "unique": self.unique,
                "compared": self.compared, "agrees": self.agrees, "difference": self.difference,
                "tolerance": self.tolerance}


def closed_form(name, data, hyper=None):
    """The exact minimiser of mse (least squares) or ridge (with the penalty), else None.

    Solved from the normal equations with NumPy on the design matrix [x, 1], with nothing
    shared with the compiled gradient.
    """
    x, y = data.x, data.y
    n = data.n
    design = np.column_stack([x, np.ones_like(x)])
    rank = np.linalg.matrix_rank(design)
    if name == "mse":
        solution, *_ = np.linalg.lstsq(design, y, rcond=None)
        w, b = (float(v) for v in solution)
        loss = float(np.mean((w * x + b - y) ** 2))
        return ClosedForm({"weight": w, "bias": b}, loss,
                          "least_squares", unique=bool(rank == 2))
    if name == "ridge":
        lam = float((hyper or {}).get("lambda", HYPER_DEFAULTS["lambda"]))
        gram = design.T @ design / n + np.diag([lam, 0.0])
        try:
            w, b = (float(v) for v in np.linalg.solve(gram, design.T @ y / n))
        except np.linalg.LinAlgError:
            return None
        loss = float(np.mean((w * x + b - y) ** 2) + lam * w * w)
        return ClosedForm({"weight": w, "bias": b}, loss, "ridge_normal_equations")
    return None


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
@dataclass
class Descent:
    """A gradient-descent run and everything needed to show and check it."""

    problem: object
    gradient: object  # derive.derivation.Gradient: the symbolic partials used
    data: Data
    learning_rate: float
    steps: int  # asked for
    seed: int
    tol: float
    hyper: dict
    start: dict
    history: list  # one dict per step: step, each parameter, loss, dL/d<parameter>
    stopped: str  # "tol" (the loss stopped changing), "steps", or "overflow"
    grew: list  # the steps at which the loss grew
    checks: list  # GradientCheck at the start and at the end
    closed_form: ClosedForm | None
    plot: str | None = None
    operations: int = 0
    notes: list = field(default_factory=list)

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
        return self.stopped == "tol"

    @property
    def diverging(self):
        return bool(self.grew) or self.stopped == "overflow"

    @property
    def suggested_learning_rate(self):
        return self.learning_rate / 10

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
        by_step = {h["step"]: h for h in self.history}
        return [by_step[s] for s in picked if s in by_step]

    def to_dict(self):
        out = {
            "problem": self.problem.name,
            "data": self.data.to_dict(),
            "learning_rate": self.learning_rate,
            "steps": self.steps,
            "steps_run": self.steps_run,
            "tol": self.tol,
            "seed": self.seed,
            "hyper": self.hyper,
            "stopped": self.stopped,
            "converged": self.converged,
            "start": self.start,
            "final": self.final,
            "closed_form": self.closed_form.to_dict() if self.closed_form is not None else None,
            "diverging": ({"grew_at_steps": len(self.grew), "first": self.grew[0] if self.grew else None,
                           "overflow": self.stopped == "overflow",
                           "suggested_learning_rate": self.suggested_learning_rate}
                          if self.diverging else None),
            "gradient": {p.name: str(d.result) for p, d in zip(self.problem.parameters, self.gradient.derivations)},
            "update": {p.name: f"{d.wrt} <- {d.update}"
                       for p, d in zip(self.problem.parameters, self.gradient.derivations)},
            "checks": {"passed": self.check_passed,
                       "engine": self.engine_check.passed if self.engine_check is not None else None,
                       "finite_difference": [c.to_dict() for c in self.checks]},
            "history": self.history,
        }
        if self.plot:
            out["plot"] = self.plot
        return out

    def to_json(self):
        """Strict JSON: a number that overflowed (∞, NaN) is written as null."""
        import json

        return json.dumps(_finite(self.to_dict()), indent=2, ensure_ascii=False, allow_nan=False)

    def render(self, fmt="text", standalone=False):
        from derive.descend.report import render

        return render(self, fmt, standalone=standalone)


def _finite(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


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


def descend(name, data, *, learning_rate=0.05, steps=200, seed=0, tol=1e-10, hyper=None, check=True):
    """Run gradient descent on the named loss over ``data`` (a ``Data``); returns a ``Descent``.

    ``hyper`` sets λ (``{"lambda": 0.1}``, ridge) and δ (``{"delta": 1.0}``, huber).
    Raises ``DeriveError`` for bad input (one line).
    """
    from derive.derivation import gradient as symbolic_gradient

    problem = get_descent_problem(name)
    if not (isinstance(learning_rate, (int, float)) and math.isfinite(learning_rate) and learning_rate > 0):
        raise DeriveError(f"the learning rate must be a positive number, not {learning_rate}")
    if steps < 0:
        raise DeriveError("--steps must be 0 or more")
    if not (tol >= 0):
        raise DeriveError("--tol must be 0 or more")
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
    start = {"seed": seed, "range": list(START_RANGE), **{k: float(v) for k, v in zip(names, theta)},
             "loss": float(loss)}
    checks = [check_gradient(compiled, list(theta), "start", 0)] if check else []
    history, stopped, grew = iterate(compiled, theta, learning_rate, steps, tol, first=(loss, grad))
    if check:
        last = history[-1]
        if stopped == "overflow":
            finite = [h for h in history if math.isfinite(h["loss"])]
            last = finite[-1] if finite else history[0]
        checks.append(check_gradient(compiled, [last[k] for k in names], "end", last["step"]))
    form = closed_form(problem.name, data, hyper)
    run = Descent(problem, g, data, float(learning_rate), steps, seed, tol, {k: hyper[k] for k in problem.hyper}, start,
                  history, stopped, grew, checks, form, operations=compiled.operations)
    if form is not None and run.converged and form.unique:
        diff = max(abs(run.final[k] - v) / max(1.0, abs(v)) for k, v in form.values.items())
        form.compared, form.difference = True, float(diff)
        form.agrees = bool(diff <= form.tolerance)
    return run


def iterate(compiled, theta, learning_rate, steps, tol, first=None):
    """The loop of the lesson: from ``theta``, step against the gradient (every parameter at
    once, from the same old values), calculate the new loss, repeat.

    Returns ``(history, stopped, grew)``: one record per step (step 0 is the start);
    ``stopped`` is "tol" when the loss changed by at most ``tol``, "overflow" when it stopped
    being a finite number, else "steps"; ``grew`` lists the steps at which the loss grew.
    """
    names = compiled.names
    theta = np.asarray(theta, dtype=np.float64)
    loss, grad = first if first is not None else compiled.value_and_gradient(theta)
    history = [_record(0, names, theta, loss, grad)]
    grew, stopped = [], "steps"
    if not math.isfinite(loss):
        return history, "overflow", grew
    rate = float(learning_rate)
    for step in range(1, steps + 1):
        theta = theta - rate * np.asarray(grad)
        new_loss, grad = compiled.value_and_gradient(theta)
        history.append(_record(step, names, theta, new_loss, grad))
        if not (math.isfinite(new_loss) and all(math.isfinite(v) for v in grad)):
            stopped = "overflow"
            break
        if new_loss > loss:
            grew.append(step)
        if abs(loss - new_loss) <= tol:
            stopped = "tol"
            break
        loss = new_loss
    return history, stopped, grew


def _record(step, names, theta, loss, grad):
    row = {"step": step}
    for k, name in enumerate(names):
        row[name] = float(theta[k])
    row["loss"] = float(loss)
    for k, name in enumerate(names):
        row[f"dL/d{name}"] = float(grad[k])
    return row


