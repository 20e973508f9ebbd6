"""Hostile problem sets, templates, data files and outputs (issue 10): nothing leaks,
nothing runs, nothing hangs. SECURITY.md says what each wall is; these tests knock on it.

The references are independent of the code under test: the code points come from
``unicodedata``, TeX itself says what it read (its log and recorder), pdftotext says what a
reader of the PDF sees, Python's HTML parser and pandoc say what a browser would build
from the HTML and Markdown, and /proc says which processes are left.
"""

import html
import html.parser
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest

from derive.cli.main import main
from derive.errors import DeriveError
from derive.handout import build

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
HAS_TEX = bool(shutil.which("pdflatex") and shutil.which("pdftotext"))
needs_tex = pytest.mark.skipif(not HAS_TEX, reason="TeX Live and poppler-utils are not installed "
                                                   "(Debian: texlive-latex-base poppler-utils; .ci/run installs them)")
TEX_SPECIALS = set("\\{}$&#^_%~")
TEXT_FIELDS = ("title", "author", "course", "date", "instructions", "prompt", "descent_prompt", "data", "x", "y")


def _forms(ch):
    """Every form a normalisation or a case mapping could give a character."""
    forms = {unicodedata.normalize(form, ch) for form in ("NFKD", "NFKC", "NFD", "NFC")}
    return forms | {ch.casefold(), ch.upper(), ch.lower()}


# Every code point (not ASCII) that some normalisation turns into a TeX special: generated,
# never listed by hand. The issue counted 24 (fullwidth, small forms, vertical forms).
FOLDING = "".join(chr(cp) for cp in range(sys.maxunicode + 1)
                  if not chr(cp).isascii() and unicodedata.category(chr(cp)) != "Cs"
                  and any(c in TEX_SPECIALS for form in _forms(chr(cp)) for c in form))


SPACED = " ".join(FOLDING)  # so TeX may break a line between them: nothing runs off the page


def run(capsys, *argv):
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    out, err = capsys.readouterr()
    return done.value.code, out, err


