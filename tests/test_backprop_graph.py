"""Computation graphs, the forward and backward passes, and their drawings.

Every ∂L/∂node is compared with an independent reference: ``sympy.diff`` of the loss
written in that node alone (every other name replaced by its definition), evaluated at
the same point; the parameters' also with ``sympy.diff`` of the written-out loss. The
drawings are read back: the SVG's text, Chromium's layout of it, pdflatex's PDF."""

import json
import random
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
import sympy

from derive.backprop import draw
from derive.backprop.graph import graph_of
from derive.backprop.passes import passes, read_point
from derive.cli.main import main
from derive.derivation import make_subject
from derive.engine.problems import CATALOG
from derive.errors import DeriveError
from derive.verify.numeric import evaluate

MLP_AT = "w=0.5,b=0.1,v=-1.2,c=0.3,x=1.5,y=2"


def run(capsys, *argv):
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    out, err = capsys.readouterr()
    return done.value.code, out, err


def _random_point(problem, rng, examples=2):
    """Values for every input of a problem: parameters, data (per example), constants."""
    point = {p.symbol.name: rng.uniform(-1.5, 1.5) for p in problem.parameters}
    count = examples if problem.mean else 1
    for key in problem.data:
        if problem.labels == "binary":
            values = [float(k % 2) for k in range(count)]
        else:
            values = [rng.uniform(-2, 2) for _ in range(count)]
        point[key] = values
    if problem.labels == "onehot":
        weights = [rng.uniform(0.1, 1) for _ in problem.data]
        for key, wgt in zip(sorted(problem.data), weights):
            point[key] = [wgt / sum(weights)]
    for key in problem.hyper:
        point[key] = rng.uniform(0.3, 1.2)
    return point


def _node_reference(graph, node, values):
    """∂(top)/∂node from sympy.diff of the top written in ``node`` and the inputs only."""
    others = {n.symbol: n.definition for n in graph.computed if n is not node and n is not graph.top}
    expr = graph.top.definition
    for _ in range(len(others) + 1):
        expr = expr.xreplace(others)
    return float(evaluate(sympy.diff(expr, node.symbol), values))


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_every_catalog_graph_passes_equal_sympy_diff_at_every_node(name):
    rng = random.Random(name)
    problem = CATALOG[name]()
    at = _random_point(problem, rng)
    p = passes(name, at=at, torch=False)
    assert p.passed, p.to_text()
    values = {r.node.symbol: r.value for r in p.forward}
    for node in p.graph.nodes:
        if node is p.graph.top:
            continue
        expected = _node_reference(p.graph, node, values)
        assert p.rows[node].gradient == pytest.approx(expected, rel=1e-9, abs=1e-12), node
    # the parameters against sympy.diff of the loss written out, Σ over the data included
    written = problem.written_out
    inputs = {n.symbol: values[n.symbol] for n in p.graph.inputs}
    if problem.mean:
        inputs[problem.size] = p.graph.examples
    for param in problem.parameters:
        expected = float(evaluate(sympy.diff(written, param.symbol), inputs))
        assert p.gradient[str(param.symbol)] == pytest.approx(expected, rel=1e-9, abs=1e-12)
        assert p.rows[p.graph.node(param.symbol)].symbolic == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_mlp_at_the_issue_point_matches_hand_backprop():
    """The numbers of the issue's example, by hand in floats (the lesson's backprop)."""
    import math

    w, b, v, c, x, y = 0.5, 0.1, -1.2, 0.3, 1.5, 2.0
    z = w * x + b
    h = 1 / (1 + math.exp(-z))
    yhat = v * h + c
    error = yhat - y
    d_error = 2 * error
    d_h = d_error * v
    d_z = d_h * h * (1 - h)
    p = passes("mlp", at=MLP_AT, torch=False)
    expected = {"L": 1.0, "error": d_error, "yhat": d_error, "h": d_h, "z": d_z, "w": d_z * x, "b": d_z,
                "v": d_error * h, "c": d_error, "x": d_z * w, "y": -d_error}
    for node, value in expected.items():
        assert p.row(node).gradient == pytest.approx(value, rel=1e-12)
    assert [r.node.name for r in p.backward][:5] == ["L", "error", "yhat", "h", "z"]
    assert p.row("z").value == pytest.approx(z) and p.row("yhat").value == pytest.approx(yhat)


