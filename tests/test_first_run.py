"""What a new user meets: every command of the README runs as written from the checkout,
bare `derive` helps, a missing option value points to that command's help, and
`derive explain -o FILE` writes the format FILE's extension names (or refuses)."""

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from derive.cli.main import cli, main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def run(capsys, *argv):
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    out, err = capsys.readouterr()
    return done.value.code, out, err


def readme_commands():
    """Every `derive …` line of the README's code (fenced or indented), with the exit code
    its comment promises ("(exit 1)"), 0 otherwise."""
    commands = []
    for line in README.splitlines():
        text = line.strip()
        if not text.startswith("derive ") or text.startswith("derive` "):
            continue
        comment = text.partition(" #")[2]
        expected = re.search(r"\(exit (\d)\)", comment)
        commands.append((shlex.split(text, comments=True)[1:], int(expected.group(1)) if expected else 0))
    return commands


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def needs(argv):
    """Why a command cannot run on this machine (a tool it needs is missing), or None."""
    if any(a.endswith(".pdf") for a in argv) and not (shutil.which("latexmk") or shutil.which("pdflatex")):
        return "pdflatex is not installed (Debian: texlive-latex-base)"
    if "--plot" in argv and importlib.util.find_spec("matplotlib") is None:
        return "matplotlib is not installed (pip install matplotlib)"
    return None


COMMANDS = readme_commands()


def test_the_readme_shows_commands():
    assert len(COMMANDS) > 25
    assert any(argv[0] == "descend" for argv, _ in COMMANDS) and any(argv[0] == "check" for argv, _ in COMMANDS)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A copy of the checkout's examples/ with room to write: the commands run in it in the
    README's order, as a reader following along would (one may read what another wrote)."""
    folder = tmp_path_factory.mktemp("checkout")
    shutil.copytree(ROOT / "examples", folder / "examples")
    return folder


@pytest.mark.parametrize("argv, expected", COMMANDS, ids=[" ".join(a)[:60] for a, _ in COMMANDS])
def test_every_readme_command_runs_as_written_from_the_checkout(checkout, monkeypatch, capsys, argv, expected):
    missing = needs(argv)
    if missing:
        pytest.skip(missing)
    monkeypatch.chdir(checkout)
    code, out, err = run(capsys, *argv)
    assert code == expected, f"derive {' '.join(argv)} exited {code}: {err[-400:]}"
    assert "Error" not in err and "Traceback" not in err
    for i, a in enumerate(argv):  # what it says it writes is there
        if a == "-o":
            assert (checkout / argv[i + 1]).exists()


def test_the_readme_python_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks()
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})  # noqa: S102 - our own README's example


def test_the_files_the_readme_names_are_shipped():
    for name in set(re.findall(r"examples/[\w.-]+", README)):
        assert (ROOT / name).is_file(), name


def test_the_readme_describes_the_batch_and_data_csv_formats_it_ships():
    import csv

    with open(ROOT / "examples" / "answers.csv", newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert {"id", "expression", "wrt", "answer"} <= {h.lower() for h in header}
    assert "`id`" in README and "`verdict`" in README
    with open(ROOT / "examples" / "points.csv", newline="", encoding="utf-8") as handle:
        assert next(csv.reader(handle)) == ["x", "y"]


# -- the command line ----------------------------------------------------------------------------------
def test_bare_derive_prints_its_help_and_exits_0(capsys):
    code, out, err = run(capsys)
    assert code == 0 and err == ""
    assert "Usage: derive" in out and all(name in out for name in cli.commands)


@pytest.mark.parametrize("argv, command", [
    (["explain", "x^2", "--wrt"], "derive explain"),
    (["descend", "mse", "--synthetic"], "derive descend"),
    (["handout", "examples/lesson.toml", "-o"], "derive handout"),
    (["check", "--batch"], "derive check"),
])
def test_a_missing_option_value_points_to_that_commands_help(capsys, argv, command):
    code, out, err = run(capsys, *argv)
    assert code == 2 and err.count("\n") == 1
    assert "requires an argument" in err and f"(see '{command} --help')" in err


def test_shell_completion_comes_from_click():
    env = dict(os.environ, _DERIVE_COMPLETE="bash_complete", COMP_WORDS="derive descend m", COMP_CWORD="2",
               PYTHONPATH=str(ROOT))
    done = subprocess.run([os.sys.executable, "-m", "derive"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and set(done.stdout.split()) == {"plain,mse", "plain,mae", "plain,mlp"}


# -- derive explain -o FILE: the format its extension names ----------------------------------------------
@pytest.mark.parametrize("name, check", [
    ("steps.txt", lambda t: t.startswith("The derivative of x²")),
    ("steps.md", lambda t: "$$" in t or "$" in t),
    ("steps.tex", lambda t: r"\frac" in t and r"\documentclass" not in t),
    ("steps.html", lambda t: t.startswith("<!DOCTYPE html>") and "<math" in t and t.rstrip().endswith("</html>")),
    ("steps.json", lambda t: isinstance(json.loads(t), dict)),
])
def test_explain_writes_the_format_the_extension_names(tmp_path, capsys, name, check):
    code, _, err = run(capsys, "explain", "x^2", "--wrt", "x", "-o", str(tmp_path / name))
    assert code == 0, err
    assert check((tmp_path / name).read_text(encoding="utf-8"))


@pytest.mark.skipif(not (shutil.which("latexmk") or shutil.which("pdflatex")),
                    reason="pdflatex is not installed (Debian: texlive-latex-base)")
def test_explain_writes_a_pdf_through_tex(tmp_path, capsys):
    out = tmp_path / "steps.pdf"
    code, _, err = run(capsys, "explain", "sin(x^2)", "--wrt", "x", "-o", str(out))
    assert code == 0, err
    assert out.read_bytes()[:5] == b"%PDF-"
    if shutil.which("pdftotext"):
        words = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, timeout=60).stdout
        assert "chain rule" in words and "cos" in words and "Checked" in words


@pytest.mark.parametrize("argv, words", [
    (["-o", "steps.doc"], "cannot tell the format of -o steps.doc"),
    (["-o", "steps"], "cannot tell the format of -o steps"),
    (["-o", "steps.pdf", "--format", "text"], "names a PDF but --format is text"),
    (["-o", "steps.md", "--format", "latex"], "names markdown but --format is latex"),
])
def test_explain_refuses_an_extension_it_cannot_write(tmp_path, monkeypatch, capsys, argv, words):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "explain", "x^2", *argv)
    assert code == 2 and words in err and not list(tmp_path.iterdir())  # nothing written


def test_explain_html_to_the_terminal_is_a_fragment(capsys):
    code, out, _ = run(capsys, "explain", "x^2", "--format", "html")
    assert code == 0 and "<math" in out and "<!DOCTYPE" not in out


def test_the_wheel_lists_every_package():
    """setup.cfg names the packages a wheel carries: a package missing there installs
    nothing, and only an installed wheel shows it (as derive.present once did)."""
    import configparser

    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    listed = set(config["options"]["packages"].split())
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "derive").rglob("__init__.py")}
    assert on_disk - listed == set()
