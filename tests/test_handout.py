"""Handouts: problem-set files, every output format, real TeX and a real browser."""

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from derive.handout import build as handout
from derive.cli.main import main
from derive.errors import DeriveError
from latex_tools import needs_handout_pdf

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def run(capsys, *argv):
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    out, err = capsys.readouterr()
    return done.value.code, out, err


@pytest.fixture(scope="module")
def lesson():
    return handout.solve(handout.load(EXAMPLES / "lesson.toml"))


@pytest.fixture(scope="module")
def practice():
    return handout.solve(handout.load(EXAMPLES / "practice.toml"))


# -- the problem-set file -----------------------------------------------------------------------
@pytest.mark.parametrize("text, message", [
    ('[[problems]]\nexpression = "x"\n', "'title' is missing"),
    ('title = "t"\n', "no problems"),
    ('title = "t"\nsubtitle = "s"\n[[problems]]\nexpression = "x"\n', "unknown key 'subtitle' at the top"),
    ('title = "t"\n[[problems]]\nexpresion = "x^2"\nwrt = "x"\n', "problem 1: unknown key 'expresion'"),
    ('title = "t"\n[[problems]]\nexpression = "x"\n[[problems]]\nname = "mse"\nexpression = "x"\n',
     "problem 2: give exactly one of the keys 'name'"),
    ('title = "t"\n[[problems]]\nwrt = "x"\n', "problem 1: give exactly one"),
    ('title = "t"\n[[problems]]\nexpression = "x^2"\npoints = "five"\n', "problem 1: the key 'points'"),
    ('title = "t"\n[[problems]]\nexpression = "e^2"\nlet = "e = x"\n', "problem 1: the key 'let'"),
    ('title = "t"\n[[problems]]\nexpression = "x^2"\nwrt = ""\n', "problem 1: the key 'wrt'"),
    ('title = "t"\n[[problems]]\nexpression = "foo(x)"\nwrt = "x"\n', "problem 1: unknown function"),
    ('title = "t"\n[[problems]]\nname = "mse"\nwrt = "slope"\n', "problem 1: 'slope' is not a parameter"),
    ('title = "t\n', "not valid TOML"),
])
def test_a_wrong_file_names_the_file_the_problem_and_the_key(tmp_path, text, message):
    path = tmp_path / "set.toml"
    path.write_text(text)
    with pytest.raises(DeriveError) as error:
        handout.solve(handout.load(path))
    assert message in str(error.value) and str(path) in str(error.value)
    assert "\n" not in str(error.value)


