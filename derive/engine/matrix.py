"""A small matrix algebra for the vector forms: every expression knows its shape, prints
as the primers write it (Xᵀ r, h ⊙ (1 − h), diag(s) − s sᵀ), evaluates with NumPy, and
writes itself as NumPy code.

Dimensions are SymPy symbols (n, d, H, K) or 1, so a shape prints as ``d × 1`` and a
mismatch is caught when the expression is built, never at run time. A 1 × 1 factor of a
product is a number and may stand anywhere in it (2 e vᵀ).

>>> n, d = dims("n d")
>>> X, w = matrix("X", n, d), vector("w", d)
>>> (X.T * (X * w)).shape
(d, 1)
>>> text(X.T * (X * w))
'Xᵀ X w'
"""

from dataclasses import dataclass

import numpy as np
import sympy

ONE = sympy.Integer(1)
ADJOINT = "∂L/∂"  # the key of ∂L/∂name's value in an evaluation's environment


class ShapeError(ValueError):
    """Two factors that cannot be multiplied or added: a mistake in a derivation."""


def dims(names):
    """``dims("n d")`` -> the dimension symbols n, d (positive integers)."""
    return sympy.symbols(names, integer=True, positive=True)


def _shape_text(shape):
    return f"{shape[0]} × {shape[1]}"


class M:
    """A matrix expression. ``*`` is the matrix product, ``+``/``-`` add, ``.T`` transposes."""

    shape = (ONE, ONE)

    @property
    def is_scalar(self):
        return self.shape == (ONE, ONE)

    @property
    def T(self):
        return transpose(self)

    def __mul__(self, other):
        return product(self, _lift(other))

    def __rmul__(self, other):
        return product(_lift(other), self)

    def __add__(self, other):
        return add(self, _lift(other))

    def __radd__(self, other):
        return add(_lift(other), self)

    def __sub__(self, other):
        return add(self, negate(_lift(other)))

    def __rsub__(self, other):
        return add(_lift(other), negate(self))

    def __neg__(self):
        return negate(self)

    def shape_text(self):
        return _shape_text(self.shape)

    def __str__(self):
        return text(self)

    __repr__ = __str__


def _lift(value):
    if isinstance(value, M):
        return value
    return Scalar(sympy.sympify(value, strict=True) if not isinstance(value, sympy.Basic) else value)


@dataclass(frozen=True, eq=False)
class Leaf(M):
    """A named matrix, vector or number; ``kind`` "ones" is the column 𝟏, "identity" I."""

    name: str
    rows: object = ONE
    cols: object = ONE
    kind: str = "matrix"

    @property
    def shape(self):
        return (self.rows, self.cols)


@dataclass(frozen=True, eq=False)
class Scalar(M):
    """A number known symbolically: 2/n, λ, −1."""

    value: sympy.Expr


@dataclass(frozen=True, eq=False)
class Transpose(M):
    arg: M

    @property
    def shape(self):
        return (self.arg.shape[1], self.arg.shape[0])


@dataclass(frozen=True, eq=False)
class Product(M):
    factors: tuple

    @property
    def shape(self):
        rows = cols = None
        for f in self.factors:
            if f.is_scalar:
                continue
            if rows is None:
                rows, cols = f.shape
            else:
                cols = f.shape[1]
        return (rows, cols) if rows is not None else (ONE, ONE)


@dataclass(frozen=True, eq=False)
class Sum(M):
    terms: tuple

    @property
    def shape(self):
        return self.terms[0].shape


@dataclass(frozen=True, eq=False)
class Negate(M):
    arg: M

    @property
    def shape(self):
        return self.arg.shape


@dataclass(frozen=True, eq=False)
class Hadamard(M):
    """Entry by entry: a ⊙ b."""

    factors: tuple

    @property
    def shape(self):
        return self.factors[0].shape


