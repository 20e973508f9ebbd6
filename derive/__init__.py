"""derive: derivatives explained step by step, the way a teacher writes them, and checked
against numbers.

>>> from derive import explain
>>> d = explain("sin(x^2)", wrt="x")
>>> d.result
2*x*cos(x**2)
"""

__version__ = "0.1.0"

__all__ = ["explain", "gradient", "parse", "passes", "graph", "gradcheck", "Derivation", "Gradient", "Step",
           "DeriveError", "__version__"]


def __getattr__(name):
    # Imports are lazy so `derive --version` and `derive --help` don't pay for SymPy.
    if name in ("explain", "gradient", "Derivation", "Gradient"):
        from derive import derivation

        return getattr(derivation, name)
    if name == "parse":
        from derive.parsing.text import parse

        return parse
    if name == "Step":
        from derive.engine.steps import Step

        return Step
    if name == "passes":
        from derive.backprop.passes import passes

        return passes
    if name == "graph":
        from derive.backprop.draw import graph

        return graph
    if name == "gradcheck":
        from derive.backprop.gradcheck import gradcheck

        return gradcheck
    if name == "DeriveError":
        from derive.errors import DeriveError

        return DeriveError
    raise AttributeError(f"module 'derive' has no attribute {name!r}")
