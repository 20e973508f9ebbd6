"""``derive grade answers.csv --key set.toml -o graded/``: a class's answers, marked.

What it writes into the output folder:

* ``graded.csv``: every answer row, with its problem, verdict, score and the reason for it,
  its answer class, the mistakes, the answer as read and the message;
* ``classes.csv``: the answer classes of each problem (answers equal as functions: the same
  values at the problem's fixed points, confirmed exactly), with their counts, verdict and
  score: copy rows into an overrides file, change ``verdict``/``score``/``note``, and run
  again with ``--overrides``: the mark applies to every answer of the class;
* ``summary.csv``: each student's total;
* ``report.csv`` and ``report.html``: per problem, how many were right, the most common
  mistakes and answer classes, and the answers whose verdict was uncertain;
* ``feedback/STUDENT.md`` (or ``.html``): each student's answers as read, verdicts, scores,
  mistakes and where, and the worked solution of their own problem.

The rows are read and marked a window at a time (:mod:`derive.grade.service`); what must
outlive a window (each student's marks, the classes) is kept in an on-disk index, so memory
does not grow with the class. ``--resume`` picks up a stopped run from ``graded.csv.partial``;
each output file is written whole or not at all.
"""

import collections
import hashlib
import os
import re
import shutil
import sqlite3
import tempfile

from derive.errors import DeriveError
from derive.grade.credit import score
from derive.grade.key import Manifest, load_key
from derive.grade.outputs import Progress, StreamedFile, fingerprint
from derive.grade.service import Checker, explain_task, invalid, same_task, thaw, warm
from derive.grade.table import TableWriter, read_table, windows

WINDOW = 16384
STUDENT = ("student", "student_id", "studentid", "student id", "id")
ADDED = ("problem_label", "verdict", "score", "points", "reason", "class", "mistakes", "read_as", "message")
KEPT = ("verdict", "mistakes", "where", "read_as", "message", "signature", "rules", "reading",
        "working_verdict", "first_wrong_line", "working_message")
TOP_CLASSES = 10
MAX_STUDENTS = 200_000


def _student_column(names, path):
    for option in STUDENT:
        if option in names:
            return names.index(option)
    raise DeriveError(f"{path} has no student column: the header needs student (or student_id), problem and answer")


def load_overrides(path):
    """{(problem label, class): {"verdict", "score", "note"}} from a CSV (the columns of
    classes.csv) or a TOML file of [[override]] tables."""
    if path is None:
        return {}
    out = {}
    if str(path).endswith(".toml"):
        import tomllib

        try:
            data = tomllib.loads(open(path, encoding="utf-8-sig").read())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise DeriveError(f"cannot read the overrides {path}: {error}") from None
        entries = data.get("override", [])
        if not isinstance(entries, list):
            raise DeriveError(f"{path}: write each override as an [[override]] table")
    else:
        header, names, rows = read_table(path, ("problem", "class"))
        entries = [dict(zip(names, r.cells)) for r in rows]
    for k, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or "problem" not in entry or "class" not in entry:
            raise DeriveError(f"{path}: override {k} needs a problem and a class")
        verdict = str(entry.get("verdict", "")).strip() or None
        if verdict not in (None, "correct", "incorrect"):
            raise DeriveError(f"{path}: override {k}: the verdict is correct or incorrect, not {verdict[:30]!r}")
        value = entry.get("score", "")
        if value not in ("", None):
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise DeriveError(f"{path}: override {k}: the score must be a number") from None
            if value != value or value in (float("inf"), float("-inf")):
                raise DeriveError(f"{path}: override {k}: the score must be a finite number")
        else:
            value = None
        if verdict is None and value is None:
            continue  # a row copied from classes.csv and left as it was
        note = " ".join(str(entry.get("note", "")).split())[:200]
        out[(str(entry["problem"]).strip(), str(entry["class"]).strip())] = {"verdict": verdict, "score": value,
                                                                             "note": note}
    return out


def _safe_name(student):
    """A file name for a student id: letters, digits, . _ - kept; anything else (a path, a
    dot-dot) replaced, with a short hash so that two ids never share a file."""
    kept = re.sub(r"[^A-Za-z0-9._-]", "_", student)[:60].strip("._") or "student"
    if kept != student:
        kept += "-" + hashlib.sha1(student.encode("utf-8", "replace")).hexdigest()[:8]
    return kept