@dataclass(frozen=True, eq=False)
class Divide(M):
    """Entry by entry: a ⊘ b."""

    top: M
    bottom: M

    @property
    def shape(self):
        return self.top.shape


@dataclass(frozen=True, eq=False)
class Apply(M):
    """A function applied to every entry: σ(z), ln(p), exp(o)."""

    function: str
    arg: M

    @property
    def shape(self):
        return self.arg.shape


@dataclass(frozen=True, eq=False)
class Diag(M):
    """diag(v): the square matrix with v on its diagonal."""

    arg: M

    @property
    def shape(self):
        return (self.arg.shape[0], self.arg.shape[0])


@dataclass(frozen=True, eq=False)
class Softmax(M):
    arg: M

    @property
    def shape(self):
        return self.arg.shape


FUNCTIONS = ("sigmoid", "log", "exp", "square")


# -- building, with the shape rules -------------------------------------------------------------
def matrix(name, rows, cols):
    return Leaf(name, rows, cols, "matrix")


def vector(name, rows):
    return Leaf(name, rows, ONE, "vector")


def scalar(name):
    return Leaf(name, ONE, ONE, "scalar")


def ones(rows):
    return Leaf("1", rows, ONE, "ones")


def identity(size):
    return Leaf("I", size, size, "identity")


def adjoint(node, shape):
    """∂L/∂node, standing for its value in a backward formula."""
    return Leaf(node, shape[0], shape[1], "adjoint")


def product(*factors):
    flat = []
    for f in factors:
        flat.extend(f.factors if isinstance(f, Product) else [f])
    if len(flat) > 1:  # a factor 1 says nothing
        flat = [f for f in flat if not (isinstance(f, Scalar) and f.value == 1)] or flat[:1]
    matrices = [f for f in flat if not f.is_scalar]
    for a, b in zip(matrices, matrices[1:]):
        if a.shape[1] != b.shape[0]:
            raise ShapeError(f"cannot multiply {text(a)} ({a.shape_text()}) by {text(b)} ({b.shape_text()})")
    return flat[0] if len(flat) == 1 else Product(tuple(flat))


def add(*terms):
    flat = []
    for t in terms:
        flat.extend(t.terms if isinstance(t, Sum) else [t])
    for t in flat[1:]:
        if t.shape != flat[0].shape:
            raise ShapeError(f"cannot add {text(flat[0])} ({flat[0].shape_text()}) and {text(t)} ({t.shape_text()})")
    return flat[0] if len(flat) == 1 else Sum(tuple(flat))


def negate(a):
    return a.arg if isinstance(a, Negate) else Negate(a)


def hadamard(*factors):
    for f in factors[1:]:
        if f.shape != factors[0].shape:
            raise ShapeError(f"⊙ needs equal shapes, not {factors[0].shape_text()} and {f.shape_text()}")
    return Hadamard(tuple(factors))


def divide(top, bottom):
    if top.shape != bottom.shape:
        raise ShapeError(f"⊘ needs equal shapes, not {top.shape_text()} and {bottom.shape_text()}")
    return Divide(top, bottom)


def apply(function, arg):
    if function not in FUNCTIONS:
        raise ValueError(function)
    return Apply(function, arg)


def diag(arg):
    if arg.shape[1] != ONE:
        raise ShapeError("diag takes a column")
    return Diag(arg)


def transpose(a):
    """The transpose, pushed inside: (A B)ᵀ = Bᵀ Aᵀ, and a number or diag(v) is its own."""
    if a.is_scalar or isinstance(a, (Scalar, Diag)) or (isinstance(a, Leaf) and a.kind == "identity"):
        return a
    if isinstance(a, Transpose):
        return a.arg
    if isinstance(a, Product):  # numbers stay in front: (2/n) rᵀ X
        numbers = [f for f in a.factors if f.is_scalar]
        rest = [transpose(f) for f in reversed(a.factors) if not f.is_scalar]
        return product(*(numbers + rest))
    if isinstance(a, Negate):
        return negate(transpose(a.arg))
    if isinstance(a, Sum) and all(isinstance(t, Diag) or t.is_scalar or _symmetric(t) for t in a.terms):
        return a  # diag(s) − s sᵀ is symmetric
    return Transpose(a)  # (p − y)ᵀ stays one bracket, as the primers write it