def toml_string(text):
    """A TOML basic string holding ``text`` exactly (controls escaped as TOML requires)."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def problem_set(folder, fields, *, data_rows=((0.0, 1.0), (1.0, 3.1), (2.0, 4.9))):
    """A problem set in ``folder`` with every text field from ``fields`` (a dict over
    TEXT_FIELDS), one expression problem and a [descent] on a data file of its own."""
    data = folder / fields["data"]
    lines = [",".join('"' + v.replace('"', '""') + '"' for v in (fields["x"], fields["y"]))]
    lines += [f"{x},{y}" for x, y in data_rows]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    text = "\n".join([
        f"title = {toml_string(fields['title'])}",
        f"author = {toml_string(fields['author'])}",
        f"course = {toml_string(fields['course'])}",
        f"date = {toml_string(fields['date'])}",
        f"instructions = {toml_string(fields['instructions'])}",
        "[[problems]]", 'expression = "x^2"', 'wrt = "x"', f"prompt = {toml_string(fields['prompt'])}",
        "[descent]", 'name = "mse"', f"data = {toml_string(fields['data'])}",
        f"x = {toml_string(fields['x'])}", f"y = {toml_string(fields['y'])}",
        f"prompt = {toml_string(fields['descent_prompt'])}", "steps = 3", ""])
    path = folder / "set.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _tag(field):
    return f"Q{TEXT_FIELDS.index(field)}Q"  # digits: TeX never hyphenates it


def marked(field, text):
    """``text`` between two markers naming the field, so it can be found in any output."""
    return f"{_tag(field)}A{text}{_tag(field)}Z"


def segments(output, field):
    return re.findall(rf"{_tag(field)}A(.*?){_tag(field)}Z", output, flags=re.S)


def pdf_text(pdf_bytes, tmp_path):
    path = tmp_path / "read.pdf"
    path.write_bytes(pdf_bytes)
    return subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True,
                          timeout=60, check=True).stdout


# Every TeX escape that derive's LaTeX escaping may write for one character, and what is
# left once they are all taken out must hold no TeX special at all.
_SAFE_TEX = re.compile(r"\\(?:textbackslash|textasciitilde|textasciicircum|textless|textgreater|textbar)\{\}"
                       r"|\\[&%$#_{}]|\{[\[\]]\}|\\ensuremath\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}")


def tex_specials_left(segment):
    return sorted(set(_SAFE_TEX.sub("", segment)) & TEX_SPECIALS)


# -- 1. Unicode that folds into TeX --------------------------------------------------------------------
def test_the_folding_code_points_include_those_the_issue_found():
    assert len(FOLDING) >= 24
    assert {"\uff3c", "\uff5b", "\uff5d", "\ufe68", "\ufe5b", "\uff3f", "\uff05", "\uff04"} <= set(FOLDING)


@pytest.fixture(scope="module")
def folded_handout(tmp_path_factory):
    """A problem set whose every text field holds every folding code point, solved."""
    folder = tmp_path_factory.mktemp("folding")
    fields = {field: marked(field, SPACED) for field in TEXT_FIELDS}
    fields["data"] = marked("data", SPACED) + ".csv"
    path = problem_set(folder, fields)
    return build.solve(build.load(path)), fields


def test_no_folding_character_becomes_tex_in_any_field(folded_handout):
    handout, fields = folded_handout
    shown = set()
    for answers in (True, False):  # every field is in one version or the other (the date: the student's)
        tex = build.render(handout, "latex", answers=answers)
        assert tex.isascii()
        for field in TEXT_FIELDS:
            for segment in segments(tex, field):
                shown.add(field)
                assert tex_specials_left(segment) == [], (field, segment)
    assert shown == set(TEXT_FIELDS)


@needs_tex
def test_the_pdf_shows_the_folding_characters_as_typed(folded_handout, tmp_path):
    """pdflatex compiles it and a reader sees each field's characters (folded to ASCII:
    ＼ as a printed backslash), never a command run."""
    handout, fields = folded_handout
    pdfs = build.tex.compile_to_bytes([build.render(handout, "pdf", answers=answers) for answers in (True, False)])
    text = "".join(re.sub(r"\s+", "", pdf_text(pdf, tmp_path)) for pdf in pdfs)
    expected = "".join(unicodedata.normalize("NFKD", ch) for ch in FOLDING)
    for field in TEXT_FIELDS:
        found = segments(text, field)
        assert found, field
        assert all(seg == expected for seg in found), (field, found[0], expected)


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_markdown_and_html_keep_the_folding_characters_as_they_are(folded_handout, fmt):
    """Markdown and HTML do not fold Unicode: the characters stay what they were, unescaped
    into nothing else."""
    handout, fields = folded_handout
    text = build.render(handout, fmt, answers=True) + build.render(handout, fmt, answers=False)
    for field in TEXT_FIELDS:
        found = segments(text, field)
        assert found, field
        # in HTML, the page header's copy of a field is a CSS string (\ff3c escapes)
        css = [re.sub(r"\\([0-9a-f]{1,6}) ?", lambda m: chr(int(m.group(1), 16)), seg) for seg in found]
        assert all(html.unescape(seg) == SPACED or c == SPACED for seg, c in zip(found, css)), (field, found[0])


@needs_tex
def test_descend_latex_escapes_the_data_path_and_the_columns(capsys, tmp_path):
    name, x, y = marked("data", SPACED) + ".csv", marked("x", SPACED), marked("y", SPACED)
    (tmp_path / name).write_text(f'"{x}","{y}"\n0,1\n1,3\n2,5.1\n', encoding="utf-8")
    out = tmp_path / "d.tex"
    code, _, err = run(capsys, "descend", "mse", "--data", str(tmp_path / name), "--x", x, "--y", y,
                       "--steps", "3", "--format", "latex", "--standalone", "-o", str(out))
    assert code == 0, err
    tex = out.read_text(encoding="utf-8")
    for field in ("data", "x", "y"):
        assert segments(tex, field), field
        for segment in segments(tex, field):
            assert tex_specials_left(segment) == [], (field, segment)
    text = re.sub(r"\s+", "", pdf_text(build.tex.compile_to_bytes([tex])[0], tmp_path))
    expected = "".join(unicodedata.normalize("NFKD", ch) for ch in FOLDING)
    assert segments(text, "x") and all(seg == expected for seg in segments(text, "x"))


@pytest.mark.parametrize("text", ["＼input｛/etc/passwd｝", "﹨loop﹨iftrue﹨repeat", "a＿b＾c ％ ＄x＄ ＆ ＃ ～",
                                  "x \\input{/etc/passwd} {} $ & # ^ _ % ~ [opt] <a|b>"])
def test_latex_escape_leaves_no_tex_special_of_the_text(text):
    from derive.render.printing import latex_escape, unicode_to_latex

    escaped = latex_escape(text)
    assert escaped.isascii() and tex_specials_left(escaped) == []
    assert unicode_to_latex(escaped) == escaped  # the document-wide pass leaves it as it is


# -- 2. The TeX engine locked down -------------------------------------------------------------------
DOCUMENT = "\\documentclass{article}\n\\begin{document}\nstart\n%s\nend\n\\end{document}\n"


@needs_tex
@pytest.mark.parametrize("body", [
    "\\input{/etc/hostname}",
    "\\input{../outside.tex}",
    "\\input{\\string~/secret.tex}",
    "\\openin5=/etc/hostname \\read5 to\\line \\line",
    "\\immediate\\openout5=/tmp/derive-wrote-this.tex \\immediate\\write5{x}\\immediate\\closeout5",
])
def test_tex_reads_and_writes_nothing_outside_its_job(tmp_path, monkeypatch, body):
    """Straight into derive's compile function, no escaping in front: the engine itself
    refuses (openin_any/openout_any) or derive refuses its output (the recorder)."""
    monkeypatch.setenv("HOME", str(tmp_path))  # ~ is this folder, with a secret in it
    (tmp_path / "secret.tex").write_text("SECRETCANARY\n")
    target = tmp_path / "out.pdf"
    try:
        build.compile_pdfs([(DOCUMENT % body, target)])
    except DeriveError:
        pass
    else:
        assert target.is_file()
        text = pdf_text(target.read_bytes(), tmp_path)
        assert "SECRETCANARY" not in text and open("/etc/hostname").read().strip() not in text.split()
    assert not Path("/tmp/derive-wrote-this.tex").exists()


@needs_tex
def test_tex_runs_no_shell_command(tmp_path):
    mark = tmp_path / "shell-escape-ran"
    target = tmp_path / "out.pdf"
    body = f"\\immediate\\write18{{touch {mark}}}\\input{{|\"touch {mark}\"}}"
    with pytest.raises(DeriveError):
        build.compile_pdfs([(DOCUMENT % body, target)])
    assert not mark.exists() and not target.exists()


@needs_tex
def test_a_run_that_read_outside_says_so_and_writes_no_pdf(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "secret.tex").write_text("SECRETCANARY\n")
    target = tmp_path / "out.pdf"
    with pytest.raises(DeriveError) as error:
        build.compile_pdfs([(DOCUMENT % "\\input{\\string~/secret.tex}", target)])
    assert "outside its job folder" in str(error.value) and "SECRETCANARY" not in str(error.value)
    assert not target.exists()


def test_the_engines_are_started_locked_down(monkeypatch):
    from derive import tex

    for name in ("pdflatex", "latexmk"):
        command = " ".join(tex._command(name, "/nowhere/reads.fls"))
        assert "-no-shell-escape" in command and "-recorder" in command and "-no-parse-first-line" in command
    assert "-norc" in tex._command("latexmk", "/r")
    env = tex._environment()
    assert env["openin_any"] == "p" and env["openout_any"] == "p" and env["shell_escape"] == "f"
    monkeypatch.setenv("DERIVE_TEX_ENGINE", "lualatex")
    with pytest.raises(DeriveError, match="DERIVE_TEX_ENGINE"):
        tex.engine()


# -- 3. A TeX timeout ends every process it started ------------------------------------------------
def _alive_in(folders):
    """Processes (not zombies) whose working folder is one of ``folders`` (or was, deleted)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and any(cwd == f or cwd.startswith(f + "/") or cwd == f + " (deleted)" for f in folders):
            found.append(int(entry.name))
    return found


