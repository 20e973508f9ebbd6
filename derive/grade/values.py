"""Real values of expressions at points, for deciding whether two expressions are equal.

The grader needs more from a value than :mod:`derive.verify.numeric` gives: it evaluates in
the *real* numbers (a square root of a negative, a log of zero, a division by zero, an
inverse sine of 2 are *undefined* here, never a complex or infinite number), and every
evaluation leaves a :class:`Trace` saying how large the numbers that were added were (the
scale a difference must be measured against: a derivative that is identically zero comes
out as 1e-72 next to terms of size 1), the smallest and largest magnitude met anywhere (the
precision needed so that no term is lost: ``2x + 10^-20``), and which piece of every kink
(|u|, max, min, sign, a Piecewise branch) the point is on.

Two arithmetics share one compiled tree: Python floats for screening (fast), and mpmath
at any precision for confirmation; ``exact`` evaluates a rational expression in Fractions.
Nothing is ever passed to ``eval`` or ``lambdify``.

Real powers follow the real-analysis convention: a negative base with an exponent p/q in
lowest terms is defined when q is odd ((−8)^(1/3) = −2) and undefined when q is even.
"""

import math
from fractions import Fraction

import mpmath
import sympy
from sympy.core.function import AppliedUndef

from derive.functions import log_base, sigmoid
from derive.verify.numeric import connective

MAX_NODES = 20_000  # a compiled tree larger than this is refused (it is never a real answer)


class NotSupported(Exception):
    """The expression holds something without a real value here (an abstract f(x), a Derivative)."""


class _Overflow(Exception):
    """A float overflowed: the caller evaluates again in mpmath."""


class Trace:
    """What one evaluation met: sums' scale, magnitudes' range, the pieces of its kinks.

    ``low`` and ``high`` are the smallest and largest magnitudes of the numbers, the
    variables' values, products, powers and exponentials met (not of sums or of functions
    that may come out as rounding, such as sin π): the digits that resolve them all."""

    __slots__ = ("scale", "low", "high", "pieces")

    def __init__(self):
        self.scale = 0  # the largest |term| or |sum| of any addition
        self.low = None  # the smallest nonzero |value| of any node
        self.high = 0  # the largest |value| of any node
        self.pieces = []  # one entry per kink met: the sign or the branch taken

    def digits_needed(self):
        """Decimal digits that resolve the smallest value met next to the largest."""
        if not self.low or not self.high:
            return 0
        return max(0.0, float(mpmath.log10(self.high) - mpmath.log10(self.low)))


# ------------------------------------------------------------------------ arithmetics


class _Floats:
    """Python floats: the fast screening arithmetic. Overflow raises _Overflow."""

    exact = False
    zero, one = 0.0, 1.0

    @staticmethod
    def number(value):
        if value.is_Integer or value.is_Rational:
            try:
                return value.p / value.q
            except OverflowError:
                raise _Overflow from None
        return float(value)

    @staticmethod
    def fsum(terms):
        return math.fsum(terms)

    @staticmethod
    def real_root(b, p, q):
        magnitude = abs(b) ** (p / q)
        return -magnitude if (b < 0 and p % 2) else magnitude

    @staticmethod
    def power(b, e):
        try:
            value = b**e
        except OverflowError:
            raise _Overflow from None
        except ZeroDivisionError:
            raise _Overflow from None  # 0.0 may be an underflow: mpmath decides
        if value == 0 and b != 0:
            raise _Overflow  # underflow
        return value

    @staticmethod
    def exp(u):
        if abs(u) > 700:  # overflow, or an underflow to 0 that a division would turn undefined
            raise _Overflow
        return math.exp(u)

    log = staticmethod(math.log)
    sqrt = staticmethod(math.sqrt)
    sin, cos, tan = staticmethod(math.sin), staticmethod(math.cos), staticmethod(math.tan)
    asin, acos, atan = staticmethod(math.asin), staticmethod(math.acos), staticmethod(math.atan)
    asinh, acosh, atanh = staticmethod(math.asinh), staticmethod(math.acosh), staticmethod(math.atanh)

    @staticmethod
    def sinh(u):
        if abs(u) > 700:
            raise _Overflow
        return math.sinh(u)

    @staticmethod
    def cosh(u):
        if abs(u) > 700:
            raise _Overflow
        return math.cosh(u)

    tanh = staticmethod(math.tanh)
    pi = math.pi
    e = math.e


