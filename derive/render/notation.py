"""One notation for every format: SymPy -> a small layout tree -> Unicode text, LaTeX or MathML.

Every convention is decided once, here, while the tree is built: the order of terms (the
author's order where the expression was typed, otherwise the textbook's), where brackets
go, arcsin rather than asin, sin²x for a power of a function, the true minus sign, a hat
over y, a thin space between multi-letter names, (2/n) Σ … with the constant in front,
x^(5/3) never x^5/3, matrices as matrices. The three serializers only spell the tree; they
make no choices of their own, so a result reads the same in the terminal, in a PDF and in
a browser.

>>> import sympy
>>> x = sympy.Symbol("x")
>>> to_text(layout(2 * x * sympy.cos(x**2)))
'2x cos(x²)'
>>> to_latex(layout(sympy.asin(x) ** 2))
'\\\\arcsin^{2} x'
"""

import functools
from dataclasses import dataclass

import sympy
from sympy import S
from sympy.core.function import AppliedUndef

from derive.symbols import evaluated

# -- the layout tree -------------------------------------------------------------------------


@dataclass(frozen=True)
class Ident:
    """A variable: ``x``, ``error`` (upright, several letters), ``ŷ`` (hat), with a subscript."""

    name: str
    sub: object = None
    hat: bool = False
    greek: bool = False
    bold: bool = False

    @property
    def wide(self):
        return len(self.name) > 1 and not self.greek


@dataclass(frozen=True)
class Num:
    text: str


@dataclass(frozen=True)
class Op:
    """An operator or relation: ``+ − · = ≤ ← ,``; ``kind`` is bin, rel, pre or punct."""

    text: str
    kind: str = "bin"


@dataclass(frozen=True)
class Word:
    """An upright name: a function (sin, ln, max) or the d of a derivative."""

    text: str


@dataclass(frozen=True)
class Text:
    """Words inside maths: ``otherwise``, ``if``."""

    text: str


@dataclass(frozen=True)
class Row:
    items: tuple


@dataclass(frozen=True)
class Frac:
    num: object
    den: object


@dataclass(frozen=True)
class Diff:
    """The derivative operator d/dx, or Leibniz's dy/dx when ``top`` is a name."""

    d: str
    var: object
    top: object = None


@dataclass(frozen=True)
class Diff2:
    """A second partial derivative by name: ∂²L/∂w², ∂²L/∂w∂b."""

    top: object
    a: object
    b: object


@dataclass(frozen=True)
class Sup:
    base: object
    exp: object


@dataclass(frozen=True)
class Sub:
    base: object
    sub: object


@dataclass(frozen=True)
class Sqrt:
    body: object


@dataclass(frozen=True)
class Fenced:
    body: object
    open: str = "("
    close: str = ")"


@dataclass(frozen=True)
class BigOp:
    """Σ with its limits: ``Σᵢ₌₁ⁿ``."""

    symbol: str
    lower: object
    upper: object
    body: object


@dataclass(frozen=True)
class Cases:
    rows: tuple  # ((value, condition or None for "otherwise"), ...)


@dataclass(frozen=True)
class Matrix:
    rows: tuple  # rows of cells


@dataclass(frozen=True)
class Lit:
    """A bracket standing alone, where a long bracketed sum is broken across lines."""

    text: str


@dataclass(frozen=True)
class Space:
    """Between factors: ``thin`` is a thin space in every format (multi-letter names, a
    function after its coefficient); ``soft`` is a space only in the terminal, where letters
    are not italic and ``wx`` would read as one name; ``none`` juxtaposes (``2x``)."""

    kind: str = "thin"


THIN = Space("thin")
SOFT = Space("soft")
NONE = Space("none")
APPLY = Space("apply")  # between a function's name and a bare argument: sin x

# -- precedence of what a node is, for brackets ---------------------------------------------------

ATOM, POWER, PRODUCT, SUM, RELATION = 5, 4, 3, 2, 1

GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "lambda": "λ", "lam": "λ", "mu": "μ", "nu": "ν", "xi": "ξ",
    "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ", "chi": "χ", "psi": "ψ",
    "omega": "ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Sigma": "Σ",
    "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
}  # fmt: skip
HATS = {"yhat": "ŷ", "y_hat": "ŷ"}  # names that print with a hat: the prediction

# Function names as textbooks write them (ISO 80000-2 for the inverse hyperbolic ones).
FUNCTION_NAMES = {
    "asin": "arcsin", "acos": "arccos", "atan": "arctan", "acot": "arccot", "asec": "arcsec",
    "acsc": "arccsc", "asinh": "arsinh", "acosh": "arcosh", "atanh": "artanh",
    "acoth": "arcoth", "asech": "arsech", "acsch": "arcsch", "log": "ln", "sign": "sgn",
    "sigmoid": "σ", "Max": "max", "Min": "min", "Heaviside": "H", "erf": "erf",
}  # fmt: skip
# Functions whose power is written on the name: sin²x, cosh²(2x).
POWER_ON_NAME = {"sin", "cos", "tan", "cot", "sec", "csc", "sinh", "cosh", "tanh", "coth", "sech", "csch"}
LATEX_FUNCTIONS = {"sin", "cos", "tan", "cot", "sec", "csc", "sinh", "cosh", "tanh", "coth",
                   "arcsin", "arccos", "arctan", "ln", "log", "exp", "max", "min"}


def split_name(name):
    """``error_i`` -> (``error``, ``i``); ``u_1`` -> (``u``, ``1``); ``w`` -> (``w``, None)."""
    if "_" in name and not name.startswith("_") and name not in HATS:
        base, _, sub = name.rpartition("_")
        if base and sub:
            return base, sub
        return name.replace("_", ""), None  # y__ reads as y
    return name, None


# -- SymPy -> layout ------------------------------------------------------------------------------