@needs_tex
@pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="needs Linux /proc to see the processes")
def test_a_tex_timeout_leaves_no_engine_running(tmp_path, monkeypatch):
    folders = []
    real_popen = subprocess.Popen

    def watched(*args, **kwargs):
        folders.append(str(kwargs.get("cwd")))
        return real_popen(*args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", watched)
    monkeypatch.setattr(build, "TEX_SECONDS", 1.5)
    try:
        with pytest.raises(DeriveError, match="longer than"):
            build.compile_pdfs([(DOCUMENT % "\\loop\\iftrue\\repeat", tmp_path / "out.pdf")])
        deadline = time.monotonic() + 3
        while _alive_in(folders) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert folders and _alive_in(folders) == []
    finally:
        for pid in _alive_in(folders):  # never leave one spinning, whatever the verdict
            os.kill(pid, signal.SIGKILL)


# -- 4. Template folders from others run in a sandbox --------------------------------------------------
@pytest.mark.parametrize("template, mark_name", [
    ("{{ lipsum.__globals__['os'].popen('touch MARK').read() }}", "MARK"),
    ("{{ cycler.__init__.__globals__.os.system('touch MARK') }}", "MARK"),
    ("{{ items[0].document.result.subs(\"__import__('os').system('touch MARK')\", 1) }}", "MARK"),
    ("{{ descent.run.data.x.tofile('MARK') }}", "MARK"),
    ("{{ items[0].document.result.func(\"__import__('os').system('touch MARK')\") }}", "MARK"),
])
def test_a_template_folder_runs_no_code(tmp_path, capsys, monkeypatch, template, mark_name):
    mine = tmp_path / "letterhead"
    mine.mkdir()
    (mine / "handout_markdown.j2").write_text(template.replace("MARK", str(tmp_path / mark_name)))
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "handout", str(EXAMPLES / "lesson.toml"), "-o", str(tmp_path / "h.md"),
                       "--templates", str(mine))
    assert not (tmp_path / mark_name).exists()
    assert code == 2 and err.startswith("Error: ") and err.count("\n") == 1 and "sandbox" in err
    assert not (tmp_path / "h.md").exists()


def test_a_template_folder_cannot_link_to_a_file_outside(tmp_path):
    mine = tmp_path / "letterhead"
    mine.mkdir()
    (tmp_path / "private.txt").write_text("PRIVATE")
    (mine / "handout_markdown.j2").symlink_to(tmp_path / "private.txt")
    handout = build.solve(build.load(EXAMPLES / "lesson.toml"))
    with pytest.raises(DeriveError, match="outside its folder"):
        build.render(handout, "markdown", templates=mine)