def test_a_node_used_twice_sums_its_paths():
    p = passes("x*sin(x)", at="x=1.5", torch=False)
    x = p.row("x")
    assert len(x.terms) == 2  # through sin(x), and directly into the product
    assert sum(t.value for t in x.terms) == pytest.approx(x.gradient)
    import math

    assert x.gradient == pytest.approx(math.sin(1.5) + 1.5 * math.cos(1.5), rel=1e-12)
    # a shared part is one node: sin(x) appears twice in the formula, once in the graph
    g = graph_of(make_subject("sin(x)^2 + sin(x)"))
    shared = [n for n in g.computed if n.definition == sympy.sin(sympy.Symbol("x", real=True))]
    assert len(shared) == 1 and len(shared[0].outputs) == 2


def test_ridge_weight_reaches_the_loss_twice_and_examples_unroll():
    p = passes("ridge", at="w=0.5,b=0.1,x=1.5;2.5,y=2;3,lambda=0.1", torch=False)
    assert p.graph.examples == 2
    w = p.row("w")
    assert {t.edge.target.name for t in w.terms} == {"yhat_1", "yhat_2", "L"}
    # L = ½(e₁² + e₂²) + λw²: by hand
    e1, e2 = 0.5 * 1.5 + 0.1 - 2, 0.5 * 2.5 + 0.1 - 3
    assert w.gradient == pytest.approx(e1 * 1.5 + e2 * 2.5 + 2 * 0.1 * 0.5, rel=1e-12)


def test_let_names_and_decomposition_name_the_nodes():
    g = graph_of(make_subject("error^2", let=["error = yhat - y", "yhat = w*x + b"]), wrt="w")
    assert [n.name for n in g.computed] == ["yhat", "error", "f"]
    assert [n.name for n in g.wrt] == ["w"]
    assert g.edge("yhat", "error").local == 1 and str(g.edge("w", "yhat").local) == "x"
    g = graph_of(make_subject("sin(x^2)"))
    assert [str(n.definition) for n in g.computed] == ["x**2", "sin(u_1)"]
    assert str(g.edge("u_1", "f").local) == "cos(u_1)"


@pytest.mark.parametrize("at, message", [
    ("w=0.5,b=0.1", "no value for"),
    ("w=0.5,b=0.1,v=1,c=1,x=1,y=2,q=3", "q, which is not an input"),
    ("w=abc", "must be a number"),
    ("w=0.5,w=1", "twice"),
    ("w=1e999", "finite"),
    ("w=0.5,b=0.1,v=1,c=1,x=1;2,y=2;3", "one value per name"),
    ("w", "name=value"),
])
def test_bad_points_are_one_clear_error(at, message):
    with pytest.raises(DeriveError, match=message):
        passes("mlp", at=at, torch=False)


def test_data_of_different_lengths_and_too_many_examples_are_refused():
    with pytest.raises(DeriveError, match="different numbers of examples"):
        passes("mse", at="w=1,b=0,x=1;2,y=1", torch=False)
    with pytest.raises(DeriveError, match="at most 8"):
        passes("mse", at="w=1,b=0,x=" + ";".join("1" * 9) + ",y=" + ";".join("1" * 9), torch=False)
    assert read_point("w=1/2, x=1;2.5e-1") == {"w": [0.5], "x": [1.0, 0.25]}


def test_a_point_outside_the_domain_is_refused():
    with pytest.raises(DeriveError, match="not a real number"):
        passes("log(x)", at="x=-1", torch=False)


def test_a_failed_number_is_reported_and_exits_3(capsys, tmp_path, monkeypatch):
    import derive.backprop.passes as module

    monkeypatch.setattr(module, "TOLERANCE", -1.0)  # every comparison now fails
    target = tmp_path / "g.svg"
    code, out, err = run(capsys, "graph", "mlp", "--at", MLP_AT, "-o", str(target))
    assert code == 3 and "CHECK FAILED" in out and not target.exists()
    code, out, err = run(capsys, "explain", "mlp", "--wrt", "all", "--at", MLP_AT)
    assert code == 3 and "CHECK FAILED" in out


# -- PyTorch, where it is installed --------------------------------------------------------------
def test_torch_autograd_agrees_where_torch_is_installed():
    pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'derive[torch]')")
    for name in ("mlp", "bce", "softmax", "huber", "relu", "ridge"):
        problem = CATALOG[name]()
        p = passes(name, at=_random_point(problem, random.Random(1)), torch=True)
        assert p.torch_compared and p.passed, p.to_text()
        for r in p.backward:
            assert r.torch == pytest.approx(r.gradient, rel=1e-9, abs=1e-12)


def test_without_torch_the_comparison_is_a_note_never_faked(monkeypatch):
    import derive.backprop.passes as module

    monkeypatch.setattr(module, "torch_available", lambda: False)
    p = passes("mlp", at=MLP_AT)
    assert not p.torch_compared and all(r.torch is None for r in p.backward)
    assert "not compared" in p.to_text() and "PyTorch is not installed" in p.to_text()
    with pytest.raises(DeriveError, match="derive\\[torch\\]"):
        passes("mlp", at=MLP_AT, torch=True)


