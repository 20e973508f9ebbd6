"""Problem templates, balanced variants, per-student versions, the manifest, and the exports
(STACK checked by Maxima itself, PrairieLearn by running the generated server.py)."""

import csv
import importlib.util
import random
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import pytest
import sympy
from latex_tools import needs_handout_pdf

from derive.cli.main import main
from derive.errors import DeriveError
from derive.handout import build, params, variants
from derive.parsing.text import parse

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MAXIMA = shutil.which("maxima")


def run(capsys, *argv):
    with pytest.raises(SystemExit) as done:
        main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return done.value.code, out, err


def write(tmp_path, text, name="set.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def numbers_equal(a, b, symbol, points=(Fraction(3, 7), Fraction(11, 13), Fraction(-5, 17), Fraction(19, 11))):
    """Two SymPy expressions agree at a few rational points (at 30 digits)."""
    for p in points:
        x, y = complex(a.subs(symbol, p).evalf(30)), complex(b.subs(symbol, p).evalf(30))
        if abs(x - y) > 1e-12 * max(1, abs(x)):
            return False
    return True


# ------------------------------------------------------------------------- the little parser
@pytest.mark.parametrize("spec, values", [
    ("int(2, 5)", [2, 3, 4, 5]),
    ("int(-4, 4, 4)", [-4, 0, 4]),
    ("choice(2, 3, 1/2, -3/4, 0.25)", [2, 3, Fraction(1, 2), Fraction(-3, 4), Fraction(1, 4)]),
])
def test_a_spec_gives_exactly_its_values(spec, values):
    assert [v.number for v in params.parse_spec("a", spec, "f: problem 1").values] == values


@pytest.mark.parametrize("spec, message", [
    ("int(9, 2)", "empty range"),
    ("int(1, 2, 0)", "step"),
    ("choice()", "empty"),
    ("uniform(1, 2)", "write int(low, high)"),
    ("int(1, 10000000)", "at most"),
    ("choice(__import__('os'))", "not a number"),
])
def test_a_bad_spec_is_one_line_naming_the_parameter(spec, message):
    with pytest.raises(params.TemplateError) as error:
        params.parse_spec("a", spec, "set.toml: problem 2")
    assert message in str(error.value) and "problem 2" in str(error.value) and "'a'" in str(error.value)


@pytest.mark.parametrize("text, values, expected", [
    ("a != b", {"a": 2, "b": 3}, True),
    ("a != b", {"a": 2, "b": 2}, False),
    ("1 < a <= 3 and not b == 0", {"a": 3, "b": 1}, True),
    ("gcd(a, b) == 1 or a % b == 0", {"a": 4, "b": 2}, True),
    ("abs(a - b) >= 2 and a^2 > 8", {"a": 3, "b": 1}, True),
])
def test_constraints_are_evaluated_exactly_without_eval(text, values, expected):
    tree = params.parse_expression(text, "the constraint")
    assert params.evaluate(tree, {k: Fraction(v) for k, v in values.items()}) is expected


@pytest.mark.parametrize("text", ["__import__('os').system('true')", "a.real", "a; b", "[a]", "lambda: 1",
                                  "(" * 40 + "a" + ")" * 40, "a ** 2 ** 2 ** 2 ** 99"])
def test_hostile_constraints_are_refused_or_bounded(text):
    with pytest.raises((ValueError, params.Undefined)):
        tree = params.parse_expression(text, "the constraint")
        params.evaluate(tree, {"a": Fraction(3)})


# ------------------------------------------------------------------------------ bad templates
BAD = [
    ('expression = "{a} x^{c}"\nwrt = "x"\n[problems.params]\na = "int(2, 9)"\n', "parameter 'c', which is not defined"),
    ('expression = "{a} x"\nwrt = "x"\n[problems.params]\na = "int(9, 2)"\n', "parameter 'a': int(9, 2) is an empty range"),
    ('expression = "{a} x"\nwrt = "x"\n[problems.params]\na = "int(2, 3)"\nwhere = "a > 5"\n', "no draw in"),
    ('expression = "{a} x"\nwrt = "x"\n[problems.params]\na = "int(2, 3)"\nwhere = "a > c"\n', "parameter 'c', which is not defined"),
    ('expression = "x^{k}"\nwrt = "x"\n[problems.params]\nk = "int(2000, 2001)"\n', "with k = 200"),
    ('expression = "{a}{b} x"\nwrt = "x"\n[problems.params]\na = "int(2, 3)"\nb = "int(2, 3)"\n', "run together"),
    ('expression = "{a} x"\nwrt = "x"\n[problems.params]\na = "int(2, 3)"\nb = "int(2, 3)"\n', "'b' is drawn but never used"),
    ('expression = "{a} x"\nwrt = "x"\n', "parameter 'a', which is not defined"),
    ('expression = "{a} x"\nwrt = "x"\n[problems.params]\na = "int(2, 3)"\nreference = { a = 7 }\n', "a = 7 is not a value"),
]


@pytest.mark.parametrize("problem, message", BAD)
def test_a_bad_template_is_an_error_line_naming_file_problem_and_parameter(tmp_path, capsys, problem, message):
    path = write(tmp_path, 'title = "t"\n[[problems]]\nexpression = "x^2"\nwrt = "x"\n[[problems]]\n' + problem)
    code, out, err = run(capsys, "variants", path, "--count", "2")
    assert code == 2 and "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith("Error: ") and str(path) in line and "problem 2" in line and message in line, line


# ------------------------------------------------------------------------------- the traces
@pytest.fixture(scope="module")
def klass():
    template = variants.load_template(EXAMPLES / "class.toml")
    return template, variants.survey(template, 12, seed=3)


def test_every_kept_variant_asks_for_the_reference_work_and_is_right(klass):
    template, reports = klass
    checked = 0
    for report in reports:
        reference = report.balancer.reference_trace
        keys = set()
        for variant in report.kept:
            trace = variants.Trace.of(variant.solved.document)
            assert trace.rules == reference.rules and trace.chain_depth == reference.chain_depth
            assert abs(trace.steps - reference.steps) <= 1
            keys.add(variant.key)
            # the derivative each version's key prints is sympy.diff's
            expr = parse(variant.entry["expression"])
            x = next(s for s in expr.free_symbols if s.name == variant.entry["wrt"])
            assert sympy.simplify(variant.solved.document.result - sympy.diff(expr, x)) == 0
            checked += 1
        assert len(keys) == len(report.kept) == 12
    assert checked == 12 * len(reports)


def test_a_trace_that_differs_is_redrawn_with_its_reason(tmp_path):
    path = write(tmp_path, 'title = "t"\n[[problems]]\nexpression = "exp({a} x)"\nwrt = "x"\n'
                           '[problems.params]\na = "int(0, 4)"\nreference = { a = 3 }\n')
    report = variants.survey(variants.load_template(path), 10)[0]
    assert sorted(v.draw["a"].number for v in report.kept) == [2, 3, 4]  # a = 0, 1: no chain rule
    assert report.exhausted and not report.enough
    assert any("chain ×0 instead of ×1" in reason for reason in report.rejected)


def test_a_template_that_cannot_be_balanced_fails_clearly(tmp_path, capsys):
    path = write(tmp_path, 'title = "t"\n[[problems]]\nexpression = "exp({a} x)"\nwrt = "x"\n'
                           '[problems.params]\na = "choice(1, 2)"\nreference = { a = 2 }\n')
    code, out, err = run(capsys, "variants", path, "--count", "2")
    assert code == 2
    assert "only 1 distinct variant exists" in out and "chain ×0 instead of ×1" in out and "(e.g. a = 1)" in out
    assert err.strip().splitlines()[-1].startswith("Error: problem 1 cannot give 2 distinct variants")


def test_the_plain_handout_of_a_template_is_its_reference():
    problem_set = build.load(EXAMPLES / "practice.toml")
    assert problem_set.problems[0].expression == "3x^4 - 5x^2 + 7"
    assert problem_set.problems[15].expression == "max(0, 2x - 1)"


# ------------------------------------------------------------------------------ per student
def roster(tmp_path, ids, name="roster.csv"):
    path = tmp_path / name
    path.write_text("id,name\n" + "".join(f"{i},Student {i}\n" for i in ids))
    return path


def manifest(folder):
    with open(folder / "manifest.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_same_seed_and_id_give_the_same_version_and_a_new_student_changes_nobody(tmp_path, capsys):
    three, four = roster(tmp_path, ["a1", "b2", "c3"], "three.csv"), roster(tmp_path, ["a1", "z9", "b2", "c3"], "four.csv")
    runs = []
    for path, out in ((three, "one"), (three, "again"), (four, "grown")):
        code, _, err = run(capsys, "handout", EXAMPLES / "class.toml", "--students", path, "-o", tmp_path / out,
                           "--format", "markdown", "--seed", "5")
        assert code == 0, err
        runs.append(manifest(tmp_path / out))
    assert runs[0] == runs[1]
    assert [r for r in runs[2] if r["student_id"] != "z9"] == runs[0]
    assert len({r["expression"] for r in runs[0] if r["problem"] == "2"}) > 1  # students differ
    assert set(MANIFEST_COLUMNS) == set(runs[0][0])
    assert "Student b2 (b2)" in (tmp_path / "one" / "b2.md").read_text()  # the name on the student's copy


MANIFEST_COLUMNS = ("student_id", "problem", "seed", "expression", "wrt", "derivative")


def test_the_manifest_grades_each_student_against_their_own_version(tmp_path, capsys):
    code, _, err = run(capsys, "handout", EXAMPLES / "class.toml", "--students", EXAMPLES / "roster.csv",
                       "-o", tmp_path / "class", "--format", "markdown")
    assert code == 0, err
    rows = manifest(tmp_path / "class")
    assert len({r["student_id"] for r in rows}) == 30
    by = {(r["student_id"], r["problem"]): r for r in rows}
    students = sorted({r["student_id"] for r in rows})
    answers = tmp_path / "answers.csv"
    with open(answers, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "problem", "answer"])
        for k, student in enumerate(students):
            mine, theirs = by[(student, "2")], by[(students[k - 1], "2")]
            # every student's own derivative, then a neighbour's (wrong for them when it differs)
            out.writerow([student, "2", mine["derivative"]])
            if theirs["expression"] != mine["expression"]:
                out.writerow([student, "2", theirs["derivative"]])
    code, _, err = run(capsys, "check", "--batch", answers, "--manifest", tmp_path / "class" / "manifest.csv",
                       "-o", tmp_path / "graded.csv")
    assert code == 0, err
    with open(tmp_path / "graded.csv", newline="") as handle:
        graded = list(csv.DictReader(handle))
    for row in graded:
        own = by[(row["id"], "2")]["derivative"]
        assert row["verdict"] == ("correct" if row["answer"] == own else "incorrect"), row
    assert sum(r["verdict"] == "incorrect" for r in graded) >= 10


def test_a_moodle_responses_report_is_read_by_naming_columns(tmp_path, capsys):
    folder = tmp_path / "class"
    run(capsys, "handout", EXAMPLES / "class.toml", "--students", roster(tmp_path, ["s1", "s2"]), "-o", folder,
        "--format", "markdown")
    rows = manifest(folder)
    responses = tmp_path / "responses.csv"
    with open(responses, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["Surname", "First name", "ID number", "State", "Response 1", "Response 4"])
        for student in ("s1", "s2"):
            d = {r["problem"]: r["derivative"] for r in rows if r["student_id"] == student}
            out.writerow(["S", "F", student, "Finished", f"ans1: {d['1']} [score]; prt1: # = 1", "0"])
    code, _, err = run(capsys, "check", "--batch", responses, "--manifest", folder / "manifest.csv",
                       "--id-column", "ID number", "-o", tmp_path / "graded.csv")
    assert code == 0, err
    graded = list(csv.DictReader(open(tmp_path / "graded.csv", newline="")))
    assert [(g["id"], g["problem"], g["verdict"]) for g in graded] == [
        ("s1", "1", "correct"), ("s1", "4", "incorrect"), ("s2", "1", "correct"), ("s2", "4", "incorrect")]
    code, _, err = run(capsys, "check", "--batch", responses, "--manifest", folder / "manifest.csv",
                       "-o", tmp_path / "g2.csv")
    assert code == 2 and "no column 'id'" in err and "--id-column" in err


def test_a_bad_roster_is_one_line(tmp_path, capsys):
    path = tmp_path / "r.csv"
    path.write_text("id,name\n7,A\n7,B\n")
    code, _, err = run(capsys, "handout", EXAMPLES / "class.toml", "--students", path, "-o", tmp_path / "o",
                       "--format", "markdown")
    assert code == 2 and "line 3" in err and "unique" in err and not (tmp_path / "o").exists()


@needs_handout_pdf
def test_the_combined_pdf_has_a_page_break_per_student(tmp_path, capsys):
    code, _, err = run(capsys, "handout", EXAMPLES / "class.toml", "--count", "2", "--combined", "-o",
                       tmp_path / "print", "--format", "pdf")
    assert code == 0, err
    pdf = tmp_path / "print" / "handouts.pdf"
    text = subprocess.run(["pdftotext", "-layout", pdf, "-"], capture_output=True, text=True).stdout \
        if shutil.which("pdftotext") else ""
    if text:
        pages = text.split("\f")
        # each copy starts on its own page 1 (the title also heads every later page)
        starts = [k for k, page in enumerate(pages) if "your own version" in page and "Page 1 of" in page]
        assert len(starts) == 2 and starts[0] == 0 and starts[1] > 0


# -------------------------------------------------------------------------------- STACK
@pytest.fixture(scope="module")
def stack_quiz(klass):
    from derive.handout import export_stack

    template, reports = klass
    text, questions, notes = export_stack.export(template, {r.problem.number: r.kept for r in reports})
    return text, questions, notes


def test_the_stack_export_is_moodle_xml_with_the_fields_the_importer_reads(stack_quiz):
    text, questions, _ = stack_quiz
    root = ET.fromstring(text.encode("utf-8"))
    found = root.findall("question[@type='stack']")
    assert len(found) == len(questions) == 5
    for q in found:
        for path in ("name/text", "questiontext/text", "generalfeedback/text", "questionvariables/text",
                     "specificfeedback/text", "input/name", "input/type", "input/tans", "prt/name", "prt/node/name",
                     "prt/node/answertest", "prt/node/sans", "prt/node/tans", "defaultgrade", "penalty"):
            assert q.find(path) is not None and (q.find(path).text or "").strip(), path
        assert "[[input:ans1]]" in q.find("questiontext/text").text
        assert q.find("prt/node/answertest").text == "AlgEquiv" and q.find("prt/node/tans").text == "ta"
        assert q.find("input/tans").text == "ta"


def _maxima(script):
    done = subprocess.run([MAXIMA, "--very-quiet", "-r", f'display2d:false$ batchload("{script}")$ quit()$'],
                          capture_output=True, text=True, timeout=60)
    return dict(re.findall(r"^(\w+) (.+?) ?$", done.stdout, re.M))


@pytest.mark.skipif(MAXIMA is None, reason="maxima missing (Debian: maxima)")
def test_the_stack_answers_equal_derive_under_maxima_itself(stack_quiz, tmp_path):
    from derive.engine.rules import Engine
    from derive.grade.answer import enumerate_mistakes

    _, questions, _ = stack_quiz
    points = ["37/100", "13/11", "-5/7"]
    lines, expected = [], []
    for q_index, question in enumerate(questions):
        for seed in (1, 2, 3):
            tag = f"q{q_index}s{seed}"
            # each STACK question has a CAS session of its own; STACK's rand(n) is 0..n-1
            lines += ["kill(all)$", "rand(n) := random(n)$", f"set_random_state(make_random_state({seed}))$"]
            lines.extend(line.split("/*")[0].strip().rstrip(";") + "$"
                         for line in question.question_variables().splitlines() if not line.startswith("/*"))
            lines.append(f'print("{tag}v", v)$')
            wrt = question.names[question.wrt]
            others = [s for s in question.expr.free_symbols if s != question.wrt and not s.name.startswith("zzp_")]
            fix = "".join(f", {question.names[s]}=3/5" for s in others)
            for k, p in enumerate(points):
                lines.append(f'print("{tag}t{k}", float(subst([{wrt}={p}{fix}], ta)))$')
                for m in range(1, len(question.mistakes) + 1):
                    lines.append(f'print("{tag}m{m}p{k}", float(subst([{wrt}={p}{fix}], m{m})))$')
            expected.append((tag, question, others))
    script = tmp_path / "stack.mac"
    script.write_text("\n".join(lines) + "\n")
    out = _maxima(script)
    compared = 0
    for tag, question, others in expected:
        variant = question.variants[int(out[f"{tag}v"]) - 1]
        expr = parse(variant.entry["expression"])
        x = question.wrt
        right = Engine(expr, x).differentiate(expr, x).derivative
        fixed = {s: sympy.Rational(3, 5) for s in expr.free_symbols if s != x}
        candidates = list(enumerate_mistakes(expr, x, right))
        for k, p in enumerate(points):
            at = {**fixed, x: sympy.Rational(p)}
            assert float(out[f"{tag}t{k}"]) == pytest.approx(float(right.subs(at)), rel=1e-9, abs=1e-12), \
                (tag, variant.entry["expression"], question.question_variables())
            for m, (code, *_rest) in enumerate(question.mistakes, start=1):
                value = float(out[f"{tag}m{m}p{k}"])
                assert any(c == code and value == pytest.approx(float(w.subs(at)), rel=1e-9, abs=1e-12)
                           for c, _, w in candidates), (tag, code)
            compared += 1
    assert compared == 3 * 3 * len(questions)


# -------------------------------------------------------------------------------- PrairieLearn
def test_the_prairielearn_server_runs_and_agrees_with_derive(klass, tmp_path):
    from derive.grade.words import explanation
    from derive.handout import export_prairielearn

    template, reports = klass
    kept = {r.problem.number: r.kept for r in reports}
    export_prairielearn.write(template, kept, tmp_path / "questions")
    folders = sorted((tmp_path / "questions").iterdir())
    assert len(folders) == 5
    for number, folder in enumerate(folders, start=1):
        assert {"info.json", "question.html", "server.py"} <= {p.name for p in folder.iterdir()}
        assert "<pl-symbolic-input answers-name=\"derivative\"" in (folder / "question.html").read_text()
        spec = importlib.util.spec_from_file_location(f"server_{number}", folder / "server.py")
        server = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(server)
        for variant_seed in (11, 12, 13):
            random.seed(variant_seed)  # PrairieLearn seeds random with the variant seed
            data = {"params": {}, "correct_answers": {}, "submitted_answers": {}, "partial_scores": {},
                    "feedback": {}, "variant_seed": variant_seed}
            server.generate(data)
            variant = kept[number][data["params"]["variant"]]
            assert {n: str(v) for n, v in variant.draw.items()} == data["params"]["parameters"]
            x = variant.solved.document.wrt
            theirs = parse(data["correct_answers"]["derivative"])
            assert numbers_equal(theirs.subs({s: sympy.Rational(2, 3) for s in theirs.free_symbols if s.name != x.name})
                                 .subs({s: x for s in theirs.free_symbols if s.name == x.name}),
                                 variant.solved.document.result.subs(
                                     {s: sympy.Rational(2, 3) for s in variant.solved.document.result.free_symbols
                                      if s != x}), x)
            # a predicted mistake, as pl-symbolic-input stores it, gets derive's words
            code, feedback, wrong = server.VARIANTS[data["params"]["variant"]]["mistakes"][0]
            data["submitted_answers"]["derivative"] = {"_type": "sympy", "_value": wrong, "_variables": [x.name]}
            data["partial_scores"]["derivative"] = {"score": 0}
            server.grade(data)
            assert data["feedback"]["derivative"].startswith(explanation(code))
            # the right answer gets no mistake feedback
            data["feedback"].clear()
            data["submitted_answers"]["derivative"] = {"_type": "sympy", "_value": data["correct_answers"]["derivative"]}
            data["partial_scores"]["derivative"] = {"score": 0}
            server.grade(data)
            assert "derivative" not in data["feedback"]
        with pytest.raises(ValueError):
            server._read("__import__('os').system('true')")
