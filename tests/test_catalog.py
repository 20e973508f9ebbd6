"""The loss catalog, gradients, conventions, --let, second derivatives, the Hessian and
the vector form: each checked against sympy.diff and an independent finite difference."""

import random
import shutil
import subprocess

import pytest
import sympy

from derive import DeriveError, explain, gradient
from derive.engine.problems import CATALOG, get_problem
from derive.symbols import symbol

ENTRIES = list(CATALOG)
CASES = [(name, p.name) for name in ENTRIES for p in CATALOG[name]().parameters]


def concrete(problem, rng, count=4):
    """Random data of the right kind (binary labels for bce, labels summing to 1 for softmax)
    as exact rationals, built here independently of derive's own sampler."""
    values = {}
    if problem.mean:
        values[problem.size] = count
    for key, base in problem.data.items():
        cells = [base[k] for k in range(1, count + 1)] if problem.mean else [base]
        for k, cell in enumerate(cells):
            if problem.labels == "binary" and key.startswith("y"):
                values[cell] = k % 2
            else:
                values[cell] = sympy.Rational(rng.randint(-20, 20), 10)
    if problem.labels == "onehot":
        labels = [problem.data[k] for k in sorted(problem.data)]
        weights = [sympy.Rational(rng.randint(1, 9)) for _ in labels]
        for cell, w in zip(labels, weights):
            values[cell] = w / sum(weights)
    for h in problem.hyper.values():
        values[h] = sympy.Rational(rng.randint(2, 15), 10)
    for p in problem.parameters:
        # an odd denominator keeps errors off the kinks of huber, mae and relu
        values[p.symbol] = sympy.Rational(rng.randint(-1500, 1500), 997)
    return values


def at(expr, problem, values):
    """expr with n made concrete, the sums written out, and every value substituted."""
    if problem.mean:
        expr = expr.subs(problem.size, values[problem.size]).doit()
    return expr.subs(values)


@pytest.mark.parametrize("name, parameter", CASES)
def test_every_entry_equals_sympy_diff_and_a_finite_difference(name, parameter):
    d = explain(name, wrt=parameter)
    problem = d.problem
    var = d.wrt
    assert d.check.passed, d.check.failures
    rng = random.Random(hash((name, parameter)) % 1000)
    for _ in range(2):
        values = concrete(problem, rng)
        ours = at(d.result, problem, values).evalf(30)
        reference = at(sympy.diff(problem.written_out, var), problem, values).evalf(30)
        h = sympy.Rational(1, 10**10)
        loss = problem.written_out
        up = at(loss, problem, {**values, var: values[var] + h}).evalf(40)
        down = at(loss, problem, {**values, var: values[var] - h}).evalf(40)
        assert abs(ours - reference) < 1e-20 * max(1, abs(reference))
        assert abs(ours - (up - down) / (2 * h)) < 1e-12 * max(1, abs(ours))


@pytest.mark.parametrize("name, wrt, in_names", [
    ("mse", "w", "2*Sum(error_i*x[i], (i, 1, n))/n"),
    ("mse", "b", "2*Sum(error_i, (i, 1, n))/n"),
    ("bce", "w", "Sum((p_i - y[i])*x[i], (i, 1, n))/n"),
    ("bce", "b", "Sum(p_i - y[i], (i, 1, n))/n"),
    ("mae", "w", "Sum(sign(error_i)*x[i], (i, 1, n))/n"),
    ("softmax", "o1", "s_1 - y_1"),
    ("softmax", "logit3", "s_3 - y_3"),
    ("mlp", "c", "2*error"),
])
def test_textbook_forms(name, wrt, in_names):
    d = explain(name, wrt=wrt)
    # The printed SymPy form, compared as text: simplify would treat errorᵢ as free of i
    # and pull it out of Σ, so structural identity is the honest comparison here.
    assert str(d.result_in_names) == in_names
    assert len(str(d.result_in_names)) <= len(in_names) + 4  # the short form, not an expansion


def test_bce_prints_the_textbook_result():
    text = explain("logistic", wrt="weight").to_text()
    assert "∂L/∂w = (1/n) Σᵢ₌₁ⁿ (pᵢ − yᵢ) xᵢ" in text
    assert "σ′(z) = σ(z)·(1 − σ(z))" in text


def test_softmax_states_that_labels_sum_to_one():
    text = explain("softmax", wrt="o1").to_text()
    assert "y₁ + y₂ + y₃ = 1" in text and "∂L/∂o₁ = s₁ − y₁" in text


def test_mae_says_what_happens_at_zero():
    assert "sign(0) = 0" in explain("mae", wrt="w").to_text()


@pytest.mark.parametrize("name", ENTRIES)
def test_every_entry_renders_in_every_format(name):
    g = gradient(name, hessian=True)
    assert g.check.passed
    text, md, tex = g.to_text(), g.to_markdown(), g.to_latex(standalone=True)
    for out in (text, md, tex):
        assert "CHECK FAILED" not in out and "Checked" in out
    assert tex.isascii() and tex.count("{") == tex.count("}")
    assert md.count("$") % 2 == 0
    data = g.to_dict()
    assert len(data["gradient"]) == len(g.problem.parameters)
    assert data["hessian"]["matrix"]
    for d in g.derivations:
        for fmt in (d.to_text, d.to_markdown, d.to_latex):
            assert fmt()


