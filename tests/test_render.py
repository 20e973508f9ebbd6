"""Every rule, rendered in every format; JSON matches to_dict(); LaTeX compiles."""

import json
import shutil
import subprocess

import pytest

from derive import explain
from derive.engine.steps import RULES

# Expressions that between them use every rule of the vocabulary.
COVERAGE = [
    ("mse", "weight"),             # summation, definition, chain through a name, simplify
    ("3x^2 + 5", "x"),             # sum, constant_multiple, power, constant
    ("x", "x"),                    # variable
    ("x^2 sin(x)", "x"),           # product, trig
    ("sin(x)/x", "x"),             # quotient
    ("sqrt(x^2 + 1)", "x"),        # chain, rewrite
    ("2^x + exp(x)", "x"),         # exp, both kinds
    ("ln(x^2 + 1)", "x"),          # log
    ("atan(2x)", "x"),             # inverse_trig
    ("tanh(x^2)", "x"),            # hyperbolic
    ("abs(x - 1)", "x"),           # abs
    ("relu(2x - 1) + min(x, 1)", "x"),  # piecewise
    ("x^x", "x"),                  # general_power
    ("f(g(x))", "x"),              # known_derivative (abstract functions)
    ("sigmoid(x)", "x"),           # rewrite of σ
]


@pytest.fixture(scope="module")
def derivations():
    return [explain(text, wrt=wrt) for text, wrt in COVERAGE]


def test_the_coverage_list_uses_every_rule(derivations):
    used = set().union(*(d.steps.rules_used() for d in derivations))
    assert used == set(RULES)


@pytest.mark.parametrize("fmt", ["text", "markdown", "latex"])
def test_every_rule_renders_in_every_format(derivations, fmt):
    from derive.render.formats import words, TextFormat, InlineLatexFormat, LatexWordsFormat

    f = {"text": TextFormat(), "markdown": InlineLatexFormat(), "latex": LatexWordsFormat()}[fmt]
    say = words(f)
    seen = set()
    for d in derivations:
        out = {"text": d.to_text, "markdown": d.to_markdown, "latex": d.to_latex}[fmt]()
        assert "Checked" in out and "CHECK FAILED" not in out
        for step in shown_steps(d.steps):
            assert str(say.title(step)) in out, (step.rule, fmt)
            seen.add(step.rule)
    # constant, variable and simple sums also appear folded into one "term by term" line
    assert seen >= set(RULES) - {"variable"}


def shown_steps(step, depth=0):
    """The steps a layout shows on a line of their own: a linear subtree below the top is
    folded into one line, as a teacher writes d/dw (w xᵢ + b) = xᵢ at once."""
    yield step
    if step.is_linear() and depth > 0:
        return
    for sub in step.substeps:
        yield from shown_steps(sub, depth + 1)


def test_text_reads_like_the_board():
    text = explain("sin(x^2)", wrt="x").to_text()
    assert "d/dx sin(x²) = 2 x cos(x²)" in text
    assert "u₁ = x²" in text
    assert "\x1b[" not in text  # colour only on a terminal


def test_colour_when_asked():
    assert "\x1b[1m" in explain("sin(x)", wrt="x").to_text(color=True)


def test_markdown_uses_dollar_math():
    md = explain("sin(x^2)", wrt="x").to_markdown()
    assert "$$\\frac{d}{dx} \\sin{\\left(x^{2} \\right)} = 2 x \\cos{\\left(x^{2} \\right)}$$" in md
    assert md.count("$") % 2 == 0
    assert "$$$" not in md and "\\(" not in md


def test_latex_is_plain_ascii_and_balanced():
    for text, wrt in COVERAGE:
        tex = explain(text, wrt=wrt).to_latex(standalone=True)
        assert tex.isascii(), text
        assert tex.count("{") == tex.count("}"), text
        assert tex.strip().endswith("\\end{document}")


def test_json_is_to_dict():
    d = explain("x**x", wrt="x")
    data = json.loads(d.to_json())
    assert data == json.loads(json.dumps(d.to_dict()))
    assert set(data) >= {"expression", "wrt", "derivative", "derivative_latex", "steps", "check"}
    assert data["check"]["passed"] is True and data["check"]["points"] >= 4
    step = data["steps"]
    assert set(step) >= {"rule", "expression", "derivative", "substeps"}
    rules = []
    stack = [step]
    while stack:
        node = stack.pop()
        rules.append(node["rule"])
        stack.extend(node["substeps"])
    assert "general_power" in rules


def test_json_names_the_chain_intermediate():
    data = explain("sin(x^2)", wrt="x").to_dict()
    chain = data["steps"]
    assert chain["rule"] == "chain"
    assert chain["intermediate"] == {"name": "u_1", "definition": "x**2"}


@pytest.mark.skipif(not shutil.which("pdflatex"), reason="pdflatex is not installed (.ci/run installs it)")
@pytest.mark.parametrize("text, wrt", [("mse", "weight"), ("exp(2x) cos(x)", "x"), ("sigmoid(x)", "x"),
                                       ("relu(2x - 1) + min(x, 1)", "x"), ("f(g(x))", "x")])
def test_standalone_latex_compiles(tmp_path, text, wrt):
    tex = tmp_path / "steps.tex"
    tex.write_text(explain(text, wrt=wrt).to_latex(standalone=True))
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    if shutil.which("pdftotext"):
        words = subprocess.run(["pdftotext", "steps.pdf", "-"], cwd=tmp_path, capture_output=True,
                               text=True, timeout=60).stdout
        assert "Checked" in words and "Steps" in words
