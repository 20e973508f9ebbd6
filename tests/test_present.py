"""Worked solutions as a teacher writes them (issue 11): the exercise as typed, one chain of
equalities per derivative, every line true, each derivative worked once, one notation in
every format, the check said truly.

References are independent of the code under test: ``sympy.diff`` on plain SymPy, derive's
own evaluator at random points only to compare two independently built expressions, and
the text of ../shared/reference/answer-key-reference.tex for the lesson's layout.
"""

import json
import random
import re

import pytest
import sympy

from derive import explain, gradient
from derive.present.marks import Pending, resolved
from derive.symbols import to_sympy
from derive.verify.numeric import NotNumeric, evaluate

CATALOG = ["mse", "mae", "bce", "ridge", "huber", "relu", "softmax", "neuron", "mlp"]


# -- 1. the exercise as typed ---------------------------------------------------------------------
@pytest.mark.parametrize("typed, wrt, shown", [
    ("2x^2 (5x^3)", "x", "2x² (5x³)"),
    ("x*(x + x)", "x", "x (x + x)"),
    ("cot(atan(y))", "y", "cot(arctan y)"),
    ("sin(asin(x))", "x", "sin(arcsin x)"),
    ("log(x, x)", "x", "logₓ x"),
    ("log(u, 3)", "u", "log₃ u"),
    ("x^(-1/2)(x+1)", "x", "x^(−1/2) (x + 1)"),
    ("(w*x + b - y)^2", "w", "(w x + b − y)²"),
    ("-1*sin(cos(tan(-x^2)^3)^4)", "x", "tan³(−x²)"),
])
def test_the_exercise_is_shown_as_typed(typed, wrt, shown):
    text = explain(typed, wrt=wrt).to_text()
    heading = text.splitlines()[0]
    assert shown in heading, heading


def test_a_product_typed_as_a_product_uses_the_product_rule():
    d = explain("2x^2 (5x^3)", wrt="x")
    assert d.steps.rules_used() >= {"product"}
    assert "product rule" in d.to_text()
    assert "10x⁵" not in d.to_text().splitlines()[0]  # never silently rewritten


def test_a_negative_power_times_a_sum_is_a_product_not_a_quotient():
    d = explain("x^(-1/2)(x+1)", wrt="x")
    assert "product" in d.steps.rules_used() and "quotient" not in d.steps.rules_used()


def test_change_of_base_is_a_step_of_its_own():
    for typed, var in (("log(u, 3)", "u"), ("log(x, x)", "x")):
        text = explain(typed, wrt=var).to_text()
        assert "change of base" in text, text


def test_sin_of_arcsin_is_checked_inside_arcsins_domain():
    d = explain("sin(asin(x))", wrt="x")
    assert d.check.passed
    for step in d.check.steps:
        if step.counterexample and step.step.wrt == d.wrt:
            (value,) = step.counterexample["point"].values()
            assert abs(value) <= 1


def test_simplify_first_is_asked_for_and_then_said():
    d = explain("2x^2 (5x^3)", wrt="x", simplify_first=True)
    text = d.to_text()
    assert "simplified first" in text and "2x² (5x³)" in text.splitlines()[0]


# -- 2. one chain of equalities, every line true -------------------------------------------------
def _lines_agree(derivation, chain, tries=6):
    """Each line of ``chain`` equals sympy.diff of its left side, at random points."""
    lhs = chain.lhs
    target_expr = lhs.expression
    definitions = derivation.definitions
    from derive.engine.rules import substitute_definitions

    written = substitute_definitions(target_expr, {k: v for k, v in definitions.items() if k != lhs.variable})
    truth = sympy.diff(_plain(written), lhs.variable)  # SymPy's own derivative, real symbols kept
    for line in chain.lines:
        value = _plain(substitute_definitions(resolved(line.rhs, _values(derivation)), definitions))
        checked = 0
        rng = random.Random(3)
        for _ in range(tries * 4):
            point = {s: sympy.Rational(rng.randint(-19, 19), rng.randint(7, 13)) for s in truth.free_symbols | value.free_symbols}
            try:
                a = complex(evaluate(truth.doit(), point))
                b = complex(evaluate(value.doit(), point))
            except (NotNumeric, TypeError, ValueError, ZeroDivisionError):
                continue
            if not all(map(lambda z: abs(z) < 1e12, (a, b))):
                continue
            assert abs(a - b) <= 1e-9 * max(1, abs(a)), (line.rhs, point, a, b)
            checked += 1
            if checked >= tries:
                break
        assert checked, f"no point to compare {line.rhs} at"


