"""The command line: what a user types, what they see, and the exit codes."""

import json
import os
import subprocess
import sys
import time

import pytest
import sympy

from derive.cli.main import main


def run(capsys, *argv):
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    out, err = capsys.readouterr()
    return done.value.code, out, err


def test_mse_weight_end_to_end_as_a_user_runs_it():
    """A real process, as a new user runs it: no traceback, the lesson's result, exit 0."""
    run_ = subprocess.run([sys.executable, "-m", "derive", "explain", "mse", "--wrt", "weight"],
                          capture_output=True, text=True, timeout=120)
    assert run_.returncode == 0, run_.stderr
    assert "= (2/n) Σᵢ₌₁ⁿ (w xᵢ + b − yᵢ) xᵢ" in run_.stdout
    assert "w ← w − α" in run_.stdout and "Checked" in run_.stdout
    assert "Traceback" not in run_.stderr


@pytest.mark.parametrize("argv", [
    ["explain", "mse", "--wrt", "bias"],
    ["explain", "sin(x^2)", "--wrt", "x"],
    ["explain", "(w*x + b - y)^2", "--wrt", "w", "--format", "markdown"],
    ["explain", "x**x", "--wrt", "x", "--format", "json"],
    ["explain", "exp(2x) cos(x)", "--wrt", "x", "--format", "latex"],
    ["list"],
])
def test_the_documented_commands_work(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert out.strip() and not err


def test_json_output_is_the_dict(capsys):
    code, out, _ = run(capsys, "explain", "x**x", "--wrt", "x", "--format", "json")
    data = json.loads(out)
    x = sympy.Symbol("x", real=True)
    assert data["wrt"] == "x" and data["check"]["passed"]
    assert data["derivative"] == str(sympy.factor_terms(sympy.diff(x**x, x)))


def test_output_file_is_written_whole(capsys, tmp_path):
    target = tmp_path / "steps.tex"
    code, out, err = run(capsys, "explain", "exp(2x) cos(x)", "--wrt", "x", "--format", "latex",
                         "-o", str(target))
    assert code == 0 and "Wrote" in err
    assert target.read_text().startswith("\\subsection*")
    assert [p.name for p in tmp_path.iterdir()] == ["steps.tex"]  # no temporary left behind


def test_unwritable_output_is_one_line_and_leaves_nothing(capsys, tmp_path):
    code, out, err = run(capsys, "explain", "sin(x)", "-o", str(tmp_path / "missing" / "x.md"))
    assert code == 2 and err.startswith("Error: cannot write") and err.count("\n") == 1


def test_a_failed_check_exits_3_and_writes_no_file(capsys, tmp_path, monkeypatch):
    from derive.engine import rules

    monkeypatch.setitem(rules.TRIG, sympy.cos, lambda u: sympy.sin(u))  # a wrong rule, on purpose
    target = tmp_path / "handout.md"
    code, out, err = run(capsys, "explain", "cos(x^2)", "--wrt", "x", "-o", str(target))
    assert code == 3
    assert "CHECK FAILED" in out and "not trustworthy" in err
    assert not target.exists()


# --- the console entry point: a real process, as the `derive` script runs ---------------

BUFFERED = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # as users run it


def console(*argv, prelude=""):
    """Run ``derive.cli.main.console`` (the script's entry point) in a fresh process."""
    code = prelude + "\nfrom derive.cli.main import console\nconsole()"
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          timeout=120, env=BUFFERED)