class _Store:
    """The on-disk index: each row's mark, and the answer classes."""

    def __init__(self):
        self.directory = tempfile.mkdtemp(prefix="derive-grade-")
        self.db = sqlite3.connect(os.path.join(self.directory, "marks.sqlite"))
        self.db.execute("create table mark (row integer, student text, number integer, label text, answer text, "
                        "read_as text, verdict text, score real, points real, reason text, class text, mistakes text, "
                        "place text, message text, working text, expression text, wrt text)")
        self.db.execute("create table class (label text, class text, verdict text, mistakes text, read_as text, "
                        "answer text, score real, count integer, expression text, reading text, "
                        "primary key (label, class))")
        self.db.execute("create table explanation (expression text, wrt text, body text, primary key (expression, wrt))")

    def close(self):
        self.db.close()
        shutil.rmtree(self.directory, ignore_errors=True)


def run_grade(answers, key_path, outdir, *, manifest=None, overrides=None, decimals=None, feedback="markdown",
              jobs=None, resume=False, encoding=None, formula_guard=True, window=WINDOW, solutions=True):
    """Mark ``answers`` against the key; write the outputs into ``outdir``; return a summary."""
    if feedback not in ("markdown", "html", "none"):
        raise DeriveError("--feedback is markdown, html or none")
    if decimals is not None:
        from derive.grade.decimals import Decimals

        decimals = str(Decimals.parse(decimals))
    key = load_key(key_path)
    marks_overrides = load_overrides(overrides)
    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise DeriveError(f"{outdir} exists and is not a folder")
    os.makedirs(outdir, exist_ok=True)
    header, names, rows = read_table(answers, ("problem", "answer"), encoding=encoding)
    col = {"student": _student_column(names, answers), "problem": names.index("problem"),
           "answer": names.index("answer")}
    if "working" in names:
        col["working"] = names.index("working")
    variants = Manifest(manifest, encoding=encoding) if manifest else None
    graded_path = os.path.join(outdir, "graded.csv")
    inputs = [answers, key_path] + ([manifest] if manifest else []) + ([overrides] if overrides else [])
    target = progress = store = None
    frozen = finished = False
    try:
        target = StreamedFile(graded_path, inputs=inputs)
        progress = Progress(graded_path, KEPT, resume=resume)
        store = _Store()
        frozen = warm()
        writer = TableWriter(target, formula_guard)
        writer.write(list(header) + list(ADDED))
        stats = collections.defaultdict(lambda: {"answers": 0, "verdicts": collections.Counter(),
                                                 "mistakes": collections.Counter(), "score": 0.0, "uncertain": []})
        classes = {}  # class id -> (reading, answer) of its first answer, to confirm the others against
        with Checker(jobs) as checker:
            checked_keys = {}
            for batch in windows(rows, window):
                _grade_window(batch, col, key, variants, checker, progress, store, writer, stats, classes,
                              marks_overrides, decimals, checked_keys)
                progress.flush()
            target.commit()
            finished = True
            summary = _finish(key, store, stats, outdir, feedback, checker, formula_guard, inputs, solutions)
    finally:
        thaw(frozen)
        if progress is not None:
            progress.finish() if finished else progress.stop()
        if target is not None and not finished:
            target.abort()
        if store is not None:
            store.close()
        if variants is not None:
            variants.close()
    return summary


def _problem_key(record, col, key, variants, decimals):
    """(KeyProblem, checking key, decimals) for a row, or a reason it cannot be marked."""
    cells = record.cells
    problem = key.find(cells[col["problem"]])
    if problem is None:
        shown = "".join(c for c in cells[col["problem"]][:30] if c.isprintable())
        return None, f"the key has no problem {shown!r} (give its number or label)"
    check_key = problem.key
    if variants is not None:
        found = variants.variant(cells[col["student"]].strip(), problem.label) or \
            variants.variant(cells[col["student"]].strip(), str(problem.number))
        if found is None:
            return None, "the manifest has no version of this problem for this student"
        expression, derivative, wrt = found
        check_key = (expression, wrt or problem.wrt or "", problem.variables)
        return (problem, check_key, derivative), None
    return (problem, check_key, None), None