@pytest.mark.parametrize("fmt", ["markdown", "latex", "html"])
def test_derives_own_templates_work_the_same_in_the_sandbox(tmp_path, fmt):
    """A folder that overrides nothing puts every packaged template through the sandbox:
    what it writes is exactly what the plain environment writes."""
    from derive import derivation, descend
    from derive.render import formats

    empty = tmp_path / "empty"
    empty.mkdir()
    for example in ("lesson.toml", "practice.toml"):
        handout = build.solve(build.load(EXAMPLES / example))
        for answers in (True, False):
            assert build.render(handout, fmt, answers=answers) == \
                build.render(handout, fmt, answers=answers, templates=empty), (example, answers)
    for document in (derivation.explain("f(x^2)", wrt="x"), derivation.gradient("mse", wrt="all")):
        assert formats.render(document, fmt) == formats.render(document, fmt, directory=empty)
    run_ = descend.descend("mse", descend.synthetic(6), steps=5)
    assert descend.render(run_, fmt) == descend.render(run_, fmt, directory=empty)


# -- 5. Time bounds that nest and hold ------------------------------------------------------------------
def _spin(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_an_outer_bound_is_never_swallowed_by_an_inner_except():
    from derive.limits import TimeLimit, time_limit

    started = time.monotonic()
    with pytest.raises(TimeLimit) as error:
        with time_limit(0.3) as outer:
            for _ in range(200):
                try:
                    with time_limit(5):
                        _spin(0.05)
                except TimeLimit:  # what rules.tidy and verify.check do with their own bound
                    pass
                try:
                    _spin(0.01)
                except Exception:  # and what any library may do
                    pass
    assert error.value.bound is outer and time.monotonic() - started < 1.5


def test_an_inner_bound_ends_quietly_and_never_outlives_the_outer_one():
    from derive.limits import TimeLimit, time_limit

    with time_limit(5) as outer:
        with time_limit(0.1, quiet=True) as inner:
            _spin(1)
        assert inner.expired and not outer.expired
    started = time.monotonic()
    with pytest.raises(TimeLimit) as error:
        with time_limit(0.2) as outer:
            with time_limit(30, quiet=True):  # longer than the outer: the outer still ends it
                _spin(5)
    assert error.value.bound is outer and time.monotonic() - started < 1
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0


def test_a_timer_armed_before_the_first_bound_is_kept():
    from derive.limits import time_limit

    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *_: fired.append(True))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.4)
        with time_limit(0.1, quiet=True):
            _spin(0.3)
        assert not fired and 0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 0.4
        _spin(0.4)
        assert fired == [True]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _lets(count, make):
    return [arg for k in range(1, count + 1) for arg in ("--let", make(k))]


BOMBS = {
    # 20 chained names, each the product of the previous two (the issue: still running at 150 s)
    "products": ["explain", "a20", "--wrt", "x"] + _lets(
        20, lambda k: "a1 = x^2" if k == 1 else "a2 = x + a1" if k == 2 else f"a{k} = a{k - 1} * a{k - 2}"),
    # 12 nested sin + cos names (300 s)
    "sin_cos": ["explain", "s12", "--wrt", "x"] + _lets(
        12, lambda k: "s1 = sin(x) + cos(x)" if k == 1 else f"s{k} = sin(s{k - 1}) + cos(s{k - 1})"),
}
BOUND = 2  # seconds, set through DERIVE_TIME_LIMIT: the 60 s default would make slow tests
SLACK = 8  # start-up and the last uninterruptible call, generously


def _bounded_run(argv, tmp_path):
    env = dict(os.environ, DERIVE_TIME_LIMIT=str(BOUND), PYTHONPATH=str(ROOT))
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", "derive", *argv], capture_output=True, text=True,
                              timeout=BOUND + SLACK + 10, env=env, cwd=tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail(f"derive {argv[0]} was still running after {BOUND + SLACK + 10} s with a {BOUND} s bound")
    return done, time.monotonic() - started


@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_the_bound_holds_on_the_bombs_of_the_issue(tmp_path, bomb):
    done, took = _bounded_run(BOMBS[bomb], tmp_path)
    assert done.returncode == 2 and done.stderr.startswith(f"Error: gave up after {BOUND} s"), done.stderr
    assert took < BOUND + SLACK and "Traceback" not in done.stderr


def test_the_bound_holds_for_a_handout(tmp_path):
    lets = ", ".join(["s1 = \"sin(x) + cos(x)\""] + [f"s{k} = \"sin(s{k - 1}) + cos(s{k - 1})\"" for k in range(2, 13)])
    (tmp_path / "bomb.toml").write_text(f'title = "t"\n[[problems]]\nexpression = "s12"\nwrt = "x"\n'
                                        f"let = {{ {lets} }}\n")
    done, took = _bounded_run(["handout", "bomb.toml", "-o", "bomb.md"], tmp_path)
    assert done.returncode == 2 and done.stderr.startswith(f"Error: gave up after {BOUND} s"), done.stderr
    assert took < BOUND + SLACK and not (tmp_path / "bomb.md").exists()


