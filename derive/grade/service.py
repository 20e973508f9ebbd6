"""Checking many answers at once, across worker processes, with a bounded memory.

A :class:`Checker` takes a window of tasks, each one problem and the distinct answers to it,
and returns a small result dict per answer. Each worker keeps the problems it prepared
(least recently used first out), and a problem's answers go to one worker together, so a
problem is prepared about once however many rows ask it. Results are remembered (a bounded
cache) so an answer met again in a later window is not checked again.

A poisoned row cannot stop the run: each check is time-bounded inside its worker
(``ANSWER_SECONDS``), workers have a memory ceiling, and a task whose worker dies or hangs is
re-run alone: first its problem's preparation alone (a problem that kills its worker makes
all of its rows invalid at once), then the task split in halves until the row responsible
is found; that row becomes ``invalid`` with the reason and the run goes on.

Workers die with their parent (the kernel is asked to kill them when it exits, and each
also watches for it), and they hold none of its standard streams, so ``derive … | cat``
ends when derive does.
"""

import collections
import concurrent.futures as futures
import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time

from derive.errors import DeriveError

CHUNK = 64  # answers per task
PREPARE_DEADLINE = 20.0  # seconds a task may spend preparing before its worker is presumed hung
ROW_DEADLINE = 3.0  # per answer in a task, for the same purpose (the real bound is inside)
MEMORY_HEADROOM = 2 << 30  # bytes of address space a worker may add to what it had at start
PROBLEMS_KEPT = 512  # prepared problems a worker keeps
RESULTS_KEPT = 50_000  # results the parent remembers
_PR_SET_PDEATHSIG = 1


# ------------------------------------------------------------------------ in the workers


def _init_worker(parent):
    """Die with the parent; hold none of its streams; cap memory (a memory bomb raises
    MemoryError instead of swapping)."""
    with contextlib.suppress(Exception):  # Linux: the kernel kills us when the parent dies
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)

    def watch():  # elsewhere, and as a second wall: notice the parent has gone
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True).start()
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        import resource

        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[0])
        limit = pages * os.sysconf("SC_PAGE_SIZE") + MEMORY_HEADROOM
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard == resource.RLIM_INFINITY or limit < hard:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, OSError, ValueError):
        pass


_PROBLEMS = collections.OrderedDict()  # key -> ("ok", Problem) or ("error", reason)


def prepare(key):
    """A problem's key: (expression, wrt, variables) -> ("ok", Problem) or ("error", reason)."""
    from derive.grade.answer import Problem

    found = _PROBLEMS.get(key)
    if found is not None:
        _PROBLEMS.move_to_end(key)
        return found
    expression, wrt, variables = key
    from derive.grade.manifest import not_in_manifest

    try:
        if not_in_manifest(expression):
            raise DeriveError(not_in_manifest(expression))
        found = ("ok", Problem(expression, wrt or None, 0, None, variables))
    except DeriveError as error:
        text = str(error)
        found = ("error", text if text.startswith("expression") else f"expression: {text}")
    except MemoryError:
        found = ("error", "the expression is too large to check")
    except RecursionError:
        found = ("error", "the expression is nested too deeply to check")
    except Exception as error:  # a bug of ours: the rows are invalid, the run goes on
        found = ("error", f"internal error ({type(error).__name__})")
    _PROBLEMS[key] = found
    if len(_PROBLEMS) > PROBLEMS_KEPT:
        _PROBLEMS.popitem(last=False)
    return found


def invalid(reason):
    return {"verdict": "invalid", "mistakes": [], "where": "", "read_as": "", "message":
            " ".join(str(reason).split())[:500]}


def _summarised(result):
    return {"verdict": result.verdict, "mistakes": result.mistakes, "message": result.message,
            "where": result.where[0][1] if result.where else "", "read_as": result.read_as,
            "signature": result.signature}


def check_item(prepared, answer, working="", decimals=None, same=None, reading=None):
    """One answer's (and its working's) verdict as a small dict; never raises. ``same`` is
    the CheckResult of an answer that reads the same (only its reading is redone);
    ``reading``, the answer already read."""
    try:
        if same is not None:
            import dataclasses

            from derive.grade.words import message

            reading = reading or prepared.reading_key(answer)[1]
            result = dataclasses.replace(same, read_as=prepared._shown(reading.expr), notes=reading.notes)
            result.message = message(result)
        else:
            result = (prepared.check(answer, decimals or None, reading) if answer.strip() or not working.strip()
                      else None)
        out = (_summarised(result) if result is not None else
               {"verdict": "unreadable", "mistakes": [], "message": "no answer", "where": "", "read_as": "",
                "signature": None})
        out["_result"] = result
        if working.strip():
            from derive.grade.working import check_working, split_lines

            lines = split_lines(working)
            found = check_working(prepared, lines, decimals=decimals)
            out["working_verdict"] = found.verdict
            out["first_wrong_line"] = found.steps[found.first_wrong].line if found.first_wrong is not None else ""
            out["working_message"] = found.message
            if found.mistake and not out["mistakes"]:
                out["mistakes"] = [found.mistake]
                out["where"] = found.where
        return out
    except DeriveError as error:
        return invalid(str(error))
    except MemoryError:
        return invalid("the answer is too large to check")
    except RecursionError:
        return invalid("the answer is nested too deeply to check")
    except Exception as error:  # a bug of ours: the row is invalid, the run goes on
        return invalid(f"internal error ({type(error).__name__})")


