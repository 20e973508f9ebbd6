"""Every derivation is checked against numbers before it is shown.

Each step's derivative is compared with a central finite difference of its own expression
at random points inside the expression's real domain. The arithmetic is mpmath at 40
significant digits, so the finite difference is good to about 25 digits and a wrong
derivative cannot hide behind rounding. Where a step has no numbers (an abstract ``f(x)``)
it is checked symbolically against ``sympy.diff`` instead, under a time bound.
"""

import random
from dataclasses import dataclass, field

import mpmath
import sympy

from derive.limits import TimeLimit, time_limit
from derive.verify.numeric import NotNumeric, evaluator, is_finite_real
from derive.engine.rules import substitute_definitions

DPS = 40
STEP = mpmath.mpf("1e-12")
TOLERANCE = 1e-9  # relative to max(1, |derivative|); a wrong rule is off by far more
POINTS = 3  # per step; every step of a derivation is checked, so this adds up
TRIES = 60
SYMBOLIC_SECONDS = 2.0
MAX_FEATURES = 6  # corners and steps sampled on both sides, per step


@dataclass
class StepCheck:
    """The check of one step: how, at how many points, the largest error, any failure."""

    step: object
    passed: bool
    method: str  # "finite differences", "symbolic" or "unchecked"
    points: int = 0
    max_error: float = 0.0
    counterexample: dict | None = None


@dataclass
class Check:
    """The numeric check of a whole derivation."""

    passed: bool
    points: int
    max_error: float
    steps: list = field(default_factory=list)
    example: dict | None = None  # the result's first point: values, derivative, difference
    data_size: int | None = None
    data: dict = field(default_factory=dict)  # the random examples used: {"x": [...], "y": [...]}

    @property
    def failures(self):
        return [s for s in self.steps if not s.passed]

    @property
    def methods(self):
        return sorted({s.method for s in self.steps})

    @property
    def symbolic_steps(self):
        return sum(1 for s in self.steps if s.method == "symbolic")

    def to_dict(self):
        return {
            "passed": self.passed,
            "points": self.points,
            "max_error": self.max_error,
            "steps_checked": len(self.steps),
            "data": self.data,
            "methods": self.methods,
            "failures": [
                {"rule": f.step.rule, "expression": str(f.step.expression),
                 "derivative": str(f.step.derivative), "method": f.method,
                 "counterexample": _plain(f.counterexample)}
                for f in self.failures
            ],
        }


def _plain(example):
    """A counterexample with its point's symbols written as names, for JSON."""
    if not example:
        return example
    return dict(example, point={str(k): v for k, v in example["point"].items()})


def check_derivation(root, definitions=None, *, sizes=None, fixed=None, seed=0, points=POINTS):
    """Check ``root`` and every step below it.

    For a problem over a data set, ``sizes`` replaces the size symbol by a number
    (``{n: 4}``) so every Σ has concrete bounds, and ``fixed`` gives the data and the
    hyperparameters their values (``{x[1]: 0.3, …, λ: 0.7}``); the parameters and every
    other symbol are sampled at random.
    """
    rng = random.Random(seed)
    definitions = definitions or {}
    sizes = {k: sympy.Integer(v) for k, v in (sizes or {}).items()}
    fixed = dict(fixed or {})
    seen = {}
    results = []
    for step in root.walk():
        key = (step.expression, step.wrt, step.derivative)
        if key in seen:
            continue
        seen[key] = check_step(step, definitions, sizes, fixed, rng, points)
        results.append(seen[key])
    passed = all(r.passed for r in results)
    top = results[0] if results else None
    return Check(
        passed=passed,
        points=sum(r.points for r in results),
        max_error=max((r.max_error for r in results), default=0.0),
        steps=results,
        example=top.counterexample if top else None,
        data_size=int(next(iter(sizes.values()))) if sizes else None,
        data=_series(fixed),
    )


def _series(fixed):
    """``{x[1]: 0.3, x[2]: …}`` as ``{"x": [0.3, …]}``, in example order."""
    series = {}
    cells = [k for k in fixed if isinstance(k, sympy.Indexed)]
    for key in sorted(cells, key=lambda k: (str(k.base), int(k.indices[0]))):
        series.setdefault(str(key.base), []).append(float(fixed[key]))
    return series


