"""Handout speed: start-up and template compilation are paid once per handout, not per problem.

Targets (issue 4), as ratios measured in one run on the same machine:
  * the 20-problem practice set as .tex  <= 3x  one `derive explain mse --wrt weight`
  * the same set as .pdf                 <= 1.3x the TeX engine's own time on the same .tex
Runs are interleaved (A B A B ...) and medians compared, so drift on a shared machine cancels.
Always exits 0: it reports, it does not gate.
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRACTICE = ROOT / "examples" / "practice.toml"
REPEATS = int(os.environ.get("BENCH_REPEATS", "7"))


def timed(command, cwd):
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, command))} failed: {done.stderr.strip()[-300:]}")
    return elapsed


def main():
    env_python = sys.executable
    derive = [env_python, "-m", "derive"]
    with tempfile.TemporaryDirectory() as work:
        os.environ["PYTHONPATH"] = str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
        explain = [*derive, "explain", "mse", "--wrt", "weight"]
        tex = [*derive, "handout", str(PRACTICE), "-o", "practice.tex"]
        timed(explain, work), timed(tex, work)  # warm the file cache and the template cache
        one, whole = [], []
        for _ in range(REPEATS):
            one.append(timed(explain, work))
            whole.append(timed(tex, work))
        a, b = statistics.median(one), statistics.median(whole)
        print(f"derive explain mse --wrt weight      median {a * 1000:7.0f} ms")
        print(f"derive handout practice.toml -o .tex median {b * 1000:7.0f} ms   (20 problems)")
        print(f"handout .tex: {b / a:.2f}x of one explain (target <= 3x) {'PASS' if b / a <= 3 else 'FAIL'}")

        engine = shutil.which("pdflatex")
        if not engine:
            print("handout .pdf: not measured (pdflatex is not installed)")
            return
        pdf = [*derive, "handout", str(PRACTICE), "-o", "practice.pdf"]
        alone = [engine, "-interaction=nonstopmode", "-halt-on-error", "practice.tex"]
        timed(pdf, work), timed(alone, work)
        ours, theirs = [], []
        for _ in range(REPEATS):
            ours.append(timed(pdf, work))
            theirs.append(timed(alone, work))
        c, d = statistics.median(ours), statistics.median(theirs)
        print(f"derive handout -o .pdf               median {c * 1000:7.0f} ms")
        print(f"pdflatex on the same .tex            median {d * 1000:7.0f} ms")
        print(f"handout .pdf: {c / d:.2f}x of the TeX engine alone (target <= 1.3x) {'PASS' if c / d <= 1.3 else 'FAIL'}")
        # What the PDF step itself adds over writing .tex, against the engine's own time: the
        # rest is derive's start-up (Python, SymPy), which the .tex line above measures.
        print(f"  the PDF step alone: {(c - b) * 1000:.0f} ms over .tex = {(c - b) / d:.2f}x of the engine's own time")


if __name__ == "__main__":
    main()