class _Mp:
    """mpmath at the context's precision (set by the caller)."""

    exact = False
    zero, one = mpmath.mpf(0), mpmath.mpf(1)

    @staticmethod
    def number(value):
        if value.is_Integer:
            return mpmath.mpf(value.p)
        if value.is_Rational:
            return mpmath.mpf(value.p) / value.q
        if value.is_Float:
            return mpmath.mpf(value._mpf_)
        raise NotSupported(str(value))

    @staticmethod
    def fsum(terms):
        return mpmath.fsum(terms)

    @staticmethod
    def real_root(b, p, q):
        magnitude = mpmath.power(abs(b), mpmath.mpf(p) / q)
        return -magnitude if (b < 0 and p % 2) else magnitude

    @staticmethod
    def power(b, e):
        try:
            return mpmath.power(b, e)
        except ZeroDivisionError:
            return None

    exp, log, sqrt = staticmethod(mpmath.exp), staticmethod(mpmath.log), staticmethod(mpmath.sqrt)
    sin, cos, tan = staticmethod(mpmath.sin), staticmethod(mpmath.cos), staticmethod(mpmath.tan)
    asin, acos, atan = staticmethod(mpmath.asin), staticmethod(mpmath.acos), staticmethod(mpmath.atan)
    sinh, cosh, tanh = staticmethod(mpmath.sinh), staticmethod(mpmath.cosh), staticmethod(mpmath.tanh)
    asinh, acosh, atanh = staticmethod(mpmath.asinh), staticmethod(mpmath.acosh), staticmethod(mpmath.atanh)

    @property
    def pi(self):
        return +mpmath.pi

    @property
    def e(self):
        return +mpmath.e


FLOATS, MP = _Floats(), _Mp()


# ------------------------------------------------------------------------ compiling


def compile_expression(expr):
    """A :class:`Compiled` evaluator for ``expr`` (NotSupported if it has no real value)."""
    return Compiled(expr)


class Compiled:
    """One expression, compiled once; evaluate with :meth:`floats`, :meth:`mp` or :meth:`exact`."""

    def __init__(self, expr):
        self.expr = expr
        self.symbols = frozenset(expr.free_symbols)
        count = [0]
        self._float = _build(expr, FLOATS, {}, count)
        self._mp = _build(expr, MP, {}, [0])
        self.rational = is_rational(expr)

    def floats(self, point):
        """(value or None, Trace) in floats; values too large for floats go through mpmath."""
        trace = Trace()
        env = _env(point, float, trace)
        try:
            return self._float(env), trace
        except _Overflow:
            return self.mp(point, 20)
        except (ValueError, ZeroDivisionError, OverflowError):
            return None, trace

    def mp(self, point, digits):
        """(value or None, Trace) at ``digits`` significant digits."""
        trace = Trace()
        context = mpmath.mp
        saved = context.prec
        try:
            context.dps = int(digits) + 10
            env = _env(point, _to_mpf, trace)
            try:
                value = self._mp(env)
            except (ValueError, ZeroDivisionError, OverflowError):
                value = None
            return value, trace
        finally:
            context.prec = saved

    def exact(self, point):
        """The exact Fraction value of a rational expression at a rational point, or None
        where it is undefined (a division by zero)."""
        return _exact(self.expr, point)


def _to_mpf(value):
    if isinstance(value, Fraction):
        return mpmath.mpf(value.numerator) / value.denominator
    return mpmath.mpf(value)


def _env(point, convert, trace):
    env = {s: convert(v) for s, v in point.items()}
    env[Trace] = trace
    return env


def _note(env, value):
    """Record a node's magnitude in the trace (mp evaluations only: floats skip it)."""
    if value:
        trace = env[Trace]
        size = abs(value)
        if trace.low is None or size < trace.low:
            trace.low = size
        if size > trace.high:
            trace.high = size


def _build(expr, K, memo, count):
    """The closure computing ``expr`` in the arithmetic K: fn(env) -> value or None."""
    found = memo.get(expr)
    if found is not None:
        return found
    count[0] += 1
    if count[0] > MAX_NODES:
        raise NotSupported("the expression is too large to evaluate")
    fn = _node(expr, K, memo, count)
    memo[expr] = fn
    return fn


