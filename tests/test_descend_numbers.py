"""`derive descend`, as a student reads it: the first step example by example, one rounding
rule, how a run ended (converged, stalled, max_steps, diverged), and what pdflatex and
Chromium make of the tables and the plot."""

import html
import json
import math
import re
import shutil
import subprocess
import tracemalloc
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from derive.cli.descend import LOSSES, descend as command
from derive.derivation import gradient
from derive.descend import SUPPORTED, Numbers, closed_form, descend, from_arrays, get_descent_problem, load_csv
from derive.descend import render, synthetic
from derive.descend.worked import first_step

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]
SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")


def invoke(*argv):
    return CliRunner().invoke(command, list(argv))


def read_back(text):
    """A number as derive writes it in text (−1.748×10⁻⁵), back to a float."""
    text = text.strip().replace("−", "-")
    if "×10" in text:
        mantissa, power = text.split("×10")
        return float(f"{mantissa}e{power.translate(SUPERSCRIPT)}")
    return float(text)


# -- one rounding rule ------------------------------------------------------------------------------
finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)


@settings(max_examples=200, deadline=None)
@given(st.lists(finite, min_size=1, max_size=12), st.integers(1, 8))
def test_a_column_is_one_notation_and_each_cell_is_the_value_to_its_digits(values, digits):
    cells = Numbers(digits).column(values, "text")
    scientific = {bool(c.power) for c, v in zip(cells, values) if float(f"{v:.{digits}g}") != 0}
    assert len(scientific) <= 1  # never 0.000172 and 1.748×10⁻⁵ in one column
    for cell, value in zip(cells, values):
        assert read_back(cell.text) == pytest.approx(float(f"{value:.{digits}g}"), rel=1e-12, abs=0)


@settings(max_examples=100, deadline=None)
@given(st.lists(finite, min_size=2, max_size=10))
def test_a_text_column_lines_up_on_the_decimal_point(values):
    from derive.descend.report import Writer

    lines = Writer(Numbers(4), "text").aligned(values)
    assert len({len(line) for line in lines}) == 1
    points = {line.index(".") if "." in line else None for line in lines}
    points.discard(None)
    assert len(points) <= 1  # every decimal point in the same place
    cells = Numbers(4).column(values, "text")
    for line, cell in zip(lines, cells):
        if points:  # the part before the point ends where the others' points are
            assert line[:next(iter(points))].lstrip() == cell.whole
    powers = {line.index("×") for line in lines if "×" in line}
    assert len(powers) <= 1  # and ×10ᵏ lines up too


@pytest.mark.parametrize("value, text", [
    (-7.57916, "−7.579"), (0.25019101, "0.2502"), (11.1889, "11.19"), (125.0, "125"), (0.000171996, "0.000172"),
    (-1.74786e-5, "−1.748×10⁻⁵"), (12345.6, "1.235×10⁴"), (2e-7, "2.000×10⁻⁷"), (0.0, "0"), (math.inf, "∞"), (-math.inf, "−∞"),
])
def test_one_number_in_a_sentence(value, text):
    assert Numbers(4).one(value, "text") == text


@pytest.mark.parametrize("value, text", [(0.05, "0.05"), (1e-10, "10⁻¹⁰"), (1e-320, "10⁻³²⁰"), (2.5e-7, "2.5×10⁻⁷")])
def test_a_setting_is_written_as_typed(value, text):
    assert Numbers(4).setting(value, "text") == text


def test_digits_sets_every_number_of_the_output():
    four = invoke("mse", "--synthetic", "8", "--seed", "7", "--steps", "50").output
    six = invoke("mse", "--synthetic", "8", "--seed", "7", "--steps", "50", "--digits", "6").output
    assert "w = 0.2502, b = 0.7944" in four and "w = 0.250191, b = 0.794428" in six
    numbers = re.findall(r"−?\d+\.\d+", six.split("Checks:")[0])
    assert numbers and all(len(n.lstrip("−").replace(".", "").lstrip("0")) <= 6 for n in numbers)


