"""derive grade at class scale: 100,000 answer rows with grouping against derive check
--batch on the same rows, and the peak memory at 10,000 and 100,000 rows.

    python bench/grade_scale.py [--rows 100000] [--small 10000]

A generated class (tests/class_generator.py: 20 problems of examples/class_set.toml, each
student's answer drawn from right forms, typical mistakes and unreadable text) is written
both as grade's input (student, problem, answer) and as check --batch's (id, expression,
wrt, answer). Each command runs as a fresh process (``python -m derive``), interleaved, and
the peak resident memory of the process and its workers together is sampled from /proc
every 20 ms. Prints the times, rows per second, grade's time over check's (target < 1:
grouping saves work) and the peak memory at both sizes (target: flat, the 100,000-row run
within 1.5x the 10,000-row one). Always exits 0.
"""

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, ROOT)


def tree_rss(pid):
    """Resident bytes of a process and all its descendants (from /proc)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except OSError:
            continue
    total, stack = 0, [pid]
    page = os.sysconf("SC_PAGE_SIZE")
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/statm") as handle:
                total += int(handle.read().split()[1]) * page
        except OSError:
            pass
        stack.extend(children.get(current, []))
    return total


def run(command):
    """(seconds, peak bytes) of a fresh process running ``command``."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "derive", *command], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    peak = [0]

    def sample():
        while process.poll() is None:
            peak[0] = max(peak[0], tree_rss(process.pid))
            time.sleep(0.02)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    _, err = process.communicate()
    seconds = time.perf_counter() - start
    watcher.join()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command[:2])} failed: {err.strip()[-300:]}")
    return seconds, peak[0]


def write_inputs(folder, rows):
    from class_generator import make_class

    from derive.grade.key import load_key

    key = load_key(os.path.join(ROOT, "examples", "class_set.toml"))
    students = rows // 20
    grade_path = os.path.join(folder, f"grade-{rows}.csv")
    check_path = os.path.join(folder, f"check-{rows}.csv")
    table = make_class(students, seed=3)
    with open(grade_path, "w", newline="", encoding="utf-8") as g, open(check_path, "w", newline="",
                                                                          encoding="utf-8") as c:
        gw, cw = csv.writer(g), csv.writer(c)
        gw.writerow(["student", "problem", "answer"])
        cw.writerow(["id", "expression", "wrt", "answer"])
        for k, (student, label, answer) in enumerate(table):
            problem = key.find(label)
            gw.writerow([student, label, answer])
            cw.writerow([f"{student}-{label}", problem.expression, problem.wrt, answer])
    return grade_path, check_path


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=int(os.environ.get("BENCH_REPEATS", "1")))
    args = parser.parse_args()
    key = os.path.join(ROOT, "examples", "class_set.toml")
    with tempfile.TemporaryDirectory() as work:
        big = write_inputs(work, args.rows)
        small = write_inputs(work, args.small)
        grade_times, check_times = [], []
        for k in range(args.repeats):
            order = ("grade", "check") if k % 2 == 0 else ("check", "grade")
            for what in order:
                if what == "grade":
                    seconds, big_peak = run(["grade", big[0], "--key", key, "-o", os.path.join(work, "out-big")])
                    grade_times.append(seconds)
                else:
                    seconds, check_peak = run(["check", "--batch", big[1], "-o", os.path.join(work, "checked.csv")])
                    check_times.append(seconds)
        small_seconds, small_peak = run(["grade", small[0], "--key", key, "-o", os.path.join(work, "out-small")])
        feedback = len(os.listdir(os.path.join(work, "out-big", "feedback")))
    grade_s, check_s = statistics.median(grade_times), statistics.median(check_times)
    mib = 1 << 20
    print(f"rows: {args.rows} ({args.rows // 20} students x 20 problems), cores: {os.cpu_count()}, "
          f"repeats: {args.repeats}")
    print(f"derive grade (classes, scores, {feedback} feedback files, report): {grade_s:.1f} s, "
          f"{args.rows / grade_s:.0f} rows/s, peak {big_peak / mib:.0f} MiB")
    print(f"derive check --batch on the same rows: {check_s:.1f} s, {args.rows / check_s:.0f} rows/s, "
          f"peak {check_peak / mib:.0f} MiB")
    print(f"derive grade on {args.small} rows: {small_seconds:.1f} s, peak {small_peak / mib:.0f} MiB")
    ratio = grade_s / check_s
    print(f"grade / check --batch time: {ratio:.2f} (target < 1) {'PASS' if ratio < 1 else 'MISS'}")
    growth = big_peak / small_peak
    print(f"peak memory at {args.rows} rows / at {args.small} rows: {growth:.2f} (target <= 1.5, flat) "
          f"{'PASS' if growth <= 1.5 else 'MISS'}")
    return 0


if __name__ == "__main__":
    main()
    sys.exit(0)