def _node(expr, K, memo, count):
    track = K is MP
    if expr.is_Number:
        if expr.is_Float and K is FLOATS:
            value = float(expr)
        elif not expr.is_finite:
            raise NotSupported(f"the value {expr} is not a finite number")
        else:
            value = None if K is MP else K.number(expr)
        if K is MP:
            raw, cache = expr, {}

            def number(env):
                prec = mpmath.mp.prec
                value = cache.get(prec)
                if value is None:
                    value = cache[prec] = MP.number(raw)
                _note(env, value)
                return value

            return number

        def constant(env):
            return value

        return constant
    if expr is sympy.pi or expr is sympy.E:
        is_pi = expr is sympy.pi

        def named(env):
            value = K.pi if is_pi else K.e
            if track:
                _note(env, value)
            return value

        return named
    if expr.is_Symbol:

        def variable(env):
            try:
                value = env[expr]
            except KeyError:
                raise NotSupported(f"no value for {expr}") from None
            if track:
                _note(env, value)
            return value

        return variable
    if isinstance(expr, sympy.UnevaluatedExpr):
        return _build(expr.args[0], K, memo, count)
    if isinstance(expr, log_base):  # log_b(u), as typed: ln u / ln b
        u, base = expr.args
        return _build(sympy.log(u) / sympy.log(base), K, memo, count)
    if expr.is_Add:
        return _add([_build(a, K, memo, count) for a in expr.args], K)
    if expr.is_Mul:
        return _mul([_build(a, K, memo, count) for a in expr.args], K)
    if expr.is_Pow:
        return _pow(expr, K, memo, count)
    if isinstance(expr, (sympy.Max, sympy.Min)):
        return _extremum(expr, [_build(a, K, memo, count) for a in expr.args], K)
    if isinstance(expr, sympy.Piecewise):
        return _piecewise([(_build(v, K, memo, count), _build(c, K, memo, count)) for v, c in expr.args])
    if isinstance(expr, sympy.core.relational.Relational):
        return _relation(expr, _build(expr.lhs, K, memo, count), _build(expr.rhs, K, memo, count))
    if expr is sympy.true or expr is sympy.false:
        truth = bool(expr)
        return lambda env: truth
    if isinstance(expr, (sympy.And, sympy.Or, sympy.Not)):
        return _logic(expr, [_build(a, K, memo, count) for a in expr.args])
    if isinstance(expr, AppliedUndef):
        raise NotSupported(f"the function {type(expr).__name__} has no values")
    if isinstance(expr, (sympy.Derivative, sympy.Integral, sympy.Subs)):
        raise NotSupported(f"{type(expr).__name__} has no value until it is worked out")
    if isinstance(expr, sympy.Function) and len(expr.args) == 1:
        maker = _FUNCTIONS.get(expr.func)
        if maker is not None:
            return _apply(maker(K), _build(expr.args[0], K, memo, count), K, expr.func)
    if isinstance(expr, (sympy.Sum, sympy.Indexed)):
        return _fallback(expr, K)
    raise NotSupported(f"cannot evaluate {type(expr).__name__}")


def _add(kids, K):
    def add(env):
        terms = []
        for kid in kids:
            value = kid(env)
            if value is None:
                return None
            terms.append(value)
        total = K.fsum(terms)
        trace = env[Trace]
        big = max(abs(t) for t in terms)
        if big > trace.scale:
            trace.scale = big
        return total  # a sum may cancel to rounding: its size says nothing of the digits needed

    return add


def _mul(kids, K):
    track = K is MP

    def mul(env):
        product = K.one
        for kid in kids:
            value = kid(env)
            if value is None:
                return None
            product = product * value
        if track:
            _note(env, product)
        return product

    return mul


def constant_exponent(exponent):
    """A numeric exponent as one SymPy number (1/3 typed is Mul(1, 3⁻¹) until evaluated)."""
    if exponent.is_Number or exponent.free_symbols or not exponent.is_number:
        return exponent
    folded = exponent.doit()
    return folded if folded.is_Number else exponent


def _pow(expr, K, memo, count):
    base = _build(expr.base, K, memo, count)
    exponent = constant_exponent(expr.exp)
    track = K is MP
    if expr.base is sympy.E:
        return _apply(lambda u: K.exp(u), _build(exponent, K, memo, count), K, sympy.exp)
    if exponent.is_Integer:
        n = int(exponent)

        def integer_power(env):
            b = base(env)
            if b is None:
                return None
            if n < 0 and b == 0:
                if K is FLOATS:
                    raise _Overflow  # the 0 may be a float underflow: mpmath decides
                return None
            value = K.power(b, n)
            if track and value is not None:
                _note(env, value)
            return value

        return integer_power
    if exponent.is_Rational:
        p, q = exponent.p, exponent.q

        def rational_power(env):
            b = base(env)
            if b is None:
                return None
            if b == 0:
                if p < 0 and K is FLOATS:
                    raise _Overflow
                return K.zero if p > 0 else None
            if b < 0 and q % 2 == 0:
                return None
            value = K.real_root(b, p, q)
            if track:
                _note(env, value)
            return value

        return rational_power
    power = _build(exponent, K, memo, count)

    def general_power(env):
        b = base(env)
        if b is None:
            return None
        e = power(env)
        if e is None:
            return None
        if b > 0:
            value = K.exp(e * K.log(b))
        elif b == 0:
            return K.zero if e > 0 else None
        elif e == int(e):
            value = K.power(b, int(e))
        else:
            return None  # a negative base to a power that is not a whole number
        if track and value is not None:
            _note(env, value)
        return value

    return general_power