def _plain(expr):
    from derive.functions import log_base
    from derive.symbols import evaluated

    expr = evaluated(expr)
    return expr.replace(lambda e: isinstance(e, log_base), lambda e: sympy.log(e.args[0]) / sympy.log(e.args[1]))


def _values(derivation):
    values = {}
    for step in derivation.steps.walk():
        values[(step.expression, step.wrt)] = step.derivative
    from derive.present.chains import Presenter  # noqa: F401  (values of side-chain names)

    for chain in derivation.worked.side:
        if chain.name is not None:
            values[(chain.name, chain.variable)] = resolved(chain.result, values)
    return values


@pytest.mark.parametrize("typed, wrt", [
    ("sin(x^2)", "x"), ("x^2 sin(x)", "x"), ("(x^2+1)/(x-3)", "x"), ("exp(2x) cos(x)", "x"),
    ("x^x", "x"), ("sqrt(x^2 + 1)", "x"), ("sin(cos(tan(x^2)^3)^4)", "x"), ("2x^2 (5x^3)", "x"),
    ("log(u, 3)", "u"), ("abs(x^3 - 1)", "x"), ("atan(tan(x))", "x"), ("(t^2-1)/(t+1)", "t"),
])
def test_every_line_of_every_chain_equals_sympy_diff(typed, wrt):
    d = explain(typed, wrt=wrt)
    for chain in d.worked.chains:
        if chain.name is None and chain is not d.worked.main:
            continue
        if chain is d.worked.main or chain.name is None:
            _lines_agree(d, chain)


def test_the_lesson_reads_like_the_reference_answer_key():
    text = explain("mse", wrt="weight").to_text()
    # the four lines of the reference's align*, in its order, with its rules
    lines = [
        ("∂L/∂w = (1/n) Σᵢ₌₁ⁿ ∂/∂w errorᵢ²", "constant multiple, sum rule"),
        ("= (1/n) Σᵢ₌₁ⁿ 2 errorᵢ · ∂errorᵢ/∂w", "chain rule"),
        ("= (1/n) Σᵢ₌₁ⁿ 2 errorᵢ · xᵢ", "∂errorᵢ/∂w = ∂/∂w (w xᵢ + b − yᵢ) = xᵢ"),
        ("= (2/n) Σᵢ₌₁ⁿ (w xᵢ + b − yᵢ) xᵢ", ""),
    ]
    rows = text.splitlines()
    at = 0
    for maths, rule in lines:
        found = [k for k, row in enumerate(rows) if maths in row and k >= at]
        assert found, maths
        at = found[0]
        assert rule in rows[at], (rule, rows[at])
    equals = [row.index("=") for row in rows[at - 4: at + 1] if "=" in row]
    assert len(set(equals)) == 1, "the chain is aligned on ="


def test_nesting_is_never_deeper_than_two_levels():
    for d in [explain("sin(cos(tan(x^2)^3)^4)", wrt="x"), explain("mlp", wrt="w"), explain("bce", wrt="w")]:
        worked = d.worked
        for chain in worked.chains:  # side chains are listed flat, before the main chain
            assert all(not hasattr(line, "lines") for line in chain.lines)
        for row in d.to_text().splitlines():
            assert len(row) - len(row.lstrip()) <= 40