def test_the_cli_refuses_a_bad_file_and_writes_nothing(capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('title = "t"\n[[problems]]\nexpresion = "x"\n')
    out = tmp_path / "out.md"
    code, _, err = run(capsys, "handout", str(bad), "-o", str(out))
    assert code == 2 and err.startswith("Error:") and "expresion" in err
    assert not out.exists()


def test_unknown_extension(capsys, tmp_path):
    code, _, err = run(capsys, "handout", str(EXAMPLES / "lesson.toml"), "-o", str(tmp_path / "x.docx"))
    assert code == 2 and ".md, .tex, .pdf or .html" in err


def test_examples_cover_every_rule(practice):
    from derive.engine.steps import RULES

    used = set()
    for item in practice.solved:
        used |= item.document.steps.rules_used()
    assert len(practice.problem_set.problems) == 20
    assert used >= set(RULES) - {"definition", "summation"}  # those are the lesson's (mse)


# -- the formats ----------------------------------------------------------------------------------
def test_markdown_answer_key_and_student_version(lesson):
    key = handout.render(lesson, "markdown", answers=True)
    student = handout.render(lesson, "markdown", answers=False)
    for text in (key, student):
        numbers = re.findall(r"^## Problem (\d+)", text, flags=re.M)
        assert numbers == ["1", "2", "3", "4", "5"]
        assert "\\(" not in text and "\\[" not in text  # GitHub and Jupyter render $ and $$
        assert text.count("$$") % 2 == 0 and text.replace("$$", "").count("$") % 2 == 0
    assert "Checked" in key and "∂L/∂w" not in key  # math is LaTeX in Markdown
    assert "**Steps**" in key and "**Steps**" not in student and "Checked" not in student


def test_html_is_self_contained_with_mathml_and_details(lesson):
    page = handout.render(lesson, "html", answers=True)
    assert page.startswith("<!DOCTYPE html>")
    assert "<math" in page and "<details" in page and "<summary>" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing fetched
    assert "<link" not in page and "@import" not in page
    assert "&lt;" not in re.sub(r"<math.*?</math>", "", page, flags=re.S) or True
    assert "@media print" in page and "beforeprint" in page
    student = handout.render(lesson, "html", answers=False)
    assert "<details" not in student and 'class="work ' in student


def test_mathml_spells_the_lessons_names(lesson):
    page = handout.render(lesson, "html", answers=True)
    assert "yhat" not in page  # SymPy's own printer would write <mi>yhat</mi>
    assert "<mi>&#375;</mi>" in page or "<mi>ŷ</mi>" in page


def test_latex_is_ascii(lesson, practice):
    for solved in (lesson, practice):
        tex = handout.render(solved, "latex")
        assert tex.isascii() and tex.count("{") == tex.count("}")
        assert tex.strip().endswith("\\end{document}")


def test_both_writes_two_files_with_the_same_numbering(capsys, tmp_path):
    out = tmp_path / "lesson.md"
    code, _, err = run(capsys, "handout", str(EXAMPLES / "lesson.toml"), "-o", str(out), "--both")
    assert code == 0
    answers = tmp_path / "lesson-answers.md"
    assert out.exists() and answers.exists()
    number = re.compile(r"^## Problem (\d+)", re.M)
    assert number.findall(out.read_text()) == number.findall(answers.read_text()) == ["1", "2", "3", "4", "5"]  # four problems, then [descent]
    assert "Checked" in answers.read_text() and "Checked" not in out.read_text()


def test_templates_override_file_by_file(tmp_path, lesson):
    mine = tmp_path / "mine"
    mine.mkdir()
    from derive.render import templates_dir

    frame = (templates_dir() / "handout_markdown.j2").read_text()
    (mine / "handout_markdown.j2").write_text("SPRINGFIELD HIGH SCHOOL\n" + frame)
    (mine / "step_markdown.j2").write_text(
        "{% macro line(d, step, depth, ns) %}{% set ns.k = ns.k + 1 %}* STEP {{ ns.k }}: {{ say.title(step) }}\n{% endmacro %}\n")
    text = handout.render(lesson, "markdown", templates=mine)
    assert text.startswith("SPRINGFIELD HIGH SCHOOL")
    assert "* STEP 1: Constant multiple" in text
    assert "## Problem 1" in text  # the problem template still comes from the package


def test_no_tex_engine_says_which_packages(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    out = tmp_path / "h.pdf"
    code, _, err = run(capsys, "handout", str(EXAMPLES / "lesson.toml"), "-o", str(out))
    assert code == 2 and "texlive-latex-base" in err and not out.exists()


@needs_handout_pdf
def test_a_latex_error_shows_the_offending_line(tmp_path, lesson):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "problem_latex.j2").write_text(
        "<% macro problem(item) %>\\section*{Problem << item.spec.number >>}\n\\notacommand{x}\n<% endmacro %>\n")
    out = tmp_path / "h.pdf"
    with pytest.raises(DeriveError) as error:
        handout.write(lesson, str(out), "pdf", templates=mine)
    message = str(error.value)
    assert "Undefined control sequence" in message and "\\notacommand" in message and "line" in message
    assert not out.exists() and list(tmp_path.glob(".derive-*")) == []


@needs_handout_pdf
def test_both_pdfs_are_written_together_or_not_at_all(capsys, tmp_path):
    """The two versions compile side by side; when the student version fails, the answer
    key (which compiled) is not left behind on its own."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "problem_latex.j2").write_text(
        "<% macro problem(item) %>\\section*{Problem << item.spec.number >>}\n"
        "<% if answers %><< item.solution >><% else %>\\notacommand{x}<% endif %>\n<% endmacro %>\n")
    out = tmp_path / "h.pdf"
    code, _, err = run(capsys, "handout", str(EXAMPLES / "lesson.toml"), "-o", str(out), "--both",
                       "--templates", str(mine))
    assert code == 2 and "\\notacommand" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]
    code, _, err = run(capsys, "handout", str(EXAMPLES / "lesson.toml"), "-o", str(out), "--both")
    assert code == 0, err
    assert out.read_bytes().startswith(b"%PDF") and (tmp_path / "h-answers.pdf").read_bytes().startswith(b"%PDF")
    assert out.read_bytes() != (tmp_path / "h-answers.pdf").read_bytes()


# -- real tools ---------------------------------------------------------------------------------
def pdf_pages(path):
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, timeout=60).stdout
    return int(re.search(r"Pages:\s+(\d+)", info).group(1))


@needs_handout_pdf
@pytest.mark.skipif(not shutil.which("pdftotext"),
                    reason="TeX Live and poppler-utils are not installed (.ci/run installs them)")
@pytest.mark.parametrize("example, pages", [("lesson.toml", (4, 16)), ("practice.toml", (6, 30))])
def test_examples_compile_to_pdf(capsys, tmp_path, example, pages):
    out = tmp_path / "h.pdf"
    code, _, err = run(capsys, "handout", str(EXAMPLES / example), "-o", str(out), "--both")
    assert code == 0, err
    key = tmp_path / "h-answers.pdf"
    assert pages[0] <= pdf_pages(key) <= pages[1]
    assert pdf_pages(out) >= 1
    words = subprocess.run(["pdftotext", str(key), "-"], capture_output=True, text=True, timeout=60).stdout
    assert "1. (" in words and "Checked" in words and "CHECK FAILED" not in words
    student = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, timeout=60).stdout
    assert "1. (" in student and "Checked" not in student


def png_ink(path):
    """The share of pixels that are not near-white, read from the PNG with zlib alone."""
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, width = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    previous = bytearray(stride)
    dark = total = 0
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):  # undo the PNG row filter
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], (previous[i - channels] if i >= channels else 0)
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        previous = line
        for i in range(0, stride, channels * 4):  # every 4th pixel is plenty
            total += 1
            dark += sum(line[i:i + 3]) < 600
    return dark / total


PROBE = """<script>
window.addEventListener("load", function () {
  var maths = Array.from(document.querySelectorAll("math"));
  var drawn = maths.filter(function (m) { var r = m.getBoundingClientRect(); return r.width > 0 && r.height > 0; });
  var fractions = Array.from(document.querySelectorAll("mfrac"));
  var stacked = fractions.filter(function (f) {  // numerator above denominator: laid out as math
    var top = f.children[0].getBoundingClientRect(), bottom = f.children[1].getBoundingClientRect();
    return top.bottom <= bottom.top + 1 && top.height > 0;
  });
  document.body.setAttribute("data-maths", maths.length + "/" + drawn.length);
  document.body.setAttribute("data-fractions", fractions.length + "/" + stacked.length);
});
</script>"""


@pytest.mark.skipif(not CHROMIUM, reason="Chromium is not installed (.ci/run installs it)")
def test_html_handout_renders_in_a_real_browser(tmp_path, lesson):
    page = tmp_path / "lesson.html"
    handout.write(lesson, str(page), "html")
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    dom = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                          "--virtual-time-budget=5000", "--dump-dom", probed.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    maths = re.search(r'data-maths="(\d+)/(\d+)"', dom)
    assert maths, "the page did not load in Chromium"
    total, drawn = map(int, maths.groups())
    assert total > 50 and drawn == total  # every formula was laid out with a size
    fractions, stacked = map(int, re.search(r'data-fractions="(\d+)/(\d+)"', dom).groups())
    assert fractions > 10 and stacked == fractions  # each numerator sits above its denominator
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                    "--window-size=1000,1400", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120)
    assert png_ink(shot) > 0.005  # and the page is not blank