class Notation:
    """Builds the layout of SymPy expressions under one set of conventions.

    ``order`` maps terms (canonical SymPy expressions) to the position where the author
    typed them, so a sum prints in the author's order wherever its terms come from.
    ``leibniz_d`` is the d of derivatives: upright d, or the differential ⅆ when the
    expression has a variable called d.
    """

    def __init__(self, order=None, typed=None, leibniz_d="d"):
        self.order = order or {}
        self.typed = typed or frozenset()
        self.leibniz_d = leibniz_d

    @classmethod
    def of(cls, *sources, leibniz_d="d"):
        """The notation of an explanation whose author typed ``sources`` (expressions as
        typed, unevaluated): their sums and products print in the author's order, and so do
        the terms of any result that come from them."""
        typed, order = set(), {}
        for source in sources:
            if source is None:
                continue
            for node in sympy.preorder_traversal(source):
                if not node.is_Atom:
                    typed.add(node)
                if node.is_Add:
                    terms = tuple(evaluated(t) for t in _flat_terms(node))
                    order.setdefault(frozenset(terms), terms)
        return cls(order, frozenset(typed), leibniz_d)

    # entry point: a node and its precedence
    def build(self, expr):
        return self._node(expr)[0]

    def _node(self, expr):
        hook = getattr(expr, "_layout", None)
        if hook is not None and not isinstance(expr, type):
            return hook(self)
        method = getattr(self, "_" + type(expr).__name__, None)
        if method is None:
            for cls in type(expr).__mro__[1:]:
                method = getattr(self, "_" + cls.__name__, None)
                if method is not None:
                    break
        if method is None:
            return Text(str(expr)), ATOM
        return method(expr)

    def bracket(self, expr, below):
        """``expr``'s node, in brackets when its precedence is lower than ``below``."""
        node, prec = self._node(expr)
        return (Fenced(node), ATOM) if prec < below else (node, prec)

    # -- atoms --------------------------------------------------------------------------------
    def _Symbol(self, expr):
        return self.name(expr.name), ATOM

    _Dummy = _Symbol

    def name(self, name, sub=None):
        base, typed_sub = split_name(name)
        sub = sub if sub is not None else (self.name(typed_sub) if typed_sub else None)
        if base in HATS:
            return Ident("y", sub, hat=True)
        if base in GREEK:
            return Ident(GREEK[base], sub, greek=True)
        if len(base) == 1 and base in GREEK.values():
            return Ident(base, sub, greek=True)
        return Ident(base, sub)

    def _Indexed(self, expr):
        index = [self.build(i) for i in expr.indices]
        sub = index[0] if len(index) == 1 else Row(tuple(_join(index, Op(",", "punct"))))
        return self.name(str(expr.base.label), sub), ATOM

    def _IndexedBase(self, expr):
        return self.name(str(expr.label)), ATOM

    def _MatrixSymbol(self, expr):
        node = self.name(expr.name)
        return Ident(node.name, node.sub, node.hat, node.greek, bold=False), ATOM

    def _Integer(self, expr):
        if expr.p < 0:
            return Row((Op("−", "pre"), Num(str(-expr.p)))), SUM
        return Num(str(expr.p)), ATOM

    def _Rational(self, expr):
        if expr.q == 1:
            return self._Integer(expr)
        frac = Frac(Num(str(abs(expr.p))), Num(str(expr.q)))
        return (Row((Op("−", "pre"), frac)), SUM) if expr.p < 0 else (frac, PRODUCT)

    def _Float(self, expr):
        text = _float_text(expr)
        if text.startswith("-"):
            return Row((Op("−", "pre"), Num(text[1:]))), SUM
        return Num(text), ATOM

    def _Exp1(self, expr):
        return Ident("e"), ATOM

    def _Pi(self, expr):
        return Ident("π", greek=True), ATOM

    def _Infinity(self, expr):
        return Num("∞"), ATOM

    def _NegativeInfinity(self, expr):
        return Row((Op("−", "pre"), Num("∞"))), SUM

    def _ImaginaryUnit(self, expr):
        return Ident("i"), ATOM

    def _BooleanTrue(self, expr):
        return Text("always"), ATOM

    def _NaN(self, expr):
        return Text("undefined"), ATOM

    _ComplexInfinity = _NaN

    # -- sums -----------------------------------------------------------------------------------
    def _Add(self, expr):
        return self.terms(self.ordered_terms(expr)), SUM

    def ordered_terms(self, expr):
        """The terms in the author's order where known, otherwise the textbook's (by degree,
        a positive term first)."""
        if expr in self.typed or not _is_canonical_add(expr):
            return list(expr.args)  # as typed (unevaluated): keep the author's order
        terms = list(expr.as_ordered_terms())
        typed_order = self.order.get(frozenset(expr.args)) if self.order else None
        if typed_order is not None:
            return list(typed_order)  # the same terms the author wrote in this order: theirs
        if terms[0].could_extract_minus_sign():
            lead = next((t for t in terms if not t.could_extract_minus_sign()), None)
            if lead is not None:
                terms.remove(lead)
                terms.insert(0, lead)
        return terms

    def terms(self, terms):
        items = []
        for k, term in enumerate(terms):
            negative, body = _split_sign(term)
            node, prec = self.bracket(body, SUM + 1 if negative else SUM)
            if k == 0:
                items += [Op("−", "pre"), node] if negative else [node]
            else:
                items += [Op("−" if negative else "+"), node]
        return Row(tuple(items))

    # -- products -------------------------------------------------------------------------------
    def _Mul(self, expr):
        negative, body = _split_sign(expr)
        if negative:
            node, prec = self.bracket(body, PRODUCT)
            return Row((Op("−", "pre"), node)), SUM
        numer, denom, sums = self.factors(expr)
        if denom:
            top = self.product(numer) if len(numer) > 1 else (self.build(numer[0]) if numer else Num("1"))
            bottom = self.product(denom) if len(denom) > 1 else self.build(denom[0])
            frac = Frac(top, bottom)
            if sums:
                return Row((frac, THIN, self.product(sums))), PRODUCT
            return frac, PRODUCT
        return self.product(numer + sums), PRODUCT

    def factors(self, expr):
        """(numerator, denominator, trailing sums) of a product, each a list of factors in
        reading order: the number first, then names, then functions; a Σ last, as in (2/n) Σ."""
        typed = expr in self.typed or not _is_canonical_mul(expr)
        args = list(expr.args) if typed else list(expr.as_ordered_factors())
        numer, denom, sums = [], [], []
        for factor in args:
            if factor.is_Rational and not factor.is_Integer:
                if factor.p != 1:
                    numer.insert(0, sympy.Integer(factor.p))
                denom.insert(0, sympy.Integer(factor.q))
            elif factor.is_Pow and factor.exp.is_number and factor.exp.is_negative and not _kept_as_power(factor) \
                    and (not typed or factor.exp == -1):
                denom.append(_invert(factor))  # typed x^(-1/2) stays a power; typed a/b is a division
            elif isinstance(factor, sympy.Sum) or getattr(factor, "_trailing", False):
                sums.append(factor)
            elif isinstance(factor, sympy.Float) and float(factor) == 1.0:
                continue  # 1.0 · min(…) reads as min(…)
            else:
                numer.append(factor)
        if not typed:
            numer.sort(key=_factor_rank)
        return numer, denom, sums

    def product(self, factors):
        """Factors side by side; a thin space or a dot where they would run together."""
        items = []
        previous = None
        for k, factor in enumerate(factors):
            # a product typed inside a product: 2x²(5x³); a leading −y · … needs no bracket
            nested = factor.is_Mul and len(factors) > 1 and not (k == 0 and _split_sign(factor)[0])
            node, prec = self.bracket(factor, PRODUCT + 1 if _starts_with_sign(factor) or nested else PRODUCT)
            if previous is not None:
                items.append(self.joiner(previous, factor, node))
            items.append(node)
            previous = (factor, node)
        return items[0] if len(items) == 1 else Row(tuple(items))

    def joiner(self, previous, factor, node):
        """What goes between two factors: a dot, a space, or nothing (2x)."""
        before, before_node = previous
        if _leads_with_number(node) or getattr(factor, "_dotted", False) or getattr(before, "_dotted", False):
            return Op("·")
        if isinstance(before_node, Frac) and not isinstance(node, (Fenced, BigOp)):
            return Op("·")
        if _wide(before_node) or _wide(node):
            return THIN
        if _function_like(before_node) or _function_like(node):
            return SOFT
        if isinstance(before_node, Num) and isinstance(node, (Ident, Sup, Fenced, Sqrt)):
            return NONE
        return SOFT

    # -- powers -----------------------------------------------------------------------------------
    def _Pow(self, expr):
        base, exp = expr.base, expr.exp
        kept = _kept_as_power(expr) or (expr in self.typed and exp not in (-1, S.Half))
        if isinstance(exp, sympy.UnevaluatedExpr):
            exp = exp.args[0]
        if not kept:
            if exp == S.Half:
                return Sqrt(self.build(base)), ATOM
            if exp.is_number and exp.is_negative:
                return Frac(Num("1"), self.build(_invert(expr))), PRODUCT
        if base is S.Exp1:
            return Sup(Ident("e"), self.build(exp)), POWER
        if isinstance(base, sympy.Function) and _function_name(base) in POWER_ON_NAME and exp.is_Integer and exp > 0:
            return self.function(base, power=self.build(exp)), ATOM
        node, prec = self.bracket(base, ATOM)
        if isinstance(base, sympy.Rational) and not base.is_Integer or (base.is_Number and base.is_negative):
            node = Fenced(self.build(base))
        elif isinstance(node, Row) and not isinstance(node.items[-1], Fenced):
            node = Fenced(node)  # (arcsin x)², not arcsin x²
        return Sup(node, self.build(exp)), POWER

    # -- functions ----------------------------------------------------------------------------------
    def _Function(self, expr):
        return self.function(expr), ATOM

    def function(self, expr, power=None):
        name = _function_name(expr)
        shown = FUNCTION_NAMES.get(name, name)
        args = expr.args
        head = Word(shown) if shown != "σ" else Ident("σ", greek=True)
        if isinstance(expr, AppliedUndef):
            head = Ident(name)
        if power is not None:
            head = Sup(head, power)
        if len(args) == 1 and _bare_argument(args[0]) and not isinstance(expr, AppliedUndef) and shown != "σ":
            return Row((head, APPLY, self.build(args[0])))
        inner = Row(tuple(_join([self.build(a) for a in args], Op(",", "punct"))))
        return Row((head, Fenced(inner)))

    def _exp(self, expr):
        return Sup(Ident("e"), self.build(expr.args[0])), POWER

    def _log(self, expr):
        if len(expr.args) == 2:  # an unevaluated log(x, b)
            return self._log_base(expr)
        return self.function(expr), ATOM

    def _log_base(self, expr):
        arg, base = expr.args
        head = Sub(Word("log"), self.build(base))
        if _bare_argument(arg):
            return Row((head, APPLY, self.build(arg))), ATOM
        return Row((head, Fenced(self.build(arg)))), ATOM

    def _Abs(self, expr):
        return Fenced(self.build(expr.args[0]), "|", "|"), ATOM

    def _MinMaxBase(self, expr):
        args = list(expr.args)
        if all(not a.free_symbols for a in args[1:]) or args[0].is_number:
            args.sort(key=lambda a: not a.is_number)  # max(0, z), the constant first
        inner = Row(tuple(_join([self.build(a) for a in args], Op(",", "punct"))))
        return Row((Word("max" if isinstance(expr, sympy.Max) else "min"), Fenced(inner))), ATOM

    def _sign(self, expr):
        return self.function(expr), ATOM

    def _Derivative(self, expr):
        function = expr.expr
        order = sum(count for _, count in expr.variable_count)
        if isinstance(function, AppliedUndef) and len(function.args) == 1:
            return self.prime(function.func.__name__, order, function.args[0]), ATOM
        d = Word(self.leibniz_d)
        top = d if order == 1 else Sup(d, Num(str(order)))
        below = Row(tuple(x for v, n in expr.variable_count
                          for x in ((d, self.build(v)) if n == 1 else (d, Sup(self.build(v), Num(str(n)))))))
        return Row((Frac(top, below), THIN, self.bracket(function, ATOM)[0])), PRODUCT

    def prime(self, name, order, arg):
        marks = "′" * order if order <= 3 else None
        head = Ident(name + marks) if marks else Sup(Ident(name), Fenced(Num(str(order))))
        return Row((head, Fenced(self.build(arg))))

    def _Subs(self, expr):
        inner = expr.expr
        if isinstance(inner, sympy.Derivative) and isinstance(inner.expr, AppliedUndef) and len(expr.point) == 1:
            order = sum(count for _, count in inner.variable_count)
            return self.prime(inner.expr.func.__name__, order, expr.point[0]), ATOM
        return self._node(expr.doit())

    # -- sums over the examples, cases, relations ----------------------------------------------
    def _Sum(self, expr):
        (index, low, high), *more = expr.limits
        body, prec = self.bracket(expr.function, PRODUCT)
        node = BigOp("Σ", Row((self.build(index), Op("=", "rel"), self.build(low))), self.build(high), body)
        for index, low, high in more:
            node = BigOp("Σ", Row((self.build(index), Op("=", "rel"), self.build(low))), self.build(high), node)
        return node, PRODUCT

    def _Piecewise(self, expr):
        rows = []
        for value, cond in expr.args:
            rows.append((self.build(value), None if cond is S.true else self.build(cond)))
        return Cases(tuple(rows)), ATOM

    def _Relational(self, expr):
        signs = {"<": "<", ">": ">", "<=": "≤", ">=": "≥", "==": "=", "!=": "≠"}
        return Row((self.build(expr.lhs), Op(signs.get(expr.rel_op, expr.rel_op), "rel"), self.build(expr.rhs))), RELATION

    def _And(self, expr):
        parts = [self.build(a) for a in expr.args]
        return Row(tuple(_join(parts, Text(" and ")))), RELATION

    def _Or(self, expr):
        parts = [self.build(a) for a in expr.args]
        return Row(tuple(_join(parts, Text(" or ")))), RELATION

    def _Not(self, expr):
        return Row((Text("not "), self.build(expr.args[0]))), RELATION

    def _UnevaluatedExpr(self, expr):
        return self._node(expr.args[0])

    def _Tuple(self, expr):
        inner = Row(tuple(_join([self.build(a) for a in expr.args], Op(",", "punct"))))
        return Fenced(inner), ATOM

    # -- matrices and matrix calculus -----------------------------------------------------------------
    def _MatrixBase(self, expr):
        return Matrix(tuple(tuple(self.build(expr[r, c]) for c in range(expr.cols)) for r in range(expr.rows))), ATOM

    _ImmutableDenseMatrix = _MatrixBase
    _MutableDenseMatrix = _MatrixBase

    def _MatAdd(self, expr):
        def order(term):
            return (term.could_extract_minus_sign(), -len(term.atoms(sympy.MatrixSymbol)), str(term))

        return self.terms(sorted(expr.args, key=order)), SUM

    def _MatMul(self, expr):
        coeff, matrices = expr.as_coeff_matrices()
        negative = coeff.could_extract_minus_sign()
        if negative:
            coeff = -coeff
        factors = ([coeff] if coeff != 1 else []) + list(matrices)
        items = []
        for factor in factors:
            node, prec = self.bracket(factor, PRODUCT + 1 if factor.is_Add or isinstance(factor, sympy.MatAdd) else PRODUCT)
            if items:
                items.append(THIN)
            items.append(node)
        node = items[0] if len(items) == 1 else Row(tuple(items))
        return (Row((Op("−", "pre"), node)), SUM) if negative else (node, PRODUCT)

    def _Transpose(self, expr):
        node, prec = self.bracket(expr.arg, ATOM)
        return Sup(node, Ident("T")), POWER

    def _OneMatrix(self, expr):
        one = Ident("1", bold=True)
        return (Sup(one, Ident("T")), POWER) if expr.shape[0] == 1 and expr.shape[1] != 1 else (one, ATOM)

    def _MatPow(self, expr):
        node, prec = self.bracket(expr.base, ATOM)
        return Sup(node, self.build(expr.exp)), POWER


