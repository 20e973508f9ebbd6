"""Batch-checking throughput: derive check --batch on a generated 10,000-row file, against
``sympy.simplify(a - b) == 0`` on a 200-row sample of the same rows, in the same run.

    python bench/check_throughput.py [ROWS]

Runs BENCH_REPEATS (3) interleaved rounds of both and prints medians:
``throughput: N checks/s (target >= 2000)`` and ``vs simplify: Kx (target >= 50x)``.
Always exits 0: it measures, it does not judge.
"""

import csv
import os
import random
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

# (expression, wrt, correct answer, wrong answers)
PROBLEMS = [
    ("(w*x + b - y)^2", "w", "2(w x + b - y) x", ["2(w x + b - y)", "2(w x + b - y) x^2", "(w x + b - y) x"]),
    ("(w*x + b - y)^2", "b", "2(w x + b - y)", ["2(w x + b - y) x", "(w x + b - y)^2"]),
    ("tan(x)", "x", "sec(x)^2", ["sec(x)", "-sec(x)^2", "tan(x)"]),
    ("sin(x)^2", "x", "2 sin(x) cos(x)", ["2 sin(x)", "cos(x)^2", "2 sin(x)^2 cos(x)"]),
    ("sigmoid(x)", "x", "sigmoid(x)(1 - sigmoid(x))", ["sigmoid(x)", "sigmoid(x)^2"]),
    ("x^3", "x", "3x^2", ["x^2", "3x^3", "x^4/4"]),
    ("x sin(x)", "x", "sin(x) + x cos(x)", ["cos(x)", "x cos(x)"]),
    ("sin(x)/x", "x", "(x cos(x) - sin(x))/x^2", ["(x cos(x) + sin(x))/x^2", "cos(x)"]),
    ("exp(2x) cos(x)", "x", "e^(2x)(2cos(x) - sin(x))", ["-2 e^(2x) sin(x)", "e^(2x) cos(x)"]),
    ("(w x - y)^2/n", "w", "2(w x - y) x/n", ["2(w x - y) x", "2(w x - y)/n"]),
    ("log(x^2 + 1)", "x", "2x/(x^2 + 1)", ["1/(x^2 + 1)", "2x"]),
    ("sqrt(x)", "x", "1/(2 sqrt(x))", ["1/sqrt(x)", "sqrt(x)/2"]),
]


def generate(path, rows, rng):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "expression", "wrt", "answer"])
        for k in range(rows):
            expression, wrt, right, wrong = rng.choice(PROBLEMS)
            if k % 2 == 0:  # correct, in one of many written forms
                m = rng.randint(1, 40)
                answer = right if m == 1 else f"({m}*({right}))/{m}"
            else:
                answer = rng.choice(wrong) if rng.random() < 0.7 else f"{right} + {rng.randint(1, 40)}"
            writer.writerow([f"s{k}", expression, wrt, answer])


def simplify_baseline(path, sample, rng):
    import sympy

    from derive.grade.answer import read
    from derive.symbols import symbol

    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    chosen = rng.sample(rows, sample)
    start = time.perf_counter()
    for row in chosen:
        expr = read(row["expression"])
        answer = read(row["answer"])
        derivative = sympy.diff(expr, symbol(row["wrt"]))
        sympy.simplify(answer - derivative) == 0  # noqa: B015 - the baseline's decision
    return sample / (time.perf_counter() - start)


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    rounds = int(os.environ.get("BENCH_REPEATS", "3"))
    rng = random.Random(5)
    from derive.grade.batch import run_batch

    rates, baselines, ratios = [], [], []
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "answers.csv")
        generate(path, rows, rng)
        with open(path, newline="", encoding="utf-8") as handle:
            distinct = len({(r["expression"], r["wrt"], r["answer"]) for r in csv.DictReader(handle)})
        for k in range(rounds):  # interleaved: batch then baseline, baseline then batch, ...
            order = ("batch", "simplify") if k % 2 == 0 else ("simplify", "batch")
            for what in order:
                if what == "batch":
                    start = time.perf_counter()
                    summary = run_batch(path, os.path.join(work, "graded.csv"))
                    seconds = time.perf_counter() - start
                    rates.append(rows / seconds)
                else:
                    baselines.append(simplify_baseline(path, 200, random.Random(k)))
            ratios.append(rates[-1] / baselines[-1])
    rate, baseline, ratio = (statistics.median(v) for v in (rates, baselines, ratios))
    print(summary.splitlines()[0])
    print(f"rows: {rows}, distinct answers: {distinct}, cores: {os.cpu_count()}, rounds: {rounds}")
    print("batch checks/s per round: " + ", ".join(f"{r:.0f}" for r in rates))
    print("simplify checks/s per round: " + ", ".join(f"{b:.1f}" for b in baselines))
    print(f"throughput: {rate:.0f} checks/s, median of {rounds} (target >= 2000) {'PASS' if rate >= 2000 else 'MISS'}")
    print(f"simplify baseline: {baseline:.1f} checks/s on a 200-row sample")
    print(f"vs simplify: {ratio:.0f}x, median of the per-round ratios (target >= 50x) "
          f"{'PASS' if ratio >= 50 else 'MISS'}")
    return 0


if __name__ == "__main__":
    main()
    sys.exit(0)