# -- rendering ------------------------------------------------------------------------------------
def test_passes_render_in_every_format():
    p = passes("mlp", at=MLP_AT, torch=False)
    text = p.to_text()
    assert re.search(r"∂L/∂h +=  ∂L/∂ŷ · v +\(−5\.08136\) · \(−1\.2\) +6\.09763", text)
    md = p.to_markdown()
    assert "| $\\partial L/\\partial h$ |" in md and md.count("\n|") >= 22
    assert "<table class=\"backward\">" in p.to_html() and "<math" in p.to_html()
    data = json.loads(p.to_json())
    assert data["gradient"]["w"] == pytest.approx(p.gradient["w"]) and data["check"]["passed"]
    assert [row["node"] for row in data["backward"]][:3] == ["L", "error", "yhat"]


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed (Debian texlive-latex-base)")
def test_passes_latex_compiles(tmp_path):
    p = passes("ridge", at="w=0.5,b=0.1,x=1.5;2.5,y=2;3,lambda=0.1", torch=False)
    (tmp_path / "p.tex").write_text(p.to_latex(standalone=True))
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "p.tex"], cwd=tmp_path,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]


def test_explain_at_appends_the_passes(capsys):
    code, out, err = run(capsys, "explain", "mlp", "--wrt", "all", "--at", MLP_AT)
    assert code == 0, err
    assert out.index("The gradient and the update") < out.index("The forward and backward passes")
    code, out, err = run(capsys, "explain", "mlp", "--wrt", "all", "--at", MLP_AT, "--format", "json")
    data = json.loads(out)
    assert data["passes"]["gradient"]["w"] == pytest.approx(1.9186766335663543)
    code, out, err = run(capsys, "explain", "mlp", "--wrt", "all", "--graph")
    assert code == 2 and "--format html" in err


# -- drawings -------------------------------------------------------------------------------------
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed (Debian graphviz)")
SVG = "{http://www.w3.org/2000/svg}"


def _svg_groups(svg):
    root = ET.fromstring(svg)
    groups = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("id"):
            texts = [t.text or "" for t in g.iter(f"{SVG}text")]
            groups[g.get("id")] = (g, " | ".join(texts))
    return groups


@needs_dot
def test_svg_shows_labels_local_derivatives_values_and_paths():
    p = passes("mlp", at=MLP_AT, torch=False)
    svg = draw.render_graph(p.graph, p, "svg")
    groups = _svg_groups(svg)
    ids = {n.name: f"n{k}" for k, n in enumerate(p.graph.nodes)}
    _, z = groups[ids["z"]]
    assert "z" in z and "= b + w x" in z and "value 0.85" in z and "∂L/∂z = 1.279" in z
    _, w = groups[ids["w"]]
    assert "weight" in w and "∂L/∂w = 1.919" in w
    edge, label = groups[f"{ids['z']}-{ids['h']}"]
    assert "∂h/∂z = h (1 − h)" in label and "= 0.2098" in label
    assert any(path.get("stroke") == "#c0392b" for path in edge.iter(f"{SVG}path"))  # on w's path
    edge, _ = groups[f"{ids['x']}-{ids['z']}"]
    assert all(path.get("stroke") != "#c0392b" for path in edge.iter(f"{SVG}path"))  # x is data
    caption = groups["graph"][1]
    assert "∂L/∂w = ∂L/∂error · ∂error/∂ŷ · ∂ŷ/∂h · ∂h/∂z · ∂z/∂w" in caption and "= 1.919" in caption


@needs_dot
def test_svg_of_a_node_used_twice_shows_the_sum_of_its_paths():
    p = passes("x*sin(x)", at="x=1.5", torch=False)
    groups = _svg_groups(draw.render_graph(p.graph, p, "svg"))
    _, x = groups["n0"]
    assert "∂f/∂x = 0.1061 + 0.9975 = 1.104" in x
    assert "∂f/∂x (direct) = u₁" in groups["n0-n2"][1]


@needs_dot
@pytest.mark.parametrize("name", sorted(CATALOG))
def test_every_catalog_entry_draws(name):
    svg = draw.render_graph(graph_of(make_subject(name)), None, "svg").decode()
    assert svg.count('class="node"') == len(graph_of(make_subject(name)).nodes)


