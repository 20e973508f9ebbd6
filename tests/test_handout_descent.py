"""Handouts with a gradient-descent worked example ([descent]), and `derive descend --format html`."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from derive.handout import build as handout
from derive.descend import descend, synthetic
from derive.errors import DeriveError
from latex_tools import needs_handout_pdf

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
HEAD = 'title = "t"\n[[problems]]\nexpression = "x^2"\nwrt = "x"\n[descent]\n'


@pytest.fixture(scope="module")
def lesson():
    return handout.solve(handout.load(EXAMPLES / "lesson.toml"))


# -- the [descent] table --------------------------------------------------------------------------
@pytest.mark.parametrize("table, key", [
    ('synthetic = 8\n', "'name'"),
    ('name = "mse"\nsynthetic = 8\nrate = 0.1\n', "'rate'"),
    ('name = "cubic"\nsynthetic = 8\n', "'name'"),
    ('name = "mse"\n', "'synthetic'"),
    ('name = "mse"\nsynthetic = 8\ndata = "p.csv"\n', "'synthetic'"),
    ('name = "mse"\nsynthetic = 5000\n', "'synthetic'"),
    ('name = "mse"\nsynthetic = 8.5\n', "'synthetic'"),
    ('name = "mse"\ndata = "missing.csv"\n', "'data'"),
    ('name = "mse"\nsynthetic = 8\nlearning_rate = -1\n', "'learning_rate'"),
    ('name = "mse"\nsynthetic = 8\nsteps = "ten"\n', "'steps'"),
    ('name = "mse"\nsynthetic = 8\nseed = -3\n', "'seed'"),
    ('name = "mse"\nsynthetic = 8\nx = "hours"\n', "'x'"),
    ('name = "mse"\nsynthetic = 8\nlambda = 0.1\n', "'lambda'"),
    ('name = "huber"\nsynthetic = 8\ndelta = 0\n', "'delta'"),
    ('name = "mse"\nsynthetic = 8\nprompt = ""\n', "'prompt'"),
    ('name = "mse"\nsynthetic = 8\npoints = "many"\n', "'points'"),
])
def test_a_wrong_descent_table_names_the_file_and_the_key(tmp_path, table, key):
    path = tmp_path / "set.toml"
    path.write_text(HEAD + table)
    with pytest.raises(DeriveError) as error:
        handout.solve(handout.load(path))
    message = str(error.value)
    assert str(path) in message and "[descent]" in message and key in message and "\n" not in message


def test_descent_must_be_a_table(tmp_path):
    path = tmp_path / "set.toml"
    path.write_text('title = "t"\ndescent = "mse"\n[[problems]]\nexpression = "x^2"\n')
    with pytest.raises(DeriveError, match=r"\[descent\] must be a table"):
        handout.load(path)


def test_bad_csv_names_the_key_and_the_line(tmp_path):
    (tmp_path / "pts.csv").write_text("x,y\n1,2\n2,oops\n")
    path = tmp_path / "set.toml"
    path.write_text(HEAD + 'name = "mse"\ndata = "pts.csv"\n')
    with pytest.raises(DeriveError) as error:
        handout.solve(handout.load(path))
    assert "[descent]" in str(error.value) and "'data'" in str(error.value) and "line 3" in str(error.value)


def test_data_is_read_relative_to_the_toml_file(tmp_path, monkeypatch):
    folder = tmp_path / "sets"
    folder.mkdir()
    (folder / "pts.csv").write_text("hours,score\n0,1\n1,3\n2,5.2\n3,6.9\n")
    (folder / "set.toml").write_text(HEAD + 'name = "mse"\ndata = "pts.csv"\nx = "hours"\ny = "score"\n'
                                     'learning_rate = 0.05\nsteps = 40\nseed = 3\n')
    monkeypatch.chdir(tmp_path)
    solved = handout.solve(handout.load("sets/set.toml"))
    text = handout.render(solved, "markdown")
    assert "from pts.csv" in text and "## Problem 2" in text


def test_a_failed_descent_check_refuses_the_handout(failing_gradient_check, tmp_path):
    path = tmp_path / "set.toml"
    path.write_text(HEAD + 'name = "mse"\nsynthetic = 5\nsteps = 3\n')
    with pytest.raises(DeriveError) as error:
        handout.solve(handout.load(path))
    assert error.value.exit_code == 3 and "[descent]" in str(error.value)


# -- the lesson handout ---------------------------------------------------------------------------
HEADINGS = {"markdown": r"^## Problem (\d+)", "html": r"<h2>Problem (\d+)", "latex": r"^% Problem (\d+)$"}


@pytest.mark.parametrize("fmt", ["markdown", "html", "latex"])
def test_the_descent_problem_is_last_with_the_same_number_in_both_versions(lesson, fmt):
    key = handout.render(lesson, fmt, answers=True)
    student = handout.render(lesson, fmt, answers=False)
    count = len(lesson.problem_set.problems)
    expected = [str(k) for k in range(1, count + 2)]
    for text in (key, student):
        assert re.findall(HEADINGS[fmt], text, flags=re.M) == expected
        assert "Gradient descent, worked with numbers" in text and "learning rate" in text
    assert lesson.descent.spec.number == count + 1
    assert "Selected steps" in key and "Selected steps" not in student
    assert "Example by example" in key and ("Σ" in key or r"\Sigma" in key)  # small data: the first step, example by example
    if fmt == "latex":
        assert key.isascii() and key.count("{") == key.count("}") and "<<" not in key
    if fmt == "html":
        assert key.count("<html") == 1 and "<table" in key and "<math" in key


@pytest.mark.parametrize("fmt", ["markdown", "html", "latex"])
def test_the_answer_key_numbers_are_descends_own(lesson, fmt):
    spec = lesson.descent.spec
    again = descend(spec.name, synthetic(spec.synthetic, seed=spec.seed), learning_rate=spec.learning_rate,
                    steps=spec.steps, seed=spec.seed)
    key = handout.render(lesson, fmt, answers=True)
    student = handout.render(lesson, fmt, answers=False)

    def four(v):  # four significant digits, the handout's rule; a true minus outside TeX
        text = f"{v:.4g}"
        return text.replace("-", "−") if fmt == "html" else text

    for name in ("weight", "bias", "loss"):
        assert four(again.final[name]) in key
    for name in ("weight", "bias"):
        assert four(again.start[name]) in key and four(again.start[name]) in student  # the start, in the prompt
    if again.closed_form is not None:
        assert four(again.closed_form.values["weight"]) in key
    stopped = f"Stopped after {again.steps_run} steps of the {spec.steps} asked for"
    assert again.steps_run < spec.steps and stopped in key  # it says on the page why it stopped early


@needs_handout_pdf
def test_the_lesson_with_descent_compiles_to_pdf(tmp_path, lesson):
    out = tmp_path / "lesson.pdf"
    handout.write(lesson, str(out), "pdf", answers=True)
    assert out.read_bytes()[:5] == b"%PDF-"
    if shutil.which("pdftotext"):
        words = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, timeout=60).stdout
        number = lesson.descent.spec.number
        assert f"{number}. (" in words and "Gradient descent, worked with numbers" in words


# -- derive descend --format html -------------------------------------------------------------------
def test_descend_html_page_is_self_contained_with_the_plot(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from derive.cli.descend import descend as command

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(command, ["mse", "--synthetic", "20", "--format", "html", "-o", "out.html",
                                          "--plot", "p.png", "--steps", "100"])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "out.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("<html") == 1 and page.rstrip().endswith("</html>")
    assert "<math" in page and "<mfrac>" in page and "<table" in page
    assert page.count("<svg") == 2 and "<text" in page  # the plot drawn into the page, its words as text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page) and "<link" not in page
    assert "p.png" not in page  # the plot is inside the page, not linked
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # and the PNG asked for is written


def test_descend_html_fragment_and_markdown_plot_link(tmp_path, monkeypatch):
    from derive.cli.descend import descend as command

    fragment = CliRunner().invoke(command, ["mse", "--synthetic", "6", "--format", "html", "--steps", "20"])
    assert fragment.exit_code == 0 and "<!DOCTYPE" not in fragment.output and "<section" in fragment.output
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    result = CliRunner().invoke(command, ["mse", "--synthetic", "6", "--format", "markdown", "-o", "docs/d.md",
                                          "--plot", "p.png", "--steps", "20"])
    assert result.exit_code == 0, result.output
    assert "](../p.png)" in (tmp_path / "docs" / "d.md").read_text()  # relative to the document
