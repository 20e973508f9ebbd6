"""Where a derivative does not exist, said with the result: ``for x ≠ 1``, ``undefined at x = ½``.

A corner of |u| (u = 0) or of max/min (the two sides equal) is found by solving over the
reals under a time bound; the claim is then checked at each point found: where the two
one-sided derivatives agree (max(x², x⁴) at 0) the derivative exists and nothing is said.
When the equation cannot be solved in time, the condition is stated as an equation.
"""

from dataclasses import dataclass

import sympy
from sympy import S

from derive.limits import TimeLimit, time_limit

SOLVE_SECONDS = 0.5
MAX_POINTS = 6


@dataclass
class Corner:
    """Points where the derivative does not exist: ``points`` (numbers), or ``equation``
    when they could not be found."""

    variable: object
    points: list
    equation: object = None  # an Eq, when not solved

    @property
    def relation(self):
        """``x ≠ 1`` (or ``x ≠ −1 and x ≠ 1``), as one SymPy relation for the notation."""
        if self.points:
            parts = [sympy.Ne(self.variable, p, evaluate=False) for p in self.points]
            return parts[0] if len(parts) == 1 else sympy.And(*parts, evaluate=False)
        lhs, rhs = self.equation.lhs, self.equation.rhs
        if lhs.is_Number and not rhs.is_Number:
            lhs, rhs = rhs, lhs  # w xᵢ + b ≠ 0, the unknown side first
        return sympy.Ne(lhs, rhs, evaluate=False)


def corners(root, definitions=None):
    """Every point of non-differentiability that the steps of ``root`` create."""
    from derive.engine.rules import substitute_definitions

    found = []
    seen = set()
    inside_pieces = {id(s) for p in root.walk() if p.rule == "piecewise" and p.detail.get("kind") == "pieces"
                     for s in p.walk() if s is not p}
    variable = root.wrt
    for step in root.walk():
        if id(step) in inside_pieces or step.wrt != variable:
            continue  # a corner inside one piece only matters where that piece holds; a step
            # taken with respect to an inner name (u₁) is stated through its chain rule
        x = step.wrt
        if step.rule == "chain" and step.substeps and step.substeps[0].rule == "abs":
            left, right = step.intermediate[1], S.Zero
            sides = None
        elif step.rule == "abs" or (step.rule == "known_derivative" and step.detail.get("step")):
            left, right, sides = step.expression.args[0], S.Zero, None
        elif step.rule == "piecewise" and step.detail.get("kind") in ("max", "min"):
            left, right = step.detail["first"], step.detail["rest"]
            sides = (step.substeps[0].derivative, step.substeps[1].derivative)
        else:
            continue
        if definitions:
            left = substitute_definitions(left, definitions)
            right = substitute_definitions(right, definitions)
        key = (left, right, x)
        if key in seen or x not in (left - right).free_symbols:
            continue
        seen.add(key)
        corner = _solve(left, right, x, sides, definitions)
        if corner is not None:
            found.append(corner)
    return found


def _solve(left, right, x, sides, definitions):
    from derive.engine.rules import substitute_definitions
    from derive.symbols import evaluated

    difference = evaluated(left - right)
    if len(difference.free_symbols) > 1:
        return Corner(x, [], sympy.Eq(evaluated(left), evaluated(right), evaluate=False))
    try:
        with time_limit(SOLVE_SECONDS):
            solutions = sympy.solveset(difference, x, domain=S.Reals)
            if not isinstance(solutions, sympy.FiniteSet) or len(solutions) > MAX_POINTS:
                return Corner(x, [], sympy.Eq(evaluated(left), evaluated(right), evaluate=False))
            points = sorted(solutions, key=lambda p: float(p))
            if sides is not None:
                a, b = (substitute_definitions(s, definitions or {}) for s in sides)
                points = [p for p in points if sympy.simplify((a - b).subs(x, p)) != 0]
    except (TimeLimit, TypeError, ValueError, NotImplementedError, RecursionError):
        return Corner(x, [], sympy.Eq(evaluated(left), evaluated(right), evaluate=False))
    if not points:
        return None
    return Corner(x, points)


def strict_cases(value, corner_list):
    """A piecewise result from max/min, stated truly: each piece on its open side, and
    "undefined" at the corners (never an "otherwise" that covers a corner)."""
    from derive.present.marks import Cases

    if not isinstance(value, sympy.Piecewise) or len(value.args) != 2 or value.args[1][1] is not S.true:
        return value
    (a, condition), (b, _) = value.args
    if not isinstance(condition, (sympy.StrictLessThan, sympy.StrictGreaterThan)):
        return value
    flipped = sympy.StrictGreaterThan(condition.lhs, condition.rhs) if isinstance(condition, sympy.StrictLessThan) \
        else sympy.StrictLessThan(condition.lhs, condition.rhs)
    x_points = [c for c in corner_list if c.points]
    if not x_points:
        return value  # no corner found where the sides differ: "otherwise" is true there
    corner = x_points[0]
    if len(corner.points) == 1:
        undefined = sympy.Eq(corner.variable, corner.points[0], evaluate=False)
    else:
        undefined = sympy.Or(*[sympy.Eq(corner.variable, p, evaluate=False) for p in corner.points], evaluate=False)
    return Cases([(a, condition), (b, flipped)], undefined)
