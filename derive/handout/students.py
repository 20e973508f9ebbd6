"""One version per student: a handout and its answer key each, and ``manifest.csv``.

    derive handout SET.toml --students roster.csv -o out/     # roster: id,name
    derive handout SET.toml --count 30 -o out/                # versions 1..30

Each student's version of each templated problem is drawn from the seed
``sha256(set seed, student id, problem number)`` (see :mod:`derive.handout.variants`), so
it depends on nothing else: adding a student never changes another's version. The
manifest (``student_id, problem, seed, expression, wrt, derivative``; the expression as
printed, in the text derive's parser reads) lets ``derive check --batch … --manifest``
grade each student's answer against their own version.

Everything is written whole or not at all: every file is made in a staging folder beside
the output folder, and moved into place only once all of them are made.
"""

import csv
import io
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from derive.errors import DeriveError

MAX_STUDENTS = 2000
MAX_ROSTER_BYTES = 2_000_000
MANIFEST = ("student_id", "problem", "seed", "expression", "wrt", "derivative")
EXTENSIONS = {"markdown": ".md", "latex": ".tex", "pdf": ".pdf", "html": ".html"}
_FILE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Student:
    """One line of the roster: an id (unique), a name, and the file name made from the id."""

    id: str
    name: str = ""

    @property
    def file(self):
        return _FILE_NAME.sub("_", self.id).strip("._") or "student"

    @property
    def label(self):
        return f"{self.name} ({self.id})" if self.name else self.id


