"""How names become SymPy symbols: one place, so the parser, the engine and the problems agree.

Every variable is real: derivatives are taught over the reals, and SymPy then writes
d|x|/dx as sign(x) rather than in terms of re(x) and im(x).
"""

import sympy


def symbol(name):
    """The SymPy symbol for a user's variable name, e.g. ``symbol("weight")``."""
    return sympy.Symbol(name, real=True)


def indexed(name):
    """A real data series such as ``x`` in ``x[i]`` (one value per example)."""
    return sympy.IndexedBase(name, real=True)


def evaluated(expr):
    """A typed expression (built unevaluated, as the author wrote it) rebuilt with SymPy's
    evaluation: ``x*(x + x)`` becomes ``2*x**2``. Names and functions are kept."""
    if expr.is_Atom or not expr.args:
        return expr
    try:
        return expr.func(*[evaluated(a) for a in expr.args])
    except Exception:  # noqa: BLE001 - a node that cannot be rebuilt is its own canonical form
        return expr


def to_sympy(expr):
    """``expr`` as plain SymPy, to compare with your own SymPy work: derive's real symbols
    become plain ``Symbol("x")``, a typed expression is evaluated, and ``log_b`` becomes
    ``log(x)/log(b)``.

    >>> import sympy
    >>> from derive import explain
    >>> to_sympy(explain("x^2 sin(x)", wrt="x").result) == sympy.diff(sympy.sympify("x**2*sin(x)"), "x")
    True
    """
    from derive.functions import log_base

    expr = evaluated(expr)
    expr = expr.replace(lambda e: isinstance(e, log_base), lambda e: sympy.log(e.args[0]) / sympy.log(e.args[1]))
    plain = {s: sympy.Symbol(s.name) for s in expr.free_symbols if isinstance(s, sympy.Symbol)}
    bases = {b: sympy.IndexedBase(str(b.label)) for b in expr.atoms(sympy.IndexedBase)}
    return expr.xreplace({**plain, **bases})


def readable(expr):
    """``expr`` with SymPy's machinery for the derivative of an unspecified function written
    as a prime: ``Subs(Derivative(g(u), u), u, sin(x))`` is ``g′(sin(x))``. For results a
    person or a program reads; the checks use SymPy's own form."""
    if not expr.has(sympy.Subs, sympy.Derivative):
        return expr
    from sympy.core.function import AppliedUndef

    def prime(e):
        inner, order, point = None, 0, None
        if isinstance(e, sympy.Subs) and isinstance(e.expr, sympy.Derivative) and len(e.point) == 1:
            inner, point = e.expr.expr, e.point[0]
            order = sum(n for _, n in e.expr.variable_count)
        elif isinstance(e, sympy.Derivative) and isinstance(e.expr, AppliedUndef) and len(e.expr.args) == 1 \
                and e.variables == (e.expr.args[0],):
            inner, point = e.expr, e.expr.args[0]
            order = sum(n for _, n in e.variable_count)
        if not isinstance(inner, AppliedUndef) or len(inner.args) != 1:
            return None
        return sympy.Function(inner.func.__name__ + "′" * order)(point)

    def walk(e):
        found = prime(e)
        if found is not None:
            return found
        if e.is_Atom or not e.args:
            return e
        return e.func(*[walk(a) for a in e.args])

    return walk(expr)
