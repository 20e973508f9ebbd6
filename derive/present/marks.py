"""The marks a worked solution writes that SymPy has no word for: a derivative not yet
worked (``d/dx (x² + 1)``, or ``∂errorᵢ/∂w`` for a name), and the true statement of a
piecewise result's conditions.

A :class:`Pending` is a SymPy expression, so a line of a chain is one SymPy expression
that the notation prints and that can be checked: :func:`resolved` puts each pending
derivative's value in and gives the plain expression the line stands for.
"""

import sympy
from sympy import S

from derive.render import notation as n


class Pending(sympy.Expr):
    """d(expression)/d(variable), written but not yet worked out."""

    is_commutative = True
    _dotted = True  # a product around it reads with dots: 2 errorᵢ · ∂errorᵢ/∂w

    def __new__(cls, expression, variable, partial=False):
        return sympy.Expr.__new__(cls, expression, variable, S.true if partial else S.false)

    @property
    def expression(self):
        return self.args[0]

    @property
    def variable(self):
        return self.args[1]

    @property
    def partial(self):
        return self.args[2] is S.true

    def _layout(self, notation):
        d = "∂" if self.partial else notation.leibniz_d
        variable = notation.build(self.variable)
        expr = self.expression
        if expr.is_Symbol or isinstance(expr, (sympy.Indexed, sympy.MatrixSymbol)):
            return n.Diff(d, variable, notation.build(expr)), n.ATOM
        body, prec = notation._node(expr)
        if prec < n.POWER or expr.is_Mul or expr.is_Add or (expr.is_Number and expr.is_negative) \
                or isinstance(body, (n.Frac, n.Row)) and not _function_row(body):
            body = n.Fenced(body)  # d/dx (x² + 1), d/dx (−1): the bracket says what is differentiated
        return n.Row((n.Diff(d, variable), n.SOFT, body)), n.PRODUCT

    def _sympystr(self, printer):
        mark = "∂" if self.partial else "d"
        return f"{mark}/{mark}{printer._print(self.variable)}[{printer._print(self.expression)}]"


def _function_row(node):
    return isinstance(node, n.Row) and node.items and isinstance(node.items[0], (n.Word, n.Sup, n.Sub, n.Ident)) \
        and len(node.items) <= 3 and not any(isinstance(i, n.Op) for i in node.items)


class Dot(sympy.Expr):
    """A product as a line of working writes it: the factors in the order the rule gives
    them, joined by a dot (cos(x²) · 2x), in brackets only where a factor needs them."""

    is_commutative = True

    def __new__(cls, *factors):
        flat = []
        for factor in factors:
            flat += list(factor.args) if isinstance(factor, Dot) else [factor]
        return sympy.Expr.__new__(cls, *flat)

    def _layout(self, notation):
        items = []
        for k, factor in enumerate(self.args):
            node, prec = notation._node(factor)
            negative = factor.could_extract_minus_sign() if hasattr(factor, "could_extract_minus_sign") else False
            if (prec < n.PRODUCT and not (k == 0 and negative)) or (k > 0 and (negative or _leading_sign(node))):
                node = n.Fenced(node)
            if items:
                items.append(n.Op("·"))
            items.append(node)
        return n.Row(tuple(items)), n.PRODUCT

    def as_mul(self):
        return sympy.Mul(*self.args)


class Plus(sympy.Expr):
    """A sum as a line of working writes it: the terms in the order the rule gives them."""

    is_commutative = True

    def __new__(cls, *terms):
        return sympy.Expr.__new__(cls, *terms)

    def _layout(self, notation):
        return notation.terms(list(self.args)), n.SUM

    def as_add(self):
        return sympy.Add(*self.args)


def _leading_sign(node):
    return isinstance(node, n.Row) and node.items and isinstance(node.items[0], n.Op) and node.items[0].kind == "pre"


class Relation(sympy.Expr):
    """``lhs ← rhs`` (or any relation SymPy has no class for) as one piece of maths."""

    is_commutative = True

    def __new__(cls, lhs, rhs, symbol="←"):
        return sympy.Expr.__new__(cls, lhs, rhs, sympy.Symbol(symbol))

    def _layout(self, notation):
        lhs, rhs, symbol = self.args
        return n.Row((notation.build(lhs), n.Op(symbol.name, "rel"), notation.build(rhs))), n.RELATION


class Second(sympy.Expr):
    """∂²L/∂w², ∂²L/∂w∂b: an entry of the Hessian, by name."""

    is_commutative = True

    def __new__(cls, top, a, b):
        return sympy.Expr.__new__(cls, top, a, b)

    def _layout(self, notation):
        top, a, b = self.args
        return n.Diff2(notation.build(top), notation.build(a), notation.build(b)), n.ATOM


class Gradient(sympy.Expr):
    """∇L, or ∇_w L for a gradient with respect to a vector."""

    is_commutative = True

    def __new__(cls, top, wrt=None):
        return sympy.Expr.__new__(cls, top, wrt if wrt is not None else S.false)

    def _layout(self, notation):
        top, wrt = self.args
        nabla = n.Op("∇", "pre") if wrt is S.false else n.Sub(n.Op("∇", "pre"), notation.build(wrt))
        return n.Row((nabla, n.NONE if wrt is S.false else n.SOFT, notation.build(top))), n.ATOM


class Cases(sympy.Expr):
    """A piecewise derivative as a textbook states it: each piece where it holds, and the
    points where there is no derivative named, not hidden in an "otherwise"."""

    is_commutative = True

    def __new__(cls, pieces, undefined=None):
        # pieces: ((value, condition), ...); undefined: a condition (x = 1/2) or None
        items = sympy.Tuple(*[sympy.Tuple(v, c) for v, c in pieces])
        return sympy.Expr.__new__(cls, items, undefined if undefined is not None else S.false)

    @property
    def pieces(self):
        return [(v, c) for v, c in self.args[0]]

    @property
    def undefined(self):
        return None if self.args[1] is S.false else self.args[1]

    def _layout(self, notation):
        rows = [(notation.build(v), None if c is S.true else notation.build(c)) for v, c in self.pieces]
        if self.undefined is not None:
            rows.append((n.Text("undefined"), notation.build(self.undefined)))
        return n.Cases(tuple(rows)), n.ATOM


def resolved(expr, values):
    """``expr`` with each pending derivative replaced by its value (``values`` maps
    ``(expression, variable)`` to the derivative), rebuilt with SymPy's evaluation."""
    from derive.symbols import evaluated

    def value(mark):
        return values[(mark.expression, mark.variable)]

    if expr.has(Pending):
        expr = expr.replace(lambda e: isinstance(e, Pending), value)
    if expr.has(Dot, Plus, Cases):
        expr = expr.replace(lambda e: isinstance(e, Dot), lambda e: sympy.Mul(*e.args))
        expr = expr.replace(lambda e: isinstance(e, Plus), lambda e: sympy.Add(*e.args))
        expr = expr.replace(lambda e: isinstance(e, Cases),
                            lambda e: sympy.Piecewise(*[(v, c) for v, c in e.pieces]))
    return evaluated(expr)


def pending(expr):
    """The pending derivatives in ``expr``, in reading order."""
    found = []
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, Pending) and node not in found:
            found.append(node)
    return found
