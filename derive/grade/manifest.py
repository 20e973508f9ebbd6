"""Answers as the platforms export them, matched to each student's own version.

    derive check --batch answers.csv --manifest manifest.csv -o graded.csv
    derive check --batch responses.csv --manifest manifest.csv --id-column "ID number" \\
                 --answer-column "Response {problem}" -o graded.csv

``manifest.csv`` is what ``derive handout --students`` writes: ``student_id, problem, seed,
expression, wrt, derivative``. The answers come in one of two shapes, told apart by their
columns (or named with the options):

* **long**: a row per answer, with the student's id, the problem and the answer
  (``id, problem, answer``; a PrairieLearn or Canvas export, naming its columns);
* **wide**: a row per student, an answer column per problem, as Moodle's quiz "Responses"
  report writes (``Response 1``, ``Response 2``, …): ``--answer-column "Response {problem}"``.

Each answer becomes a row ``id, problem, expression, wrt, answer`` (the expression and the
variable from the student's own line of the manifest; the file's other columns carried
along), which the batch checker grades as any other. A cell exported by STACK
(``ans1: 2*x [score]; prt1: …``) or by PrairieLearn (``{"_type": "sympy", "_value": …}``)
gives the answer it holds. Without ``--manifest`` the options only rename columns.
"""

import csv
import io
import json
import re

from derive.errors import DeriveError

MANIFEST = ("student_id", "problem", "seed", "expression", "wrt", "derivative")
MAX_BYTES = 200_000_000
MAX_FIELD = 1 << 22
NOT_IN_MANIFEST = "(not in the manifest)"  # an expression the parser refuses: the row is invalid
_STACK = re.compile(r"^\s*(?:seed:\s*\d+;\s*)?ans\d*:\s*(.*?)\s*\[(?:score|valid|invalid)\]", re.I | re.S)


def _table(path, what):
    csv.field_size_limit(MAX_FIELD)
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
            text = handle.read(MAX_BYTES + 1)
    except OSError as error:
        raise DeriveError(f"cannot read {path}: {error.strerror}") from None
    if len(text) > MAX_BYTES:
        raise DeriveError(f"{path}: the {what} is larger than {MAX_BYTES // 1_000_000} MB")
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as error:
        raise DeriveError(f"{path} is not valid CSV: {error}") from None
    if not rows:
        raise DeriveError(f"{path} is empty: the {what} needs a header row")
    header = [h.strip() for h in rows[0]]
    body = [row + [""] * (len(header) - len(row)) for row in rows[1:] if any(c.strip() for c in row)]
    return header, body


def _column(header, name, path, option):
    """The index of ``name`` (any case), or an error naming the columns there are."""
    lowered = [h.lower() for h in header]
    if name.lower() in lowered:
        return lowered.index(name.lower())
    shown = ", ".join(header[:12]) + (", …" if len(header) > 12 else "")
    raise DeriveError(f"{path} has no column '{name}'; its columns are {shown}; name the right one with {option}")


def read_manifest(path):
    """``{(student id, problem number): (expression, wrt)}`` from ``manifest.csv``."""
    header, rows = _table(path, "manifest")
    index = {name: _column(header, name, path, "a manifest written by derive handout --students")
             for name in ("student_id", "problem", "expression", "wrt")}
    versions = {}
    for line, row in enumerate(rows, start=2):
        key = (row[index["student_id"]].strip(), row[index["problem"]].strip())
        if key in versions:
            raise DeriveError(f"{path}: line {line} repeats student {key[0]}, problem {key[1]}")
        versions[key] = (row[index["expression"]], row[index["wrt"]].strip())
    if not versions:
        raise DeriveError(f"{path} has no versions under its header")
    return versions


def answer_text(cell):
    """The answer a platform's cell holds: STACK's ``ans1: … [score]`` summary and
    PrairieLearn's SymPy JSON are unwrapped; anything else is the answer as typed."""
    text = cell.strip()
    match = _STACK.match(text)
    if match:
        return match.group(1)
    if text.startswith("{") and text.endswith("}"):
        try:
            value = json.loads(text)
        except ValueError:
            return cell
        found = _sympy_value(value)
        if found is not None:
            return found.replace("_Exp1", "e")
    return cell


def _sympy_value(value, depth=0):
    if depth > 4 or not isinstance(value, dict):
        return None
    if value.get("_type") == "sympy" and isinstance(value.get("_value"), str):
        return value["_value"]
    for inner in value.values():
        found = _sympy_value(inner, depth + 1)
        if found is not None:
            return found
    return None


def read_answers(path, manifest=None, *, id_column=None, answer_column=None, problem_column=None,
                 expression_column=None, wrt_column=None):
    """``(header, names, rows)`` in the batch checker's shape (``id, expression, wrt,
    answer`` first, then ``problem`` and the file's own columns)."""
    header, rows = _table(path, "answers file")
    lowered = [h.lower() for h in header]
    id_at = _column(header, id_column or "id", path, "--id-column")
    if manifest is None:
        at = {"expression": _column(header, expression_column or "expression", path, "--expression-column"),
              "wrt": _column(header, wrt_column or "wrt", path, "--wrt-column"),
              "answer": _column(header, answer_column or "answer", path, "--answer-column")}
        out_header = ["id", "expression", "wrt", "answer"] + header
        out = [[row[id_at], row[at["expression"]], row[at["wrt"]], answer_text(row[at["answer"]])] + row
               for row in rows]
        return out_header, [h.lower() for h in out_header], out
    versions = read_manifest(manifest)
    problems = sorted({p for _, p in versions}, key=lambda p: (len(p), p))
    shape = ("id", "expression", "wrt", "answer", "problem")
    carried = [k for k, h in enumerate(header) if h.lower() not in shape]  # no column twice
    out_header = list(shape) + [header[k] for k in carried]
    out = []
    wide = answer_column is not None and "{problem}" in answer_column
    if answer_column is None and problem_column is None and "problem" not in lowered:
        if "response 1" in lowered:  # Moodle's quiz "Responses" report
            answer_column, wide = "Response {problem}", True
    if wide:
        columns = {}
        for problem in problems:
            name = answer_column.replace("{problem}", problem)
            if name.lower() in lowered:
                columns[problem] = lowered.index(name.lower())
        if not columns:
            raise DeriveError(f"{path} has no column '{answer_column.replace('{problem}', problems[0])}' "
                              f"(one per problem, from --answer-column '{answer_column}')")
        for row in rows:
            student = row[id_at].strip()
            for problem, at in columns.items():
                out.append(_graded_row(versions, student, problem, row[at], [row[k] for k in carried]))
        return out_header, [h.lower() for h in out_header], out
    problem_at = _column(header, problem_column or "problem", path, "--problem-column")
    answer_at = _column(header, answer_column or "answer", path, "--answer-column")
    for row in rows:
        out.append(_graded_row(versions, row[id_at].strip(), row[problem_at].strip(), row[answer_at],
                               [row[k] for k in carried]))
    return out_header, [h.lower() for h in out_header], out


def _graded_row(versions, student, problem, cell, carried):
    expression, wrt = versions.get((student, problem), (NOT_IN_MANIFEST, ""))
    return [student, expression, wrt, answer_text(cell), problem] + carried


def not_in_manifest(expression):
    """The verdict message of a row the manifest has no version for, or None."""
    if expression == NOT_IN_MANIFEST:
        return "the manifest has no version of this problem for this student (check the id and problem columns)"
    return None