def test_the_chain_rule_over_a_dataset_carries_its_sum():
    text = explain("mse", wrt="weight").to_text()
    assert "∂L/∂w = Σᵢ₌₁ⁿ ∂L/∂errorᵢ · ∂errorᵢ/∂ŷᵢ · ∂ŷᵢ/∂w" in text


def test_the_lessons_step_two_is_said_precisely():
    text = explain("mse", wrt="weight").to_text()
    assert "steepest gradient" in text and "against the gradient, downhill" in text


def test_the_power_rule_never_calls_its_exponent_n():
    assert "xⁿ" not in explain("mse", wrt="weight").to_text()


def test_a_negative_constant_is_bracketed_after_d_dx():
    from derive.render.printing import to_text

    assert to_text(Pending(sympy.Integer(-1), sympy.Symbol("x"))) == "d/dx (−1)"


def test_corners_are_said_with_the_result():
    text = explain("max(0, 2x - 1)", wrt="x").to_text()
    assert "undefined if x = 1/2" in text and "otherwise" not in text.splitlines()[-3]
    assert "x ≠ 1" in explain("abs(x^3 - 1)", wrt="x").to_text()
    smooth = explain("max(x^2, x^4)", wrt="x").to_text()
    assert "x = 0" not in smooth  # max(x², x⁴) is differentiable at 0: no corner claimed there


def test_sigma_is_defined_where_it_is_used():
    text = explain("sigmoid(w*x + b)", wrt="w").to_text()
    assert "σ(z) = 1/(1 + e⁻ᶻ)" in text


# -- 5. derive once, refer back ----------------------------------------------------------------------
def _pairs(data):
    """Every (expression, wrt) pair written out in a to_dict() tree."""
    found = []
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "expression" in node and "wrt" in node and "rule" in node:
                found.append((node["expression"], node["wrt"]))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


@pytest.mark.parametrize("name", CATALOG)
def test_no_sub_derivative_is_written_twice_in_the_json(name):
    for document in (gradient(name, hessian=False), explain(name, wrt=gradient(name).wrt[0].name)):
        pairs = _pairs(document.to_dict())
        repeated = {p for p in pairs if pairs.count(p) > 1}
        assert not repeated, repeated


def test_bce_works_the_probability_derivative_once():
    text = explain("bce", wrt="w").to_text()
    assert text.count("First ∂pᵢ/∂w") == 1
    assert text.count("(worked above)") >= 1


def test_mlp_backpropagation_works_each_delta_once():
    g = gradient("mlp")
    back = g.backward
    assert back is not None
    lhs = [str(c.lhs) for c in back.deltas]
    assert len(lhs) == len(set(lhs)) == 4  # ∂L/∂error, ∂L/∂ŷ, ∂L/∂h, ∂L/∂z, once each
    text = g.to_text()
    for name in ("∂L/∂ŷ = ", "∂L/∂h = ", "∂L/∂z = "):
        assert text.count(name) == 1, name
    for d, chain in zip(g.derivations, back.partials):
        assert str(chain.lhs.variable) == str(d.wrt)


# -- 3 and 6. one notation, every format -------------------------------------------------------------
def test_relations_are_inside_the_maths_in_every_format():
    for d in (explain("mse", wrt="weight"), gradient("bce"), explain("sin(x^2)", wrt="x")):
        md, tex, html = d.to_markdown(), d.to_latex(), d.to_html()
        assert not re.search(r"\$ *(=|←) *\$", md), "a relation between two maths spans in Markdown"
        assert not re.search(r"\$ *(=|←) *\$", tex), "a relation between two maths spans in LaTeX"
        assert not re.search(r"</math> *(=|←) *<math", html), "a relation outside MathML"
        assert "\\begin{aligned}" in md and "\\begin{align*}" in tex and 'class="chain"' in html


