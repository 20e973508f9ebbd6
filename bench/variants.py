"""Per-student versions: 200 versions of the 20-problem practice set, with keys, as .tex.

Target (issue 15), as a ratio measured in one run on the same machine:
  * derive handout examples/practice.toml --count 200 --format latex  <= 50x  one
    `derive explain mse --wrt weight`, using both cores
Every version draws each templated problem with its own seed, keeps it only when its rule
trace is the reference's, solves it (explained and checked) and renders the student copy
and the answer key; 401 files in all (with manifest.csv). Runs are interleaved (A B A B …)
and medians compared. Always exits 0: it reports, it does not gate.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRACTICE = ROOT / "examples" / "practice.toml"
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))
COUNT = 200


def timed(command, cwd):
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, command))} failed: {done.stderr.strip()[-300:]}")
    return elapsed


def main():
    derive = [sys.executable, "-m", "derive"]
    os.environ["PYTHONPATH"] = str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode, as an installed wheel has
    with tempfile.TemporaryDirectory() as work:
        commands = {
            "explain": [*derive, "explain", "mse", "--wrt", "weight"],
            "class": [*derive, "handout", str(PRACTICE), "--count", str(COUNT), "--format", "latex",
                      "-o", str(Path(work) / "class")],
        }
        for command in commands.values():  # warm-up: bytecode and template caches
            timed(command, work)
        times = {label: [] for label in commands}
        for r in range(REPEATS):
            for label in list(commands)[::1 if r % 2 == 0 else -1]:
                times[label].append(timed(commands[label], work))
        files = len(list((Path(work) / "class").iterdir()))
    m = {label: statistics.median(t) for label, t in times.items()}
    print(f"{REPEATS} interleaved rounds; medians; {os.cpu_count()} cores")
    print(f"derive explain mse --wrt weight                 {m['explain'] * 1000:8.0f} ms")
    print(f"derive handout practice.toml --count {COUNT} .tex  {m['class'] * 1000:8.0f} ms   ({files} files)")
    ratio = m["class"] / m["explain"]
    print(f"{COUNT} versions with keys as .tex: {ratio:.1f}x of one explain (target <= 50x) "
          f"{'PASS' if ratio <= 50 else 'FAIL'}")


if __name__ == "__main__":
    main()