def _grade_window(batch, col, key, variants, checker, progress, store, writer, stats, classes, overrides, decimals,
                  checked_keys):
    found = [None] * len(batch)
    requests, manifest_checks = [], {}
    for k, record in enumerate(batch):
        if record.problem:
            found[k] = (None, None, invalid(record.problem))
            continue
        target, reason = _problem_key(record, col, key, variants, decimals)
        if target is None:
            found[k] = (None, None, invalid(reason))
            continue
        problem, check_key, derivative = target
        if derivative and check_key not in checked_keys:
            manifest_checks[check_key] = derivative
        resumed = progress.lookup(record.index, fingerprint(record.cells)) if progress.sources else None
        if resumed is not None:
            resumed["signature"] = tuple(resumed["signature"]) if resumed.get("signature") else None
            found[k] = (problem, check_key, resumed)
            continue
        working = record.cells[col["working"]] if "working" in col else ""
        item = (record.cells[col["answer"]], working, decimals or problem.decimals)
        requests.append((k, problem, (check_key, item)))
        found[k] = (problem, check_key, None)
    if manifest_checks:  # the manifest's derivative must be derive's, or its rows are not marked
        asked = [(ck, (d, "", None)) for ck, d in manifest_checks.items()]
        answers = checker.check(asked)
        for ck, request in zip(manifest_checks, asked):
            result = answers[request]
            checked_keys[ck] = None if result["verdict"] == "correct" else (
                f"the manifest's derivative {manifest_checks[ck][:60]!r} is not derive's derivative of {ck[0][:60]!r}")
    checked = checker.check([request for _, _, request in requests])
    for k, problem, request in requests:
        found[k] = (problem, request[0], checked[request])
    suffixes = _confirm_classes(found, batch, col, checker, classes)
    marks, classes_seen, memo = [], [], {}
    for k, (record, (problem, check_key, result)) in enumerate(zip(batch, found)):
        if check_key is not None and checked_keys.get(check_key):
            result = invalid(checked_keys[check_key])
        progress.write(record.index, fingerprint(record.cells), result)
        _mark(record, col, problem, check_key, result, marks, classes_seen, writer, stats, overrides, memo,
              suffixes.get(k))
    store.db.executemany("insert into mark values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", marks)
    store.db.executemany("insert into class values (?, ?, ?, ?, ?, ?, ?, 1, ?, ?) on conflict (label, class) do "
                         "update set count = count + 1", classes_seen)
    store.db.commit()


def _class_id(problem, check_key, result):
    signature = result.get("signature")
    if result["verdict"] in ("unreadable", "invalid") or not signature:
        return ""
    text = repr((check_key, signature, result["verdict"], tuple(result["mistakes"][:1])))
    return f"p{problem.number}-" + hashlib.sha1(text.encode()).hexdigest()[:8]


def _confirm_classes(found, batch, col, checker, classes):
    """Wrong answers that share a class must be shown exactly equal to its first answer;
    those that are not start a class of their own: {row in the window: class suffix}."""
    pending = collections.defaultdict(list)
    ids = {}
    for index, (problem, check_key, result) in enumerate(found):
        if problem is None or result is None or result["verdict"] != "incorrect":
            continue
        cid = ids.get(id(result))
        if cid is None:
            cid = ids[id(result)] = _class_id(problem, check_key, result)
        if not cid:
            continue
        answer = batch[index].cells[col["answer"]]
        first = classes.get(cid)
        if first is None:
            if len(classes) < 200_000:  # beyond, new classes are not confirmed against later members
                classes[cid] = (result.get("reading"), answer)
            continue
        if first[0] == result.get("reading"):
            continue
        pending[check_key].append((index, cid, answer))
    suffixes = {}
    if not pending:
        return suffixes
    tasks = [(check_key, [(answer, classes[cid][1]) for _, cid, answer in members])
             for check_key, members in pending.items()]
    answers = checker.run(same_task, tasks)
    for members, verdicts in zip(pending.values(), answers):
        for (index, cid, _), same in zip(members, verdicts or [False] * len(members)):
            if not same:
                suffixes[index] = (found[index][2].get("reading") or "x")[:4]
    return suffixes