def read_roster(path):
    """The students of a CSV roster with a header holding ``id`` (and ``name``)."""
    from derive.files import read_limited

    path = Path(path)
    text = read_limited(path, MAX_ROSTER_BYTES, "roster")
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as error:
        raise DeriveError(f"{path}: not valid CSV ({error})") from None
    if not rows:
        raise DeriveError(f"{path} is empty: it needs a header row id,name and a line per student")
    header = [h.strip().lower() for h in rows[0]]
    if "id" not in header:
        raise DeriveError(f"{path}: the header has no column 'id'; write id,name on the first line")
    at_id, at_name = header.index("id"), header.index("name") if "name" in header else None
    students, seen, files = [], {}, {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        student_id = row[at_id].strip() if at_id < len(row) else ""
        if not student_id:
            raise DeriveError(f"{path}: line {line} has no id; every student needs one")
        if len(student_id) > 64 or any(ord(c) < 32 for c in student_id):
            raise DeriveError(f"{path}: line {line}: the id must be at most 64 printable characters")
        if student_id in seen:
            raise DeriveError(f"{path}: line {line}: the id '{student_id}' is also on line {seen[student_id]}; "
                              f"ids must be unique")
        seen[student_id] = line
        name = row[at_name].strip()[:200] if at_name is not None and at_name < len(row) else ""
        student = Student(student_id, name)
        if student.file in files:
            raise DeriveError(f"{path}: line {line}: the ids '{files[student.file]}' and '{student_id}' would "
                              f"write the same file {student.file}; make them differ in letters or digits")
        files[student.file] = student_id
        students.append(student)
        if len(students) > MAX_STUDENTS:
            raise DeriveError(f"{path}: more than {MAX_STUDENTS} students")
    if not students:
        raise DeriveError(f"{path} lists no student under its header")
    return students


def numbered(count):
    """``count`` versions without a roster: ids 1..count (version 31 is the same whatever
    the count, so asking for more later keeps the first ones)."""
    return [Student(str(k)) for k in range(1, count + 1)]


# ------------------------------------------------------------------------------ versions
@dataclass
class Version:
    """One student's handout (build.Handout, solved) and their manifest rows."""

    student: Student
    handout: object
    rows: list = field(default_factory=list)


class Class:
    """A template and what every version shares: the balancers (one per templated
    problem, with their caches) and the fixed problems, solved once."""

    def __init__(self, template, *, seed=0, tolerance=1):
        from derive.handout import build
        from derive.handout.variants import Balancer

        self.template, self.seed = template, seed
        self.balancers = {p.number: Balancer(template, p, tolerance=tolerance, seed=seed)
                          for p in template.templated}
        reference = template.problem_set({n: b.reference_draw for n, b in self.balancers.items()})
        fixed = build.ProblemSet(reference.title, [s for s in reference.problems if s.number not in self.balancers],
                                 source=reference.source,
                                 descent=reference.descent if template.descent and template.descent.params is None
                                 else None)
        solved = build.solve(fixed, seed=seed)
        failed = [item.spec.number for item in solved.solved if not item.passed]
        if failed:
            from derive.errors import CheckFailed

            raise CheckFailed(f"the numeric check failed for problem {', '.join(map(str, failed))}; "
                              "nothing was written (see derive explain on that problem)")
        self.fixed = {item.spec.number: item for item in solved.items}

    def version(self, student):
        """The student's version: every templated problem drawn with the student's seed."""
        from derive.handout import build
        from derive.handout.variants import derivative_text, student_seed

        drawn = {n: b.draw_for(student_seed(self.seed, student.id, n)) for n, b in self.balancers.items()}
        problem_set = self.template.problem_set({n: v.draw for n, v in drawn.items()})
        if student.name or student.id:
            problem_set.date = " · ".join(part for part in (problem_set.date, student.label) if part)
        solved, descent, rows = [], None, []
        for spec in problem_set.problems:
            source = drawn[spec.number].solved if spec.number in drawn else self.fixed[spec.number]
            item = build.Solved(spec, source.document)
            solved.append(item)
            if spec.expression and spec.wrt and "," not in spec.wrt and spec.wrt.strip() != "all":
                rows.append({"student_id": student.id, "problem": spec.number,
                             "seed": drawn[spec.number].seed if spec.number in drawn else "",
                             "expression": spec.expression, "wrt": spec.wrt, "derivative": derivative_text(item)})
        if problem_set.descent is not None:
            number = problem_set.descent.number
            source = drawn[number].solved if number in drawn else self.fixed[number]
            descent = build.SolvedDescent(problem_set.descent, source.run)
        return Version(student, build.Handout(problem_set, solved, descent), rows)


def manifest_text(versions):
    """``manifest.csv``: a row per student and problem, in roster order."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(MANIFEST), lineterminator="\n")
    writer.writeheader()
    for version in versions:
        writer.writerows(version.rows)
    return out.getvalue()


# ------------------------------------------------------------------------------- writing
_CLASS = {}  # the running class: forked workers inherit it instead of receiving it pickled


def _render_chunk(args):
    """In a worker: the versions of some students, rendered (the student copy and the key)."""
    students, fmt, templates = args
    from derive.handout import build

    klass = _CLASS["class"]
    layout = "latex" if fmt == "pdf" else fmt
    out = []
    for student in students:
        version = klass.version(student)
        texts = (build.render(version.handout, layout, answers=False, templates=templates),
                 build.render(version.handout, layout, answers=True, templates=templates))
        out.append((student, texts, version.rows))
    return out


def render_all(klass, students, fmt, *, templates=None, jobs=None):
    """``[(student, (student text, key text), manifest rows)]`` in roster order, the work
    spread over ``jobs`` processes (default: every core)."""
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(students)))
    _CLASS["class"] = klass
    if jobs == 1:
        return _render_chunk((students, fmt, templates))
    import concurrent.futures as futures
    import multiprocessing

    from derive import startup

    startup.imports_done()
    size = max(1, -(-len(students) // (jobs * 4)))
    chunks = [students[k:k + size] for k in range(0, len(students), size)]
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:
        context = None
    results = []
    # Forked workers inherit the balancers and the fixed problems already solved.
    with futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        for chunk in pool.map(_render_chunk, [(chunk, fmt, templates) for chunk in chunks]):
            results.extend(chunk)
    return results


def combine_pdfs(parts, target):
    """One PDF of several (each student's starts on a page of its own), with pdfunite."""
    import subprocess

    tool = shutil.which("pdfunite")
    if tool is None:
        raise DeriveError("--combined joins the students' PDFs with pdfunite, which is not installed; on Debian "
                          "or Ubuntu: apt-get install poppler-utils (or drop --combined)")
    done = subprocess.run([tool, *map(str, parts), str(target)], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0 or not Path(target).is_file():
        raise DeriveError(f"pdfunite could not join the PDFs: {done.stderr.strip()[:200]}")


def write_class(klass, students, folder, fmt, *, combined=False, templates=None, jobs=None):
    """Write every student's handout and key (or, ``combined``, one handout file and one
    key file with a page break per student) and ``manifest.csv`` into ``folder``; returns
    the paths written."""
    from derive.handout import build
    from derive.files import write_whole

    if combined and fmt != "pdf":
        raise DeriveError("--combined makes one PDF to print: use it with --format pdf")
    if fmt == "pdf":
        build.tex_engine()
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise DeriveError(f"{folder} is a file; -o names a folder when writing one version per student")
    rendered = render_all(klass, students, fmt, templates=templates, jobs=jobs)
    versions = [Version(student, None, rows) for student, _, rows in rendered]
    ext = EXTENSIONS[fmt]
    files = {}  # name -> text (or .tex to compile)
    for student, (plain, key), _ in rendered:
        files[student.file + ext] = plain
        files[student.file + "-answers" + ext] = key
    folder.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".derive-class-", dir=folder.parent if folder.parent.exists() else None))
    try:
        if fmt == "pdf":
            jobs_list = [(tex, stage / name) for name, tex in files.items()]
            width = max(1, os.cpu_count() or 1)
            for k in range(0, len(jobs_list), width):  # as many TeX engines at once as cores
                build.compile_pdfs(jobs_list[k:k + width])
            if combined:  # one stack to print: every student's pages, in roster order
                combine_pdfs([stage / (s.file + ext) for s in students], stage / "handouts.pdf")
                combine_pdfs([stage / (s.file + "-answers" + ext) for s in students], stage / "answers.pdf")
                files = {"handouts.pdf": None, "answers.pdf": None}
        else:
            for name, text in files.items():
                write_whole(stage / name, text)
        write_whole(stage / "manifest.csv", manifest_text(versions))
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name in list(files) + ["manifest.csv"]:
            os.replace(stage / name, folder / name)
            written.append(folder / name)
        return written
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def run(problem_set, output, *, fmt=None, roster=None, count=None, seed=0, tolerance=1, combined=False,
        templates=None, jobs=None):
    """``derive handout SET.toml --students roster.csv -o out/`` (or ``--count N``):
    returns ``(paths written, number of versions, summary lines)``."""
    from derive.handout.variants import load_template

    if (roster is None) == (count is None):
        raise DeriveError("give one of --students roster.csv or --count N")
    fmt = fmt or "pdf"
    if fmt == "pdf":
        from derive.handout import build

        build.tex_engine()  # say what is missing before any work is done
    students = read_roster(roster) if roster is not None else numbered(count)
    template = load_template(problem_set)
    klass = Class(template, seed=seed, tolerance=tolerance)
    written = write_class(klass, students, output, fmt, combined=combined, templates=templates, jobs=jobs)
    return written, len(students)