def _apply(fn, kid, K, func):
    # Only the exponential is noted: a sine or a log can come out as pure rounding (sin π),
    # whose size would ask for ever more digits; e^u is small only when u is truly large.
    track = K is MP and func in (sympy.exp, sympy.cosh, sympy.sech)
    kink = func in _KINKS

    def apply(env):
        u = kid(env)
        if u is None:
            return None
        if kink:
            env[Trace].pieces.append(_sign(u))
        value = fn(u)
        if value is not None and track:
            _note(env, value)
        return value

    return apply


def _extremum(expr, kids, K):
    pick_max = isinstance(expr, sympy.Max)

    def extremum(env):
        values = []
        for kid in kids:
            value = kid(env)
            if value is None:
                return None
            values.append(value)
        best = max(values) if pick_max else min(values)
        winners = [k for k, v in enumerate(values) if v == best]
        env[Trace].pieces.append(winners[0] if len(winners) == 1 else -1)
        return best

    return extremum


def _piecewise(pairs):
    def piecewise(env):
        for k, (value, condition) in enumerate(pairs):
            truth = condition(env)
            if truth is None:
                return None
            if truth:
                env[Trace].pieces.append(k)
                return value(env)
        return None

    return piecewise


_RELATIONS = {
    sympy.StrictLessThan: lambda a, b: a < b, sympy.LessThan: lambda a, b: a <= b,
    sympy.StrictGreaterThan: lambda a, b: a > b, sympy.GreaterThan: lambda a, b: a >= b,
    sympy.Equality: lambda a, b: a == b, sympy.Unequality: lambda a, b: a != b,
}  # fmt: skip


def _relation(expr, lhs, rhs):
    test = _RELATIONS.get(type(expr))
    if test is None:
        raise NotSupported(f"cannot evaluate the condition {type(expr).__name__}")

    def relation(env):
        a, b = lhs(env), rhs(env)
        if a is None or b is None:
            return None
        if a == b:
            env[Trace].pieces.append(0)  # on the boundary itself
        return test(a, b)

    return relation


def _logic(expr, kids):
    if isinstance(expr, sympy.Not):
        (kid,) = kids

        def negation(env):
            truth = kid(env)
            return None if truth is None else not truth

        return negation
    return connective(kids, decisive=isinstance(expr, sympy.Or))


def _fallback(expr, K):
    """Sums over data and indexed values: derive's general evaluator, value only."""
    from derive.verify.numeric import NotNumeric, evaluator

    run = evaluator(expr)

    def fallback(env):
        values = {k: v for k, v in env.items() if k is not Trace}
        try:
            value = run(values, 30 if K is FLOATS else mpmath.mp.dps)
        except NotNumeric as error:
            raise NotSupported(str(error)) from None
        if isinstance(value, mpmath.mpc):
            if value.imag:
                return None
            value = value.real
        if not mpmath.isfinite(value):
            return None
        return float(value) if K is FLOATS else value

    return fallback


# --------------------------------------------------------------------- the functions


def _guard(test, fn):
    """fn where test(u) holds, None (undefined) elsewhere."""

    def guarded(u):
        return fn(u) if test(u) else None

    return guarded


def _reciprocal(fn):
    def reciprocal(u):
        value = fn(u)
        return None if value == 0 else 1 / value

    return reciprocal


def _sign(u):
    return (u > 0) - (u < 0)


def _sigmoid_of(K):
    def sigmoid_value(u):
        if u >= 0:
            return 1 / (1 + K.exp(-u))
        t = K.exp(u)
        return t / (1 + t)

    return sigmoid_value


def _acot(K):
    return lambda u: K.atan(1 / u) if u != 0 else K.pi / 2