@pytest.mark.parametrize("typed, wrt, text_has, latex_has, mathml_has", [
    ("asin(x)", "x", "arcsin", "\\arcsin", "<mi>arcsin</mi>"),
    ("atan(x^2)", "x", "arctan", "\\arctan", "<mi>arctan</mi>"),
    ("x^(5/3)", "x", "x^(5/3)", "x^{\\frac{5}{3}}", "<mfrac><mn>5</mn><mn>3</mn></mfrac>"),
    ("sin(x)^2", "x", "sin²x", "\\sin^{2}", "<msup><mi>sin</mi><mn>2</mn></msup>"),
])
def test_one_notation_in_every_format(typed, wrt, text_has, latex_has, mathml_has):
    d = explain(typed, wrt=wrt)
    assert text_has in d.to_text()
    assert latex_has in d.to_latex()
    assert mathml_has in d.to_html()


def test_the_two_over_n_is_in_front_in_every_format():
    d = explain("mse", wrt="weight")
    assert "(2/n) Σ" in d.to_text()
    assert "\\frac{2}{n}\\,\\sum" in d.to_latex() and "\\frac{2}{n}\\,\\sum" in d.to_markdown()
    assert "<mfrac><mn>2</mn><mi>n</mi></mfrac>" in d.to_html()


def test_no_machinery_leaks_into_any_format():
    for d in (explain("sqrt(x)", wrt="x"), explain("f(g(sin(x)))", wrt="x"), explain("x^(5/3)", wrt="x"),
              gradient("mse", hessian=True)):
        for out in (d.to_text(), d.to_markdown(), d.to_latex(), d.to_html()):
            for leak in ("unevaluatedexpr", "UnevaluatedExpr", "Subs(", "u_2", "x^5/3", "Dummy"):
                assert leak not in out, (leak, out[:200])
        data = d.to_dict()
        for value in (data.get("derivative"), *[v for v in data.get("gradient", [])]):
            if value:  # the result machines read: no SymPy machinery, no internal names
                assert "Subs(" not in value and "u_" not in value and "Dummy" not in value, value


def test_the_hessian_is_a_matrix_in_every_format():
    g = gradient("mse", hessian=True)
    assert "\\begin{pmatrix}" in g.to_latex() and "\\begin{pmatrix}" in g.to_markdown()
    assert "<mtable>" in g.to_html() and "⎡" in g.to_text()


def test_a_variable_called_d_is_never_leibnizs_d():
    text = explain("d^3 + 2d", wrt="d").to_text()
    assert "ⅆ/ⅆd (d³ + 2d)" in text


def test_no_rewrite_that_changes_nothing():
    text = explain("x^(5/3)", wrt="x").to_text()
    assert not re.search(r"x\^\(5/3\) = x\^\(5/3\)", text)


# -- 7. the check, truthful and in its place ---------------------------------------------------------------
def test_the_check_is_one_short_true_line():
    text = explain("sin(x^2)", wrt="x").to_text()
    last = text.strip().splitlines()[-1]
    assert last.startswith("✓ Checked: every step and the result against central finite differences")
    assert "e-" not in last and "relative difference" not in last  # the figures are behind --check-details
    symbolic = explain("f(g(x))", wrt="x").to_text().strip().splitlines()[-1]
    assert "checked symbolically" in symbolic and "finite differences" not in symbolic


def test_check_details_are_in_the_json():
    data = json.loads(explain("sin(x^2)", wrt="x").to_json())
    assert data["check"]["points"] >= 3 and "max_error" in data["check"]


@pytest.mark.parametrize("typed, corners", [
    ("min(max(0, x), 6)", [0, 6]),                 # ReLU6
    ("x * min(max(0, x + 3), 6) / 6", [-3, 3]),    # hard-swish
])
def test_the_check_samples_both_sides_of_every_corner(typed, corners):
    d = explain(typed, wrt="x")
    assert d.check.passed
    from derive.verify.check import features

    from derive.symbols import evaluated
    found = features(evaluated(d.expression), d.wrt)
    assert sorted(round(v, 9) for v in found) == corners