def _join(items, sep):
    out = []
    for k, item in enumerate(items):
        if k:
            out.append(sep)
        out.append(item)
    return out


def _flat_terms(add):
    """The terms of a sum, nested sums opened, in the order they stand."""
    out = []
    for term in add.args:
        if term.is_Add:
            out += _flat_terms(term)
        else:
            out.append(term)
    return out


def _function_name(expr):
    return getattr(expr.func, "__name__", str(expr.func))


def _bare_argument(arg):
    """sin x, ln 3 and ln x need no brackets; sin(x²) and ln(2x) do."""
    if arg.is_Integer and arg > 0:
        return True
    if not (arg.is_Symbol or isinstance(arg, sympy.Indexed)):
        return False
    base = split_name(str(arg.base.label) if isinstance(arg, sympy.Indexed) else arg.name)[0]
    return len(base) == 1 or base in GREEK


def _split_sign(expr):
    """(negative, the expression without its sign) as a reader sees it."""
    if expr.is_Mul and expr.args and expr.args[0].is_Number and expr.args[0].is_negative:
        coeff = -expr.args[0]
        rest = expr.args[1:]
        if coeff == 1:
            body = rest[0] if len(rest) == 1 else sympy.Mul(*rest, evaluate=False)
        else:
            body = sympy.Mul(coeff, *rest, evaluate=False)
        return True, body
    if expr.is_Number and expr.is_negative:
        return True, -expr
    return False, expr


