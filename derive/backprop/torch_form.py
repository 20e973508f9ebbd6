"""derive's formulas as PyTorch operations, so ``torch.autograd`` can check our backward pass.

The translation walks derive's own SymPy trees (one function per kind of node, as the
evaluator does); it never evaluates text. Only imported where torch is installed.
"""

import sympy

import torch


class Unsupported(Exception):
    """A kind of node with no PyTorch counterpart here; the comparison is then skipped."""


def _number(value, like):
    return torch.tensor(float(value), dtype=torch.float64)


UNARY = {
    sympy.exp: torch.exp, sympy.log: torch.log, sympy.sin: torch.sin, sympy.cos: torch.cos,
    sympy.tan: torch.tan, sympy.tanh: torch.tanh, sympy.sinh: torch.sinh, sympy.cosh: torch.cosh,
    sympy.asin: torch.asin, sympy.acos: torch.acos, sympy.atan: torch.atan, sympy.Abs: torch.abs,
    sympy.sign: torch.sign,
}


def to_torch(expr, tensors):
    """The tensor of ``expr``, with ``tensors`` giving each symbol (or data cell) its tensor."""
    from derive.functions import sigmoid

    if expr in tensors:
        return tensors[expr]
    if expr.is_Number or expr.is_NumberSymbol:
        return _number(expr, None)
    if expr.is_Symbol or isinstance(expr, sympy.Indexed):
        raise Unsupported(f"the unknown {expr}")
    if isinstance(expr, sympy.Piecewise):
        return _piecewise(expr, tensors)
    args = [to_torch(a, tensors) for a in expr.args]
    if expr.is_Add:
        out = args[0]
        for a in args[1:]:
            out = out + a
        return out
    if expr.is_Mul:
        out = args[0]
        for a in args[1:]:
            out = out * a
        return out
    if expr.is_Pow:
        base, exponent = args
        if expr.exp.is_Integer:
            return base ** int(expr.exp)
        return torch.pow(base, exponent)
    if isinstance(expr, sigmoid):
        return torch.sigmoid(args[0])
    for kind, fn in UNARY.items():
        if isinstance(expr, kind):
            return fn(args[0])
    if isinstance(expr, (sympy.Max, sympy.Min)):
        pick = torch.maximum if isinstance(expr, sympy.Max) else torch.minimum
        out = args[0]
        for a in args[1:]:
            out = pick(out, a)
        return out
    if isinstance(expr, sympy.Heaviside):
        return torch.heaviside(args[0], torch.tensor(0.5, dtype=torch.float64))
    raise Unsupported(type(expr).__name__)


def _piecewise(expr, tensors):
    out = None
    for value, condition in reversed(expr.args):
        branch = to_torch(value, tensors)
        if condition == sympy.true:
            out = branch
            continue
        if out is None:
            raise Unsupported("a piecewise function without an otherwise branch")
        out = torch.where(_condition(condition, tensors), branch, out)
    return out


def _condition(cond, tensors):
    tests = {sympy.StrictLessThan: torch.lt, sympy.LessThan: torch.le, sympy.StrictGreaterThan: torch.gt,
             sympy.GreaterThan: torch.ge, sympy.Equality: torch.eq, sympy.Unequality: torch.ne}
    for kind, test in tests.items():
        if isinstance(cond, kind):
            return test(to_torch(cond.lhs, tensors), to_torch(cond.rhs, tensors))
    if isinstance(cond, sympy.And):
        out = _condition(cond.args[0], tensors)
        for c in cond.args[1:]:
            out = out & _condition(c, tensors)
        return out
    if isinstance(cond, sympy.Or):
        out = _condition(cond.args[0], tensors)
        for c in cond.args[1:]:
            out = out | _condition(c, tensors)
        return out
    raise Unsupported(type(cond).__name__)