def _symmetric(a):
    """s sᵀ, or a multiple of it."""
    if isinstance(a, Negate):
        return _symmetric(a.arg)
    if isinstance(a, Product):
        rest = [f for f in a.factors if not f.is_scalar]
        return len(rest) == 2 and isinstance(rest[1], Transpose) and rest[1].arg is rest[0]
    return False


def factors(expr):
    """The factors a line shows the shapes of: a product's (or each term's) matrices and
    vectors; numbers go without saying."""
    if isinstance(expr, Negate):
        return factors(expr.arg)
    if isinstance(expr, Sum):
        return [f for t in expr.terms for f in factors(t)]
    if isinstance(expr, Product):
        return [f for f in expr.factors if not f.is_scalar]
    return [] if expr.is_scalar else [expr]


def leaves(expr):
    """The named leaves an expression is built from."""
    found = {}

    def walk(e):
        if isinstance(e, Leaf):
            found.setdefault(e.name, e)
        for child in _children(e):
            walk(child)

    walk(expr)
    return list(found.values())


def _children(e):
    if isinstance(e, (Transpose, Negate, Apply, Diag, Softmax)):
        return [e.arg]
    if isinstance(e, (Product, Hadamard)):
        return list(e.factors)
    if isinstance(e, Sum):
        return list(e.terms)
    if isinstance(e, Divide):
        return [e.top, e.bottom]
    return []


# -- numbers ------------------------------------------------------------------------------------
def evaluate(expr, env, sizes):
    """The value of ``expr`` as a 2-D NumPy array; ``env`` maps leaf names to arrays and
    ``sizes`` the dimension symbols to integers."""
    from derive.verify.numeric import evaluate as number

    if isinstance(expr, Leaf):
        if expr.kind == "ones":
            return np.ones((int(expr.rows.subs(sizes)), 1))
        if expr.kind == "identity":
            return np.eye(int(expr.rows.subs(sizes)))
        key = ADJOINT + expr.name if expr.kind == "adjoint" else expr.name
        return np.asarray(env[key], dtype=float).reshape(_concrete(expr.shape, sizes))
    if isinstance(expr, Scalar):
        values = {s: sizes[s] if s in sizes else env[str(s)] for s in expr.value.free_symbols}
        return np.array([[float(number(expr.value, {s: float(np.asarray(v).reshape(-1)[0]) for s, v in values.items()}))]])
    if isinstance(expr, Transpose):
        return evaluate(expr.arg, env, sizes).T
    if isinstance(expr, Product):
        coefficient, result = 1.0, None
        for f in expr.factors:
            value = evaluate(f, env, sizes)
            if f.is_scalar:
                coefficient = coefficient * value[0, 0]
            else:
                result = value if result is None else result @ value
        return coefficient * (result if result is not None else np.ones((1, 1)))
    if isinstance(expr, Sum):
        return sum(evaluate(t, env, sizes) for t in expr.terms)
    if isinstance(expr, Negate):
        return -evaluate(expr.arg, env, sizes)
    if isinstance(expr, Hadamard):
        out = evaluate(expr.factors[0], env, sizes)
        for f in expr.factors[1:]:
            out = out * evaluate(f, env, sizes)
        return out
    if isinstance(expr, Divide):
        return evaluate(expr.top, env, sizes) / evaluate(expr.bottom, env, sizes)
    if isinstance(expr, Apply):
        arg = evaluate(expr.arg, env, sizes)
        return {"sigmoid": lambda a: 1 / (1 + np.exp(-a)), "log": np.log, "exp": np.exp,
                "square": np.square}[expr.function](arg)
    if isinstance(expr, Diag):
        return np.diag(evaluate(expr.arg, env, sizes)[:, 0])
    if isinstance(expr, Softmax):
        arg = evaluate(expr.arg, env, sizes)
        shifted = np.exp(arg - arg.max())
        return shifted / shifted.sum()
    raise TypeError(type(expr).__name__)


