"""Class files from others (issue 10, points 8-10): formulas, bare CRs, encodings, long rows,
huge cells, the .partial file, and workers that outlive their parent."""

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from derive.errors import DeriveError
from derive.grade.batch import run_batch
from derive.grade.table import read_table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write(path, text, encoding="utf-8"):
    with open(path, "w", encoding=encoding, newline="") as handle:
        handle.write(text)


def rows_of(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_spreadsheet_formulas_are_neutralised_and_can_be_kept(tmp_path):
    src = tmp_path / "in.csv"
    write(src, 'id,expression,wrt,answer,note\n=HYPERLINK("http://x"),x^2,x,2x,@SUM(A1)\n'
               '2,x^2,x,-2x,+1\n3,x^2,x,2x,"\tTAB"\n')
    out = tmp_path / "out.csv"
    run_batch(str(src), str(out), jobs=1)
    graded = rows_of(out)
    assert graded[0]["id"] == "'=HYPERLINK(\"http://x\")" and graded[0]["note"] == "'@SUM(A1)"
    assert graded[1]["answer"] == "'-2x" and graded[1]["note"] == "'+1" and graded[2]["note"] == "'\tTAB"
    assert graded[1]["verdict"] == "incorrect" and graded[0]["verdict"] == "correct"  # checked as typed
    plain = tmp_path / "plain.csv"
    run_batch(str(src), str(plain), jobs=1, formula_guard=False)
    assert rows_of(plain)[0]["id"] == "=HYPERLINK(\"http://x\")"


def test_a_bare_cr_is_quoted_so_reading_back_gives_the_same_rows(tmp_path):
    src = tmp_path / "in.csv"
    write(src, 'id,expression,wrt,answer,note\n1,x^2,x,2x,"a\rb"\n2,x^2,x,x,"c\r\nd"\n')
    out = tmp_path / "out.csv"
    run_batch(str(src), str(out), jobs=1)
    graded = rows_of(out)
    assert [g["id"] for g in graded] == ["1", "2"] and graded[0]["note"] == "a\rb"
    assert [g["verdict"] for g in graded] == ["correct", "incorrect"]


def test_a_cp1252_file_is_refused_with_the_line_and_read_with_encoding(tmp_path):
    src = tmp_path / "in.csv"
    write(src, "id,expression,wrt,answer,name\n1,x^2,x,2x,José\n", encoding="cp1252")
    with pytest.raises(DeriveError, match=r"not utf-8 text: byte 0xE9 on line 2.*--encoding cp1252"):
        run_batch(str(src), str(tmp_path / "out.csv"), jobs=1)
    out = tmp_path / "out.csv"
    run_batch(str(src), str(out), jobs=1, encoding="cp1252")
    assert rows_of(out)[0]["name"] == "José"
    with pytest.raises(DeriveError, match="not a text encoding"):
        run_batch(str(src), str(out), jobs=1, encoding="klingon")


def test_rows_longer_than_the_header_are_invalid(tmp_path):
    src = tmp_path / "in.csv"
    write(src, "id,expression,wrt,answer\n1,x^2,x,2,x\n2,x^2,x,2x\n")
    out = tmp_path / "out.csv"
    run_batch(str(src), str(out), jobs=1)
    graded = rows_of(out)
    assert graded[0]["verdict"] == "invalid" and "5 cells but the header has 4" in graded[0]["message"]
    assert graded[1]["verdict"] == "correct"


def test_a_huge_cell_makes_its_row_invalid_and_the_rest_are_graded(tmp_path):
    src = tmp_path / "in.csv"
    huge = "x" * (5 << 20)
    write(src, f'id,expression,wrt,answer\n1,x^2,x,2x\n2,x^2,x,"{huge}"\n3,x^3,x,3x^2\n')
    out = tmp_path / "out.jsonl"
    run_batch(str(src), str(out), fmt="jsonl", jobs=1)
    records = [json.loads(line) for line in open(out, encoding="utf-8")]
    assert [r["verdict"] for r in records] == ["correct", "invalid", "correct"]
    assert "larger than 4 MiB" in records[1]["message"] and len(records[1]["answer"]) == 0


def test_the_partial_file_never_follows_a_planted_link(tmp_path):
    src = tmp_path / "in.csv"
    write(src, "id,expression,wrt,answer\n1,x^2,x,2x\n")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out.csv"
    os.symlink(victim, str(out) + ".partial")
    run_batch(str(src), str(out), jobs=1)
    assert victim.read_text() == "precious" and rows_of(out)[0]["verdict"] == "correct"
    os.symlink(victim, str(out) + ".partial")
    run_batch(str(src), str(out), jobs=1, resume=True)  # a link is not read as progress either
    assert victim.read_text() == "precious" and not os.path.lexists(str(out) + ".partial")


def test_an_output_that_is_the_input_or_not_a_file_is_refused(tmp_path):
    src = tmp_path / "in.csv"
    write(src, "id,expression,wrt,answer\n1,x^2,x,2x\n")
    with pytest.raises(DeriveError, match="one of the inputs"):
        run_batch(str(src), str(src), jobs=1)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(DeriveError, match="not a regular file"):
        run_batch(str(src), str(fifo), jobs=1)
    assert src.read_text().startswith("id,expression")


def test_resume_after_an_interruption_keeps_finished_windows(tmp_path):
    src = tmp_path / "in.csv"
    write(src, "id,expression,wrt,answer\n" + "".join(f"{k},x^2,x,{k}x\n" for k in range(1, 9)))
    out = tmp_path / "out.csv"
    run_batch(str(src), str(out), jobs=1, window=3)
    first = rows_of(out)
    # a stopped run: its progress file holds the first window, with a message we can recognise
    lines = [json.dumps({"row": k, "key": __import__("derive.grade.outputs", fromlist=["x"]).fingerprint(
        [str(k + 1), "x^2", "x", f"{k + 1}x"]), "verdict": r["verdict"], "mistakes": [], "read_as": r["read_as"],
        "message": "kept"}) for k, r in enumerate(first[:3])]
    (tmp_path / "out.csv.partial").write_text("\n".join(lines) + "\n")
    run_batch(str(src), str(out), jobs=1, resume=True, window=3)
    again = rows_of(out)
    assert [r["message"] for r in again[:3]] == ["kept"] * 3 and again[3]["message"] != "kept"
    assert [r["verdict"] for r in again] == [r["verdict"] for r in first]


def _children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    found.append(int(entry))
            except OSError:
                continue
    return found


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc (Linux)")
def test_workers_die_with_their_parent(tmp_path):
    src = tmp_path / "in.csv"
    write(src, "id,expression,wrt,answer\n" + "".join(f"{k},x^{k % 40 + 2} sin(x),x,{k}x\n" for k in range(3000)))
    env = dict(os.environ, PYTHONPATH=ROOT)
    parent = subprocess.Popen([sys.executable, "-m", "derive", "check", "--batch", str(src), "-o",
                               str(tmp_path / "out.csv"), "--jobs", "2"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(workers) < 2:
        workers = _children(parent.pid)
        time.sleep(0.1)
    assert workers, "no worker started"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers)


def test_a_pipe_to_another_command_ends(tmp_path):
    src = tmp_path / "in.csv"
    write(src, "id,expression,wrt,answer\n1,x^2,x,2x\n2,x^3,x,3x\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    command = (f"{sys.executable} -m derive check --batch {src} -o {tmp_path / 'out.csv'} --jobs 2 2>&1 | cat")
    done = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, timeout=60)
    assert "checked 2 rows" in done.stdout


def test_the_scanner_reads_what_the_csv_module_reads(tmp_path):
    import random

    rng = random.Random(3)
    alphabet = ["a", '"', ",", "\n", "\r", "é", " ", "1"]
    for _ in range(100):
        rows = [["id", "expression", "wrt", "answer"]] + [
            ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 5))) for _ in range(4)]
            for _ in range(rng.randint(1, 5))]
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator=rng.choice(["\n", "\r\n"])).writerows(rows)
        path = tmp_path / "t.csv"
        write(path, buffer.getvalue())
        _, _, records = read_table(str(path), ("id",))
        want = [r for r in csv.reader(io.StringIO(buffer.getvalue(), newline=""))][1:]
        want = [(r + [""] * 4)[:4] if len(r) < 4 else r for r in want if any(c.strip() for c in r)]
        assert [r.cells for r in records] == want