# -- the first step, example by example -------------------------------------------------------------
@pytest.mark.parametrize("name", SUPPORTED)
def test_each_partial_from_the_sums_is_the_gradient_sympy_gives(name):
    problem = get_descent_problem(name)
    run = descend(name, synthetic(6, seed=4, labels=problem.labels), steps=2, seed=5)
    first = first_step(run)
    start = {p.symbol: run.start[p.name] for p in problem.parameters}
    start.update({sym: run.hyper[key] for key, sym in problem.hyper.items()})
    g = gradient(name, mean=True, check=False)
    for worked, d in zip(first.partials, g.derivations):
        # independently: SymPy evaluates the engine's partial with the numbers put in
        expr = d.result.subs(problem.size, 6).doit().subs(start)
        expr = expr.subs({problem.data["x"][k]: run.data.x[k - 1] for k in range(1, 7)})
        expr = expr.subs({problem.data["y"][k]: run.data.y[k - 1] for k in range(1, 7)})
        expected = float(expr.evalf(30))
        # and the table's route: the Σ of each column, put into the partial written in sums
        from_sums = worked.with_sums.subs(problem.size, 6).subs(worked.totals).subs(start)
        assert float(from_sums) == pytest.approx(expected, rel=1e-10, abs=1e-12)
        assert worked.value == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_the_mse_table_is_the_reference_answer_keys():
    """The columns of ../shared/reference/answer-key-reference.tex: xᵢ, yᵢ, ŷᵢ, eᵢ = ŷᵢ − yᵢ, eᵢxᵢ."""
    from derive.render.printing import to_text

    run = descend("mse", synthetic(8, seed=7), steps=3, seed=7)
    first = first_step(run)
    assert [to_text(c.symbol) for c in first.columns] == ["xᵢ", "yᵢ", "ŷᵢ", "eᵢ", "eᵢ xᵢ"]
    x, y = run.data.x, run.data.y
    w, b = run.start["weight"], run.start["bias"]
    predicted = w * x + b
    values = {to_text(c.symbol): c for c in first.columns}
    np.testing.assert_allclose(values["ŷᵢ"].values, predicted, rtol=1e-14)
    np.testing.assert_allclose(values["eᵢ"].values, predicted - y, rtol=1e-14)
    np.testing.assert_allclose(values["eᵢ xᵢ"].values, (predicted - y) * x, rtol=1e-14)
    assert values["eᵢ"].total == pytest.approx((predicted - y).sum()) and values["ŷᵢ"].total is None
    assert first_step(descend("mse", synthetic(9, seed=7), steps=3, seed=7)) is None  # too many to write out


def test_relu_and_huber_name_their_branch_and_define_it():
    from derive.render.printing import to_text

    for name, condition in (("relu", "zᵢ < 0"), ("huber", "δ ≥ |eᵢ|")):
        first = first_step(descend(name, synthetic(6, seed=2), steps=2, seed=1))
        (g, definition), = first.where
        assert to_text(g) == "gᵢ" and condition in to_text(definition)
        assert "gᵢ" in render(descend(name, synthetic(6, seed=2), steps=2, seed=1), "text")


# -- how a run ends ------------------------------------------------------------------------------------
def test_a_learning_rate_too_small_to_move_is_stalled_not_converged():
    result = invoke("mse", "--synthetic", "8", "--learning-rate", "1e-320")
    assert result.exit_code == 0, result.output
    assert "(stalled, not converged)" in result.output and "(converged)" not in result.output
    assert "step left every parameter as it was" in result.output and "Try a larger one" in result.output
    run = descend("mse", synthetic(8, seed=0), learning_rate=1e-320)
    assert run.status == "stalled" and run.stopped == "no_change" and not run.converged


@pytest.mark.parametrize("rate", [1e-13, 1e-11])
def test_tiny_steps_are_never_called_converged(rate):
    run = descend("mse", synthetic(8, seed=1), learning_rate=rate, steps=200, seed=1)
    assert run.status in ("stalled", "max_steps") and not run.closed_form.compared


