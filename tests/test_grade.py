"""derive grade: a generated class of 300 students x 20 problems marked, grouped into answer
classes, scored by rule and rubric, with feedback files and a report checked in Chromium;
teacher overrides; per-student versions from a manifest."""

import csv
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import pytest

from derive.errors import DeriveError
from derive.grade.run import run_grade

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from class_generator import ANSWERS, write_class  # noqa: E402

ROOT = pathlib.Path(__file__).parent.parent
KEY = ROOT / "examples" / "class_set.toml"


def read(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    work = tmp_path_factory.mktemp("class")
    answers = work / "answers.csv"
    write_class(answers, 300, seed=11)
    out = work / "graded"
    summary = run_grade(str(answers), str(KEY), str(out), jobs=2)
    return answers, out, summary


def test_every_answer_gets_its_verdict_and_score(graded):
    answers, out, summary = graded
    rows = read(out / "graded.csv")
    assert len(rows) == 6000 and "marked 6000 answers of 300 students" in summary
    for row in rows:
        if row["answer"][:1] == "'":  # the formula guard: '-2/x^3 was typed -2/x^3
            row["answer"] = row["answer"][1:]
        number = 15 if row["problem"] == "power-of-sum" else int(row["problem"])
        right, wrong = ANSWERS[number]
        if row["answer"] in right:
            assert row["verdict"] == "correct" and float(row["score"]) == float(row["points"]), row
        elif row["answer"] in wrong:
            assert row["verdict"] in ("incorrect", "unreadable"), row
            assert float(row["score"]) < float(row["points"])
        else:
            assert row["verdict"] == "unreadable" and float(row["score"]) == 0
    # the rubric of problem 4 takes 2 for a product of derivatives; problem 6's takes 1 for the chain factor
    by = {(r["problem"], r["answer"]): r for r in rows}
    assert by[("4", "2x cos(x)")]["score"] == "0" and "2 off by the rubric" in by[("4", "2x cos(x)")]["reason"]
    assert by[("6", "cos(x^2)")]["score"] == "1"
    # no rubric on problem 15: one rule of the four used went wrong earns 3/4 of 2, rounded down to 1.5
    assert by[("power-of-sum", "5(3x + 1)^4")]["score"] == "1.5"
    assert "the others were applied right" in by[("power-of-sum", "5(3x + 1)^4")]["reason"]


def test_answers_equal_as_functions_share_a_class(graded):
    _, out, _ = graded
    rows = read(out / "graded.csv")
    right_classes = {r["class"] for r in rows if r["problem"] == "1" and r["verdict"] == "correct"}
    assert len(right_classes) == 1  # 12x^3 - 10x and 2x(6x^2 - 5)
    decimals = {r["class"] for r in rows if r["problem"] == "16" and r["verdict"] == "correct"}
    assert len(decimals) == 2  # x^2/3 exactly, and 0.3333x^2 correctly rounded: not the same function
    classes = read(out / "classes.csv")
    for c in classes:
        members = [r for r in rows if r["class"] == c["class"]]
        assert len(members) == int(c["count"]) and {m["verdict"] for m in members} == {c["verdict"]}


def test_totals_feedback_and_report(graded):
    _, out, _ = graded
    rows = read(out / "graded.csv")
    summary = {r["student"]: float(r["score"]) for r in read(out / "summary.csv")}
    assert len(summary) == 300
    for student in ("s00001", "s00150"):
        assert summary[student] == pytest.approx(sum(float(r["score"]) for r in rows if r["student"] == student))
    files = sorted(os.listdir(out / "feedback"))
    assert len(files) == 300 and files[0] == "s00001.md"
    text = (out / "feedback" / "s00001.md").read_text()
    assert text.count("## Problem") == 20 and text.count("### Worked solution") == 20
    assert f"Score: {summary['s00001']:g} of " in text
    report = read(out / "report.csv")
    assert [r["problem"] for r in report][:3] == ["1", "2", "3"] and len(report) == 20
    assert all(int(r["answers"]) == 300 for r in report)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Chromium (Debian package chromium)")
def test_the_report_renders_in_chromium(graded):
    _, out, _ = graded
    profile = tempfile.mkdtemp()
    base = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}"]
    dom = subprocess.run(base + ["--dump-dom", (out / "report.html").as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert dom.count("<section>") == 20 and dom.count("<svg") >= 20 and "Problem power-of-sum" in dom
    shot = out / "report.png"
    subprocess.run(base + [f"--screenshot={shot}", "--window-size=390,2000", (out / "report.html").as_uri()],
                   capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000
    shutil.rmtree(profile, ignore_errors=True)


def test_an_override_marks_every_answer_of_its_class(tmp_path):
    answers = tmp_path / "answers.csv"
    answers.write_text("student,problem,answer\na,6,2x cos(x)\nb,6,2 x cos(x)\nc,6,x*2*cos(x)\nd,6,2x cos(x^2)\n")
    out = tmp_path / "graded"
    run_grade(str(answers), str(KEY), str(out), jobs=1, feedback="none")
    first = read(out / "graded.csv")
    assert [r["verdict"] for r in first] == ["incorrect"] * 3 + ["correct"]
    assert len({r["class"] for r in first[:3]}) == 1
    classes = read(out / "classes.csv")
    wrong = next(c for c in classes if c["verdict"] == "incorrect")
    overrides = tmp_path / "overrides.csv"
    with open(overrides, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["problem", "class", "verdict", "score", "note"])
        writer.writerow([wrong["problem"], wrong["class"], "", "1.5", "chain rule half right"])
    run_grade(str(answers), str(KEY), str(out), jobs=1, feedback="none", overrides=str(overrides))
    again = read(out / "graded.csv")
    assert [r["score"] for r in again] == ["1.5"] * 3 + ["2"]
    assert all("teacher's mark for this answer class: chain rule half right" in r["reason"] for r in again[:3])


def test_a_manifest_gives_each_student_their_version(tmp_path):
    key = tmp_path / "set.toml"
    key.write_text('title = "Variants"\n[[problems]]\nexpression = "{a} x^2"\nwrt = "x"\n'
                   if False else 'title = "Variants"\n[[problems]]\nexpression = "x^2"\nwrt = "x"\npoints = 2\n')
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("student id,problem,seed,expression as printed,derivative\n"
                        "ann,1,4,3x^2,6x\nbob,1,5,5x^2,10x\ncat,1,6,7x^2,7x\n")
    answers = tmp_path / "answers.csv"
    answers.write_text("student,problem,answer\nann,1,6x\nbob,1,6x\ncat,1,14x\ndan,1,2x\n")
    out = tmp_path / "graded"
    run_grade(str(answers), str(key), str(out), manifest=str(manifest), jobs=1, feedback="none")
    rows = read(out / "graded.csv")
    assert [r["verdict"] for r in rows] == ["correct", "incorrect", "invalid", "invalid"]
    assert "manifest's derivative" in rows[2]["message"] and "no version" in rows[3]["message"]


def test_hostile_student_ids_stay_inside_the_feedback_folder(tmp_path):
    answers = tmp_path / "answers.csv"
    answers.write_text('student,problem,answer\n../../escape,1,12x^3 - 10x\n"a/b",1,1\n.hidden,1,1\n')
    out = tmp_path / "graded"
    run_grade(str(answers), str(KEY), str(out), jobs=1, solutions=False)
    assert not (tmp_path / "escape.md").exists()
    names = os.listdir(out / "feedback")
    assert len(names) == 3 and all("/" not in n and not n.startswith(".") for n in names)


def test_bad_keys_and_files_are_one_line_errors(tmp_path):
    answers = tmp_path / "answers.csv"
    answers.write_text("student,problem,answer\na,1,1\n")
    bad = tmp_path / "bad.toml"
    bad.write_text('title = "t"\n[[problems]]\nexpression = "x^2"\nwrt = "x"\n[problems.rubric]\nwrong_thing = 1\n')
    with pytest.raises(DeriveError, match="rubric names 'wrong_thing'"):
        run_grade(str(answers), str(bad), str(tmp_path / "o"), jobs=1)
    with pytest.raises(DeriveError, match="no student column"):
        (tmp_path / "x.csv").write_text("who,problem,answer\na,1,1\n")
        run_grade(str(tmp_path / "x.csv"), str(KEY), str(tmp_path / "o"), jobs=1)