def test_console_output_arrives_whole_through_a_pipe():
    """The process leaves without the interpreter's teardown: what it printed must all be
    flushed first (stdout is a pipe here, so block-buffered)."""
    from derive.derivation import gradient

    done = console("explain", "mse", "--wrt", "all", "--hessian", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert done.stdout == gradient("mse", wrt="all", hessian=True).to_json() + "\n"


def test_console_exit_codes_of_a_real_process(tmp_path):
    done = console("explain", "x^^2")
    assert done.returncode == 2 and done.stderr.startswith("Error:") and done.stderr.count("\n") == 1
    assert console("check", "x^2", "--wrt", "x", "--answer", "3x").returncode == 1
    assert console("--version").returncode == 0
    target = tmp_path / "steps.md"
    wrong_rule = "import sympy\nfrom derive.engine import rules\nrules.TRIG[sympy.cos] = lambda u: sympy.sin(u)"
    done = console("explain", "cos(x^2)", "--wrt", "x", "-o", str(target), prelude=wrong_rule)
    assert done.returncode == 3 and "CHECK FAILED" in done.stdout and "not trustworthy" in done.stderr
    assert not target.exists() and "Traceback" not in done.stderr


def test_console_runs_atexit_handlers_before_leaving(tmp_path):
    marker = tmp_path / "ran"
    done = console("explain", "sin(x)", prelude=f"import atexit\natexit.register(lambda: open({str(marker)!r}, 'w').close())")
    assert done.returncode == 0 and marker.exists()


def test_console_batch_with_worker_processes_finishes_whole(tmp_path):
    corpus = os.path.join(os.path.dirname(__file__), "data", "check_corpus.csv")
    out = tmp_path / "graded.jsonl"
    done = console("check", "--batch", corpus, "-o", str(out), "--format", "jsonl", "--jobs", "2")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 62 and all(row["verdict"] for row in rows)
    assert [p.name for p in tmp_path.iterdir()] == ["graded.jsonl"]  # no temporary left behind


def test_console_waits_for_a_thread_still_working(tmp_path):
    marker = tmp_path / "finished"
    prelude = ("import threading, time\n"
               f"threading.Thread(target=lambda: (time.sleep(1.0), open({str(marker)!r}, 'w').close())).start()")
    done = console("explain", "sin(x)", prelude=prelude)
    assert done.returncode == 0 and marker.exists()


def test_console_says_nothing_when_the_reader_has_gone():
    """`derive … | head -0`: the pipe is closed before derive writes; no traceback."""
    process = subprocess.Popen([sys.executable, "-m", "derive", "explain", "mse", "--wrt", "weight"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=BUFFERED)
    process.stdout.close()
    err = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=120) == 1
    assert "Traceback" not in err and "Exception ignored" not in err


def test_start_up_pauses_collection_only_when_asked():
    import gc

    from derive import startup

    assert gc.isenabled()
    startup.imports_done()  # not paused: a library caller's settings are left alone
    assert gc.isenabled() and gc.get_freeze_count() == 0
    try:
        startup.pause_collection()
        assert not gc.isenabled()
        startup.imports_done()
        assert gc.isenabled() and gc.get_freeze_count() > 0
    finally:
        gc.enable()
        gc.unfreeze()


def test_version_and_help(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("derive ")
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "derive explain mse --wrt weight" in out
    for command in ("explain", "list"):
        code, out, _ = run(capsys, command, "--help")
        assert code == 0 and "Example" in out


BAD_INPUT = [
    (["explain", "__import__('os').system('echo pwned')", "--wrt", "x"], "column"),
    (["explain", "().__class__", "--wrt", "x"], ""),
    (["explain", "x.real", "--wrt", "x"], "column"),
    (["explain", "'text'", "--wrt", "x"], ""),
    (["explain", "lambda x: x", "--wrt", "x"], ""),
    (["explain", "[x for x in y]", "--wrt", "x"], ""),
    (["explain", "x # comment", "--wrt", "x"], ""),
    (["explain", "x[0]", "--wrt", "x"], ""),
    (["explain", "import os", "--wrt", "x"], "keyword"),
    (["explain", "foo(x)", "--wrt", "x"], "unknown function"),
    (["explain", "sin(x", "--wrt", "x"], ""),
    (["explain", "sin(x))", "--wrt", "x"], ""),
    (["explain", "9**9**9**9", "--wrt", "x"], ""),
    (["explain", "x**(10**100000)", "--wrt", "x"], ""),
    (["explain", "10**10**10", "--wrt", "x"], ""),
    (["explain", "(" * 5000 + "x" + ")" * 5000, "--wrt", "x"], ""),
    (["explain", "x+" * 60000 + "x", "--wrt", "x"], ""),
    (["explain", "х^2", "--wrt", "x"], "CYRILLIC"),  # a Cyrillic х, not x
    (["explain", "x\x00", "--wrt", "x"], ""),
    (["explain", "", "--wrt", "x"], "empty"),
    (["explain", "   "], "empty"),
    (["explain", "sin(x)", "--wrt", "2x"], "variable name"),
    (["explain", "w*x + b"], "several variables"),
    (["explain", "mse", "--wrt", "slope"], "weight (w), bias (b)"),
    (["explain", "mse"], "--wrt"),
    (["explain", "sin(x)", "--format", "pdf"], "pdf"),
    (["explain"], "EXPRESSION"),
    (["explain", "sin(x)", "--seed", "-1"], ""),
    (["nosuchcommand"], "nosuchcommand"),
]


@pytest.mark.parametrize("argv, mentions", BAD_INPUT, ids=[repr(a[1])[:30] if len(a) > 1 else a[0] for a, _ in BAD_INPUT])
def test_bad_input_is_one_line_exit_2(capsys, argv, mentions):
    started = time.perf_counter()
    code, out, err = run(capsys, *argv)
    assert time.perf_counter() - started < 5  # a hang detector, not a speed target
    assert code == 2
    assert err.startswith("Error: ") and err.count("\n") == 1, err
    assert mentions in err
    assert "Traceback" not in err and not out


def test_hostile_input_runs_no_code(capsys, tmp_path):
    marker = tmp_path / "pwned"
    code, _, err = run(capsys, "explain", f"__import__('os').system('touch {marker}')", "--wrt", "x")
    assert code == 2 and not marker.exists()


def test_no_traceback_from_a_real_process_on_hostile_input():
    run_ = subprocess.run([sys.executable, "-m", "derive", "explain", "__import__('os').getcwd()", "--wrt", "x"],
                          capture_output=True, text=True, timeout=60)
    assert run_.returncode == 2 and run_.stderr.startswith("Error:") and "Traceback" not in run_.stderr
