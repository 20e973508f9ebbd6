"""Tests for derive.verify.numeric: every node kind against SymPy's own evalf, plus the edge cases."""

import random
from fractions import Fraction

import mpmath
import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derive.functions import sigmoid
from derive.verify.numeric import NotNumeric, close, evaluate, evaluator, is_finite_real

x = sympy.Symbol("x", real=True)
y = sympy.Symbol("y", real=True)
k = sympy.Symbol("k", integer=True)
i = sympy.Symbol("i", integer=True)
n = sympy.Symbol("n", integer=True)
X = sympy.IndexedBase("x", real=True)
Y = sympy.IndexedBase("y", real=True)
f = sympy.Function("f")

S = sympy.S
Rational = sympy.Rational
Piecewise = sympy.Piecewise

# (expression, (low, high)): both x and y are drawn from [low, high].
ANYWHERE = (-2, 2)
POSITIVE = (Rational(1, 10), 3)
ABOVE_ONE = (Rational(11, 10), 4)
UNIT = (Rational(1, 10), Rational(9, 10))
NEAR_ZERO = (Rational(-6, 5), Rational(6, 5))

TABLE = [
    # numbers and arithmetic
    (Rational(3, 7) * x + sympy.Float("0.125", 30) * y - 5, ANYWHERE),
    (sympy.pi * x + sympy.E, ANYWHERE),
    (sympy.EulerGamma + sympy.GoldenRatio * x + sympy.Catalan * y, ANYWHERE),
    (x**2 + y**3 - 2 * x * y + 1, ANYWHERE),
    (x**-3 + y**-2, POSITIVE),
    ((x**2 + 1) ** Rational(3, 2), ANYWHERE),
    ((x**2 + y**2 + 1) ** Rational(-1, 2), ANYWHERE),
    (sympy.sqrt(x**2 + y**2), ANYWHERE),
    (1 / (1 + x**2), ANYWHERE),
    (x**y, POSITIVE),
    (x ** sympy.Float("2.5", 30), POSITIVE),
    ((x + sympy.I * y) * (x - sympy.I * y), ANYWHERE),
    # exponentials and logarithms
    (sympy.exp(x * y), ANYWHERE),
    (sympy.log(x), POSITIVE),
    (sympy.log(x**2 + 1) * y, ANYWHERE),
    (sympy.exp(-(x**2)) * sympy.cos(3 * x), ANYWHERE),
    # trigonometric
    (sympy.sin(x) + sympy.cos(x * y), ANYWHERE),
    (sympy.tan(x), NEAR_ZERO),
    (sympy.cot(x), POSITIVE),
    (sympy.sec(x), NEAR_ZERO),
    (sympy.csc(x), POSITIVE),
    (sympy.asin(x / 3), ANYWHERE),
    (sympy.acos(x / 3), ANYWHERE),
    (sympy.atan(x * y), ANYWHERE),
    (sympy.acot(x), POSITIVE),
    (sympy.asec(x), ABOVE_ONE),
    (sympy.acsc(x), ABOVE_ONE),
    (sympy.atan2(y, x), POSITIVE),
    # hyperbolic
    (sympy.sinh(x) - sympy.cosh(y), ANYWHERE),
    (sympy.tanh(x), ANYWHERE),
    (sympy.coth(x), POSITIVE),
    (sympy.sech(x), ANYWHERE),
    (sympy.csch(x), POSITIVE),
    (sympy.asinh(x), ANYWHERE),
    (sympy.acosh(x), ABOVE_ONE),
    (sympy.atanh(x / 3), ANYWHERE),
    (sympy.acoth(x), ABOVE_ONE),
    (sympy.asech(x), UNIT),
    (sympy.acsch(x), POSITIVE),
    # piecewise-smooth functions
    (sympy.Abs(x - y), ANYWHERE),
    (sympy.sign(x - y) * x, ANYWHERE),
    (sympy.Heaviside(x) * y, ANYWHERE),
    (sympy.Max(x, y, Rational(1, 2)), ANYWHERE),
    (sympy.Min(x, y**2), ANYWHERE),
    (sympy.floor(3 * x) + sympy.ceiling(3 * y), ANYWHERE),
    (sigmoid(x), ANYWHERE),
    (sigmoid(10 * x) * y, ANYWHERE),
    (Piecewise((x**2, x < 0), (sympy.sin(x), x <= 1), (x, True)), ANYWHERE),
    (
        Piecewise(
            (1, sympy.And(x > 0, y > 0)),
            (2, sympy.Or(x < -1, sympy.Eq(y, 0))),
            (3, sympy.Not(x >= Rational(1, 2))),
            (x + y, True),
        ),
        ANYWHERE,
    ),
    (Piecewise((x, sympy.Ne(x, y)), (0, True)), ANYWHERE),
    (Piecewise((x - y, x >= y), (y - x, True)), ANYWHERE),
    # sums with concrete bounds, and functions SymPy evaluates for us
    (sympy.Sum(x**k / (k + 1), (k, 0, 8)), ANYWHERE),
    (sympy.Sum(x * k + y, (k, 1, 3), (i, 1, 2)), ANYWHERE),
    (sympy.erf(x) + sympy.gamma(y + 3), ANYWHERE),
]


