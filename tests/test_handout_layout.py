"""The page around each problem: PDFs laid out like an exam, HTML that fits a phone and
prints cleanly. Measured with the real tools (pdflatex or latexmk, pdftotext, pdfinfo,
headless Chromium); each test skips, naming the Debian package, when its tool is missing."""

import html.parser
import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import sympy

from derive.errors import DeriveError
from derive.handout import build as handout
from derive.handout import layout, notation, prompts
from latex_tools import HANDOUT_PDF

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
A4, LETTER = (595.3, 841.9), (612.0, 792.0)  # points, as pdfinfo reports them


TEX = HANDOUT_PDF and bool(shutil.which("pdftotext") and shutil.which("pdfinfo"))
needs_tex = pytest.mark.skipif(not TEX, reason="needs pdflatex, poppler-utils and the exam class "
                                               "(Debian: texlive-latex-extra poppler-utils)")
needs_chromium = pytest.mark.skipif(not (CHROMIUM and shutil.which("pdftotext") and shutil.which("pdfinfo")),
                                    reason="needs Chromium and poppler-utils (Debian: chromium poppler-utils)")
ENGINES = [pytest.param("pdflatex", id="pdflatex"),
           pytest.param("latexmk", id="latexmk", marks=pytest.mark.skipif(
               not shutil.which("latexmk"), reason="latexmk is not installed (Debian: latexmk)"))]


@pytest.fixture(scope="module")
def solved():
    return {name: handout.solve(handout.load(EXAMPLES / f"{name}.toml")) for name in ("lesson", "practice")}


def use_engine(monkeypatch, engine):
    """Make the handout compile with ``engine`` (hide latexmk to get pdflatex)."""
    which = shutil.which
    monkeypatch.setattr(handout.shutil, "which", lambda name: None if engine == "pdflatex" and name == "latexmk"
                        else which(name))


def pdf_pages(path):
    """The text of each page, as pdftotext lays it out (it ends each page with a form feed)."""
    count = int(re.search(r"Pages:\s+(\d+)", _run("pdfinfo", path)).group(1))
    pages = _run("pdftotext", "-layout", path, "-").split("\f")
    assert len(pages) == count + 1 and not pages[-1].strip()
    return pages[:-1]


def page_size(path):
    width, height = re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", _run("pdfinfo", path)).groups()
    return round(float(width), 1), round(float(height), 1)


def words_at(path, page):
    """``[(word, yMin)]`` of one page, in points from the top."""
    box = _run("pdftotext", "-bbox", "-f", str(page), "-l", str(page), path, "-")
    return [(w, float(y)) for y, w in re.findall(r'<word xMin="[\d.]+" yMin="([\d.]+)"[^>]*>([^<]*)</word>', box)]


def _run(*argv):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=120).stdout


@pytest.fixture(scope="module")
def pdfs(solved, tmp_path_factory):
    """Both examples, answer key and student version, compiled by each engine: {(engine,
    name, answers): (pdf path, tex)}."""
    if not TEX:
        pytest.skip("needs pdflatex, poppler-utils and the exam class (Debian: texlive-latex-extra poppler-utils)")
    built = {}
    with pytest.MonkeyPatch.context() as monkeypatch:
        for engine in ("pdflatex", "latexmk"):
            if not shutil.which(engine):
                continue
            use_engine(monkeypatch, engine)
            folder = tmp_path_factory.mktemp(engine)
            for name, solved_set in solved.items():
                out = folder / f"{name}.pdf"
                handout.write_versions(solved_set, [(str(out), False), (handout.answers_path(out), True)], "pdf")
                for answers, path in ((False, out), (True, Path(handout.answers_path(out)))):
                    built[engine, name, answers] = (path, handout.render(solved_set, "pdf", answers=answers))
            monkeypatch.undo()
    return built


def _versions(pdfs, engine):
    found = {key: value for key, value in pdfs.items() if key[0] == engine}
    if not found:
        pytest.skip(f"{engine} is not installed")
    return found