def _concrete(shape, sizes):
    return tuple(int(sympy.sympify(s).subs(sizes)) for s in shape)


def concrete_shape(expr, sizes):
    return _concrete(expr.shape, sizes)


# -- printing -----------------------------------------------------------------------------------
PREC = {"sum": 1, "product": 2, "hadamard": 2, "unary": 3, "atom": 4}


def _prec(e):
    if isinstance(e, Sum):
        return PREC["sum"]
    if isinstance(e, Negate):
        return PREC["sum"]
    if isinstance(e, (Product, Hadamard, Divide)):
        return PREC["product"]
    if isinstance(e, Scalar):
        v = e.value
        return PREC["atom"] if (v.is_Atom and not v.is_negative) else PREC["product"]
    return PREC["atom"]


class Printer:
    """One way of writing matrix expressions; subclasses fill in the signs."""

    transpose_sign = "ᵀ"

    def __call__(self, e):
        return self.print(e)

    def print(self, e):
        return getattr(self, "_" + type(e).__name__)(e)

    def group(self, e, prec):
        inner = self.print(e)
        return self.paren(inner) if _prec(e) < prec else inner

    def _Leaf(self, e):
        if e.kind == "ones":
            return self.ones()
        if e.kind == "adjoint":
            return self.adjoint(e.name)
        return self.name(e.name)

    def _Sum(self, e):
        out = self.print(e.terms[0])
        for t in e.terms[1:]:
            if isinstance(t, Negate):
                out += self.minus() + self.group(t.arg, PREC["product"])
            else:
                out += self.plus() + self.print(t)
        return out

    def _Negate(self, e):
        return self.neg() + self.group(e.arg, PREC["product"])

    def _Product(self, e):
        parts = []
        for f in e.factors:
            if isinstance(f, Scalar):
                parts.append(self.scalar(f.value, bracket=len(e.factors) > 1))
            else:
                parts.append(self.group(f, PREC["product"] + 1 if not isinstance(f, (Hadamard,)) else PREC["unary"]))
        return self.join(parts)

    def _Hadamard(self, e):
        return self.hadamard_sign().join(self.group(f, PREC["unary"]) for f in e.factors)

    def _Divide(self, e):
        return self.group(e.top, PREC["unary"]) + self.divide_sign() + self.group(e.bottom, PREC["unary"])

    def _Scalar(self, e):
        return self.scalar(e.value, bracket=False)


class TextPrinter(Printer):
    """One line of Unicode: Xᵀ (X w + b 𝟏 − y)."""

    def name(self, name):
        from derive.render.printing import text_name

        return text_name(name)

    def ones(self):
        return "𝟏"

    def adjoint(self, node):
        return f"∂L/∂{self.name(node)}"

    def paren(self, inner):
        return f"({inner})"

    def plus(self):
        return " + "

    def minus(self):
        return " − "

    def neg(self):
        return "−"

    def join(self, parts):
        return " ".join(parts)

    def hadamard_sign(self):
        return " ⊙ "

    def divide_sign(self):
        return " ⊘ "

    def scalar(self, value, bracket):
        from derive.render.printing import to_text

        out = to_text(value)
        if bracket and ("/" in out or value.is_Add or value.could_extract_minus_sign()):
            out = f"({out})"  # (2/n) Xᵀ r, but 2 λ w
        return out

    def _Transpose(self, e):
        return self.group(e.arg, PREC["atom"]) + "ᵀ"

    def _Apply(self, e):
        if e.function == "square":
            return self.group(e.arg, PREC["atom"]) + "²"
        head = {"sigmoid": "σ", "log": "ln", "exp": "exp"}[e.function]
        return f"{head}({self.print(e.arg)})"

    def _Diag(self, e):
        return f"diag({self.print(e.arg)})"

    def _Softmax(self, e):
        return f"softmax({self.print(e.arg)})"


