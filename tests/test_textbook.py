"""Textbook derivatives, typed the way students type them, against SymPy and the rules.

For every row of ``textbook.TEXTBOOK``:

(a) the result equals ``sympy.diff`` of the parsed expression (symbolically when
    ``simplify`` decides, else numerically at several random points of the real domain);
(b) every rule a teacher would use appears in the step tree;
(c) the package's own numeric check passed;
(d) every step's rule is one of ``derive.engine.steps.RULES``;
(e) no chain-rule intermediate is named twice in one tree (nor after a symbol already in
    the expression).
"""

import functools
import random
from collections import Counter

import pytest
import sympy
from sympy.core.function import AppliedUndef

from derive import explain
from derive.symbols import readable
from derive.limits import TimeLimit, time_limit
from derive.verify.numeric import NotNumeric, evaluate, is_finite_real
from derive.engine.steps import RULES

try:  # tests/ as a package, or tests/ on sys.path (pytest's default rootdir-less import)
    from derive.points import sample_point
    from derive.textbook import NOT_REQUIRED, TEXTBOOK
except ImportError:
    from points import sample_point
    from textbook import NOT_REQUIRED, TEXTBOOK

SYMBOLIC_SECONDS = 2.0
RELATIVE_TOLERANCE = 1e-9
MIN_POINTS = 3
WANTED_POINTS = 6
TRIES = 300

# Concrete stand-ins for the abstract f, g, h, so a derivative with Derivative/Subs of an
# abstract function can also be compared with numbers.
_T = sympy.Dummy("t")
CONCRETE = {
    sympy.Function("f"): sympy.Lambda(_T, _T**3 + sympy.sin(_T)),
    sympy.Function("g"): sympy.Lambda(_T, sympy.exp(_T / 2) + _T),
    sympy.Function("h"): sympy.Lambda(_T, sympy.cos(2 * _T) + _T**2),
}


def row_id(row):
    text, wrt, _ = row
    return f"d/d{wrt} {text}"


@functools.lru_cache(maxsize=None)
def derivation(text, wrt):
    return explain(text, wrt=wrt)


def _symbolically_zero(difference):
    """True when simplify (or a rewrite in exp, or .doit()) shows the difference is 0."""
    if difference == 0:
        return True
    try:
        with time_limit(SYMBOLIC_SECONDS):
            if sympy.simplify(difference) == 0:
                return True
            if difference.has(sympy.Derivative, sympy.Subs, AppliedUndef):
                done = difference.doit()
                if done == 0 or sympy.simplify(done) == 0:
                    return True
            if sympy.simplify(difference.rewrite(sympy.exp)) == 0:
                return True
    except (TimeLimit, RecursionError, TypeError, ValueError, NotImplementedError):
        pass
    return False


def numeric_agreement(a, b, symbols, seed=0):
    """(valid points, worst relative error, a counterexample or None) comparing a and b."""
    a = a.subs(CONCRETE).doit() if a.has(AppliedUndef) else a
    b = b.subs(CONCRETE).doit() if b.has(AppliedUndef) else b
    rng = random.Random(seed)
    symbols = sorted(symbols | a.free_symbols | b.free_symbols, key=str)
    valid, worst = 0, 0.0
    for attempt in range(TRIES):
        if valid >= WANTED_POINTS:
            break
        values = {s: sample_point(rng, attempt) for s in symbols}
        try:
            va, vb = evaluate(a, values), evaluate(b, values)
        except NotNumeric:
            return valid, worst, None
        if not (is_finite_real(va) and is_finite_real(vb)):
            continue
        error = float(abs(va.real - vb.real)) / max(1.0, float(abs(vb.real)))
        valid += 1
        worst = max(worst, error)
        if error > RELATIVE_TOLERANCE:
            return valid, worst, {str(k): v for k, v in values.items()}
    return valid, worst, None


def assert_same_derivative(result, expected, wrt):
    if _symbolically_zero(result - expected):
        return
    valid, worst, counterexample = numeric_agreement(result, expected, {wrt})
    assert counterexample is None, (
        f"derivative {result} differs from sympy.diff {expected} at {counterexample} "
        f"(relative error {worst:.3g})"
    )
    assert valid >= MIN_POINTS, (
        f"could not decide {result} == {expected}: simplify was inconclusive and only "
        f"{valid} real point(s) were found"
    )