# -- the frame: header, footer, points, title block ------------------------------------------------
@needs_tex
@pytest.mark.parametrize("engine", ENGINES)
def test_every_page_has_its_header_and_page_x_of_y(pdfs, engine):
    for (_, name, answers), (path, _) in _versions(pdfs, engine).items():
        course = tomllib.loads((EXAMPLES / f"{name}.toml").read_text())["course"]
        pages = pdf_pages(path)
        assert len(pages) >= 2
        for k, text in enumerate(pages, start=1):
            assert f"Page {k} of {len(pages)}" in text, (name, answers, k)
            assert text.lstrip().startswith(course)
            assert ("Answer key" in text) == answers
        first = pages[0]
        assert ("Name:" in first and "Date:" in first) == (not answers)


@needs_tex
def test_points_per_problem_and_the_total(pdfs):
    for (engine, name, answers), (path, _) in pdfs.items():
        data = tomllib.loads((EXAMPLES / f"{name}.toml").read_text())
        asked = [p.get("points") for p in data["problems"]] + [data.get("descent", {}).get("points")]
        asked = [p for p in asked if p is not None]
        text = re.sub(r"\s+", " ", "".join(pdf_pages(path)))
        labels = re.findall(r"(\d+)\. \((\d+(?:\.\d+)?) points?\)", text)
        assert [int(n) for n, _ in labels] == list(range(1, len(asked) + 1))
        assert [float(p) for _, p in labels] == [float(p) for p in asked]
        total = sum(asked)
        assert f"Total: {total:g} points" in text
        if not answers:
            assert f"/ {total:g}" in text  # the score line: ___ / 17


@needs_tex
def test_the_title_block_takes_little_of_page_one(pdfs):
    for (engine, name, answers), (path, _) in pdfs.items():
        height = page_size(path)[1]
        words = words_at(path, 1)
        total = next(y for w, y in words if w == "Total:")
        assert total < 0.22 * height, (name, answers)  # title, Name/Date and instructions above it
        assert any(w == "1." for w, _ in words), (name, answers)  # problem 1 starts on page 1


# -- never stranded ------------------------------------------------------------------------------------
def headings(tex):
    """Every heading the LaTeX writes: bold lines, sections, paragraphs, the Notation box."""
    found = set()
    for pattern in (r"\\textbf\{([^{}]*)\}\\par", r"\\(?:sub)*section\*\{([^{}]*)\}", r"\\paragraph\{([^{}]*)\}",
                    r"\\textbf\{([^{}]*)\}\s*\n"):
        found |= {m.strip() for m in re.findall(pattern, tex)}
    return found | {"Solution:"}


def stranded(pages, tex):
    """The pages (but the last) whose last line of text, above the footer, is a heading."""
    titles = headings(tex)
    bad = []
    for k, text in enumerate(pages[:-1], start=1):
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        while lines and re.fullmatch(r"Page \d+ of \d+", lines[-1]):
            lines.pop()
        if lines and lines[-1] in titles:
            bad.append((k, lines[-1]))
    return bad


def test_the_stranded_heading_counter_finds_a_stranded_heading():
    page = "1. (2 points) Find it.\nSolution:\nSteps\n\n   Page 1 of 2\n"
    assert stranded([page, "x"], r"\textbf{Steps}\par") == [(1, "Steps")]
    assert stranded([page.replace("Steps\n", "Steps\n1. Power rule\n"), "x"], r"\textbf{Steps}\par") == []


@needs_tex
@pytest.mark.parametrize("engine", ENGINES)
def test_no_heading_is_left_alone_at_a_page_foot(pdfs, engine):
    for (_, name, answers), (path, tex) in _versions(pdfs, engine).items():
        assert stranded(pdf_pages(path), tex) == [], (name, answers)


