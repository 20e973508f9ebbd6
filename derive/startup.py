"""Start-up and exit of the ``derive`` process: two costs a one-shot command need not pay.

Importing SymPy allocates about a million objects that live until the process ends. While
they are being made, the cyclic garbage collector keeps scanning them, and frees none:
on a fresh ``derive explain mse --wrt weight`` that is about 30 ms. At exit the interpreter
then frees them one by one, about 60 ms more, though the operating system reclaims the
whole process at once. Together that is a quarter of the command's time beyond
``import sympy`` itself.

So :func:`console` (the ``derive`` script and ``python -m derive``) pauses the collector
while a command imports what it needs; each command calls :func:`imports_done` once its
imports are in, which freezes what start-up made (:func:`gc.freeze`, never scanned again)
and turns collection back on for the real work. At the end, :func:`exit_now` runs the
``atexit`` handlers, flushes the standard streams and leaves with :func:`os._exit`,
skipping the teardown. Nothing is lost by that: every file derive writes is closed and
renamed into place before its command returns (:func:`derive.files.write_whole`).

A library import of derive does none of this; only the command line does.
"""

import atexit
import gc
import os
import sys
import threading

_paused = False


def pause_collection():
    """Stop the cyclic collector until :func:`imports_done` (the command line only)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def imports_done():
    """A command has imported what it needs: freeze that, and collect garbage again.

    Does nothing unless :func:`pause_collection` paused the collector, so tests and
    library callers keep their own settings."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


def exit_code(stop):
    """The exit status a ``SystemExit`` carries, as :func:`sys.exit` would report it."""
    code = stop.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def exit_now(code):
    """Leave the process with ``code``, without the interpreter's teardown.

    The ``atexit`` handlers run first (a finished multiprocessing pool, temporary
    folders), then standard output and error are flushed. A reader that went away (a
    closed pipe, as with ``derive … | head``) is not an error worth a traceback.

    If a thread other than the main one is still working, the ordinary exit is taken
    instead, so the interpreter waits for it as usual."""
    if any(t is not threading.main_thread() and t.is_alive() and not t.daemon for t in threading.enumerate()):
        sys.exit(code)
    try:
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                code = code or 1
        os._exit(code)