def test_a_run_that_converges_agrees_with_least_squares_from_lstsq():
    data = synthetic(8, seed=7)
    run = descend("mse", data, steps=200, seed=7)
    assert run.status == "converged" and run.steps_run < 200
    (w, b), *_ = np.linalg.lstsq(np.column_stack([data.x, np.ones(8)]), data.y, rcond=None)
    assert run.final["weight"] == pytest.approx(w, abs=1e-4) and run.final["bias"] == pytest.approx(b, abs=1e-4)
    text = render(run, "text")
    assert f"Stopped after {run.steps_run} steps of the 200 asked for: the loss changed by no more than 10⁻¹⁰" in text


def test_a_dead_relu_is_a_flat_spot_not_a_learning_rate_too_small():
    run = descend("relu", synthetic(30, seed=3), steps=50, seed=2)
    z = run.final["weight"] * run.data.x + run.final["bias"]
    assert np.all(z < 0)  # every unit off: the gradient is exactly zero
    assert run.stopped == "zero_gradient" and run.status == "converged"
    text = render(run, "text")
    assert "the gradient is exactly zero" in text and "dead" in text and "too small" not in text


def test_a_loss_that_grew_and_fell_again_is_a_note_not_a_divergence():
    run = descend("mae", synthetic(30, seed=3), steps=3000, seed=1)
    assert run.grew_count > 0 and run.status == "max_steps" and not run.diverged
    text = render(run, "text")
    assert "Note: the loss grew" in text and "Diverged" not in text


def test_a_diverging_table_never_runs_its_columns_together():
    run = descend("mse", synthetic(20, seed=0), learning_rate=5, steps=30)
    assert run.diverged
    text = render(run, "text")
    table = text[text.index("Selected steps"):text.index("Ran 30 steps")].strip().splitlines()[1:]
    fields = [line.split() for line in table]
    assert fields[0] == ["step", "w", "b", "L", "∂L/∂w", "∂L/∂b"]
    assert all(len(row) == 6 for row in fields[1:])  # a space between every two numbers
    for row in fields[1:]:
        h = run.history[int(row[0])]
        for cell, key in zip(row[1:], ["weight", "bias", "loss", "dL/dweight", "dL/dbias"]):
            assert read_back(cell) == pytest.approx(float(f"{h[key]:.4g}"), rel=1e-12)


# -- data at the edges of float64 ----------------------------------------------------------------------
def test_data_too_large_for_float64_is_an_error_that_says_so(tmp_path):
    path = tmp_path / "huge.csv"
    path.write_text("x,y\n1e200,2e200\n2e200,3e200\n3e200,5e200\n")
    result = invoke("mse", "--data", str(path))
    assert result.exit_code == 2
    assert "too large" in result.output and "3×10²⁰⁰" in result.output and "every x is the same" not in result.output


def test_the_closed_form_of_huge_x_is_exact_least_squares():
    x = [1e160, 2e160, 3e160]
    y = [2.0, 3.0, 5.0]
    form = closed_form("mse", from_arrays(x, y))
    # independently, in exact rationals: slope = Sxy / Sxx, intercept = ȳ − slope·x̄
    fx, fy = [Fraction(v) for v in x], [Fraction(v) for v in y]
    mx, my = sum(fx) / 3, sum(fy) / 3
    slope = sum((a - mx) * (b - my) for a, b in zip(fx, fy)) / sum((a - mx) ** 2 for a in fx)
    assert form.unique and form.why_not_unique is None
    assert form.values["weight"] == pytest.approx(float(slope), rel=1e-12)
    assert form.values["bias"] == pytest.approx(float(my - slope * mx), rel=1e-9)


def test_only_identical_x_is_called_every_x_the_same():
    form = closed_form("mse", from_arrays([2.0, 2.0, 2.0], [1.0, 2.0, 4.0]))
    assert not form.unique and form.why_not_unique == "same_x"
    assert closed_form("mse", from_arrays([1e-300, 2e-300, 3e-300], [1.0, 2.0, 3.0])).unique


# -- a million steps -----------------------------------------------------------------------------------
class _Counter:
    def __init__(self):
        self.size = 0
        self.parts = []

    def write(self, text):
        self.size += len(text)
        self.parts.append(text)


