"""Cold start: how long a fresh ``derive explain mse --wrt weight`` takes, as a ratio.

The baseline is a fresh ``python -c "import sympy"`` measured in the same run: derive
cannot start faster than SymPy imports, so the ratio shows what derive adds on top
(its own modules, click, jinja2, the template compile, the derivation and its check).

derive's console entry point pauses the garbage collector during its imports and leaves
with ``os._exit`` (see ``derive/startup.py``). So that the reader can judge what that
buys, an extra row without a target runs ``import sympy`` and then leaves the same way,
and the last lines give the ratio against it too.

Bytecode: the children may write ``__pycache__`` even when ``PYTHONDONTWRITEBYTECODE`` is
set in this shell, and an untimed warm-up run writes it, so derive's modules load from
bytecode as they do from an installed wheel (pip compiles them at install) rather than
being compiled from source on every run.

Runs are interleaved (A B A B ...) so drift on a shared machine hits both sides alike;
each side reports its median. A second section runs ``python -X importtime`` a few times
and prints the most expensive imports (median cumulative time), and the imports that
derive's own modules trigger beyond ``import sympy``: candidates to make lazy.

Usage:  python bench/cold_start.py [--repeats N]
Reports, never gates: exits 0 even when the target is missed.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.2  # derive's cold start <= 1.2x of `import sympy`
COMMAND_ARGS = ["explain", "mse", "--wrt", "weight"]


def environment():
    """The child environment: the checkout on sys.path (works installed or not), no colour."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env["NO_COLOR"] = "1"
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # load from bytecode, as an installed wheel does
    return env


# Exit 3 means derive ran everything (steps, check, rendering) but its numeric check
# failed: a correctness problem, not a timing one, so the run still counts (and is noted).
COMPLETED = (0, 3)
NOTES = set()


def run_once(argv, env):
    """Wall time of one fresh process, output to /dev/null; raises if it fails."""
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if done.returncode == 3:
        NOTES.add(f"NOTE: `{' '.join(argv[1:] if argv[0] == sys.executable else argv)}` exited 3 "
                  "(its numeric check failed); timed anyway, since it did all the work")
    if done.returncode not in COMPLETED:
        message = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["(no stderr)"]
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {message[0]}")
    return elapsed


def measure(commands, repeats, env):
    """{label: [seconds, ...]} with every command run once per round, rounds interleaved.

    The order inside a round alternates (forward, then backward) so no command always
    runs right after the same neighbour.
    """
    times = {label: [] for label, _ in commands}
    for argv in (argv for _, argv in commands):  # warm-up: .pyc files, the OS page cache
        run_once(argv, env)
    for r in range(repeats):
        order = commands if r % 2 == 0 else commands[::-1]
        for label, argv in order:
            times[label].append(run_once(argv, env))
    return times


# --- -X importtime --------------------------------------------------------------------


