"""The child process that runs a learner's gradient function (``derive gradcheck``).

Started as ``python -I child.py`` with a JSON request on stdin: the file, the function and
the calls to make. It imports nothing of derive (so it starts fast and the learner's code
sees a plain interpreter), limits its own memory and CPU time, captures what the code
prints, and writes one JSON answer to the file named in the request. The parent enforces
the wall-clock limit and reads only that answer.
"""

import io
import json
import os
import resource
import sys
import traceback


def _limit(memory_mb, cpu_seconds):
    for kind, value in ((resource.RLIMIT_AS, memory_mb * 1024 * 1024), (resource.RLIMIT_CPU, cpu_seconds)):
        try:
            soft, hard = resource.getrlimit(kind)
            cap = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(kind, (cap, hard))
        except (ValueError, OSError):
            pass


def _plain(value):
    """A returned gradient as {"shape": [...], "values": [...]} (numbers only)."""
    try:
        import numpy as np

        array = np.asarray(value, dtype=float)
        return {"shape": list(array.shape), "values": [float(v) for v in array.reshape(-1)]}
    except Exception:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return {"shape": [], "values": [float(value)]}
        return {"error": f"not a number or an array of numbers: {type(value).__name__}"}


def _arguments(data):
    try:
        import numpy as np

        return {k: np.array(v, dtype=float) if isinstance(v, list) else v for k, v in data.items()}
    except ImportError:
        return dict(data)


def _where(error, path):
    """The line of the learner's file where the error happened, if it was there."""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if os.path.abspath(frame.filename) == path:
            return f"line {frame.lineno} of {os.path.basename(path)}"
    return None


def call(function, calls, answer, path=None):
    """Call ``function(params, example)`` for each call; results (or the failure) into ``answer``."""
    try:
        for params, example in calls:
            result = function(_arguments(params), _arguments(example))
            if not isinstance(result, dict):
                answer["error"] = {"kind": "type", "message": type(result).__name__}
                break
            answer["results"].append({str(k): _plain(v) for k, v in result.items()})
    except MemoryError:
        answer["error"] = {"kind": "memory", "message": "MemoryError"}
    except BaseException as error:  # the learner's code: any failure is reported, none escapes
        answer["error"] = {"kind": "crash", "message": f"{type(error).__name__}: {error}"[:300],
                           "where": _where(error, path) if path else None}


def main():
    # The file, the function and the limits come first (argv), so the interpreter, NumPy and
    # the learner's module load while derive works out its own numbers; the calls follow
    # on stdin once derive has chosen its random points.
    request = json.loads(sys.argv[1])
    _limit(request["memory_mb"], request["cpu_seconds"])
    path = request["file"]
    answer = {"results": [], "error": None}
    captured = io.StringIO()
    sys.stdout = sys.stderr = captured
    try:
        sys.path.insert(0, os.path.dirname(path))
        import importlib.util

        spec = importlib.util.spec_from_file_location("learner_gradient", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        function = getattr(module, request["function"], None)
    except MemoryError:
        function, answer["error"] = None, {"kind": "memory", "message": "MemoryError"}
    except BaseException as error:  # a syntax error, a failing import: the learner's to fix
        function = None
        answer["error"] = {"kind": "import", "message": f"{type(error).__name__}: {error}"[:300],
                           "where": _where(error, path)}
    if answer["error"] is None:
        request["calls"] = json.loads(sys.__stdin__.read())
        if function is None or not callable(function):
            names = sorted(k for k, v in vars(module).items() if callable(v) and not k.startswith("_"))
            answer["error"] = {"kind": "missing", "message": request["function"], "names": names[:20]}
        else:
            call(function, request["calls"], answer, path)
    answer["output"] = captured.getvalue()[-2000:]
    with open(request["answer"], "w", encoding="utf-8") as handle:
        json.dump(answer, handle)


if __name__ == "__main__":
    main()
