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