def _starts_with_sign(expr):
    return expr.is_Add or (expr.is_Number and expr.is_negative) or (expr.is_Mul and _split_sign(expr)[0])


def _kept_as_power(expr):
    return isinstance(expr.exp, sympy.UnevaluatedExpr) or getattr(expr, "_as_power", False)


def _invert(power):
    exp = -power.exp
    if exp == 1:
        return power.base
    return sympy.Pow(power.base, exp, evaluate=False)


def _is_canonical_add(expr):
    return expr.args == sympy.Add.make_args(sympy.Add(*expr.args)) if len(expr.args) <= 12 else True


def _is_canonical_mul(expr):
    """Whether SymPy built this product (then it is ordered for reading) or it was written
    out, as typed or as a line of working (then its order is kept)."""
    if any(a.is_Mul for a in expr.args):
        return False  # a product inside a product: kept as the author typed it
    numbers = [a for a in expr.args if a.is_Number]
    if len(numbers) > 1 or (numbers and not expr.args[0].is_Number):
        return False
    if len(expr.args) > 12:
        return True
    try:
        return sympy.Mul(*expr.args).args == expr.args
    except Exception:  # noqa: BLE001
        return True


def _factor_rank(factor):
    """Numbers, then names and powers of names (2x²), then brackets, then an example's data
    ((w xᵢ + b − yᵢ) xᵢ, error times input, as the lesson writes it), then functions."""
    if factor.is_Number:
        return 0
    if isinstance(factor, sympy.Indexed) or (factor.is_Pow and isinstance(factor.base, sympy.Indexed)):
        return 2.5
    if factor.is_Symbol or (factor.is_Pow and factor.base.is_Symbol):
        return 1
    if factor.is_Add or (factor.is_Pow and factor.base.is_Add):
        return 2
    return 3