def test_json_history_is_written_a_row_at_a_time():
    steps = 20_000
    run = descend("mse", synthetic(8, seed=0), learning_rate=1e-9, steps=steps)
    assert run.steps_run == steps
    assert run.history.nbytes <= 2 * (steps + 1) * 6 * 8  # one float64 row per step, at most doubled
    sink = _Counter()
    tracemalloc.start()
    run.write_json(sink)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    text = "".join(sink.parts)
    assert peak - len(text) * 1.1 < 4 << 20  # beyond the text handed out, little is held at once
    assert max(len(part) for part in sink.parts) < 2 << 20  # never the whole thing as one string
    doc = json.loads(text)
    assert len(doc["history"]) == steps + 1 and doc["status"] == "max_steps"
    assert doc["history"][-1]["weight"] == run.final["weight"]


# -- a public result reproduced ---------------------------------------------------------------------------
def test_bce_on_the_hours_studied_data_gives_rs_glm_coefficients():
    """examples/passed.csv is the example of Wikipedia's "Logistic regression" article (20 students,
    hours studied, passed); R's glm(Pass ~ Hours, family = binomial) gives intercept −4.077713 and
    slope 1.504645 (https://rstudio-pubs-static.s3.amazonaws.com/167443_521a65d0dc3e4f04aeba47a8fd813554.html)."""
    data = load_csv(EXAMPLES / "passed.csv", x="hours", y="passed")
    run = descend("bce", data, learning_rate=0.5, steps=20000, tol=1e-14, seed=0)
    assert run.converged
    assert run.final["weight"] == pytest.approx(1.504645, abs=2e-4)
    assert run.final["bias"] == pytest.approx(-4.077713, abs=2e-4)


def test_every_example_command_of_the_help_names_a_file_that_exists():
    from derive.cli.descend import descend as cmd

    for path in re.findall(r"derive descend .*--data (\S+)", cmd.help):
        assert (EXAMPLES.parent / path).is_file(), path


def test_completion_offers_the_losses_descend_runs():
    assert set(LOSSES) == set(SUPPORTED)


# -- what a reader sees: LaTeX through pdflatex ------------------------------------------------------------
@pytest.mark.skipif(not shutil.which("pdflatex"), reason="pdflatex is not installed (Debian: texlive-latex-base)")
@pytest.mark.parametrize("name, steps", [("mse", 200), ("ridge", 200), ("mlp", 200), ("relu", 0)])
def test_the_latex_fits_the_page_and_reads_back(tmp_path, name, steps):
    problem = get_descent_problem(name)
    run = descend(name, synthetic(8, seed=7, labels=problem.labels), steps=steps, seed=7)
    (tmp_path / "d.tex").write_text(render(run, "latex", standalone=True))
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "d.tex"], cwd=tmp_path,
                   capture_output=True, timeout=120, check=True)
    log = (tmp_path / "d.log").read_text(errors="replace")
    overfull = [float(m) for m in re.findall(r"Overfull \\hbox \((\d+\.\d+)pt too wide\)", log)]
    assert not [o for o in overfull if o > 1.0], overfull  # nothing runs into the margin
    if shutil.which("pdftotext"):
        words = subprocess.run(["pdftotext", "-layout", str(tmp_path / "d.pdf"), "-"], capture_output=True,
                               text=True, timeout=60).stdout
        first = first_step(run)
        total = next(c.total for c in first.columns if c.total is not None)
        assert Numbers(4).one(total).replace("−", "−") in words.replace("-", "−")
        assert "Σ" in words and "Selected steps" in words and "Gradient descent, worked with numbers" in words