@needs_tex
@pytest.mark.parametrize("engine", ENGINES)
def test_a_question_shares_its_page_with_its_data_and_the_start_of_its_answer(pdfs, engine):
    for (_, name, answers), (path, _) in _versions(pdfs, engine).items():
        pages = pdf_pages(path)
        starts = {}
        for k, text in enumerate(pages, start=1):
            for number in re.findall(r"^\s*(\d+)\. \(", text, flags=re.M):
                starts[int(number)] = k
        assert sorted(starts) == list(range(1, len(starts) + 1))
        for number, k in starts.items():
            after = pages[k - 1].split(f"{number}. (", 1)[1]
            if answers:  # the solution begins on the question's page
                assert "Solution:" in after, (name, number)
        if name == "lesson":  # the [descent] problem's data table is on its page, whole
            data = tomllib.loads((EXAMPLES / "lesson.toml").read_text())["descent"]
            table = pages[starts[max(starts)] - 1].split(f"{max(starts)}. (", 1)[1]
            rows = re.findall(r"^\s*(\d+)\s+[−-]?\d", table, flags=re.M)
            assert [int(r) for r in rows[:data["synthetic"]]] == list(range(1, data["synthetic"] + 1))


# -- paper -----------------------------------------------------------------------------------------
@needs_tex
def test_paper_from_the_set_and_the_same_default_for_explain_standalone(tmp_path, pdfs):
    for key, (path, _) in pdfs.items():
        assert page_size(path) == A4, key  # the default
    letter = tmp_path / "letter.toml"
    letter.write_text('title = "T"\npaper = "letter"\n[[problems]]\nexpression = "x^2"\nwrt = "x"\n')
    out = tmp_path / "letter.pdf"
    handout.write(handout.solve(handout.load(letter)), str(out), "pdf", answers=False)
    assert page_size(out) == LETTER
    from derive.derivation import explain

    tex = tmp_path / "explain.tex"
    tex.write_text(explain("sin(x^2)", wrt="x").to_latex(standalone=True))
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name], cwd=tmp_path,
                   capture_output=True, timeout=120)
    assert page_size(tmp_path / "explain.pdf") == A4