def mp_value(number):
    """A SymPy number (evalf's answer) as an mpmath number, or None if it is not finite."""
    if number.is_Float or number.is_Rational:
        return mpmath.mpf(number._mpf_) if number.is_Float else mpmath.mpf(number.p) / number.q
    re, im = number.as_real_imag()
    if not (re.is_Number and im.is_Number) or not (re.is_finite and im.is_finite):
        return None
    return mpmath.mpc(mp_value(re), mp_value(im))


def agree(ours, reference, digits):
    """`ours` matches the SymPy number `reference` to `digits` digits (relative, floor 1)."""
    with mpmath.workdps(60):  # convert and subtract at more than the 30 digits compared
        ref = mp_value(reference)
        assert ref is not None, reference
        return abs(ours - ref) <= mpmath.mpf(10) ** -digits * max(1, abs(ref))


def random_point(rng, low, high):
    low, high = S(low), S(high)
    return {v: low + (high - low) * Rational(rng.randint(0, 1000), 1000) for v in (x, y)}


def test_the_table_is_big_enough():
    assert len(TABLE) >= 40


@pytest.mark.parametrize("expr, domain", TABLE, ids=[str(e)[:40] for e, _ in TABLE])
def test_agrees_with_sympy_evalf(expr, domain):
    rng = random.Random(str(expr))
    compared = 0
    for _ in range(3):
        point = random_point(rng, *domain)
        reference = expr.subs(point).doit().evalf(30)  # doit: evalf leaves some Sums alone
        if mp_value(reference) is None:
            continue  # only finite values are compared
        ours = evaluate(expr, point, dps=30)
        assert agree(ours, reference, 25), (expr, point, ours, reference)
        compared += 1
    assert compared, "no point of the domain gave a finite reference value"


def test_evaluator_matches_evaluate_and_reuses():
    expr = sympy.sin(x**2) * sympy.exp(x) / (1 + x**2)
    fn = evaluator(expr)
    for value in (-1.5, 0.0, 0.25, 2.0):
        assert fn({x: value}, 30) == evaluate(expr, {x: value}, dps=30)


def test_value_types_all_agree():
    expr = x**2 + 1
    expected = mpmath.mpf(13) / 4 + 0  # x = 3/2
    for value in (Fraction(3, 2), 1.5, Rational(3, 2), sympy.Float("1.5", 30), mpmath.mpf("1.5")):
        assert evaluate(expr, {x: value}) == expected
    assert evaluate(expr, {x: 2}) == 5
    assert close(evaluate(x, {x: sympy.pi}, dps=40), sympy.pi.evalf(40))


def test_real_and_plain_symbols_are_different_keys():
    plain = sympy.Symbol("x")
    with pytest.raises(NotNumeric, match="x"):
        evaluate(x + 1, {plain: 2})


# --------------------------------------------------------------------------- Sum


def test_sum_with_indexed_data_matches_the_hand_written_sum():
    w, b = sympy.symbols("w b", real=True)
    loss = sympy.Sum((w * X[i] + b - Y[i]) ** 2, (i, 1, n)) / n
    xs = [0.5, -1.25, 2.0, 3.5, -0.75]
    ys = [1.0, 0.0, 2.5, 4.0, -2.0]
    values = {n: 5, w: 0.75, b: -0.25}  # binary fractions: exactly the same as Rationals
    values.update({X[j + 1]: xs[j] for j in range(5)})
    values.update({Y[j + 1]: ys[j] for j in range(5)})
    by_hand = sum((0.75 * xv - 0.25 - yv) ** 2 for xv, yv in zip(xs, ys)) / 5
    assert close(evaluate(loss, values), by_hand, rel=1e-14)

    explicit = loss.subs(n, 5).doit().subs({w: Rational(3, 4), b: Rational(-1, 4)})
    explicit = explicit.subs({X[j + 1]: Rational(xs[j]) for j in range(5)})
    explicit = explicit.subs({Y[j + 1]: Rational(ys[j]) for j in range(5)})
    assert agree(evaluate(loss, values), explicit.evalf(30), 25)


def test_sum_index_is_bound_only_inside_the_sum():
    total = sympy.Sum(X[i] * i, (i, 1, 3)) + i
    values = {X[1]: 1, X[2]: 1, X[3]: 1, i: 100}
    assert evaluate(total, values) == 106  # 1 + 2 + 3 + the outer i