def test_the_bound_holds_for_descend(tmp_path):
    done, took = _bounded_run(["descend", "mse", "--synthetic", "3000000", "--steps", "1000000",
                               "--tol", "0", "--learning-rate", "1e-9", "--format", "json"], tmp_path)
    # no early stop: with so small a rate the loss changes at every one of the million steps,
    # hours of work (at the default rate it can settle exactly and finish inside the bound)
    assert done.returncode == 2 and done.stderr.startswith(f"Error: gave up after {BOUND} s"), done.stderr
    assert took < BOUND + SLACK


def test_the_bound_holds_for_check(capsys, monkeypatch):
    """derive check: whatever part of the checking runs long, the command's bound ends it."""
    import derive.grade.answer as answer

    monkeypatch.setenv("DERIVE_TIME_LIMIT", "0.5")
    monkeypatch.setattr(answer, "check_answer", lambda *args, **kwargs: _spin(30))
    started = time.monotonic()
    code, _, err = run(capsys, "check", "x^2", "--answer", "2x")
    assert code == 2 and err.startswith("Error: gave up after 0.5 s") and time.monotonic() - started < 5


def test_a_bad_time_limit_is_one_line(capsys, monkeypatch):
    monkeypatch.setenv("DERIVE_TIME_LIMIT", "soon")
    code, _, err = run(capsys, "explain", "x^2")
    assert code == 2 and "DERIVE_TIME_LIMIT" in err and err.count("\n") == 1


# -- 6. [descent] data stays in the problem set's folder ------------------------------------------------
@pytest.mark.parametrize("where", ["absolute", "home", "parent", "link", "missing_outside"])
def test_descent_data_outside_the_folder_is_refused(tmp_path, monkeypatch, where):
    monkeypatch.setenv("HOME", str(tmp_path))
    folder = tmp_path / "shared"
    folder.mkdir()
    grades = tmp_path / "grades.csv"
    grades.write_text("student_id,grade\n101,58\n102,91\n")
    data = {"absolute": str(grades), "home": "~/grades.csv", "parent": "../grades.csv", "link": "grades.csv",
            "missing_outside": "../no-such.csv"}[where]
    if where == "link":
        (folder / "grades.csv").symlink_to(grades)
    (folder / "set.toml").write_text(f'title = "t"\n[[problems]]\nexpression = "x^2"\nwrt = "x"\n'
                                     f'[descent]\nname = "mse"\ndata = {toml_string(data)}\n'
                                     'x = "student_id"\ny = "grade"\n')
    with pytest.raises(DeriveError) as error:
        build.solve(build.load(folder / "set.toml"))
    message = str(error.value)
    assert "problem set's folder" in message and "outside" in message and "91" not in message


def test_data_inside_the_folder_and_below_is_fine(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "points.csv").write_text("x,y\n0,1\n1,3\n2,5\n")
    (tmp_path / "set.toml").write_text('title = "t"\n[[problems]]\nexpression = "x^2"\nwrt = "x"\n'
                                       '[descent]\nname = "mse"\ndata = "data/points.csv"\nsteps = 2\n')
    handout = build.solve(build.load(tmp_path / "set.toml"))
    assert handout.descent.run.data.n == 3


@pytest.mark.parametrize("content", [
    "root:x:0:0:CANARYroot:/root:/bin/bash\ndaemon:x:1:1\n",  # /etc/passwd: a header with no x
    "x,y\n1,CANARY_SECRET\n",  # a cell that is not a number
    "x,y\n1,2\nCANARY_SECRET,inf\n",
    'x,y\n1,"CANARY\x00SECRET"\n',
])
def test_no_data_error_quotes_the_file(tmp_path, capsys, content):
    path = tmp_path / "d.csv"
    path.write_text(content)
    code, _, err = run(capsys, "descend", "mse", "--data", str(path))
    assert code == 2 and err.count("\n") == 1 and "CANARY" not in err and "SECRET" not in err, err
    assert re.search(r"line \d|column|header", err), err


def test_a_handouts_data_file_is_held_to_its_size(tmp_path):
    rows = "".join(f"{k},{2 * k}\n" for k in range(build.MAX_DESCENT_POINTS + 1))
    (tmp_path / "big.csv").write_text("x,y\n" + rows)
    (tmp_path / "set.toml").write_text('title = "t"\n[[problems]]\nexpression = "x^2"\nwrt = "x"\n'
                                       '[descent]\nname = "mse"\ndata = "big.csv"\nsteps = 2\n')
    with pytest.raises(DeriveError, match=f"at most {build.MAX_DESCENT_POINTS:,} points"):
        build.solve(build.load(tmp_path / "set.toml"))