# -- room to work ----------------------------------------------------------------------------------
@needs_tex
def test_room_to_work_follows_the_space_asked(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text('title = "T"\nspace = "3cm"\nworking = "lines"\n'
                    '[[problems]]\nexpression = "x^2"\nwrt = "x"\n'
                    '[[problems]]\nexpression = "x^3"\nwrt = "x"\nspace = "8cm"\nworking = "blank"\n'
                    '[[problems]]\nexpression = "x^4"\nwrt = "x"\n')
    out = tmp_path / "space.pdf"
    handout.write(handout.solve(handout.load(path)), str(out), "pdf", answers=False)
    tops = {}
    for page in range(1, len(pdf_pages(out)) + 1):
        for word, y in words_at(out, page):
            if re.fullmatch(r"[123]\.", word):
                tops[int(word[0])] = (page, y)
    assert tops[1][0] == tops[2][0] == tops[3][0] == 1
    cm = 72.27 / 2.54 * 72 / 72.27  # PDF points per centimetre
    first, second = tops[2][1] - tops[1][1], tops[3][1] - tops[2][1]
    assert abs((second - first) / cm - (8 - 3)) < 0.3  # the same prompt height, 5cm more room


@pytest.mark.parametrize("own, default, points, expected", [
    (None, None, None, 3.0), (None, None, 1, 3.0), (None, None, 4, 7.5), (None, None, 30, 18.0),
    (layout.Space(6.0), None, 4, 6.0), (None, layout.Space(5.0), 4, 5.0),
    (layout.Space(6.0), layout.Space(5.0), 4, 6.0), (None, layout.Space(2.0, per_point=True), 3, 6.0),
    (None, layout.Space(2.0, per_point=True), 20, 18.0), (layout.Space(0.0), None, 5, 0.0),
])
def test_room_by_points_or_as_asked(own, default, points, expected):
    assert layout.room(own, default, points) == pytest.approx(expected)


@pytest.mark.parametrize("value, cm, per_point", [
    ("6cm", 6, False), ("25 mm", 2.5, False), ("2in", 5.08, False), ("1.5cm per point", 1.5, True),
    (" 72.27pt ", 2.54, False),
])
def test_space_is_read_as_a_length(value, cm, per_point):
    space = layout.read_space(value, "set.toml")
    assert space.cm == pytest.approx(cm) and space.per_point == per_point
    assert re.fullmatch(r"\d+(\.\d+)?cm", layout.length(space.cm))


@pytest.mark.parametrize("text, message", [
    ('space = "6 furlongs"', "the key 'space' must be a length"),
    ('space = "30cm"', "more than the 18cm"),
    ('space = "6cm}\\\\input{x}"', "the key 'space' must be a length"),
    ('space = 6', "the key 'space' must be a length"),
    ('paper = "a3"', "the key 'paper' must be \"a4\" or \"letter\""),
    ('working = "dots"', "the key 'working' must be \"box\", \"lines\" or \"blank\""),
])
def test_a_wrong_layout_key_is_one_clear_line(tmp_path, text, message):
    for where, body in (("top", f'title = "T"\n{text}\n[[problems]]\nexpression = "x"\n'),
                        ("problem", f'title = "T"\n[[problems]]\nexpression = "x"\n{text}\n')):
        if where == "problem" and text.startswith("paper"):
            continue  # paper is the set's
        path = tmp_path / "set.toml"
        path.write_text(body)
        with pytest.raises(DeriveError) as error:
            handout.load(path)
        assert message in str(error.value) and str(path) in str(error.value) and "\n" not in str(error.value)
        if where == "problem":
            assert "problem 1" in str(error.value)


def test_html_print_header_holds_the_title_as_typed(tmp_path):
    path = tmp_path / "set.toml"
    path.write_text('title = "Q&A <1> \\"x\\""\ncourse = "C}{"\n[[problems]]\nexpression = "x^2"\nwrt = "x"\n')
    page = handout.render(handout.solve(handout.load(path)), "html", answers=False)
    right = re.search(r'@top-right \{ content: "([^"]*)"', page).group(1)
    left = re.search(r'@top-left \{ content: "([^"]*)"', page).group(1)
    css_text = lambda s: re.sub(r"\\([0-9a-f]+) ", lambda m: chr(int(m.group(1), 16)), s)
    assert css_text(right) == 'Q&A <1> "x"' and css_text(left) == "C}{"
    assert "<title>Q&amp;A &lt;1&gt; &quot;x&quot;</title>" in page


def test_css_strings_cannot_close_their_string_or_the_style():
    text = 'A "course"; } </style><script>alert(1)</script>\\'
    escaped = layout.css_string(text)
    assert re.fullmatch(r"[A-Za-z0-9 \\]*", escaped.replace("\\", "\\"))
    assert '"' not in escaped and "<" not in escaped and "}" not in escaped
    assert layout.css_page_content("Page {page} of {pages}") == '"Page " counter(page) " of " counter(pages)'


# -- notation --------------------------------------------------------------------------------------
@pytest.mark.parametrize("key, kinds, formula", [row for row in notation.FUNCTIONS if row[2] is not None])
def test_each_notation_formula_is_true(key, kinds, formula):
    """Every definition printed in a Notation box holds, checked by SymPy's own functions."""
    from derive.functions import sigmoid

    difference = (formula.lhs - formula.rhs).replace(sigmoid, lambda u: 1 / (1 + sympy.exp(-u)))
    difference = difference.replace(sympy.Function("ReLU"), lambda u: sympy.Piecewise((0, u < 0), (u, True)))
    for z in (-2.3, -0.7, 0.4, 1.9):
        assert abs(complex(difference.subs(notation.Z, z).evalf())) < 1e-12


def _notation_keys(tmp_path, problems, answers):
    body = 'title = "T"\n' + "".join(f'[[problems]]\nexpression = "{e}"\nwrt = "x"\n' for e in problems)
    path = tmp_path / "set.toml"
    path.write_text(body)
    return [row.key for row in notation.notation(handout.solve(handout.load(path)), answers)]


def test_notation_is_read_off_the_expressions(tmp_path):
    keys = _notation_keys(tmp_path, ["sigmoid(x)", "sinh(x) + x^2", "relu(x)"], answers=False)
    assert {"sigmoid", "sinh", "relu", "max"} <= set(keys) and "cosh" not in keys
    assert _notation_keys(tmp_path, ["x^2 + 3x", "sin(x)"], answers=False) == []
    # |x³ − 1|′ is written with sign(x³ − 1): the answer key defines sign, the student version need not
    assert "sign" not in _notation_keys(tmp_path, ["abs(x^3 - 1)"], answers=False)
    assert "sign" in _notation_keys(tmp_path, ["abs(x^3 - 1)"], answers=True)


def test_the_lessons_notation_names_its_symbols(solved):
    rows = notation.notation(solved["lesson"], answers=False)
    keys = [row.key for row in rows]
    assert keys.count("loss") == 1  # mse three times and the descent: one loss
    assert {"loss", "model", "parameter", "examples", "learning_rate", "sum", "partial"} <= set(keys)
    named = {row.name for row in rows if row.key == "parameter"}
    assert named == {"weight", "bias"}


@needs_tex
def test_the_notation_box_is_on_page_one(pdfs):
    for (engine, name, answers), (path, _) in pdfs.items():
        first = pdf_pages(path)[0]
        assert "Notation" in first
        if name == "practice":
            assert "logistic sigmoid" in first and "hyperbolic sine" in first
        else:
            assert "learning rate" in first and "bias" in first


# -- prompts -----------------------------------------------------------------------------------------
def test_teacher_maths_is_typeset_and_teacher_text_is_escaped():
    parts = prompts.read(r"Write the chain rule for $d/dx f(g(x))$ and $dL/dw = 2x$; \input{/etc/passwd} costs \$5 & 10% #_~^",
                         "here")
    tex = prompts.write(parts, "latex")
    assert r"$\displaystyle \frac{d}{dx} f" in tex and r"dL/dw = 2 x$" in tex.replace("{L}", "L").replace("{w}", "w")
    assert r"\input{" not in tex and r"\textbackslash{}input" in tex
    assert r"\$5" in tex and r"\&" in tex and r"\%" in tex and r"\#" in tex and r"\_" in tex
    page = prompts.write(parts, "html")
    assert page.count("<math") == 2 and "<mfrac>" in page and "$5 &amp; 10%" in page
    assert "\\$5" in prompts.write(parts, "markdown")  # a dollar of the text never opens Markdown maths


@pytest.mark.parametrize("prompt, message", [
    ("Find $x +$.", "cannot be read"), ("Find $x^2.", "never closed"), ("It costs $$ here", "holds no maths"),
    ("Find $import os$", "cannot be read"), ("$a = $", "cannot be read"),
])
def test_maths_a_teacher_cannot_write_is_refused_naming_the_problem(tmp_path, prompt, message):
    path = tmp_path / "set.toml"
    path.write_text(f'title = "T"\n[[problems]]\nexpression = "x^2"\nwrt = "x"\nprompt = "{prompt}"\n')
    with pytest.raises(DeriveError) as error:
        handout.solve(handout.load(path))
    text = str(error.value)
    assert message in text and "problem 1" in text and "'prompt'" in text and "\n" not in text


def test_derives_own_prompts_are_maths(solved):
    tex = handout.render(solved["practice"], "latex", answers=False)
    prompts_tex = re.findall(r"\\question\[[^\]]*\]\n(.*)", tex)
    assert len(prompts_tex) == 20
    for line in prompts_tex:
        assert "$" in line and not re.search(r"d/d[a-z]", line.replace("$", "")), line
    assert r"\frac{d}{dx} f{\left(g{\left(x \right)} \right)}" in prompts_tex[18]  # problem 19, the teacher's


@needs_tex
def test_a_teachers_text_prints_as_typed(tmp_path):
    path = tmp_path / "set.toml"
    path.write_text('title = "Odd {title} #1 & 100%"\ncourse = "C_1 ~ \\\\relax"\n'
                    'instructions = "Use \\\\input{/etc/hostname} and $x^2$ { }"\n'
                    '[[problems]]\nexpression = "x^2"\nwrt = "x"\nprompt = "Say \\\\verb|x| and $sin(x)$ ^_^"\n')
    out = tmp_path / "odd.pdf"
    handout.write(handout.solve(handout.load(path)), str(out), "pdf", answers=True)
    text = "".join(pdf_pages(out))
    for typed in ("Odd {title} #1 & 100%", "C_1 ~ \\relax", "\\input{/etc/hostname}", "Say \\verb|x|", "^_^"):
        assert typed in text, typed


# -- HTML: a phone, the heading outline, printing ---------------------------------------------------------
class Outline(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.levels = []

    def handle_starttag(self, tag, attrs):
        if re.fullmatch(r"h[1-6]", tag):
            self.levels.append(int(tag[1]))


def test_html_headings_go_down_one_level_at_a_time(solved):
    for solved_set in solved.values():
        for answers in (True, False):
            outline = Outline()
            outline.feed(handout.render(solved_set, "html", answers=answers))
            levels = outline.levels
            assert levels[0] == 1 and levels.count(1) == 1
            assert all(b <= a + 1 for a, b in zip(levels, levels[1:])), levels


def test_html_maths_has_the_true_minus_sign(solved):
    for solved_set in solved.values():
        page = handout.render(solved_set, "html", answers=True)
        maths = "".join(re.findall(r"<math.*?</math>", page, flags=re.S))
        assert maths.count("\u2212") > 10
        assert not re.search(r"<m[on]>-", maths)  # no hyphen-minus as an operator or in a number


def test_html_asks_for_the_maths_fonts_and_the_paper(solved):
    page = handout.render(solved["lesson"], "html", answers=True)
    stack = re.search(r"math \{ font-family: ([^;]*);", page).group(1)
    assert [f.strip().strip('"') for f in stack.split(",")] == ["STIX Two Math", "Latin Modern Math", "Cambria Math", "math"]
    assert "size: A4" in page


def test_html_prints_on_the_sets_paper(tmp_path):
    path = tmp_path / "set.toml"
    path.write_text('title = "T"\npaper = "letter"\n[[problems]]\nexpression = "x^2"\nwrt = "x"\n')
    page = handout.render(handout.solve(handout.load(path)), "html", answers=False)
    assert re.findall(r"@page \{ size: (\w+)", page) == ["letter"]


PROBE = """<script>
window.addEventListener("load", function () {
  var root = document.documentElement, bad = [];
  function insideScrollBox(el) {
    for (var p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      var x = getComputedStyle(p).overflowX;
      if (x === "auto" || x === "scroll") return true;
    }
    return false;
  }
  document.querySelectorAll("body *").forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > root.clientWidth + 0.5 || r.left < -0.5) && !insideScrollBox(el))
      bad.push(el.tagName.toLowerCase() + " " + Math.round(r.left) + ".." + Math.round(r.right));
  });
  var font = document.querySelector("math") ? getComputedStyle(document.querySelector("math")).fontFamily : "";
  parent.postMessage(JSON.stringify({page: location.pathname.split("/").pop(), width: root.clientWidth,
                                     scrollWidth: root.scrollWidth, bad: bad.slice(0, 10), font: font}), "*");
});
</script>"""


@needs_chromium
def test_html_fits_a_390_px_phone(solved, tmp_path):
    """Each page in a 390 px wide frame (headless Chromium makes no window narrower than
    500 px): nothing is wider than the screen except inside its own scroll box."""
    names = []
    for name, solved_set in solved.items():
        for answers in (True, False):
            page = tmp_path / f"{name}{'-answers' if answers else ''}.html"
            page.write_text(handout.render(solved_set, "html", answers=answers).replace("</body>", PROBE + "</body>"))
            names.append(page.name)
    frames = "".join(f'<iframe src="{n}" style="width:390px;height:800px;border:0"></iframe>' for n in names)
    (tmp_path / "phone.html").write_text(
        f"<!DOCTYPE html><html><body>{frames}<pre id=out></pre><script>window.addEventListener('message',"
        "function (e) { document.getElementById('out').textContent += e.data + '\\n'; });</script></body></html>")
    dom = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1800,900",
                          "--hide-scrollbars",  # a phone's scroll bars take no width
                          "--virtual-time-budget=10000", "--dump-dom", (tmp_path / "phone.html").as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
    results = [json.loads(line) for line in html.unescape(found.group(1)).splitlines() if line.strip()] if found else []
    assert sorted(r["page"] for r in results) == sorted(names), "the pages did not load in Chromium"
    for r in results:
        assert r["width"] == 390 and r["scrollWidth"] <= 390 and r["bad"] == [], r
        assert r["font"].startswith('"STIX Two Math"'), r


def print_to_pdf(page, out, profile):
    """Start Chromium printing ``page`` to ``out``; the caller waits."""
    return subprocess.Popen([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--no-pdf-header-footer",
                             "--virtual-time-budget=5000", f"--print-to-pdf={out}", page.as_uri()],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@needs_chromium
def test_html_prints_with_no_empty_page_and_page_x_of_y(solved, tmp_path):
    versions = (("lesson", True), ("lesson", False), ("practice", True), ("practice", False))
    printing = []
    for name, answers in versions:  # the four print side by side
        page = tmp_path / f"{name}-{answers}.html"
        handout.write(solved[name], str(page), "html", answers=answers)
        printing.append(print_to_pdf(page, tmp_path / f"{name}-{answers}.pdf", tmp_path / f"profile-{name}-{answers}"))
    for process in printing:
        process.wait(timeout=120)
    for name, answers in versions:
        out = tmp_path / f"{name}-{answers}.pdf"
        assert page_size(out) == (595.0, 841.9)  # A4, as the set's default asks
        pages = pdf_pages(out)
        assert len(pages) >= 2
        title = tomllib.loads((EXAMPLES / f"{name}.toml").read_text())["title"]
        assert title in pages[0]  # no blank first page
        for k, text in enumerate(pages, start=1):
            assert f"Page {k} of {len(pages)}" in text
            body = [line for line in text.splitlines() if line.strip() and not re.search(r"Page \d+ of \d+", line)]
            assert len(body) >= 2, (name, answers, k)  # never a page with only the foot of a box on it
            if not answers and k > 1:  # a question is never separated from its box: each page starts with one
                assert re.search(r"^\s*Problem \d+", body[1]), (name, k, body[:2])


def test_points_must_be_finite(tmp_path):
    path = tmp_path / "set.toml"
    path.write_text('title = "T"\n[[problems]]\nexpression = "x^2"\nwrt = "x"\npoints = inf\n')
    with pytest.raises(DeriveError) as error:  # refused as the file is read (issue 10)
        handout.load(path)
    assert "problem 1" in str(error.value) and "'points'" in str(error.value)


@pytest.mark.skipif(not shutil.which("kpsewhich"), reason="kpsewhich is not installed (Debian: texlive-base)")
def test_a_missing_latex_class_is_named_with_its_package_before_tex_runs(monkeypatch):
    preamble = "\\documentclass[11pt]{exam}\n\\usepackage{amsmath, nosuchpackage}\n\\begin{document}"
    with pytest.raises(DeriveError) as error:
        handout.require_tex_files(preamble)
    assert "nosuchpackage.sty is not installed" in str(error.value) and "exam.cls" not in str(error.value)

    class Nothing:  # a machine with TeX but without texlive-latex-extra
        stdout = ""

    monkeypatch.setattr(handout.subprocess, "run", lambda *a, **k: Nothing())
    with pytest.raises(DeriveError) as error:
        handout.require_tex_files(preamble)
    assert "exam.cls" in str(error.value) and "apt-get install texlive-latex-extra" in str(error.value)