def mpmath_digits(value):
    """The decimal digits a Float carries (its binary precision, in digits)."""
    import mpmath

    return mpmath.libmp.prec_to_dps(value._prec)


def _leads_with_number(node):
    """Whether a factor starts with a number, a sign or a fraction: then it needs a dot
    after what comes before it (x · 2, (1 − y) · 1/(1 − p))."""
    while isinstance(node, (Row, Sup)):
        if isinstance(node, Row):
            node = node.items[0] if node.items else None
        else:
            node = node.base
    return isinstance(node, (Num, Frac)) or (isinstance(node, Op) and node.kind == "pre")


def _wide(node):
    while isinstance(node, (Sup, Sub)):
        node = node.base
    return isinstance(node, Ident) and node.wide


def _function_like(node):
    return isinstance(node, Row) and node.items and isinstance(node.items[0], (Word,))


def _float_text(value):
    if not isinstance(value, str):
        digits = max(1, min(12, int(mpmath_digits(value))))
        text = sympy.Float(value, digits).__str__()
    else:
        text = value
    if "e" in text:
        mantissa, _, exponent = text.partition("e")
        mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
        return f"{mantissa}e{int(exponent)}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


# -- the serializers ---------------------------------------------------------------------------------

SUPERSCRIPT = dict(zip("0123456789+-−=()abcdefghijklmnoprstuvwxyzαβγδθ",
                       "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᵅᵝᵞᵟᶿ"))
SUBSCRIPT = dict(zip("0123456789+-−=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ"))


def _script(text, table):
    if not text or any(ch not in table for ch in text):
        return None
    return "".join(table[ch] for ch in text)


def superscript(text):
    return _script(text.replace(" ", ""), SUPERSCRIPT)


def subscript(text):
    return _script(text, SUBSCRIPT)


class TextWriter:
    """One line of Unicode: what a terminal shows."""

    def write(self, node):
        method = getattr(self, "_" + type(node).__name__)
        return method(node)

    def _Ident(self, node):
        base = node.name + ("\u0302" if node.hat and node.name != "y" else "")
        if node.hat:
            base = "ŷ"
        if node.sub is None:
            return base
        sub = self.write(node.sub)
        return base + (subscript(sub) or f"_{sub}" if len(sub) == 1 else subscript(sub) or f"_({sub})")

    def _Num(self, node):
        text = node.text
        if "e" in text and text not in ("e",) and text[0].isdigit():
            mantissa, _, exponent = text.partition("e")
            raised = superscript(exponent)
            return f"{mantissa}×10{raised}" if raised else f"{mantissa}×10^{exponent}".replace("-", "−")
        return text.replace("-", "−")

    def _Op(self, node):
        if node.kind == "pre":
            return node.text
        if node.kind == "punct":
            return node.text + " "
        return f" {node.text} "

    def _Word(self, node):
        return node.text

    def _Lit(self, node):
        return node.text

    def _Text(self, node):
        return node.text

    def _Space(self, node):
        return "" if node.kind == "none" else " "

    def _Row(self, node):
        items = node.items
        if len(items) == 3 and isinstance(items[1], Space) and items[1].kind == "apply" and isinstance(items[0], Sup):
            return self.write(items[0]) + self.write(items[2])  # sin²x
        out = []
        items = node.items
        for k, item in enumerate(items):
            text = self.write(item)
            if isinstance(item, Frac) and k + 1 < len(items) and isinstance(items[k + 1], Space):
                text = f"({text})"  # (2/n) Σ …: a linear fraction followed by a factor
            out.append(text)
        return "".join(out)

    def _Frac(self, node):
        num, den = self.write(node.num), self.write(node.den)
        if _compound(node.num) and (_has_terms(node.num) or isinstance(node.num, (Frac, BigOp))):
            num = f"({num})"  # (x + 1)/3; a product needs no bracket above the line: 2x/3
        if _compound(node.den) or isinstance(node.den, (Frac, Sup)) and "/" in den:
            den = f"({den})"
        return f"{num}/{den}"

    def _Diff(self, node):
        var = self.write(node.var)
        if node.top is None:
            return f"{node.d}/{node.d}{var}"
        return f"{node.d}{self.write(node.top)}/{node.d}{var}"

    def _Diff2(self, node):
        a, b = self.write(node.a), self.write(node.b)
        below = f"∂{a}²" if node.a == node.b else f"∂{a}∂{b}"
        return f"∂²{self.write(node.top)}/{below}"

    def _Sup(self, node):
        base = self.write(node.base)
        if isinstance(node.base, (Frac, Row)) and not _is_function_row(node.base):
            base = f"({base})"
        if isinstance(node.exp, Ident) and node.exp.name == "T":
            return base + "ᵀ"
        exp = self.write(node.exp)
        raised = superscript(exp.replace("−", "-")) if len(exp) <= 4 else None
        if raised is not None:
            return base + raised
        if isinstance(node.exp, (Ident, Num)):
            return f"{base}^{exp}"
        return f"{base}^({exp})"

    def _Sub(self, node):
        sub = self.write(node.sub)
        return self.write(node.base) + (subscript(sub) or (f"_{sub}" if len(sub) == 1 else f"_({sub})"))

    def _Sqrt(self, node):
        body = self.write(node.body)
        return f"√{body}" if isinstance(node.body, (Ident, Num)) else f"√({body})"

    def _Fenced(self, node):
        return f"{node.open}{self.write(node.body)}{node.close}"

    def _BigOp(self, node):
        lower, upper = self.write(node.lower).replace(" ", ""), self.write(node.upper)
        low = subscript(lower)
        high = superscript(upper)
        head = node.symbol + (low if low else f"_({lower})") + (high if high else f"^({upper})")
        return f"{head} {self.write(node.body)}"

    def _Cases(self, node):
        parts = []
        for value, cond in node.rows:
            parts.append(f"{self.write(value)} " + ("otherwise" if cond is None else f"if {self.write(cond)}"))
        return "{" + "; ".join(parts) + "}"

    def _Matrix(self, node):
        return "[" + "; ".join(", ".join(self.write(c) for c in row) for row in node.rows) + "]"