# -- 7. Markdown: no HTML, no Markdown, no new blocks from a text field --------------------------------
HOSTILE_MARKDOWN = {
    "title": "<script>alert(1)</script> & <img src=x onerror=alert(2)>",
    "author": "<details open ontoggle=alert(3)>",
    "course": "![beacon](http://evil.example/b.png) [click](javascript:alert(4))",
    "instructions": "Read this.\n\n## Problem 99 (100 points)\n\n<iframe src=//evil.example></iframe>\n"
                    "| a | b |\n|---|---|\n- item\n1. first\n> quote\n    code\n\\$\\input{/etc/passwd}\\$ `x` *e* _u_ ~~s~~"
                    " and maths, $x^2$, which derive sets itself",
    "prompt": "# Not a heading <b onclick=alert(5)>bold</b> <!-- comment --> &lt;kept&gt;",
    "descent_prompt": "=== \n- not a list\n[^1] @cite <http://evil.example>",
}


@pytest.fixture(scope="module")
def hostile_markdown(tmp_path_factory):
    folder = tmp_path_factory.mktemp("markdown")
    fields = {f: "plain" for f in TEXT_FIELDS}
    fields.update(HOSTILE_MARKDOWN, date="2024", data="d.csv", x="x", y="y")
    handout = build.solve(build.load(problem_set(folder, fields)))
    return fields, {answers: build.render(handout, "markdown", answers=answers) for answers in (True, False)}


class _Html(html.parser.HTMLParser):
    """What a browser would build: the tags, their attributes, and the text."""

    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def handle_comment(self, data):
        self.tags.append(("!--", {}))


def test_markdown_fields_make_no_html_and_no_blocks(hostile_markdown):
    """Pure Python: no tag, no comment, no heading, list, quote or table line comes from a field."""
    fields, outputs = hostile_markdown
    for markdown in outputs.values():
        assert "\x00" not in markdown and "<script" not in markdown and "<img" not in markdown.lower()
        assert not re.search(r"<[A-Za-z!/]", markdown.replace("<br>", "")), "raw HTML reached the Markdown"
        headings = [line for line in markdown.splitlines() if line.startswith("#")]
        assert all(re.match(r"#+ (Problem \d+ |Calculating|t(itle)?\b|\S)", h) for h in headings)
        assert not any("Problem 99" in h or "Not a heading" in h for h in headings), headings
        for line in markdown.splitlines():
            for value in fields.values():
                first = value.split("\n", 1)[0][:12]
                if first and line.startswith(first) and first[0] in "#>-|=1":
                    pytest.fail(f"a field starts a block: {line!r}")
        assert not re.search(r"(?<!\\)\]\((javascript|http://evil)", markdown), "a link or image got through"


@pytest.mark.skipif(not shutil.which("pandoc"), reason="pandoc is not installed (Debian: pandoc)")
def test_markdown_through_pandoc_shows_the_fields_as_typed(hostile_markdown, tmp_path):
    fields, outputs = hostile_markdown
    for answers, markdown in outputs.items():
        page = subprocess.run(["pandoc", "-f", "markdown-smart", "-t", "html"], input=markdown, capture_output=True,
                              text=True, timeout=60, check=True).stdout
        parsed = _Html()
        parsed.feed(page)
        tags = {tag for tag, _ in parsed.tags}
        assert not tags & {"script", "img", "iframe", "details", "b", "!--", "blockquote", "pre", "code"}, tags
        assert "<th>a</th>" not in page.replace(" ", "") and "<li>item" not in page
        assert not any(k.startswith("on") for _, attrs in parsed.tags for k in attrs)
        assert not any(a.get("href", "").startswith(("javascript", "http://evil")) for _, a in parsed.tags)
        heads = [t for t, _ in parsed.tags if t in ("h1", "h2", "h3")]
        assert len([t for t in heads if t == "h2"]) == 2, heads  # problem 1 and the descent problem
        seen = " ".join("".join(parsed.text).split())
        for field in ("title", "author", "prompt"):
            assert " ".join(fields[field].split()) in seen, field


# -- 9. Writing files ----------------------------------------------------------------------------------
def test_a_planted_link_is_replaced_not_followed(tmp_path):
    from derive.files import write_whole

    victim = tmp_path / "bashrc"
    victim.write_text("precious")
    (tmp_path / "out.md").symlink_to(victim)
    write_whole(tmp_path / "out.md", "handout")
    assert victim.read_text() == "precious"
    assert not (tmp_path / "out.md").is_symlink() and (tmp_path / "out.md").read_text() == "handout"


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_device_or_pipe_is_never_replaced(tmp_path, kind):
    from derive.files import write_whole

    node = tmp_path / "node"
    if kind == "fifo":
        os.mkfifo(node)
    else:
        try:
            os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # what /dev/null is
        except PermissionError:
            pytest.skip("making a device node needs root")
    with pytest.raises(DeriveError, match="not a regular file"):
        write_whole(node, "x")
    mode = os.lstat(node).st_mode
    assert (stat.S_ISFIFO(mode) if kind == "fifo" else stat.S_ISCHR(mode))
    assert [p.name for p in tmp_path.iterdir()] == ["node"]