# -- what a reader sees: HTML in Chromium, on a desktop and on a phone ---------------------------------------
PROBE = """<script>
window.addEventListener("load", function () {
  var out = {spreads: [], overflowing: 0, cells: 0, page: document.documentElement.scrollWidth,
             viewport: window.innerWidth, svgFont: 1000, svgTexts: 0, boxes: 0, boxesInside: 0};
  document.querySelectorAll("table.numbers").forEach(function (table) {
    var columns = {};
    table.querySelectorAll("tr").forEach(function (row) {
      Array.prototype.forEach.call(row.children, function (cell, k) {
        var tail = cell.querySelector(".tail");
        if (!tail) return;
        out.cells++;
        (columns[k] = columns[k] || []).push(tail.getBoundingClientRect().left);
        if (tail.scrollWidth > tail.clientWidth + 1) out.overflowing++;
      });
    });
    Object.keys(columns).forEach(function (k) {
      out.spreads.push(Math.max.apply(null, columns[k]) - Math.min.apply(null, columns[k]));
    });
  });
  document.querySelectorAll(".numbers-box").forEach(function (box) {
    out.boxes++;
    if (box.getBoundingClientRect().right <= window.innerWidth + 0.5) out.boxesInside++;
  });
  document.querySelectorAll("figure.plot svg").forEach(function (svg) {
    var scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    svg.querySelectorAll("text").forEach(function (t) {
      out.svgTexts++;
      out.svgFont = Math.min(out.svgFont, parseFloat(getComputedStyle(t).fontSize) * scale);
    });
  });
  document.body.setAttribute("data-probe", JSON.stringify(out));
});
</script>"""


@pytest.mark.skipif(not CHROMIUM, reason="Chromium is not installed (Debian: chromium)")
@pytest.mark.parametrize("width", [1280, 390])
def test_the_html_tables_line_up_and_the_plot_is_legible(tmp_path, width):
    pytest.importorskip("matplotlib", reason="the plot needs matplotlib (pip install matplotlib)")
    page = tmp_path / "descent.html"
    result = CliRunner().invoke(command, ["mse", "--synthetic", "8", "--seed", "7", "--format", "html",
                                          "-o", str(page), "--plot", str(tmp_path / "p.png")])
    assert result.exit_code == 0, result.output
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    dom = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                          f"--window-size={width},2400", "--virtual-time-budget=5000", "--dump-dom",
                          probed.as_uri()], capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'data-probe="([^"]*)"', dom)
    assert found, "the page did not load in Chromium"
    probe = json.loads(html.unescape(found.group(1)))
    assert probe["cells"] > 60 and probe["overflowing"] == 0  # every number fits its box
    assert max(probe["spreads"]) < 0.75, probe["spreads"]  # decimal points line up in every column
    assert probe["page"] <= probe["viewport"]  # nothing pushes the page sideways; tables scroll in their box
    assert probe["boxes"] == probe["boxesInside"] == 2
    assert probe["svgTexts"] > 20 and probe["svgFont"] >= 10.5, probe  # the plot's type is legible


def test_the_plot_speaks_the_lessons_words_in_colours_all_can_tell_apart(tmp_path):
    pytest.importorskip("matplotlib", reason="the plot needs matplotlib (pip install matplotlib)")
    from derive.descend.plot import COLOURS, svg_figures

    run = descend("mse", synthetic(8, seed=7), steps=200, seed=7)
    run.plot = "p.png"
    loss_panel, fit_panel = svg_figures(run)
    words = " ".join(re.findall(r"<text[^>]*>([^<]*)</text>", loss_panel + fit_panel))
    assert "mse" not in words.split() and "least-squares minimum, 0.1878" in words
    assert "step 125: L = 0.1878" in words  # the final loss, readable on the plot
    assert "Loss L at each step, learning rate 0.05" in words and "mean squared error L" in words
    assert all(colour.lower() in fit_panel.lower() for colour in COLOURS["stages"][:3])
    page = render(run, "html")
    caption = re.search(r"<figcaption>(.*?)</figcaption>", page, re.S).group(1)
    assert "from 11.19 at the start to 0.1878 after 125 steps" in caption
    result = invoke("mse", "--synthetic", "5", "--steps", "3", "--plot", str(tmp_path / "p.jpg"))
    assert result.exit_code == 2 and ".png or .svg" in result.output


@pytest.mark.parametrize("fmt", ["latex", "markdown"])
def test_a_plot_path_that_would_be_markup_is_refused(fmt):
    run = descend("mse", synthetic(5, seed=1), steps=3)
    for path in ("p.png", "plots/loss_1.png"):
        assert path in render(run, fmt, plot_link=path)
    for path in ("a}b.png", "x%y.png", "my plot.png", "p.png)![x](http://e"):
        with pytest.raises(Exception, match="cannot go into"):
            render(run, fmt, plot_link=path)
