"""Speed of ``derive graph`` and ``derive gradcheck`` against a plain ``derive explain``.

Three fresh processes, timed in the same run (wall clock, output to /dev/null):

- baseline  ``python -m derive explain mlp --wrt all``  (the derivation of every partial,
  its numeric check of every step, the text);
- graph     ``python -m derive graph mlp --at w=0.5,b=0.1,v=-1.2,c=0.3,x=1.5,y=2 -o mlp.svg``
  (the graph, the forward and backward passes at 40 digits with a finite difference per
  node and derive's symbolic gradient, Graphviz's layout, the SVG written);
- gradcheck ``python -m derive gradcheck examples/mlp_backward.py:backward --problem mlp``
  (a correct backward pass: the learner's code in a child process with its own
  interpreter and NumPy, three random points, every node compared).

The issue's target: graph and gradcheck each within 2x the baseline. Runs are interleaved
(baseline, graph, gradcheck, then reversed in the next round) so drift on a shared machine
hits all alike; medians over the rounds are reported. A warm-up round (untimed) writes the
bytecode and the template cache, as an installed wheel has them. Without Graphviz the graph
row is skipped with a note. Reports, never gates: exits 0 always.

Usage:  python bench/backprop.py [--repeats N]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 2.0
AT = "w=0.5,b=0.1,v=-1.2,c=0.3,x=1.5,y=2"


def environment():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env["NO_COLOR"] = "1"
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_once(argv, env):
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "derive", *argv], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, timeout=300)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"derive {' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-300:]}")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    env = environment()
    work = tempfile.mkdtemp(prefix="derive-bench-")
    commands = {"baseline": ["explain", "mlp", "--wrt", "all"],
                "gradcheck": ["gradcheck", "examples/mlp_backward.py:backward", "--problem", "mlp"]}
    if shutil.which("dot"):
        commands["graph"] = ["graph", "mlp", "--at", AT, "-o", os.path.join(work, "mlp.svg")]
    else:
        print("graph: not measured (Graphviz's dot is not installed; Debian package graphviz)")
    order = list(commands)
    for argv in commands.values():  # warm-up: bytecode and template caches
        run_once(argv, env)
    times = {label: [] for label in commands}
    for round_ in range(args.repeats):
        for label in (order if round_ % 2 == 0 else list(reversed(order))):
            times[label].append(run_once(commands[label], env))
    shutil.rmtree(work, ignore_errors=True)
    base = statistics.median(times["baseline"])
    print(f"{'command':<12}{'median s':>10}{'min s':>9}{'max s':>9}   ({args.repeats} interleaved runs each)")
    for label in order:
        t = times[label]
        print(f"{label:<12}{statistics.median(t):>10.3f}{min(t):>9.3f}{max(t):>9.3f}")
    print()
    for label in ("graph", "gradcheck"):
        if label not in times:
            continue
        ratio = statistics.median(times[label]) / base
        verdict = "PASS" if ratio <= TARGET else "MISS"
        print(f"{label}: {ratio:.2f}x of 'derive explain mlp --wrt all' (target <= {TARGET:.1f}x) {verdict}")


if __name__ == "__main__":
    main()