def test_dev_stdout_is_written_through(tmp_path):
    """``-o /dev/stdout`` writes to standard output. (Tested through a link of our own to
    /proc/self/fd/1, as /dev/stdout is: code that replaced the link, as derive once did,
    then replaces a file in tmp_path, not the machine's /dev/stdout.)"""
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    done = subprocess.run([sys.executable, "-m", "derive", "explain", "x^2", "--format", "text", "-o", str(link)],
                          capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0 and "The derivative of x² with respect to x" in done.stdout, done.stderr
    assert link.is_symlink()


def test_outputs_get_the_permissions_a_user_expects(tmp_path):
    from derive.files import write_whole

    old = os.umask(0o022)
    try:
        write_whole(tmp_path / "new.html", "x")
        assert stat.S_IMODE(os.stat(tmp_path / "new.html").st_mode) == 0o644
        os.umask(0o077)
        write_whole(tmp_path / "private.html", "x")
        assert stat.S_IMODE(os.stat(tmp_path / "private.html").st_mode) == 0o600
        (tmp_path / "kept.html").write_text("old")
        os.chmod(tmp_path / "kept.html", 0o640)
        write_whole(tmp_path / "kept.html", "new")
        assert stat.S_IMODE(os.stat(tmp_path / "kept.html").st_mode) == 0o640
    finally:
        os.umask(old)


@pytest.mark.parametrize("which", ["problem set", "answers", "data"])
def test_an_output_that_is_an_input_is_refused(tmp_path, capsys, which):
    (tmp_path / "d.csv").write_text("x,y\n0,1\n1,3\n")
    path = tmp_path / "set.toml"
    path.write_text('title = "t"\n[[problems]]\nexpression = "x^2"\nwrt = "x"\n'
                    '[descent]\nname = "mse"\ndata = "d.csv"\nsteps = 2\n')
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    argv = {"problem set": ["-o", str(path), "--format", "markdown"],
            "answers": ["-o", str(tmp_path / "set.md"), "--both"],
            "data": ["-o", str(tmp_path / "d.csv"), "--format", "markdown"]}[which]
    if which == "answers":  # set-answers.md would be the input: name the input so
        path = path.rename(tmp_path / "set-answers.md")
        before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    code, _, err = run(capsys, "handout", str(path), *argv)
    assert code == 2 and "itself" in err and err.count("\n") == 1
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


# -- 11. The smaller ones -------------------------------------------------------------------------------
def test_control_characters_never_reach_the_terminal(tmp_path, capsys):
    (tmp_path / "set.toml").write_text('title = "t"\n"\\u001b]0;pwned\\u0007\\u001b[2J" = 1\n'
                                       '[[problems]]\nexpression = "x"\n')
    code, _, err = run(capsys, "handout", str(tmp_path / "set.toml"), "-o", str(tmp_path / "h.md"))
    assert code == 2 and "\x1b" not in err and "\x07" not in err and "\\x1b" in err and err.count("\n") == 1
    code, _, err = run(capsys, "explain", "x", "--wrt", "\x1b[31mred\u202e")
    assert "\x1b" not in err and "\u202e" not in err
    code, _, err = run(capsys, "descend", "mse", "--data", str(tmp_path / "no\x1b[2J.csv"))
    assert code == 2 and "\x1b" not in err


def test_nul_and_esc_in_text_fields_reach_no_output(tmp_path):
    fields = {f: f"a\x00b\x1b[31mc\x7f\u202ed{f}" for f in TEXT_FIELDS}
    fields.update(data="d.csv", x="x", y="y")
    handout = build.solve(build.load(problem_set(tmp_path, fields)))
    for fmt in ("markdown", "latex", "html"):
        text = build.render(handout, fmt, answers=True)
        assert not set(text) & {"\x00", "\x1b", "\x7f", "\u202e"}, fmt
        assert "abcdtitle" in re.sub(r"\\?\[31m|\{\[\}31m", "", text), fmt


@needs_tex
def test_names_with_underscores_compile(tmp_path, capsys):
    from derive import derivation, tex

    document = derivation.explain("x_1_2_3^2 + y__ * x_1_2_3", wrt="x_1_2_3")
    pdf = tex.compile_to_bytes([document.to_latex(standalone=True)])[0]
    assert "x" in pdf_text(pdf, tmp_path)


@needs_tex
def test_angle_brackets_and_bars_print_as_typed(tmp_path):
    fields = {f: "plain" for f in TEXT_FIELDS}
    fields.update(title="a < b > c | d", data="d.csv", x="x", y="y", date="2024")
    handout = build.solve(build.load(problem_set(tmp_path, fields)))
    text = pdf_text(build.tex.compile_to_bytes([build.render(handout, "pdf")])[0], tmp_path)
    assert "a < b > c | d" in text and "¡" not in text and "¿" not in text


@pytest.mark.parametrize("points", ["nan", "inf", "-inf"])
def test_points_must_be_finite(tmp_path, points):
    (tmp_path / "set.toml").write_text(f'title = "t"\n[[problems]]\nexpression = "x^2"\npoints = {points}\n')
    with pytest.raises(DeriveError, match="'points'"):
        build.load(tmp_path / "set.toml")


def test_a_byte_order_mark_is_fine(tmp_path):
    (tmp_path / "set.toml").write_bytes(b"\xef\xbb\xbf" + 'title = "BOM"\n[[problems]]\nexpression = "x^2"\n'.encode())
    assert build.load(tmp_path / "set.toml").title == "BOM"


def test_the_plot_path_is_escaped(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "d.md"
    code, _, err = run(capsys, "descend", "mse", "--synthetic", "5", "--steps", "2", "--format", "markdown",
                       "-o", str(out), "--plot", str(tmp_path / "my plot)(javascript:x.png"))
    if code == 0:  # written: the link is percent-encoded, so it can neither end early nor be javascript:
        link = re.search(r"!\[[^\n]*?\]\(([^)\s]*)\)", out.read_text()).group(1)
        assert link == "my%20plot%29%28javascript%3Ax.png"
    else:  # or refused, in one line, with nothing written
        assert code == 2 and err.count("\n") == 1 and not out.exists()
    code, _, err = run(capsys, "descend", "mse", "--synthetic", "5", "--steps", "2", "--format", "latex",
                       "-o", str(tmp_path / "d.tex"), "--plot", str(tmp_path / "a}\\input{x.png"))
    assert code == 2 and "cannot be written into LaTeX" in err and not (tmp_path / "d.tex").exists()


def test_a_full_disk_is_one_line(tmp_path, capsys, monkeypatch):
    import errno
    import tempfile

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "derive-tex-x"))

    monkeypatch.setattr(tempfile, "TemporaryDirectory", full)
    monkeypatch.setattr(tempfile, "mkstemp", full)
    for argv in (["handout", str(EXAMPLES / "lesson.toml"), "-o", str(tmp_path / "h.pdf")],
                 ["explain", "x^2", "-o", str(tmp_path / "e.txt")]):
        if argv[0] == "handout" and not HAS_TEX:
            continue
        code, _, err = run(capsys, *argv)
        assert code == 2 and "No space left on device" in err and "internal error" not in err, err
        assert err.count("\n") == 1


