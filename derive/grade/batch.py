"""Grade a class's answers at once: ``derive check --batch answers.csv -o graded.csv``.

* Input: a CSV file with a header row holding ``id, expression, wrt, answer`` (any order,
  any case); other columns are carried through. Output: the same rows in the same order,
  plus ``verdict`` (correct, incorrect or invalid), ``mistakes`` (codes separated by ``;``)
  and ``message``; or JSON lines with ``--format jsonl``.
* Each problem (expression, wrt) is prepared once (derivative, test points, mistake
  candidates) and each distinct answer to it is checked once. The work runs in a
  ``ProcessPoolExecutor`` over all cores, in chunks.
* A poisoned row cannot stop the batch: each check is time-bounded inside its worker
  (``ANSWER_SECONDS``, by SIGALRM), workers have a memory ceiling, and a chunk whose worker
  dies or hangs is re-run alone, split in halves until the row responsible is found; that
  row becomes ``invalid`` with the reason and the batch goes on.
* Results are appended to ``OUTPUT.partial`` as they arrive; ``--resume`` skips the rows
  found there. The output itself is written whole at the end (a temporary file renamed
  over it), then the partial file is removed.
"""

import collections
import concurrent.futures as futures
import contextlib
import csv
import gc
import hashlib
import io
import json
import multiprocessing
import os
import sys
import time

import click

from derive.errors import DeriveError

REQUIRED = ("id", "expression", "wrt", "answer")
ADDED = ("verdict", "mistakes", "message")
CHUNK = 64  # distinct answers per task
PREPARE_DEADLINE = 20.0  # seconds a problem's task may run before its worker is presumed hung
ROW_DEADLINE = 3.0  # per answer in a task, for the same purpose (the real bound is inside)
MEMORY_HEADROOM = 2 << 30  # bytes of address space a worker may add to what it had at start
MAX_FIELD = 1 << 22


# ------------------------------------------------------------------------------ workers


def _warm():
    """One small check in the parent before the workers fork, so that each of them inherits
    what a first check loads (the message templates compiled, SymPy's lazy modules) instead
    of loading it again."""
    from derive.grade.answer import Problem

    try:
        Problem("x^2 sin(x)", "x").check("2x sin(x) + x^2 cos(x)")
        Problem("x^2 sin(x)", "x").check("2x cos(x)")
    except DeriveError:
        pass


def _init_worker():
    """Cap the worker's memory, so a memory bomb raises MemoryError instead of swapping."""
    try:
        import resource

        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[0])
        current = pages * os.sysconf("SC_PAGE_SIZE")
        limit = current + MEMORY_HEADROOM
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard == resource.RLIM_INFINITY or limit < hard:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, OSError, ValueError):
        pass


def _prepare_one(key):
    """A problem's derivative, points and candidates, or the reason it has none."""
    from derive.grade.answer import Problem

    expression, wrt = key
    try:
        prepared = Problem(expression, wrt or None)
        prepared.batch_key = key  # the rows' (expression, wrt), as the parent grouped them
        prepared.prepare_candidates()
        prepared.expected  # noqa: B018 - computed once here, shipped with the problem
        return ("ok", prepared)
    except DeriveError as error:
        return ("error", f"expression: {error}" if not str(error).startswith("expression") else str(error))
    except MemoryError:
        return ("error", "the expression is too large to check")
    except RecursionError:
        return ("error", "the expression is nested too deeply to check")
    except Exception as error:  # a bug of ours: the row is invalid, the batch goes on
        return ("error", f"internal error ({type(error).__name__})")


def _prepare_chunk(keys):
    return [_prepare_one(key) for key in keys]


def _check_item(prepared, answer):
    """One answer's verdict as a small dict; never raises."""
    try:
        result = prepared.check(answer)
        return {"verdict": result.verdict, "mistakes": result.mistakes, "message": result.message}
    except DeriveError as error:
        return _invalid(str(error))
    except MemoryError:
        return _invalid("the answer is too large to check")
    except RecursionError:
        return _invalid("the answer is nested too deeply to check")
    except Exception as error:  # a bug of ours: the row is invalid, the batch goes on
        return _invalid(f"internal error ({type(error).__name__})")


# The prepared problems of the running batch. The check pool is forked after they are
# ready, so its workers inherit them instead of receiving them pickled with every chunk
# (that pickling cost more than the checks); a worker that did not inherit them (a
# platform without fork) prepares a problem the first time it meets it.
_SHARED = {}


def _shared(key):
    if key not in _SHARED:
        status, value = _prepare_one(key)
        if status != "ok":
            raise DeriveError(value)
        _SHARED[key] = value
    return _SHARED[key]


