"""Time bounds for SymPy work that can run long (tidying a result, a symbolic check, a
whole command), and that nest.

SymPy has no cancellation of its own; on the main thread a SIGALRM timer interrupts it.
Elsewhere (a worker thread) there is no safe way to interrupt, so only cheap work may be
done there; callers choose what to try accordingly.

Bounds nest, and each one holds:

* an inner bound never outlives an outer one: the timer is armed for the nearest
  deadline of all the open bounds;
* an outer expiry cannot be swallowed by an inner ``except TimeLimit`` (or ``except
  Exception``): inside an inner bound it travels as ``_Expired``, a ``BaseException``,
  and becomes a ``TimeLimit`` only where its own ``with`` ends. Should anything catch it
  all the same, it is raised again every ``REFIRE_SECONDS`` until that block ends, and
  the block's end raises ``TimeLimit`` even if nothing is on its way out;
* the ``TimeLimit`` says which bound ran out (``error.bound``);
  ``time_limit(seconds, quiet=True)`` ends its block quietly on its own expiry only.

A timer someone else armed before the first bound (with a handler of their own) is kept:
it counts as the outermost deadline, and its handler runs when it comes.
"""

import signal
import threading
import time

REFIRE_SECONDS = 0.05  # an expired bound that was caught and ignored fires again this soon


class TimeLimit(Exception):
    """The bounded work ran out of time; ``bound`` is the bound that expired (None when an
    older, non-nesting timer raised it)."""

    def __init__(self, message, bound=None):
        super().__init__(message)
        self.bound = bound


class _Expired(BaseException):
    """An enclosing bound ran out: on its way to that bound's ``with`` (never caught by
    ``except TimeLimit`` or ``except Exception`` in the work in between)."""

    def __init__(self, bound):
        super().__init__(f"took longer than {bound.seconds:g} s")
        self.bound = bound


class _Foreign:
    """A timer armed before derive's first bound, with its own handler: kept, outermost."""

    def __init__(self, deadline, handler):
        self.deadline, self.handler, self.expired = deadline, handler, False


_open = []  # the bounds open on the main thread, outermost first (a _Foreign one at the bottom)
_saved_handler = None  # the SIGALRM handler before the first bound


class Bound:
    """One time bound (made by :func:`time_limit`); ``expired`` says whether it ran out."""

    def __init__(self, seconds, quiet=False):
        self.seconds = seconds
        self.quiet = quiet
        self.expired = False
        self.active = False
        self.deadline = None

    def __enter__(self):
        global _saved_handler
        if not (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()):
            return self  # no bound here: see the module's docstring
        now = time.monotonic()
        self.deadline = now + self.seconds
        if not _open:
            remaining = signal.getitimer(signal.ITIMER_REAL)[0]
            _saved_handler = signal.signal(signal.SIGALRM, _on_alarm)
            if remaining > 0:
                _open.append(_Foreign(now + remaining, _saved_handler))
        _open.append(self)
        self.active = True
        _arm()
        return self

    def __exit__(self, kind, error, traceback):
        global _saved_handler
        if not self.active:
            return False
        self.active = False
        if self in _open:
            _open.remove(self)
        only_foreign = True
        for entry in _open:  # plain loops here: a generator's frame could be interrupted
            if not isinstance(entry, _Foreign):
                only_foreign = False
        if only_foreign:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, _saved_handler if _saved_handler is not None else signal.SIG_DFL)
            _saved_handler = None
            for entry in _open:  # the older timer, put back with the time it has left
                if not entry.expired:
                    signal.setitimer(signal.ITIMER_REAL, max(entry.deadline - time.monotonic(), 0.001))
            _open.clear()
        else:
            _arm()
        if not self.expired:
            return False
        mine = isinstance(error, (TimeLimit, _Expired)) and error.bound is self
        if error is not None and not mine:
            return False  # something else (an outer expiry, a real error) is on its way
        if self.quiet:
            return True
        if isinstance(error, TimeLimit):
            return False
        raise TimeLimit(f"took longer than {self.seconds:g} s", self) from None


def time_limit(seconds, *, quiet=False):
    """A bound of ``seconds`` on the block (main thread, POSIX; elsewhere no bound).

    Raises :class:`TimeLimit` inside the block when the time is up. With ``quiet=True``
    the block just ends when its own time is up (test ``bound.expired`` afterwards);
    the expiry of an enclosing bound always goes through.

        with time_limit(2, quiet=True) as bound:
            tidied = slow_tidy(expr)
        if bound.expired:
            tidied = expr
    """
    return Bound(seconds, quiet)


def _arm():
    """Arm the timer for the nearest deadline of the open bounds (soon, if one has run out)."""
    if not _open:
        signal.setitimer(signal.ITIMER_REAL, 0)
        return
    now = time.monotonic()
    delay = None
    for entry in _open:
        if entry.expired and not isinstance(entry, _Foreign):
            delay = REFIRE_SECONDS
            break
        if not entry.expired and (delay is None or entry.deadline - now < delay):
            delay = entry.deadline - now
    if delay is None:  # only an older timer, already fired: nothing left to time
        signal.setitimer(signal.ITIMER_REAL, 0)
        return
    signal.setitimer(signal.ITIMER_REAL, max(delay, 0.0005))


def _on_alarm(signum, frame):
    if _bookkeeping(frame):
        signal.setitimer(signal.ITIMER_REAL, 0.001)  # never interrupt the bounds' own bookkeeping
        return
    now = time.monotonic()
    for entry in _open:  # outermost first: its expiry is the one that must get through
        if entry.deadline is not None and entry.deadline <= now + 0.0005:
            if isinstance(entry, _Foreign):
                if entry.expired:
                    continue
                entry.expired = True
                _arm()
                if callable(entry.handler):
                    entry.handler(signum, frame)
                return
            first = not entry.expired
            entry.expired = True
            signal.setitimer(signal.ITIMER_REAL, REFIRE_SECONDS)  # again, until its block is closed
            if not first and _on_its_way(entry, frame):
                return
            if first and entry is _open[-1]:  # the innermost bound: its own work may catch it
                raise TimeLimit(f"took longer than {entry.seconds:g} s", entry)
            raise _Expired(entry)
    _arm()  # woken early: wait for the nearest deadline again


_BOOKKEEPING = {Bound.__enter__.__code__, Bound.__exit__.__code__, _arm.__code__}


def _bookkeeping(frame):
    """Whether ``frame`` is a bound's own entry or exit (a subclass's ``__exit__`` too)."""
    if frame is None:
        return False
    code = frame.f_code
    return code in _BOOKKEEPING or (code.co_name == "__exit__" and isinstance(frame.f_locals.get("self"), Bound))


def _on_its_way(entry, frame):
    """Whether the expiry of ``entry`` is already on its way out, through a context
    manager's ``__exit__`` (contextlib's, say) between the work and the bound's own exit:
    raising it again there would be raising it outside the bound's ``with``."""
    import sys

    error = sys.exc_info()[1]
    return (frame is not None and frame.f_code.co_name in ("__exit__", "__aexit__")
            and isinstance(error, (TimeLimit, _Expired)) and error.bound is entry)