@pytest.mark.skipif(not shutil.which("pdflatex"), reason="pdflatex is not installed (.ci/run installs it)")
@pytest.mark.parametrize("name", ENTRIES)
def test_every_entry_compiles_with_pdflatex(tmp_path, name):
    (tmp_path / "g.tex").write_text(gradient(name, hessian=True).to_latex(standalone=True))
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "g.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-1500:]


@pytest.mark.parametrize("name", ENTRIES)
def test_the_gradient_is_the_partials_and_the_update_steps_against_it(name):
    g = gradient(name, learning_rate="eta")
    eta = symbol("eta")
    for d, component in zip(g.derivations, g.vector):
        assert sympy.simplify(d.update - (d.wrt - eta * component)) == 0
    assert "η" in g.to_text() and "at once" in g.to_text()


@pytest.mark.parametrize("name", ["mse", "ridge", "relu", "neuron", "mlp"])
@pytest.mark.parametrize("half, mean", [(True, None), (None, False), (None, True), (True, False)])
def test_conventions_keep_every_check(name, half, mean):
    if name in ("neuron", "mlp") and mean is None:
        mean = True
    g = gradient(name, half=half, mean=mean)
    assert g.check.passed
    rng = random.Random(7)
    for d in g.derivations:
        values = concrete(g.problem, rng)
        ours = at(d.result, g.problem, values)
        reference = at(sympy.diff(d.subject.written_out, d.wrt), g.problem, values)
        assert abs((ours - reference).evalf(30)) < 1e-20


def test_half_convention_cancels_the_two():
    d = explain("mse", wrt="w", half=True)
    assert str(d.result) == "Sum((b + w*x[i] - y[i])*x[i], (i, 1, n))/n"
    assert "½" in d.to_text()


def test_per_example_loss_has_no_sum():
    d = explain("mse", wrt="w", mean=False)
    w, b, x, y = (symbol(s) for s in "wbxy")
    assert sympy.expand(d.result - 2 * (w * x + b - y) * x) == 0


@pytest.mark.parametrize("bad, message", [
    (dict(half=True), "squared"),
])
def test_conventions_that_do_not_apply_are_refused(bad, message):
    with pytest.raises(DeriveError, match=message):
        explain("bce", wrt="w", **bad)


def test_unknown_problem_name_lists_the_catalog():
    with pytest.raises(DeriveError, match="mse, mae, bce"):
        explain("msq", wrt="w")


# -- user-defined intermediates ---------------------------------------------------------------
LESSON_LETS = ["error = yhat - y", "yhat = weight*x + bias"]


def test_let_walks_the_chain_through_the_users_names():
    d = explain("error^2", wrt="weight", let=LESSON_LETS)
    text = d.to_text()
    assert "∂(error²)/∂weight = ∂(error²)/∂error · ∂error/∂ŷ · ∂ŷ/∂weight" in text
    weight, bias, x, y = (symbol(s) for s in ("weight", "bias", "x", "y"))
    assert sympy.expand(d.result - sympy.diff((weight * x + bias - y) ** 2, weight)) == 0
    assert d.check.passed


def test_let_from_python_as_a_dict():
    d = explain("error^2", wrt="weight", let={"error": "yhat - y", "yhat": "weight*x + bias"})
    assert d.check.passed and d.definitions


def test_a_name_used_twice_sums_over_the_paths():
    d = explain("u*v", wrt="a", let=["u = a*x", "v = a + x"])
    assert len(d.chain_paths) == 2
    a, x = symbol("a"), symbol("x")
    assert sympy.expand(d.result - sympy.diff(a * x * (a + x), a)) == 0
    assert "one term for each path" in d.to_text()


@pytest.mark.parametrize("lets, message", [
    (["u = v", "v = u"], "circle"),
    (["u = u + x"], "circle"),
    (["u = x", "u = 2x"], "twice"),
    (["u x"], "name = expression"),
    (["u ="], "nothing after"),
    (["2u = x"], "variable name"),
    (["u = x", "unused = x"], "never uses"),
    (["u = foo(x)"], "unknown function"),
])
def test_bad_lets_are_refused(lets, message):
    with pytest.raises(DeriveError, match=message):
        explain("u^2", wrt="x", let=lets)


# -- second derivatives, the Hessian, the vector form -----------------------------------------
@pytest.mark.parametrize("text", ["sin(x^2)", "x^x", "exp(2x) cos(x)", "ln(x^2 + 1)", "sigmoid(x)"])
def test_second_derivative_equals_sympy(text):
    d = explain(text, wrt="x", order=2)
    x = d.wrt
    assert sympy.simplify(d.result - sympy.diff(d.first.expression, x, 2)) == 0
    assert d.check.passed and d.first.check.passed
    out = d.to_text()
    assert "First derivative" in out and "Second derivative" in out


def test_mse_hessian_is_what_newton_uses():
    g = gradient("mse", hessian=True)
    problem = g.problem
    rng = random.Random(5)
    values = concrete(problem, rng)
    reference = sympy.hessian(problem.written_out, [p.symbol for p in problem.parameters])
    for r in range(2):
        for c in range(2):
            ours = at(g.hessian.matrix[r, c], problem, values)
            assert sympy.simplify(ours - at(reference[r, c], problem, values)) == 0
    assert "Newton" in g.to_text()


def test_get_problem_aliases():
    assert get_problem("logistic").name == "bce"
    assert get_problem("nothing") is None
