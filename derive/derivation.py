"""``explain``: from user text (or a named problem) to a checked, renderable derivation.

>>> from derive import explain
>>> d = explain("sin(x**2)", wrt="x")
>>> d.result
2*x*cos(x**2)
>>> d.check.passed
True
"""

import json
import re

import sympy

from .errors import DeriveError
from .problems import get_problem
from .symbols import symbol

NAME = re.compile(r"[A-Za-z\u0370-\u03ff][A-Za-z0-9_\u0370-\u03ff]*\Z")


class Derivation:
    """A derivative worked out step by step and checked against numbers.

    ``result`` is the SymPy derivative, ``steps`` the tree of steps (a ``Step``),
    ``check`` the numeric check. ``to_text()``, ``to_markdown()``, ``to_latex()`` and
    ``to_dict()`` render it; in Jupyter it displays itself.
    """

    def __init__(self, expression, wrt, steps, check, *, problem=None, parameter=None,
                 source=None):
        self.expression = expression
        self.wrt = wrt
        self.steps = steps
        self.check = check
        self.problem = problem
        self.parameter = parameter
        self.source = source

    @property
    def result(self):
        return self.steps.derivative

    @property
    def constants(self):
        """The other symbols, held constant in a partial derivative."""
        if self.problem is not None:
            p = self.problem
            others = [q.symbol for q in p.parameters if q.symbol != self.wrt]
            return others + [p.size] + [base[p.index] for base in p.data.values()]
        symbols = set(self.expression.free_symbols)
        symbols.discard(self.wrt)
        return sorted(symbols, key=str)

    @property
    def partial(self):
        """Whether other symbols are around, so ∂ is the right mark."""
        return bool(self.constants)

    @property
    def absent(self):
        """True when the variable does not occur at all (the derivative is 0)."""
        full = self.problem.written_out if self.problem is not None else self.expression
        return self.wrt not in full.free_symbols

    @property
    def update(self):
        """The gradient-descent update of the parameter: ``w − α·∂L/∂w`` (problems only)."""
        if self.problem is None:
            return None
        return self.wrt - self.problem.learning_rate * self.result

    def to_text(self, color=False):
        from .render import render

        return render(self, "text", color=color)

    def to_markdown(self):
        from .render import render

        return render(self, "markdown")

    def to_latex(self, standalone=False):
        from .render import render

        return render(self, "latex", standalone=standalone)

    def to_dict(self):
        from .printing import to_latex

        out = {
            "expression": str(self.expression),
            "wrt": str(self.wrt),
            "derivative": str(self.result),
            "derivative_latex": to_latex(self.result),
            "steps": self.steps.to_dict(),
            "check": self.check.to_dict() if self.check else None,
        }
        if self.problem is not None:
            out["problem"] = self.problem.name
            out["parameter"] = self.parameter.name
            out["written_out"] = str(self.problem.written_out)
            out["update"] = f"{self.wrt} <- {self.update}"
        return out

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def _repr_markdown_(self):
        return self.to_markdown()

    def _repr_latex_(self):
        from .printing import to_latex

        return "$$%s = %s$$" % (to_latex(sympy.Derivative(self.expression, self.wrt)), to_latex(self.result))

    def __repr__(self):
        return f"<Derivation d/d{self.wrt} {self.expression} = {self.result}>"


def explain(expression, wrt=None, *, check=True, seed=0):
    """Differentiate ``expression`` step by step and check the result against numbers.

    ``expression`` is user text (``"sin(x^2)"``, read by derive's own parser, never by
    ``eval`` or ``sympify``), a named problem (``"mse"``), or a SymPy expression. ``wrt``
    is a variable name (or a problem's parameter, such as ``"weight"`` or ``"w"``).
    Raises ``DeriveError`` for bad input, with a one-line message.
    """
    from .rules import differentiate
    from .verify import check_derivation

    if isinstance(expression, str):
        problem = get_problem(expression) if expression.strip() else None
        if problem is not None:
            return _explain_problem(problem, wrt, check, seed)
        from .parse import parse

        expr = parse(expression)
        source = expression
    elif isinstance(expression, sympy.Basic):
        expr, source = expression, None
    else:
        raise DeriveError(f"cannot explain a {type(expression).__name__}; give text such as 'sin(x^2)' or a SymPy expression")

    variable = _variable(expr, wrt)
    steps = differentiate(expr, variable)
    result = check_derivation(steps, seed=seed) if check else None
    return Derivation(expr, variable, steps, result, source=source)


def _explain_problem(problem, wrt, check, seed):
    import random

    from .rules import differentiate
    from .verify import check_derivation

    if wrt is None:
        names = ", ".join(p.name for p in problem.parameters)
        raise DeriveError(f"say which parameter to differentiate {problem.name} by: --wrt one of {names}")
    parameter = problem.parameter(str(wrt))
    steps = differentiate(problem.loss, parameter.symbol, problem.definitions)
    result = None
    if check:
        data = problem.sample_data(random.Random(seed))
        result = check_derivation(steps, problem.definitions, data=data, seed=seed)
    return Derivation(problem.loss, parameter.symbol, steps, result, problem=problem,
                      parameter=parameter, source=problem.name)


def _variable(expr, wrt):
    """The symbol to differentiate by: the one named, or the only one there is."""
    present = sorted(expr.free_symbols, key=str)
    if wrt is None:
        if len(present) == 1:
            return present[0]
        if not present:
            raise DeriveError("the expression has no variable; name one with --wrt, e.g. --wrt x")
        names = ", ".join(str(s) for s in present)
        raise DeriveError(f"the expression has several variables ({names}); choose one with --wrt, e.g. --wrt {present[0]}")
    if isinstance(wrt, sympy.Symbol):
        return wrt
    text = str(wrt).strip()
    if not NAME.match(text) or len(text) > 32:
        raise DeriveError(f"--wrt must be a variable name such as x or weight, not {text!r}")
    for s in present:
        if s.name == text:
            return s
    return symbol(text)  # not in the expression: the derivative is 0, and the output says why
