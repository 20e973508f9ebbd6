"""The answer key of a class: the problem set (as handouts read it), what each problem is
worth and how it is marked, and, with a manifest, each student's own version.

A problem set is read by :func:`derive.handout.build.parse_problem_set`; grading adds keys
it does not know, taken out first:

    [grading]                    # defaults for every problem
    decimals = "rounded"         # exact, rounded or tolerance=R
    [grading.rubric]             # points taken off per named mistake
    missing_chain_factor = 1

    [[problems]]
    expression = "sin(x^2)"
    wrt = "x"
    points = 2
    decimals = "exact"           # this problem's own policy
    variables = ["n"]            # names an answer may use that the expression lacks
    [problems.rubric]
    missing_chain_factor = 1     # 2 − 1 = 1 point for that mistake
    product_of_derivatives = 2

Answers name their problem by its number (1, 2, …) or its ``label`` (a grading key too).

A manifest (from the variants of a problem set) gives each student's own version of a
problem: columns for the student, the problem, the seed, the expression as printed and its
derivative (names matched loosely: ``student``/``student_id``/``id``, ``problem``/``number``,
``expression``/``expression_as_printed``/``printed``, ``derivative``, and an optional
``wrt``). It is kept in an on-disk index, so a large class does not grow the memory.
"""

import math
import os
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from derive.errors import DeriveError
from derive.grade.decimals import Decimals
from derive.grade.mistakes import CODES

GRADING_PROBLEM_KEYS = {"decimals", "rubric", "variables", "label"}
GRADING_TOP = "grading"
RUBRIC_KEYS = set(CODES) | {"algebra"}


@dataclass
class KeyProblem:
    """One problem as graded."""

    number: int
    label: str
    expression: str | None
    name: str | None
    wrt: str | None
    points: float
    decimals: str
    variables: tuple = ()
    rubric: dict = field(default_factory=dict)  # mistake code -> points off
    rubric_given: bool = False

    @property
    def key(self):
        """What the checking service prepares: (expression, wrt, variables)."""
        return (self.expression, self.wrt or "", self.variables)