# -- pages that fit: no overfull line in print, nothing wider than a phone ------------------------------
import shutil  # noqa: E402
import subprocess  # noqa: E402
from pathlib import Path  # noqa: E402

from latex_tools import needs_handout_pdf  # noqa: E402

needs_pdflatex = pytest.mark.skipif(not shutil.which("pdflatex"), reason="pdflatex is not installed (Debian: "
                                    "texlive-latex-base; .ci/run installs it)")
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _overfull(tex, folder, name="doc"):
    (folder / f"{name}.tex").write_text(tex)
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"], cwd=folder,
                         capture_output=True, text=True, timeout=180)
    log = (folder / f"{name}.log").read_text(errors="replace")
    assert run.returncode == 0, log[-1500:]
    return re.findall(r"Overfull \\hbox \((\d+\.\d+)pt too wide\)[^\n]*\n([^\n]*)", log)


@needs_pdflatex
@pytest.mark.parametrize("make", [
    lambda: explain("mse", wrt="weight"), lambda: gradient("bce"), lambda: gradient("mlp", hessian=True),
    lambda: gradient("neuron", hessian=True), lambda: gradient("huber", hessian=True), lambda: explain("softmax", wrt="o1"),
    lambda: explain("relu", wrt="w"), lambda: explain("x^2 sin(x)", wrt="x", order=2),
    lambda: explain("sin(cos(tan(x^2)^3)^4)", wrt="x"),
], ids=["mse", "bce-all", "mlp-hessian", "neuron-hessian", "huber-hessian", "softmax", "relu", "order-2", "nested"])
def test_no_overfull_line_in_a_catalog_explanation(tmp_path, make):
    assert _overfull(make().to_latex(standalone=True), tmp_path) == []


@needs_handout_pdf
@pytest.mark.parametrize("name", ["lesson", "practice"])
def test_no_overfull_line_in_the_example_answer_keys(tmp_path, name):
    from derive.handout import build as handout

    tex = handout.render(handout.solve(handout.load(EXAMPLES / f"{name}.toml")), "latex", answers=True)
    assert _overfull(tex, tmp_path, name) == []


@pytest.mark.skipif(not shutil.which("chromium"), reason="needs Chromium (Debian: chromium)")
def test_an_explanation_fits_a_390_px_phone(tmp_path):
    from test_handout_layout import CHROMIUM, CHROMIUM_FLAGS, PROBE

    import html as html_module
    names = []
    for label, d in (("mse", explain("mse", wrt="weight")), ("mlp", gradient("mlp", hessian=True)),
                     ("nested", explain("sin(cos(tan(x^2)^3)^4)", wrt="x")), ("bce", explain("bce", wrt="w"))):
        page = tmp_path / f"{label}.html"
        page.write_text(d.to_html(standalone=True).replace("</body>", PROBE + "</body>"))
        names.append(page.name)
    frames = "".join(f'<iframe src="{n}" style="width:390px;height:800px;border:0"></iframe>' for n in names)
    (tmp_path / "phone.html").write_text(
        f"<!DOCTYPE html><html><body>{frames}<pre id=out></pre><script>window.addEventListener('message',"
        "function (e) { document.getElementById('out').textContent += e.data + '\\n'; });</script></body></html>")
    dom = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1800,900",
                          "--hide-scrollbars", "--virtual-time-budget=10000", "--dump-dom",
                          (tmp_path / "phone.html").as_uri()], capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
    results = [json.loads(line) for line in html_module.unescape(found.group(1)).splitlines() if line.strip()] if found else []
    assert sorted(r["page"] for r in results) == sorted(names), "the pages did not load in Chromium"
    for r in results:
        assert r["width"] == 390 and r["scrollWidth"] <= 390 and r["bad"] == [], r