def _check_chunk(items):
    out = []
    for key, answer in items:
        try:
            prepared = _shared(key)
        except DeriveError as error:
            out.append(_invalid(str(error)))
            continue
        out.append(_check_item(prepared, answer))
    return out


def _invalid(reason):
    return {"verdict": "invalid", "mistakes": [], "message": " ".join(str(reason).split())[:500]}


# --------------------------------------------------------------------------- the pool


class _Task:
    def __init__(self, items):
        self.items = items
        self.strikes = 0


def _new_pool(jobs):
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:
        context = None
    return futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init_worker)


def _kill(pool):
    for process in list(getattr(pool, "_processes", {}).values()):  # the workers we started
        with contextlib.suppress(Exception):
            process.kill()
    with contextlib.suppress(Exception):
        pool.shutdown(wait=True, cancel_futures=True)


def _run(chunks, worker, jobs, deadline, on_done, fail):
    """Run ``worker(items)`` on each chunk across a pool; ``on_done(items, results)`` per
    chunk. A chunk whose worker dies or passes ``deadline(items)`` is isolated and bisected;
    a single item that still fails gets ``fail(item, reason)``."""
    queue = collections.deque(_Task(list(c)) for c in chunks if c)
    suspects = []
    while queue:
        pool = _new_pool(jobs)
        running = {}
        started = {}
        broken = False
        for task in queue:
            running[pool.submit(worker, task.items)] = task
        queue.clear()
        try:
            while running and not broken:
                done, _ = futures.wait(running, timeout=0.1, return_when=futures.FIRST_COMPLETED)
                now = time.monotonic()
                for future in done:
                    task = running.pop(future)
                    try:
                        results = future.result()
                    except Exception:  # BrokenProcessPool, or a result that failed to unpickle
                        broken = True
                        task.strikes += 1
                        (suspects if future in started or task.strikes > 1 else queue).append(task)
                        continue
                    on_done(task.items, results)
                for future, task in running.items():
                    if future.running():
                        started.setdefault(future, now)
                        if now - started[future] > deadline(task.items):
                            broken = True
        finally:
            if broken or running:
                for future, task in running.items():
                    task.strikes += 1
                    (suspects if future in started or task.strikes > 1 else queue).append(task)
                _kill(pool)
            else:
                pool.shutdown(wait=True)
    for task in suspects:
        _isolate(task.items, worker, deadline, on_done, fail)


def _isolate(items, worker, deadline, on_done, fail):
    pool = _new_pool(1)
    future = pool.submit(worker, items)
    try:
        results = future.result(timeout=deadline(items) + 5)
        pool.shutdown(wait=True)
        on_done(items, results)
        return
    except futures.TimeoutError:
        reason = "checking this row took too long (its worker was stopped)"
    except Exception:
        reason = "checking this row crashed its worker process"
    _kill(pool)
    if len(items) == 1:
        fail(items[0], reason)
        return
    half = len(items) // 2
    _isolate(items[:half], worker, deadline, on_done, fail)
    _isolate(items[half:], worker, deadline, on_done, fail)


# ------------------------------------------------------------------------------ files


def _read(path):
    csv.field_size_limit(MAX_FIELD)
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise DeriveError(f"{path} is empty: it needs a header row with {', '.join(REQUIRED)}")
            rows = [row for row in reader if any(cell.strip() for cell in row)]
    except OSError as error:
        raise DeriveError(f"cannot read {path}: {error.strerror}") from None
    except csv.Error as error:
        raise DeriveError(f"{path} is not valid CSV: {error}") from None
    names = [h.strip().lower().lstrip("\ufeff") for h in header]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise DeriveError(f"{path} has no column {', '.join(missing)}: the header needs {', '.join(REQUIRED)}")
    width = len(header)
    rows = [(row + [""] * width)[:width] if len(row) < width else row for row in rows]
    return header, names, rows


def _fingerprint(row):
    return hashlib.sha1("\x1f".join(row).encode("utf-8", "replace")).hexdigest()[:16]