@needs_dot
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium is not installed (Debian chromium)")
def test_chromium_lays_every_label_inside_its_box(tmp_path):
    """Chromium's own layout of the SVG: each node's text lies inside its box, no two boxes
    overlap, and every label is rendered with a width (the font has the characters)."""
    p = passes("mlp", at=MLP_AT, torch=False)
    svg = draw.inline_svg(draw.render_graph(p.graph, p, "svg"))
    page = tmp_path / "graph.html"
    page.write_text("""<!DOCTYPE html><html><body>%s<pre id="out"></pre><script>
const boxes = [], report = {inside: true, overlap: false, empty: 0, nodes: 0, texts: []};
for (const g of document.querySelectorAll("g.node")) {
  const shape = g.querySelector("path, polygon").getBoundingClientRect();
  boxes.push(shape); report.nodes++;
  for (const t of g.querySelectorAll("text")) {
    if (!t.textContent.trim()) continue;  // dot writes the space between two fonts on its own
    const r = t.getBoundingClientRect();
    if (r.width === 0) report.empty++;
    if (r.left < shape.left - 0.5 || r.right > shape.right + 0.5 || r.top < shape.top - 0.5 || r.bottom > shape.bottom + 0.5) report.inside = false;
    report.texts.push(t.textContent);
  }
}
for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
  const a = boxes[i], b = boxes[j];
  if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) report.overlap = true;
}
document.getElementById("out").textContent = JSON.stringify(report);
</script></body></html>""" % svg)
    done = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="out">(.*?)</pre>', done.stdout, re.S)
    assert found, done.stderr[-2000:]
    import html

    report = json.loads(html.unescape(found.group(1)))
    assert report["nodes"] == len(p.graph.nodes)
    assert report["inside"] and not report["overlap"] and report["empty"] == 0
    assert "∂L/∂h = 6.098" in report["texts"]


@needs_dot
def test_png_and_pdf_are_drawn(tmp_path):
    p = passes("mse", at="w=0.5,b=0.1,x=1.5,y=2", torch=False)
    png = draw.render_graph(p.graph, p, "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(png[16:20], "big")
    assert width > 600  # a real drawing at 144 dpi, not an empty page
    pdf = draw.render_graph(p.graph, p, "pdf")
    assert pdf[:5] == b"%PDF-"
    if shutil.which("pdftotext"):
        (tmp_path / "g.pdf").write_bytes(pdf)
        text = subprocess.run(["pdftotext", str(tmp_path / "g.pdf"), "-"], capture_output=True, text=True).stdout
        assert "value 0.85" in text and "prediction" in text


@needs_dot
@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed (Debian texlive-latex-base)")
@pytest.mark.parametrize("expression, at", [("mlp", MLP_AT), ("x*sin(x)", "x=1.5"), ("softmax", None)])
def test_tikz_compiles_with_pdflatex(tmp_path, expression, at):
    if at:
        p = passes(expression, at=at, torch=False)
        g = p.graph
    else:
        p, g = None, graph_of(make_subject(expression))
    tex = draw.render_graph(g, p, "tex")
    assert tex.isascii()
    (tmp_path / "g.tex").write_text(tex)
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "g.tex"], cwd=tmp_path,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(tmp_path / "g.pdf"), "-"], capture_output=True, text=True).stdout
        if at == MLP_AT:
            assert "value 0.85" in text and "1.919" in text
        assert text.count("value") == (len(g.nodes) if at else 0)


@needs_dot
def test_graph_cli_writes_each_format(capsys, tmp_path):
    for ext in ("svg", "png", "pdf", "dot"):
        target = tmp_path / f"g.{ext}"
        code, out, err = run(capsys, "graph", "mlp", "--at", MLP_AT, "-o", str(target))
        assert code == 0 and f"Wrote {target}" in err and target.stat().st_size > 200
    code, out, err = run(capsys, "graph", "mlp", "-o", str(tmp_path / "g.jpg"))
    assert code == 2 and ".svg, .pdf, .png, .tex or .dot" in err
    code, out, err = run(capsys, "explain", "mlp", "--wrt", "all", "--at", MLP_AT, "--graph", "--format", "html")
    assert code == 0 and "<svg" in out and "The forward and backward passes" in out


def test_graph_text_without_output(capsys):
    code, out, err = run(capsys, "graph", "mlp")
    assert code == 0
    assert "∂h/∂z = h (1 − h)" in out and "∂L/∂w = ∂L/∂error · ∂error/∂ŷ · ∂ŷ/∂h · ∂h/∂z · ∂z/∂w" in out


def test_missing_dot_is_one_line_naming_the_package(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(draw.shutil, "which", lambda name: None)
    code, out, err = run(capsys, "graph", "mlp", "-o", str(tmp_path / "g.svg"))
    assert code == 2 and err.count("\n") == 1 and "graphviz" in err and err.startswith("Error:")