def check_step(step, definitions, sizes, fixed, rng, points=POINTS):
    """Compare one step's derivative with a central finite difference of its expression."""
    wrt = step.wrt
    # A step taken with respect to a named intermediate (d(errorᵢ²)/d(errorᵢ)) keeps that
    # name as its variable; every other name is replaced by what it stands for.
    names = {k: v for k, v in definitions.items() if k != wrt}
    expression = substitute_definitions(step.expression, names)
    derivative = substitute_definitions(step.derivative, names)
    expression, derivative = _concrete((expression, derivative), sizes, rng)
    try:
        f, df = evaluator(expression), evaluator(derivative)
        guards = _guards(expression)
        return _finite_differences(step, wrt, expression, derivative, f, df, fixed, rng, points, guards)
    except NotNumeric:
        return _symbolic(step, expression, derivative)


def _guards(expression):
    """Evaluators of the domain parts that can be evaluated on their own."""
    guards = []
    for part in _domain_parts(expression):
        try:
            guards.append(evaluator(part))
        except NotNumeric:
            pass
    return guards


def _real_where_defined(guard, values):
    try:
        return is_finite_real(guard(values, DPS))
    except NotNumeric:
        return True  # a part that needs a summation index has no value of its own


def _domain_parts(expr):
    """The parts of ``expr`` that leave the reals outside their domain: roots, logarithms,
    inverse functions. A point is inside the real domain only if each of them is real there
    (|√x| is real at x = −1, but √x is not, and neither is the derivative's working)."""
    parts = set()
    bound = {limit[0] for total in expr.atoms(sympy.Sum) for limit in total.limits}
    for node in sympy.preorder_traversal(expr):
        if node.free_symbols & bound:
            continue  # inside a sum: the sum's own value is what is checked
        if node.is_Pow and not node.exp.is_integer:
            parts.add(node)
        elif isinstance(node, sympy.Function) and not isinstance(node, sympy.core.function.AppliedUndef):
            parts.add(node)
    parts.discard(expr)
    return sorted(parts, key=sympy.default_sort_key)[:50]


def _concrete(exprs, sizes, rng):
    """Replace the data size n by its number, and a free example index i by one example."""
    exprs = [e.xreplace(sizes) for e in exprs]
    if not sizes:
        return exprs
    count = int(next(iter(sizes.values())))
    bound, free = set(), set()
    for e in exprs:
        for s in e.atoms(sympy.Sum):
            bound |= {limit[0] for limit in s.limits}
        free |= {s for s in e.free_symbols if s.is_integer}
    chosen = {s: sympy.Integer(rng.randint(1, count)) for s in sorted(free - bound, key=str)}
    return [e.xreplace(chosen) for e in exprs]


def _variables(expression, derivative, wrt):
    symbols = set(expression.free_symbols | derivative.free_symbols | {wrt})
    labels = {b.label for b in (expression.atoms(sympy.IndexedBase) | derivative.atoms(sympy.IndexedBase))}
    return sorted(
        (s for s in symbols if isinstance(s, sympy.Symbol) and s not in labels),
        key=str,
    )


def _sample(rng, attempt):
    """Points spread over where functions are defined: positive first (ln, √, xˣ), then both signs."""
    if attempt % 3 == 0:
        return mpmath.mpf(rng.uniform(0.15, 2.5))
    if attempt % 3 == 1:
        return mpmath.mpf(rng.uniform(-2.5, 2.5))
    return mpmath.mpf(rng.uniform(-0.95, 0.95))