def _load_partial(partial, rows):
    done = {}
    try:
        with open(partial, encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                    index = record["row"]
                    if 0 <= index < len(rows) and record["key"] == _fingerprint(rows[index]):
                        done[index] = {k: record[k] for k in ADDED}
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by the interruption
    except FileNotFoundError:
        pass
    except OSError as error:
        raise DeriveError(f"cannot read {partial}: {error.strerror}") from None
    return done


def _render(header, rows, results, fmt):
    out = io.StringIO()
    if fmt == "jsonl":
        for row, result in zip(rows, results):
            record = dict(zip(header, row))
            record.update(result)
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(list(header) + list(ADDED))
        for row, result in zip(rows, results):
            writer.writerow(list(row) + [result["verdict"], ";".join(result["mistakes"]), result["message"]])
    return out.getvalue()


def _summary(rows, results, names):
    counts = collections.Counter(r["verdict"] for r in results)
    lines = [f"checked {len(results)} rows: " + ", ".join(
        f"{counts.get(v, 0)} {v}" for v in ("correct", "incorrect", "invalid"))]
    e, w = names.index("expression"), names.index("wrt")
    per_problem = collections.defaultdict(collections.Counter)
    for row, result in zip(rows, results):
        for code in result["mistakes"][:1]:
            per_problem[(row[e], row[w])][code] += 1
    if per_problem:
        lines.append("most common mistakes:")
        for (expression, wrt), codes in sorted(per_problem.items(), key=lambda kv: -sum(kv[1].values()))[:20]:
            shown = expression if len(expression) <= 60 else expression[:57] + "..."
            top = ", ".join(f"{code} ({n})" for code, n in codes.most_common(3))
            lines.append(f"  {shown} wrt {wrt or '?'}: {top}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ entry point


def run_batch(path, output, *, fmt="csv", resume=False, jobs=None, chunk=CHUNK):
    """Check every row of ``path`` and write ``output``; returns the summary text."""
    from derive.files import write_whole

    if fmt not in ("csv", "jsonl"):
        raise DeriveError("the batch output format is csv or jsonl")
    _warm()
    gc.freeze()  # what is here now is never scanned again, in this process or the forked workers
    header, names, rows = _read(path)
    col = {name: names.index(name) for name in REQUIRED}
    jobs = jobs or os.cpu_count() or 1
    partial = output + ".partial"
    results = [None] * len(rows)
    if resume:
        for index, result in _load_partial(partial, rows).items():
            results[index] = result
    try:
        progress_file = open(partial, "a" if resume else "w", encoding="utf-8")
    except OSError as error:
        raise DeriveError(f"cannot write {partial}: {error.strerror}") from None

    # problem -> answer -> rows
    todo = collections.defaultdict(lambda: collections.defaultdict(list))
    for index, row in enumerate(rows):
        if results[index] is None:
            todo[(row[col["expression"]], row[col["wrt"]].strip())][row[col["answer"]]].append(index)

    show = sys.stderr.isatty()
    bar_context = (click.progressbar(length=sum(r is None for r in results), file=sys.stderr, label="Checking")
                   if show else contextlib.nullcontext())
    with progress_file, bar_context as bar:

        def record(indices, result):
            for index in indices:
                results[index] = result
                progress_file.write(json.dumps({"row": index, "key": _fingerprint(rows[index]), **result},
                                               ensure_ascii=False) + "\n")
            if bar is not None:
                bar.update(len(indices))

        # 1. each problem once
        prepared = {}
        keys = list(todo)

        def prepared_done(items, outcomes):
            for key, outcome in zip(items, outcomes):
                prepared[key] = outcome

        _run([keys[k:k + 4] for k in range(0, len(keys), 4)], _prepare_chunk, jobs,
             lambda items: PREPARE_DEADLINE * len(items), prepared_done,
             lambda key, reason: prepared.__setitem__(key, ("error", f"expression: {reason}")))
        chunks, current = [], []
        for key, answers in todo.items():
            status, value = prepared[key]
            if status != "ok":
                for indices in answers.values():
                    record(indices, _invalid(value))
                continue
            for answer in answers:
                current.append((key, answer))
                if len(current) >= chunk:
                    chunks.append(current)
                    current = []
            if current:  # a chunk holds one problem's answers
                chunks.append(current)
                current = []
        progress_file.flush()
        _SHARED.clear()
        _SHARED.update({key: value for key, (status, value) in prepared.items() if status == "ok"})
        gc.freeze()  # the forked workers then never scan (and copy) the parent's objects

        # 2. each distinct answer once
        def checked(items, outcomes):
            for (key, answer), outcome in zip(items, outcomes):
                record(todo[key][answer], outcome)
            progress_file.flush()

        def failed(item, reason):
            key, answer = item
            record(todo[key][answer], _invalid(reason))
            progress_file.flush()

        _run(chunks, _check_chunk, jobs, lambda items: 5.0 + ROW_DEADLINE * len(items), checked, failed)

    write_whole(output, _render(header, rows, results, fmt))
    with contextlib.suppress(OSError):
        os.unlink(partial)
    return _summary(rows, results, names)