def test_sum_follows_sympys_reversed_bounds_convention():
    assert evaluate(sympy.Sum(k, (k, 5, 1)), {}) == sympy.Sum(k, (k, 5, 1)).doit() == -9
    assert evaluate(sympy.Sum(k, (k, 5, 4)), {}) == 0


def test_sum_refuses_symbolic_bounds_and_too_many_terms():
    with pytest.raises(NotNumeric, match="n"):
        evaluate(sympy.Sum(X[i], (i, 1, n)), {X[1]: 1})
    with pytest.raises(NotNumeric, match="terms"):
        evaluate(sympy.Sum(k, (k, 1, 10**6)), {})
    with pytest.raises(NotNumeric, match="integer"):
        evaluate(sympy.Sum(k, (k, 1, n)), {n: 2.5})
    with pytest.raises(NotNumeric, match=r"x\[4\]"):
        evaluate(sympy.Sum(X[i], (i, 1, 4)), {X[1]: 1, X[2]: 1, X[3]: 1})


# ------------------------------------------------------------------- kinks


@pytest.mark.parametrize(
    "expr, left, right",
    [
        (sympy.Abs(x), S(1) / 2, S(1) / 2),
        (sympy.sign(x), -1, 1),
        (sympy.Heaviside(x), 0, 1),
        (sympy.Max(x, 0), 0, S(1) / 2),
        (sympy.Min(x, 0), -S(1) / 2, 0),
        (Piecewise((-x, x < 0), (x**2, True)), S(1) / 2, S(1) / 4),
        (Piecewise((0, x <= 0), (1, True)), 0, 1),
    ],
)
def test_both_sides_of_a_kink(expr, left, right):
    assert evaluate(expr, {x: -0.5}) == left
    assert evaluate(expr, {x: 0.5}) == right
    assert evaluate(expr, {x: 0}) == expr.subs(x, 0)


def test_heaviside_at_zero_is_one_half_or_as_given():
    assert evaluate(sympy.Heaviside(x), {x: 0}) == mpmath.mpf(0.5)
    assert evaluate(sympy.Heaviside(x, 1), {x: 0}) == 1


def test_sigmoid_is_stable_far_out():
    assert evaluate(sigmoid(x), {x: 1000}) == 1
    assert evaluate(sigmoid(x), {x: -1000}) > 0
    assert evaluate(sigmoid(x), {x: 0}) == mpmath.mpf(0.5)
    assert is_finite_real(evaluate(sigmoid(x), {x: 1e300}))


# ------------------------------------------------- complex, infinite and nan results


def test_negative_logs_and_roots_are_complex():
    log_value = evaluate(sympy.log(x), {x: -2})
    root_value = evaluate(sympy.sqrt(x), {x: -4})
    power_value = evaluate(x ** Rational(1, 3), {x: -8})
    assert close(log_value, mpmath.mpc(mpmath.log(2), mpmath.pi))
    assert close(root_value, mpmath.mpc(0, 2))
    assert close(power_value, mpmath.mpc(1, mpmath.sqrt(3)))  # the principal root, as SymPy
    for value in (log_value, root_value, power_value):
        assert not is_finite_real(value)
    assert is_finite_real(evaluate((x + sympy.I) * (x - sympy.I), {x: 2}))


def test_division_by_zero_and_poles_do_not_raise():
    assert evaluate(1 / x, {x: 0}) == mpmath.inf
    assert evaluate(x**-2, {x: 0}) == mpmath.inf
    assert evaluate(sympy.log(x), {x: 0}) == -mpmath.inf
    assert mpmath.isnan(evaluate(sympy.sin(x) / x, {x: 0}))  # 0 * inf
    for expr in (sympy.cot(x), sympy.csc(x), sympy.acsc(x), sympy.coth(x), x ** -Rational(1, 2)):
        value = evaluate(expr, {x: 0})
        assert not is_finite_real(value)
    assert evaluate(S.Infinity, {}) == mpmath.inf
    assert mpmath.isnan(evaluate(S.NaN, {}))
    assert evaluate(S.ComplexInfinity, {}) == mpmath.inf


def test_huge_arguments_give_limits_not_hangs():
    assert evaluate(sympy.exp(x), {x: mpmath.mpf("1e5000")}) == mpmath.inf
    assert evaluate(sympy.exp(x), {x: mpmath.mpf("-1e5000")}) == 0
    assert mpmath.isnan(evaluate(sympy.sin(x), {x: mpmath.mpf("1e5000")}))
    assert evaluate(sympy.tanh(x), {x: mpmath.mpf("-1e5000")}) == -1