def _mark(record, col, problem, check_key, result, marks, classes_seen, writer, stats, overrides, memo,
          suffix=None):
    cells = record.cells
    if problem is None:
        writer.write(list(cells) + ["", result["verdict"], 0, "", "the row could not be marked: " + result["message"],
                                    "", "", "", result["message"]])
        return
    # what depends only on the result (shared by the rows that gave the same answer) is made once
    made = memo.get((id(result), problem.number, suffix))
    if made is None or made[0] is not result:
        cid = _class_id(problem, check_key, result)
        if cid and suffix:
            cid += "-" + suffix
        override = overrides.get((problem.label, cid)) if cid else None
        value, reason = score(problem, result, result.get("rules", 0), override)
        verdict = override["verdict"] if override and override.get("verdict") else result["verdict"]
        mistakes = result["mistakes"] if isinstance(result["mistakes"], list) else [
            m for m in str(result["mistakes"]).split(";") if m]
        working = f"{result['working_verdict']}: {result.get('working_message', '')}" \
            if result.get("working_verdict") else ""
        made = (result, cid, value, reason, verdict, ";".join(mistakes), mistakes[:1], working)
        memo[(id(result), problem.number, suffix)] = made
    _, cid, value, reason, verdict, mistakes, first, working = made
    writer.write(list(cells) + [problem.label, verdict, f"{value:g}", f"{problem.points:g}", reason, cid,
                                mistakes, result.get("read_as", ""), result["message"]])
    marks.append((record.index, cells[col["student"]].strip(), problem.number, problem.label,
                  cells[col["answer"]], result.get("read_as", ""), verdict, value, problem.points, reason, cid,
                  mistakes, result.get("where", ""), result["message"], working, check_key[0], check_key[1]))
    if cid:
        classes_seen.append((problem.label, cid, verdict, mistakes, result.get("read_as", ""),
                             cells[col["answer"]], value, check_key[0], result.get("reading", "")))
    entry = stats[problem.label]
    entry["answers"] += 1
    entry["verdicts"][verdict] += 1
    entry["score"] += value
    for code in first:
        entry["mistakes"][code] += 1
    if verdict in ("uncertain", "depends_on_domain") and len(entry["uncertain"]) < 20:
        entry["uncertain"].append((cells[col["student"]].strip(), cells[col["answer"]], result["message"]))


# ----------------------------------------------------------------------------- the end


def _finish(key, store, stats, outdir, feedback, checker, formula_guard, inputs, solutions=True):
    from derive.grade.report import feedback_file, report_html

    db = store.db
    _write_csv(os.path.join(outdir, "classes.csv"), inputs, formula_guard,
               ["problem", "class", "count", "verdict", "score", "mistakes", "read_as", "answer", "note"],
               ([label, cid, count, verdict, f"{value:g}", mistakes, read_as, answer, ""]
                for label, cid, count, verdict, value, mistakes, read_as, answer in db.execute(
                    "select label, class, count, verdict, score, mistakes, read_as, answer from class "
                    "order by label, count desc, class")))
    totals = list(db.execute("select student, sum(score), sum(points), count(*) from mark group by student "
                             "order by student"))
    if len(totals) > MAX_STUDENTS:
        raise DeriveError(f"more than {MAX_STUDENTS} students in one file")
    _write_csv(os.path.join(outdir, "summary.csv"), inputs, formula_guard, ["student", "score", "points", "answers"],
               ([s, f"{a:g}", f"{b:g}", n] for s, a, b, n in totals))
    problems = []
    for problem in key.problems:
        entry = stats.get(problem.label)
        top = list(db.execute("select class, count, verdict, read_as, mistakes, score from class where label = ? "
                              "order by count desc, class limit ?", (problem.label, TOP_CLASSES)))
        problems.append({"problem": problem, "stats": entry, "classes": top})
    _write_csv(os.path.join(outdir, "report.csv"), inputs, formula_guard,
               ["problem", "expression", "wrt", "points", "answers", "correct", "incorrect", "depends_on_domain",
                "uncertain", "unreadable", "invalid", "mean_score", "top_mistakes", "top_classes"],
               (_report_row(p) for p in problems))
    from derive.files import write_whole

    write_whole(os.path.join(outdir, "report.html"), report_html(key, problems))
    if feedback != "none":
        _feedback(store, key, outdir, feedback, checker, feedback_file, solutions=solutions)
    total = sum(p["stats"]["answers"] for p in problems if p["stats"])
    right = sum(p["stats"]["verdicts"]["correct"] for p in problems if p["stats"])
    return (f"marked {total} answers of {len(totals)} students: {right} right; wrote graded.csv, classes.csv, "
            f"summary.csv, report.csv, report.html" + ("" if feedback == "none" else " and a feedback file per student")
            + f" into {outdir}")