class LatexPrinter(Printer):
    """LaTeX math without delimiters: X^{\\top} (X w + b \\mathbf{1} - y)."""

    def name(self, name):
        from derive.render.printing import to_latex
        from derive.symbols import symbol

        return to_latex(symbol(name))

    def ones(self):
        return r"\mathbf{1}"

    def adjoint(self, node):
        return r"\partial L/\partial %s" % self.name(node)

    def paren(self, inner):
        return r"\left(%s\right)" % inner

    def plus(self):
        return " + "

    def minus(self):
        return " - "

    def neg(self):
        return "-"

    def join(self, parts):
        return r" \, ".join(parts)

    def hadamard_sign(self):
        return r" \odot "

    def divide_sign(self):
        return r" \oslash "

    def scalar(self, value, bracket):
        from derive.render.printing import to_latex

        out = to_latex(value)
        if bracket and (value.is_Add or value.could_extract_minus_sign()):
            out = self.paren(out)
        return out

    def _Transpose(self, e):
        return "{%s}^{\\top}" % self.group(e.arg, PREC["atom"])

    def _Apply(self, e):
        if e.function == "square":
            return "{%s}^{2}" % self.group(e.arg, PREC["atom"])
        head = {"sigmoid": r"\sigma", "log": r"\ln", "exp": r"\exp"}[e.function]
        return r"%s\left(%s\right)" % (head, self.print(e.arg))

    def _Diag(self, e):
        return r"\operatorname{diag}\left(%s\right)" % self.print(e.arg)

    def _Softmax(self, e):
        return r"\operatorname{softmax}\left(%s\right)" % self.print(e.arg)


class MathMLPrinter(Printer):
    """Presentation MathML (inside a <math> element)."""

    def name(self, name):
        from derive.render.printing import to_mathml
        from derive.symbols import symbol

        return to_mathml(symbol(name))

    def ones(self):
        return '<mn mathvariant="bold">1</mn>'

    def adjoint(self, node):
        return f"<mfrac><mrow><mo>∂</mo><mi>L</mi></mrow><mrow><mo>∂</mo>{self.name(node)}</mrow></mfrac>"

    def paren(self, inner):
        return f"<mrow><mo>(</mo>{inner}<mo>)</mo></mrow>"

    def plus(self):
        return "<mo>+</mo>"

    def minus(self):
        return "<mo>−</mo>"

    def neg(self):
        return "<mo>−</mo>"

    def join(self, parts):
        return "<mo>&#x2062;</mo>".join(parts)

    def hadamard_sign(self):
        return "<mo>⊙</mo>"

    def divide_sign(self):
        return "<mo>⊘</mo>"

    def scalar(self, value, bracket):
        from derive.render.printing import to_mathml

        out = to_mathml(value)
        if bracket and value.could_extract_minus_sign():
            out = self.paren(out)
        return f"<mrow>{out}</mrow>"

    def _Transpose(self, e):
        return f"<msup>{self.group(e.arg, PREC['atom'])}<mi>T</mi></msup>"

    def _Apply(self, e):
        if e.function == "square":
            return f"<msup>{self.group(e.arg, PREC['atom'])}<mn>2</mn></msup>"
        head = {"sigmoid": "<mi>σ</mi>", "log": "<mi>ln</mi>", "exp": "<mi>exp</mi>"}[e.function]
        return f"<mrow>{head}{self.paren(self.print(e.arg))}</mrow>"

    def _Diag(self, e):
        return f"<mrow><mi>diag</mi>{self.paren(self.print(e.arg))}</mrow>"

    def _Softmax(self, e):
        return f"<mrow><mi>softmax</mi>{self.paren(self.print(e.arg))}</mrow>"


