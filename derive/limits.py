"""Time bounds for SymPy work that can run long (tidying a result, a symbolic check).

SymPy has no cancellation of its own; on the main thread a SIGALRM timer interrupts it.
Elsewhere (a worker thread) there is no safe way to interrupt, so only cheap work may be
done there; callers choose what to try accordingly.
"""

import contextlib
import signal
import threading


class TimeLimit(Exception):
    """The bounded work ran out of time."""


@contextlib.contextmanager
def time_limit(seconds):
    """Raise TimeLimit inside the block after ``seconds`` (main thread, POSIX); else no bound."""
    usable = (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL)[0] == 0  # never clobber an outer timer
    )
    if not usable:
        yield False
        return

    def on_alarm(signum, frame):
        raise TimeLimit(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