def _report_row(entry):
    problem, stats, top = entry["problem"], entry["stats"], entry["classes"]
    if not stats:
        return [problem.label, problem.expression, problem.wrt or "", f"{problem.points:g}", 0] + [0] * 6 + ["", "", ""]
    v = stats["verdicts"]
    mistakes = ";".join(f"{code}:{n}" for code, n in stats["mistakes"].most_common(5))
    classes = ";".join(f"{cid}:{count}:{verdict}" for cid, count, verdict, *_ in top[:5])
    return [problem.label, problem.expression, problem.wrt or "", f"{problem.points:g}", stats["answers"],
            v["correct"], v["incorrect"], v["depends_on_domain"], v["uncertain"], v["unreadable"], v["invalid"],
            f"{stats['score'] / stats['answers']:.3g}", mistakes, classes]


def _write_csv(path, inputs, formula_guard, header, rows):
    target = StreamedFile(path, inputs=inputs)
    try:
        writer = TableWriter(target, formula_guard)
        writer.write(header)
        for row in rows:
            writer.write(row)
        target.commit()
    except BaseException:
        target.abort()
        raise


def _feedback(store, key, outdir, fmt, checker, feedback_file, solutions=True):
    folder = os.path.join(outdir, "feedback")
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise DeriveError(f"{folder} exists and is not a folder")
    os.makedirs(folder, exist_ok=True)
    db = store.db
    if solutions:  # each problem's worked solution, once, across the workers
        wanted = [(e, w) for e, w in db.execute("select distinct expression, wrt from mark")]
        for start in range(0, len(wanted), 256):
            part = wanted[start:start + 256]
            bodies = checker.run(explain_task, [((e, w, ()), fmt) for e, w in part])
            db.executemany("insert or replace into explanation values (?, ?, ?)",
                           [(e, w, (b or ["(no worked solution)"])[0]) for (e, w), b in zip(part, bodies)])
        db.commit()
    suffix = ".html" if fmt == "html" else ".md"
    current, rows, batch = None, [], []
    query = ("select m.student, m.number, m.label, m.answer, m.read_as, m.verdict, m.score, m.points, m.reason, "
             "m.mistakes, m.place, m.message, m.working, m.expression, m.wrt, e.body from mark m left join "
             "explanation e on e.expression = m.expression and e.wrt = m.wrt order by m.student, m.number, m.row")

    def flush():
        # students' files are rendered and written by the workers, many students per task
        tasks = [((None, None, ()), (folder, fmt, key.title, suffix, part)) for part in _parts(batch, 64)]
        if checker is not None:
            for task, done in zip(tasks, checker.run(feedback_task, tasks)):
                if done is None:  # its worker stopped: write those files here
                    feedback_task(task)
        else:
            for task in tasks:
                feedback_task(task)
        batch.clear()

    for row in db.execute(query):
        if row[0] != current:
            if current is not None:
                batch.append((current, rows))
                if len(batch) >= 256:
                    flush()
            current, rows = row[0], []
        rows.append(row)
    if current is not None:
        batch.append((current, rows))
    flush()


def _parts(items, size):
    return [items[k:k + size] for k in range(0, len(items), size)]


class _Title:
    def __init__(self, title):
        self.title = title


def feedback_task(task):
    """Render and write the feedback files of some students (in a worker)."""
    from derive.files import write_whole
    from derive.grade.report import feedback_file

    _, (folder, fmt, title, suffix, students) = task
    for student, rows in students:
        write_whole(os.path.join(folder, _safe_name(student) + suffix), feedback_file(_Title(title), student, rows,
                                                                                      fmt))
    return [len(students)]