@pytest.mark.parametrize("text, wrt, required", TEXTBOOK, ids=[row_id(r) for r in TEXTBOOK])
def test_result_matches_sympy(text, wrt, required):
    d = derivation(text, wrt)
    expected = readable(sympy.diff(d.expression, d.wrt))  # f′(g(x)) written with a prime, as derive does
    assert_same_derivative(d.result, expected, d.wrt)
    if d.wrt not in d.expression.free_symbols:
        assert d.result == 0


@pytest.mark.parametrize("text, wrt, required", TEXTBOOK, ids=[row_id(r) for r in TEXTBOOK])
def test_teacher_rules_are_used(text, wrt, required):
    used = derivation(text, wrt).steps.rules_used()
    missing = set(required) - used
    assert not missing, f"{text!r} d/d{wrt}: rules {sorted(missing)} not used (used {sorted(used)})"


@pytest.mark.parametrize("text, wrt, required", TEXTBOOK, ids=[row_id(r) for r in TEXTBOOK])
def test_numeric_check_passes(text, wrt, required):
    check = derivation(text, wrt).check
    failures = [(f.step, f.method, f.counterexample) for f in check.failures]
    assert check.passed, f"{text!r} d/d{wrt}: check failed at {failures}"
    assert check.steps, "no step was checked"


@pytest.mark.parametrize("text, wrt, required", TEXTBOOK, ids=[row_id(r) for r in TEXTBOOK])
def test_every_step_rule_is_known(text, wrt, required):
    d = derivation(text, wrt)
    for step in d.steps.walk():
        assert step.rule in RULES, step
        assert step.wrt is not None


@pytest.mark.parametrize("text, wrt, required", TEXTBOOK, ids=[row_id(r) for r in TEXTBOOK])
def test_chain_intermediates_are_named_once(text, wrt, required):
    d = derivation(text, wrt)
    names = [
        step.intermediate[0]
        for step in d.steps.walk()
        if step.rule == "chain" and not step.detail.get("named")
    ]
    repeated = [name for name, count in Counter(names).items() if count > 1]
    assert not repeated, f"{text!r}: intermediates named twice: {repeated}"
    taken = {str(s) for s in d.expression.free_symbols}
    clashes = [name for name in names if str(name) in taken]
    assert not clashes, f"{text!r}: intermediates reuse the expression's own names: {clashes}"
    # A freshly named intermediate must not leak into the final result as a free symbol.
    leaked = {str(s) for s in d.result.free_symbols} & {str(n) for n in names}
    assert not leaked, f"{text!r}: intermediates {leaked} left in the result {d.result}"


def test_table_is_large_and_distinct():
    assert len(TEXTBOOK) >= 90
    keys = [(text, wrt) for text, wrt, _ in TEXTBOOK]
    assert len(keys) == len(set(keys)), [k for k, c in Counter(keys).items() if c > 1]
    for text, wrt, required in TEXTBOOK:
        assert required, (text, wrt)
        assert set(required) <= set(RULES), (text, wrt, set(required) - set(RULES))


def test_every_rule_is_required_at_least_twice():
    counts = Counter(rule for _, _, required in TEXTBOOK for rule in required)
    wanted = set(RULES) - NOT_REQUIRED
    missing = sorted(rule for rule in wanted if counts[rule] < 2)
    assert not missing, f"rules required by fewer than two rows: {missing} ({dict(counts)})"


def test_every_rule_appears_across_the_table():
    used = set()
    for text, wrt, _ in TEXTBOOK:
        used |= derivation(text, wrt).steps.rules_used()
    assert set(RULES) - NOT_REQUIRED <= used


# --- bugs found while writing the table (fixed: the check keeps to the real domain) --------


def test_abs_of_sqrt_passes_its_own_check():
    d = explain("abs(sqrt(x))", wrt="x")
    for point in (0.3, 1.0, 2.7):  # the result itself is right on the real domain x > 0
        exact = 1 / (2 * point**0.5)
        assert abs(float(evaluate(d.result, {d.wrt: point}).real) - exact) < 1e-12
    assert d.check.passed, [f.counterexample for f in d.check.failures]


def test_comparison_helper_catches_a_wrong_derivative():
    """The numeric fallback must fail a wrong answer, not only pass right ones."""
    x = sympy.Symbol("x", real=True)
    wrong = sympy.Piecewise((0, x < 0), (2, True))  # d/dx max(0, x) is 1, not 2, for x > 0
    with pytest.raises(AssertionError):
        assert_same_derivative(wrong, sympy.diff(sympy.Max(0, x), x), x)
    with pytest.raises(AssertionError):
        assert_same_derivative(sympy.cos(x) + 1e-6, sympy.cos(x), x)