def check_task(task):
    """(key, [(answer, working, decimals)]) -> [result], in the worker."""
    key, items = task
    if items is None:  # a preparation alone, to see whether the problem itself is poisoned
        status, value = prepare(key)
        return [value if status == "error" else None]
    status, value = prepare(key)
    if status != "ok":
        return [invalid(value) for _ in items]
    import derive.grade.service as me  # tests replace check_item in the forked workers

    out, seen = [], {}
    for item in items:
        answer, working, decimals = item
        same = reading = reading_key = None
        if not working.strip():
            # answers SymPy reads the same (2x, 2*x, x*2, (3*(2x))/3) are checked once
            try:
                found, reading = value.reading_key(answer)
                reading_key = (found, decimals)
            except Exception:  # the full check below says what is wrong
                reading_key = reading = None
            same = seen.get(reading_key) if reading_key and reading_key[0] is not None else None
            if reading is not None and reading.error:
                reading = None  # the full check reads it again and says why it cannot
        result = me.check_item(value, *item, same=same, reading=reading)
        full = result.pop("_result", None)
        if result["verdict"] == "incorrect":
            result["rules"] = value.rules_used
        if reading_key and reading_key[0] is not None:
            import hashlib

            result["reading"] = hashlib.sha1(repr(reading_key[0]).encode()).hexdigest()[:12]
        if same is None and full is not None and not working.strip() and reading_key and reading_key[0] is not None:
            seen[reading_key] = full
        out.append(result)
    return out


def same_task(task):
    """(key, [(answer, other answer)]) -> [bool]: is each answer exactly equal to the other
    (as functions on the problem's domain)? Two answers of one class are confirmed so."""
    key, pairs = task
    status, problem = prepare(key)
    out = []
    for answer, other in pairs:
        try:
            first, reading = problem.reading_key(answer)
            second, other_reading = problem.reading_key(other)
            if first is None or second is None:
                out.append(False)
                continue
            if first == second:
                out.append(True)
                continue
            from derive.grade.values import compile_expression

            compiled = compile_expression(reading.expr)
            outcome = problem._compare(reading.expr, compiled, answer, ref=problem.reference_for(other_reading.expr))
            out.append(outcome.kind == "equal")
        except Exception:  # not shown equal: the answers stay in classes of their own
            out.append(False)
    return out


def explain_task(task):
    """(key, fmt) -> [text]: the worked solution of a problem, as Markdown or HTML."""
    key, fmt = task
    expression, wrt, _ = key
    try:
        from derive.derivation import explain

        document = explain(expression, wrt=wrt or None)
        return [document.to_html() if fmt == "html" else document.to_markdown()]
    except DeriveError as error:
        return [f"(no worked solution: {error})"]
    except Exception as error:  # a bug of ours: the feedback goes out without it
        return [f"(no worked solution: internal error {type(error).__name__})"]


# ------------------------------------------------------------------------ the parent


class _PoolHolder:
    def __init__(self, jobs):
        self.jobs = jobs
        self.pool = None

    def get(self):
        if self.pool is None:
            self.pool = _new_pool(self.jobs)
        return self.pool

    def kill(self):
        if self.pool is not None:
            _kill(self.pool)
            self.pool = None

    def close(self):
        if self.pool is not None:
            with contextlib.suppress(Exception):
                self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


def _new_pool(jobs):
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:
        context = None
    return futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init_worker,
                                       initargs=(os.getpid(),))


def _kill(pool):
    for process in list(getattr(pool, "_processes", {}).values()):  # the workers we started
        with contextlib.suppress(Exception):
            process.kill()
    with contextlib.suppress(Exception):
        pool.shutdown(wait=True, cancel_futures=True)


def _deadline(task):
    key, items = task
    return PREPARE_DEADLINE + ROW_DEADLINE * (len(items) if items else 0)


