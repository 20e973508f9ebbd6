"""Check a class's answers at once: ``derive check --batch answers.csv -o graded.csv``.

* Input: a CSV file whose header holds ``id, expression, wrt, answer`` (any order, any case);
  optional columns ``working`` (the student's lines, checked line by line), ``decimals`` (the
  decimals policy for that row) and ``variables`` (names the answer may use that the
  expression lacks) are used, and every other column is carried through. The file is read
  as a stream (:mod:`derive.grade.table`): UTF-8 or ``--encoding``, cells bounded, rows
  longer than the header invalid.
* Output: the same rows in the same order, plus ``verdict`` (correct, incorrect,
  depends_on_domain, uncertain, unreadable or invalid), ``mistakes`` (codes separated by
  ``;``), ``read_as`` and ``message`` (and, with a ``working`` column, ``working_verdict``,
  ``first_wrong_line`` and ``working_message``); or JSON lines with ``--format jsonl``. CSV
  cells that a spreadsheet would run as formulas get a leading ``'`` (``--no-formula-guard``
  turns that off).
* The rows are checked a window at a time across worker processes
  (:mod:`derive.grade.service`), so memory does not grow with the file; each problem is
  prepared about once and each distinct answer checked once.
* Results go to ``OUTPUT.partial`` as each window finishes; ``--resume`` keeps the rows found
  there. The output is written to a private temporary file renamed over ``OUTPUT`` at the
  end (whole, or not at all); then the partial file is removed.
"""

import collections
import json
import sys

import click

from derive.errors import DeriveError
from derive.grade.outputs import Progress, StreamedFile, fingerprint
from derive.grade.service import Checker, invalid, thaw, warm
from derive.grade.table import TableWriter, read_table, windows

REQUIRED = ("id", "expression", "wrt", "answer")
ADDED = ("verdict", "mistakes", "read_as", "message")
WORKING = ("working_verdict", "first_wrong_line", "working_message")
WINDOW = 16384  # rows checked together (memory holds one window)
VERDICTS = ("correct", "incorrect", "depends_on_domain", "uncertain", "unreadable", "invalid")

def _key(cells, col):
    variables = tuple(sorted(set(cells[col["variables"]].replace(",", " ").split()))) if "variables" in col else ()
    return (cells[col["expression"]], cells[col["wrt"]].strip(), variables)


def _item(cells, col):
    working = cells[col["working"]] if "working" in col else ""
    decimals = cells[col["decimals"]].strip() if "decimals" in col else ""
    return (cells[col["answer"]], working, decimals or None)


def run_batch(path, output, *, fmt="csv", resume=False, jobs=None, decimals=None, encoding=None,
              formula_guard=True, window=WINDOW, manifest=None, columns=None):
    """Check every row of ``path`` and write ``output``; returns the summary text.

    ``manifest`` (derive handout --students) grades each answer against its student's own
    version, and ``columns`` names the file's columns (see :mod:`derive.grade.manifest`);
    the file is then read whole by that module."""
    if fmt not in ("csv", "jsonl"):
        raise DeriveError("the batch output format is csv or jsonl")
    if decimals is not None:
        from derive.grade.decimals import Decimals

        decimals = str(Decimals.parse(decimals))
    if manifest is not None or any((columns or {}).values()):
        from derive.grade.manifest import read_answers
        from derive.grade.table import Record

        header, names, table = read_answers(path, manifest, **(columns or {}))
        rows = (Record(k, k + 2, cells) for k, cells in enumerate(table))
    else:
        header, names, rows = read_table(path, REQUIRED, encoding=encoding)
    col = {name: names.index(name) for name in (*REQUIRED, "working", "decimals", "variables") if name in names}
    added = ADDED + (WORKING if "working" in col else ())
    target = StreamedFile(output, inputs=(path,) + ((manifest,) if manifest else ()))
    try:
        progress = Progress(output, added, resume=resume)
    except DeriveError:
        target.abort()
        raise
    frozen = warm()
    writer = TableWriter(target, formula_guard) if fmt == "csv" else None
    if writer is not None:
        writer.write(list(header) + list(added))
    counts = collections.Counter()
    per_problem = collections.defaultdict(collections.Counter)
    show = sys.stderr.isatty()
    finished, done = False, 0
    try:
        with Checker(jobs) as checker:
            for batch in windows(rows, window):
                results = _check_window(batch, col, checker, progress, decimals)
                for record, result in zip(batch, results):
                    progress.write(record.index, fingerprint(record.cells), result)
                    _emit(target, writer, header, record.cells, result, added)
                    counts[result["verdict"]] += 1
                    for code in result["mistakes"][:1]:
                        per_problem[(record.cells[col["expression"]], record.cells[col["wrt"]])][code] += 1
                progress.flush()
                done += len(batch)
                if show:
                    click.echo(f"\rchecked {done} rows", err=True, nl=False)
        if show:
            click.echo("", err=True)
        target.commit()
        finished = True
    finally:
        thaw(frozen)
        if finished:
            progress.finish()
        else:
            progress.stop()
            target.abort()
    return _summary(counts, per_problem, progress.resumed)


def _check_window(batch, col, checker, progress, decimals):
    results = [None] * len(batch)
    requests = []
    for k, record in enumerate(batch):
        if record.problem:
            results[k] = invalid(record.problem)
            continue
        found = progress.lookup(record.index, fingerprint(record.cells)) if progress.sources else None
        if found is not None:
            found["mistakes"] = found["mistakes"].split(";") if isinstance(found["mistakes"], str) and \
                found["mistakes"] else (found["mistakes"] or [])
            results[k] = found
            continue
        answer, working, row_decimals = _item(record.cells, col)
        requests.append((k, (_key(record.cells, col), (answer, working, row_decimals or decimals))))
    checked = checker.check([request for _, request in requests])
    for k, request in requests:
        results[k] = checked[request]
    return results


def _emit(target, writer, header, cells, result, added):
    values = {name: result.get(name, "") for name in added}
    values["mistakes"] = ";".join(result["mistakes"]) if isinstance(result["mistakes"], list) else result["mistakes"]
    if writer is not None:
        writer.write(list(cells) + [values[name] for name in added])
    else:
        record = dict(zip(header, cells))
        record.update(values)
        record["mistakes"] = result["mistakes"] if isinstance(result["mistakes"], list) else \
            [m for m in str(result["mistakes"]).split(";") if m]
        target.write(json.dumps(record, ensure_ascii=False) + "\n")


def _summary(counts, per_problem, resumed):
    total = sum(counts.values())
    lines = [f"checked {total} rows: " + ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS if counts.get(v)
                                                   or v in ("correct", "incorrect", "invalid"))]
    if resumed:
        lines.append(f"({resumed} rows kept from the stopped run)")
    if per_problem:
        lines.append("most common mistakes:")
        for (expression, wrt), codes in sorted(per_problem.items(), key=lambda kv: -sum(kv[1].values()))[:20]:
            shown = expression if len(expression) <= 60 else expression[:57] + "..."
            shown = "".join(c if c.isprintable() else "?" for c in shown)
            top = ", ".join(f"{code} ({n})" for code, n in codes.most_common(3))
            lines.append(f"  {shown} wrt {''.join(c for c in wrt if c.isprintable()) or '?'}: {top}")
    return "\n".join(lines)