def test_piecewise_with_no_true_condition_or_nan_is_nan():
    assert mpmath.isnan(evaluate(Piecewise((1, x > 0)), {x: -1}))
    assert mpmath.isnan(evaluate(Piecewise((1, x > 0), (2, True)), {x: mpmath.nan}))


def test_comparing_complex_values_is_not_numeric():
    with pytest.raises(NotNumeric, match="complex"):
        evaluate(Piecewise((1, sympy.sqrt(x) > 0), (2, True)), {x: -1})
    with pytest.raises(NotNumeric, match="complex"):
        evaluate(sympy.Max(sympy.sqrt(x), 1), {x: -1})


# ---------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "expr, message",
    [
        (f(x), "f"),
        (sympy.Derivative(x**2, x), "Derivative"),
        (sympy.Subs(f(y), y, x), "Subs"),
        (sympy.Integral(x, (x, 0, 1)), "Integral"),
        (x + y, "y"),
        (sympy.IndexedBase("q")[1] + x, r"q\[1\]"),
    ],
)
def test_not_numeric(expr, message):
    with pytest.raises(NotNumeric, match=message):
        evaluate(expr, {x: 1})


def test_untaken_piecewise_branch_may_be_unevaluable():
    expr = Piecewise((f(x), x > 5), (x, True))
    assert evaluate(expr, {x: 1}) == 1
    with pytest.raises(NotNumeric):
        evaluate(expr, {x: 6})


@pytest.mark.parametrize("kind", ["sin", "add", "pow"])
def test_very_deep_trees_are_refused_without_recursion_error(kind):
    expr = x
    for _ in range(2000):
        if kind == "sin":
            expr = sympy.sin(expr, evaluate=False)
        elif kind == "add":
            expr = sympy.Add(sympy.Mul(2, expr, evaluate=False), 1, evaluate=False)
        else:
            expr = sympy.Pow(expr, 2, evaluate=False)
    with pytest.raises(NotNumeric, match="deep"):
        evaluate(expr, {x: 0.5})


def test_moderately_deep_trees_still_evaluate():
    expr = x
    for _ in range(450):
        expr = sympy.sin(expr, evaluate=False)
    value = evaluate(expr, {x: 1})
    assert is_finite_real(value) and 0 < value < 1


# --------------------------------------------------------------- precision, close


def test_global_precision_is_left_alone_and_dps_is_honoured():
    before = mpmath.mp.dps
    value = evaluate(sympy.pi * x, {x: 1}, dps=50)
    assert mpmath.mp.dps == before
    with mpmath.workdps(60):
        assert abs(value - mpmath.pi) < mpmath.mpf(10) ** -48
    with pytest.raises(NotNumeric):
        evaluate(f(x), {x: 1}, dps=50)
    assert mpmath.mp.dps == before


def test_close_never_passes_nan_or_inf():
    assert not close(mpmath.nan, mpmath.nan)
    assert not close(mpmath.inf, mpmath.inf)
    assert not close(float("nan"), 1.0)
    assert not close(-mpmath.inf, -mpmath.inf)
    assert close(1.0, 1.0 + 1e-12)
    assert not close(1.0, 1.0 + 1e-6)
    assert close(0.0, 1e-13)
    assert close(mpmath.mpc(1, 1), mpmath.mpc(1, 1 + 1e-12))


def test_is_finite_real():
    assert is_finite_real(mpmath.mpf(2))
    assert is_finite_real(mpmath.mpc(2, 1e-30))
    assert not is_finite_real(mpmath.mpc(2, 1e-10))
    assert not is_finite_real(mpmath.inf)
    assert not is_finite_real(mpmath.nan)
    assert not is_finite_real(float("nan"))
    assert is_finite_real(3)


# --------------------------------------------------------------------- hypothesis

_leaves = st.one_of(
    st.sampled_from([x, y]),
    st.builds(Rational, st.integers(-9, 9), st.integers(1, 9)),
)


def _grow(children):
    return st.one_of(
        st.tuples(children, children).map(lambda t: t[0] + t[1]),
        st.tuples(children, children).map(lambda t: t[0] * t[1]),
        st.tuples(children, st.integers(0, 4)).map(lambda t: t[0] ** t[1]),
        children.map(sympy.sin),
        children.map(sympy.cos),
        children.map(lambda e: sympy.exp(sympy.sin(e))),
    )


_exprs = st.recursive(_leaves, _grow, max_leaves=10)
_coordinates = st.integers(-2000, 2000).map(lambda m: Rational(m, 1000))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_exprs, _coordinates, _coordinates)
def test_random_polynomial_and_trig_combinations_agree_with_evalf(expr, px, py):
    point = {x: px, y: py}
    reference = sympy.sympify(expr).subs(point).evalf(30)
    assert agree(evaluate(expr, point), reference, 20), (expr, point)