# -- The fuzz test of the issue ----------------------------------------------------------------------------
try:
    from hypothesis import HealthCheck, Phase, example, given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover
    st = None

if st is not None:
    _INJECTIONS = ["＼input｛~/canary｝", "﹨input﹛/etc/hostname﹜", "＼input｛|\"kpsewhich -var-value=HOME\"｝",
                   "＼openin＼＃", "\\input{~/canary}", "＼catcode`＼｛=1", "^^5cinput", "＾＾5c", "％", "\n\n",
                   "\\\\[", "[", "]"]
    _TEXT = st.lists(st.one_of(st.text(min_size=0, max_size=8), st.sampled_from(list(FOLDING)),
                               st.sampled_from(_INJECTIONS)), max_size=12).map("".join)

    @pytest.fixture(scope="module")
    def fuzz_handout(tmp_path_factory):
        folder = tmp_path_factory.mktemp("fuzz")
        fields = {f: f for f in TEXT_FIELDS}
        fields.update(data="d.csv", x="x", y="y")
        return build.solve(build.load(problem_set(folder, fields)))

    @needs_tex
    # A handful of examples, each one compile: seconds, not minutes (no shrinking either:
    # the failing example is reported as it was drawn).
    @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None,
              phases=[Phase.explicit, Phase.generate])
    @example(fields={f: FOLDING + "".join(_INJECTIONS) for f in TEXT_FIELDS})
    @given(fields=st.fixed_dictionaries({f: _TEXT for f in TEXT_FIELDS}))
    def test_fuzz_no_tex_reads_outside_the_job(fuzz_handout, tmp_path_factory, fields):
        """Random Unicode, every folding code point and known injections in every text
        field: the .tex compiles, the PDF holds no other file's content, and the TeX log
        opened nothing outside the job but TeX's own installation."""
        from derive import tex

        home = tmp_path_factory.mktemp("home")
        (home / "canary.tex").write_text("CANARYCONTENT\n")
        old_home = os.environ.get("HOME")
        os.environ["HOME"] = str(home)  # ~ leads to the canary
        try:
            ps, handout = fuzz_handout.problem_set, fuzz_handout
            ps.title, ps.author, ps.course, ps.date, ps.instructions = (
                fields["title"] or "t", fields["author"], fields["course"], fields["date"], fields["instructions"])
            handout.solved[0].spec.prompt = fields["prompt"]
            handout.descent.spec.prompt = fields["descent_prompt"]
            data = handout.descent.run.data
            data.source, data.x_name, data.y_name = fields["data"], fields["x"], fields["y"]
            logs = []
            pdf = tex.compile_to_bytes([build.render(handout, "pdf", answers=True)], seconds=60, logs=logs)[0]
        finally:
            if old_home is None:
                del os.environ["HOME"]
            else:
                os.environ["HOME"] = old_home
        text = pdf_text(pdf, home)
        assert "CANARYCONTENT" not in text and open("/etc/hostname").read().strip() not in text.split()
        trees = tex.tex_trees()
        for opened in re.findall(r"\((/[^()\s]+)", logs[0]):
            assert any(opened.startswith(t + "/") for t in trees), opened