def features(expression, variable):
    """The points where ``expression`` changes its formula in ``variable``: the corners and
    steps of |u|, max/min, piecewise conditions, sgn and Heaviside (ReLU6's 0 and 6,
    hard-swish's ±3). Found for parts that depend on the variable alone; at most a few."""
    found = set()
    parts = []
    for node in sympy.preorder_traversal(expression):
        if isinstance(node, (sympy.Abs, sympy.sign, sympy.Heaviside)):
            parts.append(node.args[0])
        elif isinstance(node, (sympy.Max, sympy.Min)):
            args = list(node.args)
            parts += [p - q for k, a in enumerate(args) for b in args[k + 1:]
                      for p in _branches(a) for q in _branches(b)]
        elif isinstance(node, sympy.Piecewise):
            for _, cond in node.args:
                for rel in cond.atoms(sympy.core.relational.Relational):
                    parts.append(rel.lhs - rel.rhs)
        if len(parts) > MAX_FEATURES * 3:
            break
    for part in parts:
        if part.free_symbols != {variable}:
            continue
        try:
            poly = sympy.Poly(part, variable)
        except (sympy.PolynomialError, sympy.GeneratorsNeeded, ValueError, TypeError):
            continue
        if poly.degree() < 1 or poly.degree() > 4:
            continue
        for root in sympy.polys.polyroots.roots(poly, filter="R"):
            try:
                value = float(root)
            except TypeError:
                continue
            if abs(value) < 1e6:
                found.add(value)
        if len(found) >= MAX_FEATURES:
            break
    return sorted(found)[:MAX_FEATURES]


def _branches(expr):
    """What a max/min can be equal to: max(0, x) is 0 or x (so min(max(0, x), 6) turns at 6)."""
    if isinstance(expr, (sympy.Max, sympy.Min)):
        return [b for a in expr.args for b in _branches(a)][:8]
    return [expr]


def _near_features(expression, wrt, fixed):
    """Points just either side of each feature, and a little further: both sides of every
    corner are tried, at a distance the finite difference's step never crosses."""
    if wrt in fixed:
        return []
    points = []
    for kink in features(expression, wrt):
        for offset in (-0.37, 0.37, -0.011, 0.013):
            points.append(mpmath.mpf(kink + offset))
    return points


def _finite_differences(step, wrt, expression, derivative, f, df, fixed, rng, points, guards=()):
    variables = _variables(expression, derivative, wrt)
    worst = 0.0
    valid = 0
    example = None
    near = _near_features(expression, wrt, fixed)
    points = points + len(near)  # every side of every corner, besides the random points
    with mpmath.workdps(DPS):
        for attempt in range(TRIES + len(near)):
            if valid >= points:
                break
            values = dict(fixed)
            values.update({v: _sample(rng, attempt) for v in variables if v not in fixed or v == wrt})
            if attempt < len(near):
                values[wrt] = near[attempt]
            at = values[wrt]
            exact = df(values, DPS)
            values[wrt] = at + STEP
            above = f(values, DPS)
            values[wrt] = at - STEP
            below = f(values, DPS)
            values[wrt] = at
            if not all(is_finite_real(v) for v in (exact, above, below)):
                continue  # outside the real domain: try another point
            if not all(_real_where_defined(guard, values) for guard in guards):
                continue  # a part of the expression is not real here
            estimate = (mpmath.re(above) - mpmath.re(below)) / (2 * STEP)
            exact = mpmath.re(exact)
            error = float(abs(estimate - exact) / max(1, abs(exact)))
            valid += 1
            point = {v: float(values[v]) for v in variables}
            if example is None or error > TOLERANCE:
                example = {"point": point, "derivative": float(exact), "finite_difference": float(estimate),
                           "error": error}
            if error > TOLERANCE:
                return StepCheck(step, False, "finite differences", valid, error, example)
            worst = max(worst, error)
    if valid == 0:
        # No point of the real domain was found by sampling (asin(x + 5) has none near 0).
        return _symbolic(step, expression, derivative)
    return StepCheck(step, True, "finite differences", valid, worst, example)


def _symbolic(step, expression, derivative):
    """Where numbers cannot decide: the difference from sympy.diff simplifies to zero."""
    try:
        with time_limit(SYMBOLIC_SECONDS):
            difference = (derivative - sympy.diff(expression, step.wrt)).doit()
            if difference == 0 or sympy.simplify(difference) == 0:
                return StepCheck(step, True, "symbolic")
    except (TimeLimit, RecursionError, TypeError, ValueError, NotImplementedError):
        return StepCheck(step, False, "unchecked")
    return StepCheck(step, False, "symbolic")


def combine(checks):
    """One check standing for several (the partials of a gradient, a Hessian's entries)."""
    first = checks[0]
    return Check(
        passed=all(c.passed for c in checks),
        points=sum(c.points for c in checks),
        max_error=max(c.max_error for c in checks),
        steps=[s for c in checks for s in c.steps],
        example=first.example,
        data_size=first.data_size,
        data=first.data,
    )