def _rubric(table, where):
    if not isinstance(table, dict):
        raise DeriveError(f"{where}: 'rubric' must be a table of mistake = points off, as in "
                          "rubric = {{ missing_chain_factor = 1 }}")
    out = {}
    for code, value in table.items():
        if code not in RUBRIC_KEYS:
            raise DeriveError(f"{where}: the rubric names '{str(code)[:40]}', which is no mistake derive names; "
                              f"use one of {', '.join(sorted(RUBRIC_KEYS))}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise DeriveError(f"{where}: the rubric's '{code}' must be a number of points")
        out[code] = abs(float(value))  # "missing_chain_factor = -1" and "= 1" both take off one point
    return out


def load_key(path):
    """The problems of ``path`` (a problem-set TOML) with their grading keys."""
    from derive.files import read_toml
    from derive.handout.build import MAX_FILE_BYTES, parse_problem_set

    path = Path(path)
    data = read_toml(path, MAX_FILE_BYTES)
    grading = data.pop(GRADING_TOP, {})
    if not isinstance(grading, dict):
        raise DeriveError(f"{path}: [grading] must be a table")
    unknown = sorted(set(grading) - {"decimals", "rubric"})
    if unknown:
        raise DeriveError(f"{path}: [grading] has an unknown key '{unknown[0]}'; it takes decimals and rubric")
    default_decimals = str(Decimals.parse(grading.get("decimals")))
    default_rubric = _rubric(grading.get("rubric", {}), f"{path}: [grading]")
    extras = []
    for entry in data.get("problems", []) if isinstance(data.get("problems"), list) else []:
        if isinstance(entry, dict):
            extras.append({k: entry.pop(k) for k in list(entry) if k in GRADING_PROBLEM_KEYS})
        else:
            extras.append({})
    problem_set = parse_problem_set(data, str(path))
    problems = []
    labels = set()
    for spec, extra in zip(problem_set.problems, extras):
        where = f"{path}: problem {spec.number}"
        if spec.wrt is not None and ("," in spec.wrt or spec.wrt.strip() == "all"):
            raise DeriveError(f"{where}: grading takes one derivative per problem; give wrt one variable")
        decimals = str(Decimals.parse(extra["decimals"])) if "decimals" in extra else default_decimals
        variables = extra.get("variables", [])
        if isinstance(variables, str):
            variables = variables.replace(",", " ").split()
        if not isinstance(variables, list) or not all(isinstance(v, str) for v in variables):
            raise DeriveError(f"{where}: 'variables' must be a list of names")
        label = str(extra.get("label", spec.number)).strip()
        if not label or label in labels:
            raise DeriveError(f"{where}: the label '{label}' is empty or used twice")
        labels.add(label)
        rubric = dict(default_rubric)
        given = "rubric" in extra or bool(default_rubric)
        rubric.update(_rubric(extra.get("rubric", {}), where))
        points = float(spec.points) if spec.points is not None else 1.0
        if not math.isfinite(points):
            raise DeriveError(f"{where}: 'points' must be a finite number")
        expression = spec.expression
        if expression is None:
            expression = _named_expression(spec.name, spec.wrt, where)
        problems.append(KeyProblem(spec.number, label, expression, spec.name, spec.wrt, points, decimals,
                                   tuple(sorted(set(variables))), rubric, given))
    return AnswerKey(str(path), problem_set.title, problems)


def _named_expression(name, wrt, where):
    """A named problem (mse, …) as the formula its answers are checked against."""
    from derive.derivation import make_subject

    try:
        subject = make_subject(name, wrt=wrt)
        written = subject.written_out
    except DeriveError as error:
        raise DeriveError(f"{where}: {error}") from None
    from derive.render.printing import to_text

    return to_text(written) if written is not None else name


class AnswerKey:
    """The problems of a set, found by number or label."""

    def __init__(self, source, title, problems):
        self.source = source
        self.title = title
        self.problems = problems
        self._by = {}
        for p in problems:
            self._by[str(p.number)] = p
            self._by[p.label] = p

    def find(self, reference):
        return self._by.get(str(reference).strip())


# --------------------------------------------------------------------------- manifest

_MANIFEST_COLUMNS = {
    "student": ("student", "student_id", "studentid", "id", "student id"),
    "problem": ("problem", "problem_id", "number", "problem number", "question"),
    "expression": ("expression", "expression_as_printed", "printed", "expression as printed", "variant"),
    "derivative": ("derivative", "answer", "key"),
    "seed": ("seed",),
    "wrt": ("wrt", "variable"),
}


def _column(names, role, path, required=True):
    for option in _MANIFEST_COLUMNS[role]:
        if option in names:
            return names.index(option)
    if required:
        raise DeriveError(f"{path} has no {role} column (looked for {', '.join(_MANIFEST_COLUMNS[role])})")
    return None


class Manifest:
    """Each student's version of each problem, in an on-disk index."""

    def __init__(self, path, encoding=None):
        from derive.grade.table import read_table

        self.path = path
        header, names, rows = read_table(path, (), encoding=encoding)
        names = [n.replace("-", "_") if n not in sum(_MANIFEST_COLUMNS.values(), ()) else n for n in names]
        col = {role: _column(names, role, path, role in ("student", "problem", "expression"))
               for role in _MANIFEST_COLUMNS}
        self._directory = tempfile.mkdtemp(prefix="derive-manifest-")
        self.db = sqlite3.connect(os.path.join(self._directory, "manifest.sqlite"))
        self.db.execute("create table variant (student text, problem text, expression text, derivative text, "
                        "seed text, wrt text, primary key (student, problem))")
        batch = []
        for record in rows:
            if record.problem:
                continue
            cells = record.cells

            def cell(role):
                return cells[col[role]].strip() if col[role] is not None else ""

            batch.append((cell("student"), cell("problem"), cell("expression"), cell("derivative"),
                          cell("seed"), cell("wrt")))
            if len(batch) >= 2000:
                self._insert(batch)
                batch = []
        self._insert(batch)
        self.db.commit()

    def _insert(self, batch):
        try:
            self.db.executemany("insert into variant values (?, ?, ?, ?, ?, ?)", batch)
        except sqlite3.IntegrityError:
            raise DeriveError(f"{self.path}: a student has two versions of the same problem") from None

    def variant(self, student, problem):
        """(expression, derivative, wrt) of the student's version, or None."""
        found = self.db.execute("select expression, derivative, wrt from variant where student = ? and problem = ?",
                                (student, problem)).fetchone()
        return found

    def close(self):
        self.db.close()
        import shutil

        shutil.rmtree(self._directory, ignore_errors=True)
