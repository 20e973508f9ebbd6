"""explain(): results equal sympy.diff, the lesson's MSE reads like the lesson, and the
variable to differentiate by is chosen as a user expects."""

import random

import pytest
import sympy

from derive import DeriveError, explain
from derive.verify.numeric import evaluate
from derive.engine.problems import mean_squared_error
from derive.symbols import symbol

x = symbol("x")


def finite_difference(expr, var, values, h=sympy.Rational(1, 10**12)):
    """An independent central difference with SymPy's own evalf, not derive's evaluator."""
    above = expr.evalf(40, subs={**values, var: values[var] + h})
    below = expr.evalf(40, subs={**values, var: values[var] - h})
    return (above - below) / (2 * h)


@pytest.mark.parametrize("wrt", ["weight", "w", "bias", "b"])
def test_mse_equals_sympy_diff_of_the_written_out_loss(wrt):
    d = explain("mse", wrt=wrt)
    problem = mean_squared_error()
    parameter = problem.parameter(wrt).symbol
    expected = sympy.diff(problem.written_out, parameter)
    assert sympy.simplify((d.result - expected).doit()) == 0
    assert d.check.passed


def test_mse_derivative_has_the_textbook_form():
    d = explain("mse", wrt="weight")
    assert d.to_dict()["derivative"] == "2*Sum((b + w*x[i] - y[i])*x[i], (i, 1, n))/n"
    d = explain("mse", wrt="bias")
    assert d.to_dict()["derivative"] == "2*Sum(b + w*x[i] - y[i], (i, 1, n))/n"


def test_mse_against_finite_differences_on_concrete_data():
    """With n = 5 concrete examples, the formula matches an independent finite difference."""
    problem = mean_squared_error()
    rng = random.Random(3)
    n = 5
    w, b = problem.parameter("w").symbol, problem.parameter("b").symbol
    data = {problem.data["x"][k]: sympy.Rational(rng.randint(-50, 50), 10) for k in range(1, n + 1)}
    data.update({problem.data["y"][k]: sympy.Rational(rng.randint(-50, 50), 10) for k in range(1, n + 1)})
    loss = problem.written_out.subs(problem.size, n).doit().subs(data)
    for wrt, var in (("weight", w), ("bias", b)):
        derivative = explain("mse", wrt=wrt).result.subs(problem.size, n).doit().subs(data)
        point = {w: sympy.Rational(7, 10), b: sympy.Rational(-3, 10)}
        assert abs(derivative.evalf(30, subs=point) - finite_difference(loss, var, point)) < 1e-15


def test_mse_text_follows_the_lesson():
    text = explain("mse", wrt="weight").to_text()
    # The lines of ../shared/reference/answer-key-reference.tex, in its order.
    lesson_order = [
        "ŷᵢ = w xᵢ + b",                 # the model, as the lesson writes it
        "L = (1/n) Σᵢ₌₁ⁿ (ŷᵢ − yᵢ)²",    # the loss
        "Start at a random weight and bias and calculate the loss",
        "errorᵢ = ŷᵢ − yᵢ",               # the error, named as the lesson names it
        "∂L/∂w = (1/n) Σᵢ₌₁ⁿ ∂/∂w errorᵢ²",
        "constant multiple, sum rule",
        "= (1/n) Σᵢ₌₁ⁿ 2 errorᵢ · ∂errorᵢ/∂w",
        "chain rule, power rule",
        "∂errorᵢ/∂w = ∂/∂w (w xᵢ + b − yᵢ) = xᵢ",
        "= (2/n) Σᵢ₌₁ⁿ (w xᵢ + b − yᵢ) xᵢ",
        "w ← w − α · ∂L/∂w",              # the update
        "Checked",
    ]
    positions = [text.find(piece) for piece in lesson_order]
    missing = [p for p, at in zip(lesson_order, positions) if at < 0]
    assert not missing, missing
    assert positions == sorted(positions), "the explanation is out of the lesson's order"
    assert "weight" in text and "bias" in text


def test_bias_derivative_of_the_error_is_one():
    text = explain("mse", wrt="bias").to_text()
    assert "∂errorᵢ/∂b = ∂/∂b (w xᵢ + b − yᵢ) = 1" in text
    assert "= (2/n) Σᵢ₌₁ⁿ (w xᵢ + b − yᵢ)" in text


def test_mse_check_uses_concrete_data():
    d = explain("mse", wrt="weight")
    assert d.check.passed and d.check.data_size >= 2 and d.check.points >= 4
    assert d.check.max_error < 1e-15


@pytest.mark.parametrize("text, wrt", [
    ("sin(x^2)", "x"), ("exp(2x) cos(x)", "x"), ("x**x", "x"), ("(w*x + b - y)^2", "w"),
    ("sqrt(x^2 + 1)", "x"), ("atan(x)/(1 + x^2)", "x"), ("ln(cos(x))", "x"),
])
def test_api_result_equals_sympy_diff(text, wrt):
    d = explain(text, wrt=wrt)
    var = next(s for s in d.expression.free_symbols if s.name == wrt)
    assert sympy.simplify(d.result - sympy.diff(d.expression, var)) == 0
    assert d.check.passed and d.check.points >= 4 and d.check.max_error < 1e-12


def test_without_wrt_the_only_symbol_is_used():
    assert explain("sin(x^2)").wrt == x


def test_without_wrt_several_symbols_are_listed():
    with pytest.raises(DeriveError, match=r"several variables \(b, w, x\); choose one with wrt="):
        explain("w*x + b")


def test_wrt_absent_gives_zero_with_a_reason():
    d = explain("sin(x)", wrt="t")
    assert d.result == 0 and d.absent
    assert "does not appear" in d.to_text()


def test_partial_derivative_says_once_which_symbols_are_constant():
    text = explain("(w*x + b - y)^2", wrt="w").to_text()
    assert text.count("held constant while w changes") >= 1
    assert "This is a partial derivative: b, x, y are held constant" in text


@pytest.mark.parametrize("bad", ["2x", "x+1", "x.y", "", "__class__", "a" * 40])
def test_bad_wrt_is_refused(bad):
    with pytest.raises(DeriveError):
        explain("sin(x)", wrt=bad)


def test_unknown_parameter_lists_the_valid_ones():
    with pytest.raises(DeriveError, match=r"weight \(w\), bias \(b\)"):
        explain("mse", wrt="slope")


def test_jupyter_display():
    d = explain("sin(x^2)", wrt="x")
    assert "$" in d._repr_markdown_()
    assert d._repr_latex_().startswith("$$") and r"\cos" in d._repr_latex_()


def test_chain_names_are_never_reused():
    d = explain("sin(cos(tan(x^2)))", wrt="x")
    names = [s.intermediate[0] for s in d.steps.walk() if s.rule == "chain"]
    assert len(names) == 3 and len(set(names)) == 3


def test_a_wrong_rule_is_caught_by_the_check(monkeypatch):
    """Break one rule on purpose: the check must say so (never a quiet wrong answer)."""
    from derive.engine import rules

    monkeypatch.setitem(rules.TRIG, sympy.sin, lambda u: -sympy.cos(u))
    d = explain("sin(x^2)", wrt="x")
    assert not d.check.passed
    assert {f.step.rule for f in d.check.failures} >= {"trig"}
    assert "CHECK FAILED" in d.to_text()


def test_evaluator_agrees_on_the_result():
    d = explain("exp(2x) cos(x)", wrt="x")
    assert abs(evaluate(d.result, {x: 0.5}) - sympy.diff(d.expression, x).evalf(30, subs={x: 0.5})) < 1e-20