def _has_terms(node):
    return isinstance(node, Row) and any(isinstance(i, Op) and i.kind == "bin" and i.text in ("+", "−")
                                         for i in node.items)


def _compound(node):
    """Whether a linear fraction needs brackets around this part."""
    if isinstance(node, Row):
        if _is_function_row(node):
            return False
        return len(node.items) > 1
    return isinstance(node, (Frac, BigOp))


def _is_function_row(node):
    return (isinstance(node, Row) and len(node.items) == 2 and isinstance(node.items[0], (Word, Ident, Sup, Sub))
            and isinstance(node.items[1], Fenced))


class LatexWriter:
    """LaTeX maths, without delimiters."""

    def write(self, node):
        return getattr(self, "_" + type(node).__name__)(node)

    def _Ident(self, node):
        if node.hat:
            head = r"\hat{y}"
        elif node.bold:
            head = r"\mathbf{%s}" % node.name
        elif node.greek:
            head = _LATEX_GREEK.get(node.name, node.name)
        elif len(node.name) > 1 and node.name.isalpha():
            head = r"\mathrm{%s}" % node.name
        else:
            head = _latex_plain(node.name).replace("′", "'")
        if node.sub is None:
            return head
        return f"{head}_{{{self.write(node.sub)}}}"

    def _Num(self, node):
        text = node.text.replace("∞", r"\infty")
        if "e" in text and text != "e":
            mantissa, _, exponent = text.partition("e")
            return r"%s \times 10^{%s}" % (mantissa, exponent)
        return text

    def _Op(self, node):
        table = {"−": "-", "·": r"\cdot", "≤": r"\leq", "≥": r"\geq", "≠": r"\neq", "←": r"\leftarrow",
                 "<": "<", ">": ">", "×": r"\times", "∇": r"\nabla "}
        text = table.get(node.text, node.text)
        if node.kind == "punct":
            return text + " "
        return f" {text} " if node.kind in ("bin", "rel") else text

    def _Word(self, node):
        if node.text in LATEX_FUNCTIONS:
            return "\\" + node.text
        if node.text in ("d", "ⅆ"):
            return r"\mathrm{d}"
        return r"\operatorname{%s}" % node.text

    def _Text(self, node):
        return r"\text{%s}" % node.text.replace("\\", "")

    def _Lit(self, node):
        return {"|": r"\lvert ", "{": r"\{", "}": r"\}"}.get(node.text, node.text)

    def _Space(self, node):
        return r"\," if node.kind == "thin" else ""

    def _Row(self, node):
        out = ""
        for item in node.items:
            text = self.write(item)
            if out and out[-1].isalpha() and text[:1].isalpha():
                out += " "
            out += text
        return out

    def _Frac(self, node):
        return r"\frac{%s}{%s}" % (self.write(node.num), self.write(node.den))

    def _Diff2(self, node):
        a, b = self.write(node.a), self.write(node.b)
        below = r"\partial %s^{2}" % a if node.a == node.b else r"\partial %s\,\partial %s" % (a, b)
        return r"\frac{\partial^{2} %s}{%s}" % (self.write(node.top), below)

    def _Diff(self, node):
        d = r"\partial " if node.d == "∂" else r"\mathrm{d}"
        var = self.write(node.var)
        top = "" if node.top is None else self.write(node.top)
        return r"\frac{%s%s}{%s%s}" % (d.strip() if not top else d, top, d, var)

    def _Sup(self, node):
        base = self.write(node.base)
        if isinstance(node.exp, Ident) and node.exp.name == "T":
            return f"{base}^{{\\mathsf{{T}}}}"
        if isinstance(node.base, Sup) or isinstance(node.base, Frac):
            base = r"\left(%s\right)" % base
        return f"{{{base}}}^{{{self.write(node.exp)}}}" if isinstance(node.base, Row) and not isinstance(node.base, Fenced) else f"{base}^{{{self.write(node.exp)}}}"

    def _Sub(self, node):
        return f"{self.write(node.base)}_{{{self.write(node.sub)}}}"

    def _Sqrt(self, node):
        return r"\sqrt{%s}" % self.write(node.body)

    def _Fenced(self, node):
        body = self.write(node.body)
        if not _tall(node.body):  # plain brackets: TeX may break a long line inside them
            return f"\\lvert {body}\\rvert " if node.open == "|" else f"{node.open}{body}{node.close}"
        if node.open == "|":
            return r"\left|%s\right|" % body
        return r"\left%s%s\right%s" % (node.open, body, node.close)

    def _BigOp(self, node):
        return r"\sum_{%s}^{%s} %s" % (self.write(node.lower), self.write(node.upper), self.write(node.body))

    def _Cases(self, node):
        rows = []
        for value, cond in node.rows:
            rows.append(self.write(value) + r" & " + (r"\text{otherwise}" if cond is None else r"\text{if } " + self.write(cond)))
        return r"\begin{cases} %s \end{cases}" % r" \\ ".join(rows)

    def _Matrix(self, node):
        rows = [" & ".join(self.write(c) for c in row) for row in node.rows]
        return r"\begin{pmatrix} %s \end{pmatrix}" % r" \\ ".join(rows)