_FUNCTIONS = {
    sympy.exp: lambda K: K.exp,
    sympy.log: lambda K: _guard(lambda u: u > 0, K.log),
    sympy.sin: lambda K: K.sin,
    sympy.cos: lambda K: K.cos,
    sympy.tan: lambda K: _guard(lambda u: K.cos(u) != 0, K.tan),
    sympy.cot: lambda K: _reciprocal(K.tan),
    sympy.sec: lambda K: _reciprocal(K.cos),
    sympy.csc: lambda K: _reciprocal(K.sin),
    sympy.asin: lambda K: _guard(lambda u: -1 <= u <= 1, K.asin),
    sympy.acos: lambda K: _guard(lambda u: -1 <= u <= 1, K.acos),
    sympy.atan: lambda K: K.atan,
    sympy.acot: _acot,
    sympy.asec: lambda K: _guard(lambda u: abs(u) >= 1, lambda u: K.acos(1 / u)),
    sympy.acsc: lambda K: _guard(lambda u: abs(u) >= 1, lambda u: K.asin(1 / u)),
    sympy.sinh: lambda K: K.sinh,
    sympy.cosh: lambda K: K.cosh,
    sympy.tanh: lambda K: K.tanh,
    sympy.coth: lambda K: _reciprocal(K.tanh),
    sympy.sech: lambda K: _reciprocal(K.cosh),
    sympy.csch: lambda K: _reciprocal(K.sinh),
    sympy.asinh: lambda K: K.asinh,
    sympy.acosh: lambda K: _guard(lambda u: u >= 1, K.acosh),
    sympy.atanh: lambda K: _guard(lambda u: -1 < u < 1, K.atanh),
    sympy.acoth: lambda K: _guard(lambda u: abs(u) > 1, lambda u: K.atanh(1 / u)),
    sympy.asech: lambda K: _guard(lambda u: 0 < u <= 1, lambda u: K.acosh(1 / u)),
    sympy.acsch: lambda K: _guard(lambda u: u != 0, lambda u: K.asinh(1 / u)),
    sigmoid: _sigmoid_of,
}


def _abs_maker(K):
    return abs


def _sign_maker(K):
    def sign_value(u):
        return K.one * _sign(u)

    return sign_value


def _heaviside_maker(K):
    def heaviside(u):
        return None if u == 0 else (K.one if u > 0 else K.zero)

    return heaviside


# |u|, sign(u) and the step also record which side of their kink the point is on (_apply).
_KINKS = {sympy.Abs: _abs_maker, sympy.sign: _sign_maker, sympy.Heaviside: _heaviside_maker}
_FUNCTIONS.update(_KINKS)


# ------------------------------------------------------------------------ exact values


def is_rational(expr):
    """Whether ``expr`` is built from rational numbers and symbols by + − × ÷ and whole
    powers only: then its values at rational points are exact Fractions."""
    for node in sympy.preorder_traversal(expr):
        if node.is_Symbol or node.is_Integer or node.is_Rational:
            continue
        if node.is_Add or node.is_Mul or isinstance(node, sympy.UnevaluatedExpr):
            continue
        if node.is_Pow and constant_exponent(node.exp).is_Integer:
            continue
        if node.is_Pow is False and node.is_number and node.doit().is_Rational:
            continue  # a numeric part SymPy left unevaluated, such as 2·3
        return False
    return True


def _exact(expr, point):
    """Fraction value of a rational expression, or None where a denominator vanishes."""
    stack = [(expr, False)]
    out = []
    while stack:
        node, ready = stack.pop()
        if not ready:
            if node.is_Symbol:
                out.append(Fraction(point[node]))
                continue
            if node.is_Rational:
                out.append(Fraction(node.p, node.q))
                continue
            if node.is_number and not node.is_Pow and not node.is_Add and not node.is_Mul:
                value = node.doit()
                out.append(Fraction(int(value.p), int(value.q)))
                continue
            stack.append((node, True))
            kids = node.args if not node.is_Pow else (node.base,)
            for kid in kids:
                stack.append((kid, False))
            continue
        if isinstance(node, sympy.UnevaluatedExpr):
            continue  # its one value is already on the stack
        if node.is_Pow:
            b = out.pop()
            if b is None:
                out.append(None)
                continue
            n = int(constant_exponent(node.exp))
            out.append(None if (b == 0 and n < 0) else b**n)
            continue
        values = [out.pop() for _ in node.args]
        if any(v is None for v in values):
            out.append(None)
        elif node.is_Add:
            out.append(sum(values, Fraction(0)))
        else:
            product = Fraction(1)
            for v in values:
                product *= v
            out.append(product)
    return out[0]
