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


# How a reader sees each rule named beside a line: written here, not taken from the templates.
RULE_NAMES = {
    "constant_multiple": "constant multiple", "sum": "sum rule", "summation": "sum rule",
    "power": "power rule", "product": "product rule", "quotient": "quotient rule",
    "chain": "chain rule", "exp": "derivative of e", "log": "derivative of ln",
    "trig": "derivative of sin", "inverse_trig": "derivative of arctan",
    "hyperbolic": "derivative of tanh", "abs": "derivative of |u|", "piecewise": "each piece where it holds",
    "general_power": "logarithmic differentiation", "rewrite": "written as a power",
    "simplify": "simplify", "known_derivative": "known derivative", "constant": "constant rule",
}
SILENT = {"variable", "definition"}  # d/dx x = 1 and a name standing for its meaning go unsaid


@pytest.mark.parametrize("fmt", ["text", "markdown", "latex", "html"])
def test_every_rule_is_named_in_every_format(derivations, fmt):
    named = set()
    for d in derivations:
        out = {"text": d.to_text, "markdown": d.to_markdown, "latex": d.to_latex, "html": d.to_html}[fmt]()
        assert "Checked" in out and "CHECK FAILED" not in out
        for rule in d.steps.rules_used() - SILENT:
            if RULE_NAMES[rule] in out:
                named.add(rule)
    assert named >= set(RULES) - SILENT - {"constant"}, set(RULES) - SILENT - named


def test_text_reads_like_the_board():
    text = explain("sin(x^2)", wrt="x").to_text()
    assert "d/dx sin(x²) = cos(x²) · 2x" in text
    assert "= 2x cos(x²)" in text
    assert "chain rule" in text and "power rule" in text
    assert "\x1b[" not in text  # colour only on a terminal


def test_colour_when_asked():
    assert "\x1b[1m" in explain("sin(x)", wrt="x").to_text(color=True)


def test_markdown_uses_dollar_math():
    md = explain("sin(x^2)", wrt="x").to_markdown()
    assert "\\begin{aligned}" in md and "&= \\cos(x^{2}) \\cdot 2x" in md
    assert "\\boxed{2x\\cos(x^{2})}" in md
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
        assert "Checked" in words