def _tall(node):
    """Whether a layout stands taller than a line of text (a fraction, a Σ, a matrix)."""
    if isinstance(node, (Frac, BigOp, Matrix, Cases, Diff, Diff2)):
        return True
    if isinstance(node, Sup):
        return _tall(node.base) or _tall(node.exp) or isinstance(node.exp, (Sup, Frac))
    if isinstance(node, (Row,)):
        return any(_tall(i) for i in node.items)
    if isinstance(node, (Fenced, Sqrt)):
        return _tall(node.body)
    if isinstance(node, Sub):
        return _tall(node.base)
    return False


_LATEX_GREEK = {v: "\\" + ("lambda" if k == "lam" else k) for k, v in GREEK.items() if k != "lam"}
_LATEX_GREEK["λ"] = r"\lambda"


def _latex_plain(text):
    specials = {"_": r"\_", "#": r"\#", "$": r"\$", "%": r"\%", "&": r"\&", "{": r"\{", "}": r"\}",
                "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}
    return "".join(specials.get(ch, ch) for ch in text)


class MathMLWriter:
    """Presentation MathML: the inside of a ``<math>`` element."""

    def write(self, node):
        return getattr(self, "_" + type(node).__name__)(node)

    def _Ident(self, node):
        name = _xml(node.name)
        if node.hat:
            head = '<mover accent="true"><mi>y</mi><mo>^</mo></mover>'
        elif node.bold:
            head = f'<mi mathvariant="bold">{name}</mi>' if not node.name.isdigit() else f'<mn mathvariant="bold">{name}</mn>'
        elif len(node.name) > 1:
            head = f"<mi>{name}</mi>"  # several letters are upright in MathML by default
        else:
            head = f"<mi>{name}</mi>"
        if node.sub is None:
            return head
        return f"<msub>{head}{self._group(node.sub)}</msub>"

    def _Num(self, node):
        text = node.text
        if "e" in text and text != "e":
            mantissa, _, exponent = text.partition("e")
            exp = exponent.replace("-", "−")
            return f"<mrow><mn>{mantissa}</mn><mo>·</mo><msup><mn>10</mn><mn>{exp}</mn></msup></mrow>"
        return f"<mn>{_xml(text)}</mn>"

    def _Op(self, node):
        text = _xml(node.text)
        if node.kind == "pre":
            return f'<mo form="prefix">{text}</mo>'
        if node.kind == "punct":
            return f'<mo separator="true">{text}</mo>'
        return f"<mo>{text}</mo>"

    def _Word(self, node):
        return f"<mi>{_xml(node.text)}</mi>" if len(node.text) > 1 else f'<mi mathvariant="normal">{_xml(node.text)}</mi>'

    def _Text(self, node):
        return f"<mtext>{_xml(node.text)}</mtext>"

    def _Lit(self, node):
        return f"<mo>{_xml(node.text)}</mo>"

    def _Space(self, node):
        if node.kind == "thin":
            return '<mspace width="0.1667em"/>'
        if node.kind == "apply":
            return "<mo>&#x2061;</mo>"  # function application
        return "<mo>&#x2062;</mo>"  # invisible times: said by screen readers, not shown

    def _Row(self, node):
        out = []
        items = node.items
        for k, item in enumerate(items):
            out.append(self.write(item))
            if isinstance(item, (Word, Sup, Sub)) and k + 1 < len(items) and isinstance(items[k + 1], Fenced) \
                    and _function_head(item):
                out.append("<mo>&#x2061;</mo>")  # function application
        return "<mrow>" + "".join(out) + "</mrow>"

    def _group(self, node):
        text = self.write(node)
        return text if text.startswith("<mrow>") or not isinstance(node, Row) else f"<mrow>{text}</mrow>"

    def _Frac(self, node):
        return f"<mfrac>{self._group(node.num)}{self._group(node.den)}</mfrac>"

    def _Diff(self, node):
        d = "<mo>∂</mo>" if node.d == "∂" else '<mi mathvariant="normal">d</mi>'
        top = d if node.top is None else f"<mrow>{d}{self.write(node.top)}</mrow>"
        return f"<mfrac>{top}<mrow>{d}{self.write(node.var)}</mrow></mfrac>"

    def _Diff2(self, node):
        a, b = self.write(node.a), self.write(node.b)
        upper = f"<mrow><msup><mo>∂</mo><mn>2</mn></msup>{self.write(node.top)}</mrow>"
        lower = (f"<mrow><mo>∂</mo><msup>{a}<mn>2</mn></msup></mrow>" if node.a == node.b
                 else f"<mrow><mo>∂</mo>{a}<mo>∂</mo>{b}</mrow>")
        return f"<mfrac>{upper}{lower}</mfrac>"

    def _Sup(self, node):
        base = self.write(node.base)
        if isinstance(node.base, (Sup, Frac)):
            base = f"<mrow><mo>(</mo>{base}<mo>)</mo></mrow>"
        return f"<msup>{base}{self._group(node.exp)}</msup>"

    def _Sub(self, node):
        return f"<msub>{self.write(node.base)}{self._group(node.sub)}</msub>"

    def _Sqrt(self, node):
        return f"<msqrt>{self.write(node.body)}</msqrt>"

    def _Fenced(self, node):
        return f"<mrow><mo>{_xml(node.open)}</mo>{self.write(node.body)}<mo>{_xml(node.close)}</mo></mrow>"

    def _BigOp(self, node):
        return (f'<mrow><munderover><mo>∑</mo>{self._group(node.lower)}{self._group(node.upper)}'
                f"</munderover>{self.write(node.body)}</mrow>")

    def _Cases(self, node):
        rows = []
        for value, cond in node.rows:
            when = "<mtext>otherwise</mtext>" if cond is None else f"<mrow><mtext>if&#xA0;</mtext>{self.write(cond)}</mrow>"
            rows.append(f'<mtr><mtd columnalign="left">{self.write(value)}</mtd><mtd columnalign="left">{when}</mtd></mtr>')
        return f'<mrow><mo>{{</mo><mtable columnspacing="1em">{"".join(rows)}</mtable></mrow>'

    def _Matrix(self, node):
        rows = "".join("<mtr>" + "".join(f"<mtd>{self.write(c)}</mtd>" for c in row) + "</mtr>" for row in node.rows)
        return f"<mrow><mo>(</mo><mtable>{rows}</mtable><mo>)</mo></mrow>"


def _function_head(node):
    while isinstance(node, (Sup, Sub)):
        node = node.base
    return isinstance(node, Word)


def _xml(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# -- entry points ------------------------------------------------------------------------------------

_TEXT, _LATEX, _MATHML = TextWriter(), LatexWriter(), MathMLWriter()
_PLAIN = Notation()


def layout(expr, notation=None):
    """The layout tree of a SymPy expression (or of a Python number)."""
    if isinstance(expr, (int, float)) and not isinstance(expr, bool):
        expr = sympy.sympify(expr)
    return (notation or _PLAIN).build(expr)


def to_text(node):
    return _TEXT.write(node)


def to_latex(node):
    return _LATEX.write(node)


def to_mathml(node):
    return _MATHML.write(node)


@functools.lru_cache(maxsize=4096)
def cached(expr, fmt):
    """``expr`` written in ``fmt`` (text, latex, mathml) under the plain notation."""
    node = layout(expr)
    return {"text": to_text, "latex": to_latex, "mathml": to_mathml}[fmt](node)


NODES = (Ident, Num, Op, Word, Text, Lit, Row, Frac, Diff, Diff2, Sup, Sub, Sqrt, Fenced, BigOp, Cases, Matrix, Space)


def split_terms(node):
    """A layout cut where a long line may break: before each top-level + and −; failing
    those, before each top-level · ; failing those, between the factors of a product.
    Anything else is one piece."""
    if not isinstance(node, Row):
        return [node]
    for breaks in (lambda i: isinstance(i, Op) and i.kind == "bin" and i.text in ("+", "−"),
                   lambda i: isinstance(i, Op) and i.kind == "bin" and i.text == "·",
                   lambda i: isinstance(i, Space) and i.kind in ("thin", "soft")):
        if not any(breaks(item) for item in node.items[1:]):
            continue
        pieces, current = [], []
        for item in node.items:
            if breaks(item) and current:
                pieces.append(Row(tuple(current)) if len(current) > 1 else current[0])
                current = [] if isinstance(item, Space) else []
                if isinstance(item, Space):
                    continue
            current.append(item)
        pieces.append(Row(tuple(current)) if len(current) > 1 else current[0])
        return pieces
    return [node]


def split_to_width(node, width, measure):
    """Pieces of ``node`` each at most ``width`` (by ``measure``) where the maths allows a
    break: between terms, then factors, then inside a plain bracket (its halves keep their
    bracket), then inside a sign."""
    out = []
    for piece in split_terms(node):
        if measure(piece) <= width:
            out.append(piece)
            continue
        inner = _open_piece(piece)
        if inner is None:
            out.append(piece)
            continue
        head, body, tail = inner
        parts = split_to_width(body, width, measure)
        if len(parts) == 1:
            out.append(piece)
            continue
        parts[0] = Row(tuple(head) + (parts[0],)) if head else parts[0]
        parts[-1] = Row((parts[-1],) + tuple(tail)) if tail else parts[-1]
        out += parts
    return out


def _open_piece(piece):
    """``(head, body, tail)`` of a piece that can be opened: a sign or operator before a
    bracket or product, or a bracket that is not taller than a line."""
    if isinstance(piece, Fenced) and not _tall(piece.body):
        return [Lit(piece.open)], piece.body, [Lit(piece.close)]
    if isinstance(piece, Row) and len(piece.items) == 2 and isinstance(piece.items[0], Op):
        return [piece.items[0]], piece.items[1], []
    if isinstance(piece, Row) and len(piece.items) >= 2 and isinstance(piece.items[-1], Fenced) \
            and not _tall(piece.items[-1].body):
        fenced = piece.items[-1]
        return list(piece.items[:-1]) + [Lit(fenced.open)], fenced.body, [Lit(fenced.close)]
    return None


def _starts_with_term_op(node):
    return isinstance(node, Row) and node.items and isinstance(node.items[0], Op) and node.items[0].text in ("+", "−")


def text_chunks(node, width=None):
    """The text of a layout in pieces that a terminal line may break between."""
    pieces = split_terms(node) if width is None else split_to_width(node, width, lambda p: len(to_text(p)))
    if len(pieces) == 1 and isinstance(node, Row) and len(node.items) == 1:
        return text_chunks(node.items[0])
    out = []
    for k, piece in enumerate(pieces):
        text = to_text(piece)
        following = pieces[k + 1] if k + 1 < len(pieces) else None
        if isinstance(piece, Frac) and following is not None and not _starts_with_term_op(following):
            text = f"({text})"  # (1/n) Σ …, even when a line breaks after it
        out.append(text if k == 0 else text.lstrip())
    return out