_TEXT, _LATEX, _MATHML = TextPrinter(), LatexPrinter(), MathMLPrinter()


def text(e):
    return _TEXT(e)


def latex(e):
    return _LATEX(e)


def mathml(e):
    return _MATHML(e)


# -- NumPy code -----------------------------------------------------------------------------------
class NumpyPrinter:
    """NumPy code with vectors as 1-D arrays: Xᵀ r is ``X.T @ r``, 𝟏ᵀ r ``np.sum(r)``,
    δ xᵀ ``np.outer(delta, x)``, b 𝟏 just ``b`` (broadcast)."""

    def __init__(self, names=None):
        self.names = names or {}

    def __call__(self, e):
        return self.print(e)

    def print(self, e):
        return getattr(self, "_" + type(e).__name__)(e)

    def group(self, e):
        inner = self.print(e)
        return f"({inner})" if isinstance(e, (Sum, Negate)) or (isinstance(e, Scalar) and not e.value.is_Atom) else inner

    def _Leaf(self, e):
        if e.kind == "ones":
            return "1.0"
        if e.kind == "adjoint":
            return "d_" + self.names.get(e.name, e.name)
        return self.names.get(e.name, e.name)

    def _Scalar(self, e):
        from sympy.printing.pycode import pycode

        renamed = e.value.xreplace({s: sympy.Symbol(self.names.get(str(s), str(s))) for s in e.value.free_symbols})
        return pycode(renamed).replace("math.", "np.")

    def _Transpose(self, e):
        if e.arg.shape[1] == ONE or e.arg.shape[0] == ONE:
            return self.group(e.arg)  # a 1-D array is its own transpose
        return f"{self.group(e.arg)}.T"

    def _Sum(self, e):
        out = self.print(e.terms[0])
        for t in e.terms[1:]:
            out += f" - {self.group(t.arg)}" if isinstance(t, Negate) else f" + {self.print(t)}"
        return out

    def _Negate(self, e):
        return f"-{self.group(e.arg)}"

    def _Product(self, e):
        scalars = [f for f in e.factors if f.is_scalar]
        matrices = [f for f in e.factors if not f.is_scalar]
        parts = [self.group(f) for f in scalars if not (isinstance(f, Leaf) and f.kind == "ones")]
        chain = self._chain(matrices) if matrices else None
        if chain is not None:
            parts.append(chain)
        return " * ".join(parts) if parts else "1.0"

    def _chain(self, matrices):
        # 𝟏ᵀ a is a sum; a column times a row is an outer product; b 𝟏 is b broadcast
        if len(matrices) == 2:
            a, b = matrices
            if isinstance(a, Transpose) and isinstance(a.arg, Leaf) and a.arg.kind == "ones":
                return f"np.sum({self.print(b)})"
            if isinstance(b, Leaf) and b.kind == "ones":
                return self.group(a)
            if a.shape[1] == ONE and b.shape[0] == ONE and a.shape[0] != ONE and b.shape[1] != ONE:
                return f"np.outer({self.print(a)}, {self.print(b)})"
        if len(matrices) == 1:
            m = matrices[0]
            if isinstance(m, Leaf) and m.kind == "ones":
                return None
            return self.group(m)
        return " @ ".join(self.group(m) for m in matrices)

    def _Hadamard(self, e):
        return " * ".join(self.group(f) for f in e.factors)

    def _Divide(self, e):
        return f"{self.group(e.top)} / {self.group(e.bottom)}"

    def _Apply(self, e):
        if e.function == "square":
            return f"{self.group(e.arg)} ** 2"
        head = {"sigmoid": "sigmoid", "log": "np.log", "exp": "np.exp"}[e.function]
        return f"{head}({self.print(e.arg)})"

    def _Softmax(self, e):
        return f"softmax({self.print(e.arg)})"

    def _Diag(self, e):
        raise TypeError("diag(v) is written as v * … in NumPy, never built")