def importtime(argv, env):
    """Parse one ``-X importtime`` run into a list of (name, depth, self_us, cumulative_us, children)."""
    done = subprocess.run([sys.executable, "-X", "importtime", *argv], cwd=ROOT, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    nodes = []
    pending = {}  # depth -> nodes at that depth waiting for their parent line
    for line in done.stderr.decode(errors="replace").splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line[len("import time:"):].split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue  # the header line
        name_field = parts[2]
        name = name_field.strip()
        depth = (len(name_field) - len(name_field.lstrip(" ")) - 1) // 2
        children = pending.pop(depth + 1, [])
        node = {"name": name, "depth": depth, "self": int(parts[0]), "cum": int(parts[1]),
                "children": children}
        pending.setdefault(depth, []).append(node)
        nodes.append(node)
    return nodes


def importtime_report(env, runs=3, top=15):
    argv = ["-m", "derive", *COMMAND_ARGS]
    parsed = [importtime(argv, env) for _ in range(runs)]
    baseline = {n["name"] for n in importtime(["-c", "import sympy"], env)}
    if not parsed[0]:
        print("  (no -X importtime output)")
        return
    # A module can appear twice in one run (a circular import re-entered), so key each
    # line by (name, how many times that name was seen before) to match it across runs.
    cum = {}
    selfs = {}
    for nodes in parsed:
        seen = {}
        for n in nodes:
            n["key"] = (n["name"], seen.get(n["name"], 0))
            seen[n["name"]] = n["key"][1] + 1
            cum.setdefault(n["key"], []).append(n["cum"])
            selfs.setdefault(n["key"], []).append(n["self"])
    med = {key: statistics.median(v) / 1000 for key, v in cum.items()}
    med_self = {key: statistics.median(v) / 1000 for key, v in selfs.items()}
    nodes = parsed[0]
    total = sum(med[n["key"]] for n in nodes if n["depth"] == 0)

    print(f"\n== Start-up imports: python -X importtime -m derive {' '.join(COMMAND_ARGS)} "
          f"(median of {runs} runs; all top-level imports: {total:.0f} ms) ==")
    print(f"Top {top} by cumulative time (indent = nesting depth):")
    print(f"  {'cumulative':>10}  {'self':>7}  module")
    for n in sorted(nodes, key=lambda n: -med[n["key"]])[:top]:
        print(f"  {med[n['key']]:8.1f}ms  {med_self[n['key']]:5.1f}ms  {'  ' * n['depth']}{n['name']}")

    # What derive's own modules pull in that `import sympy` alone does not: lazy candidates.
    extra = []
    for n in nodes:
        if n["name"].split(".")[0] == "derive":
            for child in n["children"]:
                if child["name"].split(".")[0] != "derive" and child["name"] not in baseline:
                    extra.append((n["name"], child))
    extra.sort(key=lambda pair: -med[pair[1]["key"]])
    print("\nImported eagerly by derive's modules beyond what `import sympy` loads "
          "(lazy-import candidates; cumulative, first import only):")
    if not extra:
        print("  (none)")
    for parent, child in extra[:top]:
        print(f"  {med[child['key']]:8.1f}ms  {child['name']:<32} <- {parent}")
    # Depth-0 lines that are neither start-up nor derive's own: imported inside a function
    # while the command ran (SymPy's Add.flatten pulls in sympy.tensor.tensor this way).
    startup = {"site", "encodings", "codecs", "io", "abc", "_frozen_importlib_external"}
    runtime = [n for n in nodes if n["depth"] == 0 and n["name"] not in baseline
               and n["name"].split(".")[0] != "derive" and n["name"] not in startup
               and n["name"] not in ("runpy", "__main__")]
    runtime.sort(key=lambda n: -med[n["key"]])
    print("\nImported at run time, inside a function (not at derive's import; cumulative):")
    if not runtime:
        print("  (none)")
    for n in runtime[:top]:
        print(f"  {med[n['key']]:8.1f}ms  {n['name']}")
    own = sorted((n for n in nodes if n["name"].split(".")[0] == "derive"), key=lambda n: -med[n["key"]])
    print("\nderive's own modules (cumulative includes what each imports first):")
    for n in own:
        print(f"  {med[n['key']]:8.1f}ms  {med_self[n['key']]:5.1f}ms self  {n['name']}")


# --- where the time goes inside one fresh process ---------------------------------------

PHASES = r"""
import json, time
from derive import startup
startup.pause_collection()  # as derive's console entry point does
t0 = time.perf_counter()
import sympy
t1 = time.perf_counter()
import derive.cli.main, derive.derivation, derive.engine.rules, derive.verify.check, derive.render.formats
startup.imports_done()
t2 = time.perf_counter()
d = derive.derivation.explain("mse", wrt="weight")
t3 = time.perf_counter()
d.to_text()
t4 = time.perf_counter()
print(json.dumps([t1 - t0, t2 - t1, t3 - t2, t4 - t3]))
"""
PHASE_NAMES = ["import sympy", "import derive's modules + click + jinja2",
               "explain('mse', wrt='weight') (steps + check)", "to_text() (incl. first template compile)"]


def phases_report(env, runs=5):
    """Median in-process time of each phase of the CLI's work, in fresh processes."""
    import json

    samples = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", PHASES], cwd=ROOT, env=env, capture_output=True,
                              stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            print(f"  (phase breakdown failed: {done.stderr.decode(errors='replace').strip().splitlines()[-1:]})")
            return
        samples.append(json.loads(done.stdout.decode().strip().splitlines()[-1]))
    print(f"\n== Inside one fresh process (median of {runs}; the rest of the wall time is "
          "interpreter start-up and exit) ==")
    for i, name in enumerate(PHASE_NAMES):
        print(f"  {statistics.median(s[i] for s in samples) * 1000:8.1f}ms  {name}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="interleaved runs of each command")
    args = parser.parse_args()
    env = environment()

    commands = [
        ("import sympy", [sys.executable, "-c", "import sympy"]),
        # Information only: SymPy imports sympy.tensor.tensor (~50 ms) on the first Add of
        # symbols, which any real SymPy program pays and bare `import sympy` does not.
        ("import sympy + first Add", [sys.executable, "-c",
                                      "import sympy; sympy.Symbol('x') + sympy.Symbol('y')"]),
        # Information only: the same import, leaving without the interpreter's teardown,
        # as derive's console entry point does.
        ("import sympy, no teardown", [sys.executable, "-c", "import os, sympy; os._exit(0)"]),
        ("python -m derive", [sys.executable, "-m", "derive", *COMMAND_ARGS]),
    ]
    script = shutil.which("derive")
    if script:
        commands.append(("derive (console script)", [script, *COMMAND_ARGS]))

    print(f"Cold start of `derive {' '.join(COMMAND_ARGS)}` vs `python -c \"import sympy\"`")
    print(f"python {sys.version.split()[0]} at {sys.executable}; checkout {ROOT}; "
          f"{os.cpu_count()} CPUs; {args.repeats} interleaved runs each")
    if not script:
        print("console script: `derive` not found on PATH (package not installed), skipped")

    try:
        times = measure(commands, args.repeats, env)
    except RuntimeError as error:
        print(f"FAILED to run: {error}")
        print("cold start: not measured (a command failed) FAIL")
        return 0
    base = statistics.median(times["import sympy"])
    for note in sorted(NOTES):
        print(note)

    print(f"\n{'command':<26} {'median':>9} {'min':>9} {'max':>9} {'ratio':>7}")
    for label, _ in commands:
        t = times[label]
        med = statistics.median(t)
        print(f"{label:<26} {med * 1000:7.0f}ms {min(t) * 1000:7.0f}ms {max(t) * 1000:7.0f}ms {med / base:6.2f}x")

    phases_report(env)
    importtime_report(env)

    print()
    bare = statistics.median(times["import sympy, no teardown"])
    for label, _ in commands[3:]:
        spent = statistics.median(times[label])
        print(f"(information) {label}: {spent / bare:.2f}x of 'import sympy' without its teardown")
    for label, _ in commands[3:]:
        ratio = statistics.median(times[label]) / base
        verdict = "PASS" if ratio <= TARGET else "FAIL"
        name = "cold start" if label == "python -m derive" else f"cold start ({label})"
        print(f"{name}: {ratio:.2f}x of 'import sympy' (target <= {TARGET}x) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
