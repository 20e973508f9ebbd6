"""derive check --batch: order, formats, poisoned rows, a dying worker, resume."""

import csv
import json
import os
import pathlib
import time

import pytest
from click.testing import CliRunner

import derive.grade.batch
import derive.grade.outputs
import derive.grade.service
from derive.grade.batch import run_batch
from derive.cli.check import check

CORPUS = pathlib.Path(__file__).parent / "data" / "check_corpus.csv"


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_corpus_as_a_batch_keeps_order_and_columns(tmp_path):
    out = tmp_path / "graded.csv"
    summary = run_batch(str(CORPUS), str(out), jobs=2)
    rows, graded = read_csv(CORPUS), read_csv(out)
    assert [r["id"] for r in graded] == [r["id"] for r in rows]
    assert all(g["expected_mistake"] == r["expected_mistake"] for g, r in zip(graded, rows))  # carried through
    assert [g["verdict"] for g in graded] == [r["expected_verdict"] for r in rows]
    assert all(g["read_as"] for g, r in zip(graded, rows) if r["expected_verdict"] != "unreadable")
    assert "checked 62 rows" in summary and "most common mistakes" in summary
    assert not os.path.exists(str(out) + ".partial")


HOSTILE = [
    "__import__('os').system('touch {marker}')",
    "9**9**9**9",
    "x**(10**100000)",
    "(" * 3000 + "x" + ")" * 3000,
    "x" * 100_000,
    "х^2",
    "2x\x00",
]


def test_poisoned_rows_are_invalid_and_the_batch_goes_on(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "in.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "expression", "wrt", "answer"])
        writer.writerow(["ok1", "x^2", "x", "2x"])
        for k, text in enumerate(HOSTILE):
            text = text.replace("{marker}", str(marker))
            writer.writerow([f"a{k}", "x^2", "x", text])
            writer.writerow([f"e{k}", text, "x", "2x"])
        writer.writerow(["ok2", "x^2", "x", "x^2"])
    out = tmp_path / "out.jsonl"
    start = time.perf_counter()
    run_batch(str(path), str(out), fmt="jsonl", jobs=2)
    assert time.perf_counter() - start < 2 * len(HOSTILE) + 10  # hang detector only
    records = [json.loads(line) for line in open(out, encoding="utf-8")]
    assert records[0]["verdict"] == "correct" and records[-1]["verdict"] == "incorrect"
    answers, expressions = records[1:-1:2], records[2:-1:2]
    assert all(r["verdict"] == "unreadable" and r["message"] for r in answers)  # the answer could not be read
    assert all(r["verdict"] == "invalid" and r["message"] for r in expressions)  # the problem could not be
    assert not any("Traceback" in r["message"] for r in records)
    assert not marker.exists()


def _dies_on_kill(prepared, answer, *rest, _real=derive.grade.service.check_item, **options):
    if answer == "KILL":
        os._exit(1)
    return _real(prepared, answer, *rest, **options)


def test_a_row_that_kills_its_worker_becomes_invalid(tmp_path, monkeypatch):
    monkeypatch.setattr(derive.grade.service, "check_item", _dies_on_kill)  # workers are forked
    path = tmp_path / "in.csv"
    path.write_text("id,expression,wrt,answer\n1,x^2,x,2x\n2,x^2,x,KILL\n3,x^3,x,3x^2\n4,x^2,x,x\n")
    out = tmp_path / "out.csv"
    monkeypatch.setattr(derive.grade.service, "CHUNK", 2)
    run_batch(str(path), str(out), jobs=2)
    assert [r["verdict"] for r in read_csv(out)] == ["correct", "invalid", "correct", "incorrect"]
    assert "crashed" in read_csv(out)[1]["message"]


def test_resume_skips_finished_rows(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("id,expression,wrt,answer\n1,x^2,x,2x\n2,x^2,x,x\n")
    out = tmp_path / "out.csv"
    key = derive.grade.outputs.fingerprint(["1", "x^2", "x", "2x"])
    done = {"row": 0, "key": key, "verdict": "correct", "mistakes": [], "read_as": "2 x",
            "message": "from the partial file"}
    (tmp_path / "out.csv.partial").write_text(json.dumps(done) + "\n{\"row\": 1, \"ke")  # cut short
    run_batch(str(path), str(out), resume=True, jobs=1)
    graded = read_csv(out)
    assert graded[0]["message"] == "from the partial file"
    assert graded[1]["verdict"] == "incorrect"


def test_cli_batch(tmp_path):
    out = tmp_path / "g.jsonl"
    result = CliRunner().invoke(check, ["--batch", str(CORPUS), "-o", str(out), "--format", "jsonl", "--jobs", "2"])
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 62
    bad = CliRunner().invoke(check, ["--batch", str(CORPUS)])
    assert bad.exit_code != 0