class Checker:
    """Checks windows of tasks across ``jobs`` worker processes (see the module docstring)."""

    def __init__(self, jobs=None):
        self.jobs = jobs or os.cpu_count() or 1
        self.pools = _PoolHolder(self.jobs)
        self.cache = collections.OrderedDict()
        self.poisoned = {}

    def close(self):
        self.pools.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:
            self.pools.kill()
        else:
            self.close()

    def check(self, requests):
        """{(key, item): result} for the requested (key, item) pairs."""
        out = {}
        todo = collections.defaultdict(list)
        for key, item in requests:
            found = self.cache.get((key, item))
            if found is not None:
                self.cache.move_to_end((key, item))
                out[(key, item)] = found
            elif key in self.poisoned:
                out[(key, item)] = invalid(self.poisoned[key])
            elif (key, item) not in out:
                out[(key, item)] = None
                todo[key].append(item)
        tasks = []
        for key, items in todo.items():
            for k in range(0, len(items), CHUNK):
                tasks.append((key, items[k:k + CHUNK]))

        def done(task, results):
            key, items = task
            for item, result in zip(items, results):
                out[(key, item)] = result
                self.cache[(key, item)] = result
                if len(self.cache) > RESULTS_KEPT:
                    self.cache.popitem(last=False)

        def failed(task, reason):
            key, items = task
            for item in items:
                out[(key, item)] = invalid(reason)

        self._run(tasks, done, failed)
        return out

    def run(self, worker, tasks):
        """[results] of ``worker`` (same_task, explain_task) on each task, in order; a task
        that kills or hangs its worker gets None."""
        out = [None] * len(tasks)
        index = {id(task): k for k, task in enumerate(tasks)}

        def done(task, results):
            out[index[id(task)]] = results

        self._run(tasks, done, lambda task, reason: None, worker=worker, isolate=False)
        return out

    def _run(self, tasks, on_done, fail, worker=check_task, isolate=True):
        queue = collections.deque(tasks)
        suspects = []
        while queue:
            pool = self.pools.get()
            running, started = {}, {}
            broken = False
            for task in queue:
                running[pool.submit(worker, task)] = task
            queue.clear()
            try:
                while running and not broken:
                    finished, _ = futures.wait(running, timeout=0.1, return_when=futures.FIRST_COMPLETED)
                    now = time.monotonic()
                    for future in finished:
                        task = running.pop(future)
                        try:
                            results = future.result()
                        except Exception:  # BrokenProcessPool, or a result that failed to unpickle
                            broken = True
                            suspects.append(task)
                            continue
                        on_done(task, results)
                    for future, task in running.items():
                        if future.running():
                            started.setdefault(future, now)
                            if now - started[future] > _deadline(task):
                                broken = True
            finally:
                if broken or running:
                    for future, task in running.items():
                        (suspects if future in started else queue).append(task)
                    self.pools.kill()
        for task in suspects:
            if isolate:
                self._isolate(task, on_done, fail)
            else:
                fail(task, "its worker stopped")

    def _isolate(self, task, on_done, fail):
        key, items = task
        if key not in self.poisoned and key not in getattr(self, "_sound", set()):
            reason = self._alone((key, None))
            if reason is not None:
                self.poisoned[key] = reason
            else:
                self.__dict__.setdefault("_sound", set()).add(key)
        if key in self.poisoned:
            fail(task, self.poisoned[key])
            return
        reason = self._alone(task, on_done)
        if reason is None:
            return
        if len(items) == 1:
            fail(task, reason)
            return
        half = len(items) // 2
        self._isolate((key, items[:half]), on_done, fail)
        self._isolate((key, items[half:]), on_done, fail)

    def _alone(self, task, on_done=None):
        """Run one task in a worker of its own: None when it finished, else why not."""
        pool = _new_pool(1)
        future = pool.submit(check_task, task)
        try:
            results = future.result(timeout=_deadline(task) + 5)
            pool.shutdown(wait=True)
            if task[1] is None:
                return results[0]
            on_done(task, results)
            return None
        except futures.TimeoutError:
            reason = "checking this row took too long (its worker was stopped)" if task[1] is not None else \
                "preparing this problem took too long (its worker was stopped)"
        except Exception:
            reason = "checking this row crashed its worker process" if task[1] is not None else \
                "preparing this problem crashed its worker process"
        _kill(pool)
        return reason


def warm():
    """One small check in the parent before the workers fork, so that each of them inherits
    what a first check loads (the message templates compiled, SymPy's lazy modules)."""
    from derive.grade.answer import Problem

    with contextlib.suppress(DeriveError):
        problem = Problem("x^2 sin(x)", "x")
        problem.check("2x sin(x) + x^2 cos(x)")
        problem.check("2x cos(x)")
    import gc

    frozen = gc.get_freeze_count() == 0
    gc.freeze()  # what is here now is never scanned again, here or in the forked workers
    sys.stdout.flush()
    return frozen


def thaw(frozen):
    """Undo :func:`warm`'s freeze when it made it (a library caller's settings are left alone)."""
    import gc

    if frozen:
        gc.unfreeze()
