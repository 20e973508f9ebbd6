"""Engine speed: derive's step tree and whole explanation, as ratios of ``sympy.diff``.

Over the table of textbook derivatives in ``tests/textbook.py`` (rows
``(text, wrt, required_rules)``; a built-in list when that module is missing), each row
is parsed once up front, then timed three ways with a COLD SymPy cache before every call:

  (a) baseline   ``sympy.diff(expr, x)``
  (b) tree       ``derive.engine.rules.differentiate(expr, x)``  (the step tree with its tidy step)
  (c) explain    ``derive.derivation.explain(expr, wrt=x).to_text()``  (steps, the numeric
                 check of every step, and the text rendering)

derive's per-expression cache (``derive.verify.numeric._cached_evaluator``) is cleared together
with SymPy's, so a repeat never reuses the previous repeat's compiled evaluators.
Process-wide one-time costs (jinja2 compiling the templates, first imports) are paid by
an untimed warm-up pass: they belong to ``bench/cold_start.py``.

Rounds are interleaved: every round times every row once, in the order a b c, then
c b a in the next round, so drift on a shared machine hits all three alike. Per row the
median over the rounds is taken; the reported figure is the MEDIAN over rows of the
per-row ratios b/a and c/a.

Usage:  python bench/engine.py [--repeats N] [--budget SECONDS]
Reports, never gates: exits 0 even when a target is missed.
"""

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout, installed or not
sys.path.insert(0, str(ROOT / "tests"))

import sympy  # noqa: E402
from sympy.core.cache import clear_cache  # noqa: E402

from derive.verify import numeric  # noqa: E402
from derive.derivation import explain  # noqa: E402
from derive.parsing.text import parse  # noqa: E402
from derive.engine.problems import mean_squared_error  # noqa: E402
from derive.engine.rules import differentiate  # noqa: E402
from derive.symbols import symbol  # noqa: E402

TREE_TARGET = 2.0
EXPLAIN_TARGET = 5.0
WORST = 5

# Used only when tests/textbook.py is not there (yet): a spread of textbook exercises.
BUILTIN_ROWS = [
    ("x^5", "x", ()),
    ("3x^4 - 2x^2 + 7x - 1", "x", ()),
    ("sqrt(x)", "x", ()),
    ("1/x^3", "x", ()),
    ("(x^2 + 1)^10", "x", ()),
    ("sin(x^2)", "x", ()),
    ("cos(3x + 1)", "x", ()),
    ("tan(x)", "x", ()),
    ("sec(x)", "x", ()),
    ("exp(2x) cos(x)", "x", ()),
    ("x^2 exp(x)", "x", ()),
    ("x sin(x)", "x", ()),
    ("ln(x^2 + 1)", "x", ()),
    ("log(x, 2)", "x", ()),
    ("2^x", "x", ()),
    ("x^x", "x", ()),
    ("(x^2 + 1)/(x - 1)", "x", ()),
    ("sin(x)/x", "x", ()),
    ("atan(x^2)", "x", ()),
    ("asin(2x)", "x", ()),
    ("sinh(x) cosh(x)", "x", ()),
    ("tanh(3x)", "x", ()),
    ("sigmoid(x)", "x", ()),
    ("sigmoid(w x + b)", "w", ()),
    ("(w x + b - y)^2", "w", ()),
    ("abs(x)", "x", ()),
    ("max(0, x)", "x", ()),
    ("relu(3x - 1)", "x", ()),
    ("sqrt(1 - x^2)", "x", ()),
    ("exp(-x^2/2)", "x", ()),
    ("ln(sin(x))", "x", ()),
    ("x^3 ln(x) - x/2", "x", ()),
]


def load_rows():
    """(rows, where from): tests/textbook.py's table, or the built-in list."""
    try:
        import textbook
    except ImportError as error:
        return BUILTIN_ROWS, f"built-in list ({len(BUILTIN_ROWS)} rows): tests/textbook.py not importable ({error})"
    for name in ("ROWS", "TEXTBOOK", "TABLE", "CASES", "DERIVATIVES", "EXAMPLES"):
        rows = _rows_of(getattr(textbook, name, None))
        if rows:
            return rows, f"tests/textbook.py {name} ({len(rows)} rows)"
    for name, value in vars(textbook).items():  # any other list of (text, wrt, ...) rows
        rows = _rows_of(value)
        if rows and not name.startswith("_"):
            return rows, f"tests/textbook.py {name} ({len(rows)} rows)"
    return BUILTIN_ROWS, (f"built-in list ({len(BUILTIN_ROWS)} rows): tests/textbook.py has no list of "
                          "(text, wrt, required_rules) rows")


def _rows_of(value):
    if not isinstance(value, (list, tuple)) or not value:
        return None
    rows = []
    for row in value:
        row = getattr(row, "values", row)  # a pytest.param(...) keeps its tuple in .values
        if not isinstance(row, (list, tuple)) or len(row) < 2:
            return None
        text, wrt = row[0], row[1]
        if not isinstance(text, str) or not isinstance(wrt, str):
            return None
        rows.append((text, wrt, tuple(row[2]) if len(row) > 2 and isinstance(row[2], (list, tuple, set, frozenset)) else ()))
    return rows


def variable(expr, wrt):
    for s in expr.free_symbols:
        if getattr(s, "name", None) == wrt:
            return s
    return symbol(wrt)


def cold():
    clear_cache()
    numeric._cached_evaluator.cache_clear()
    gc.collect()


def timed(fn):
    cold()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def prepare(rows):
    """Parse every row once; drop (and report) rows that fail, so one bad row never stops the run.

    Each row's three calls run once here untimed (warm-up, and a check that the row works);
    that pass also estimates how long one round takes.
    """
    cases, skipped = [], []
    start = time.perf_counter()
    for text, wrt, _rules in rows:
        try:
            expr = parse(text)
            x = variable(expr, wrt)
            calls = (
                lambda e=expr, x=x: sympy.diff(e, x),
                lambda e=expr, x=x: differentiate(e, x),
                lambda e=expr, x=x: explain(e, wrt=x).to_text(),
            )
            for call in calls:  # warm-up and a check that the row works at all
                timed(call)
        except Exception as error:  # noqa: BLE001 - reported, not hidden
            skipped.append((text, wrt, f"{type(error).__name__}: {str(error).splitlines()[0][:120]}"))
            continue
        cases.append((f"d/d{wrt} {text}", calls))
    return cases, skipped, time.perf_counter() - start


def run(cases, repeats):
    """times[i][k] = list of seconds for case i, measurement k (0 = sympy.diff, 1 = tree, 2 = explain)."""
    times = [[[], [], []] for _ in cases]
    for r in range(repeats):
        order = (0, 1, 2) if r % 2 == 0 else (2, 1, 0)
        for i, (_label, calls) in enumerate(cases):
            for k in order:
                times[i][k].append(timed(calls[k]))
    return times


def choose_repeats(wanted, budget, one_round):
    """As many rounds as asked, but fewer (at least 3) if they would blow the time budget."""
    return max(3, min(wanted, int(budget / max(one_round, 1e-9))))


def mse_line(repeats):
    problem = mean_squared_error()
    written = problem.written_out
    w = problem.parameter("weight").symbol
    calls = (lambda: sympy.diff(written, w), lambda: explain("mse", wrt="weight").to_text())
    for call in calls:
        timed(call)
    a, c = [], []
    for r in range(repeats):
        pair = ((a, calls[0]), (c, calls[1])) if r % 2 == 0 else ((c, calls[1]), (a, calls[0]))
        for sink, call in pair:
            sink.append(timed(call))
    return statistics.median(a), statistics.median(c)


def ms(seconds):
    return f"{seconds * 1000:8.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds (median per row)")
    parser.add_argument("--budget", type=float, default=100.0,
                        help="seconds allowed for the timed rounds; fewer rounds (min 3) if needed")
    args = parser.parse_args()

    rows, source = load_rows()
    print("Engine speed vs sympy.diff, cold SymPy cache before every call")
    print(f"python {sys.version.split()[0]}, sympy {sympy.__version__}; rows: {source}")
    if source.startswith("built-in"):
        print("NOTE: using the built-in fallback list, not tests/textbook.py")

    # Everything alive now (SymPy, derive, the parsed rows) goes to the permanent GC
    # generation, so the gc.collect() before each timed call costs little.
    gc.collect()
    gc.freeze()
    cases, skipped, one_round = prepare(rows)
    for text, wrt, why in skipped:
        print(f"SKIPPED d/d{wrt} {text}: {why}")
    if not cases:
        print("tree: not measured (no usable rows) FAIL")
        print("whole explanation: not measured (no usable rows) FAIL")
        return 0
    repeats = choose_repeats(args.repeats, args.budget, one_round)
    print(f"{len(cases)} rows, {repeats} interleaved rounds (one round ~{one_round:.1f} s)")

    times = run(cases, repeats)
    table = []
    for (label, _calls), (ta, tb, tc) in zip(cases, times):
        a, b, c = statistics.median(ta), statistics.median(tb), statistics.median(tc)
        table.append((label, a, b, c, b / a, c / a))

    width = min(44, max(len(r[0]) for r in table))
    print(f"\n{'row':<{width}} {'diff ms':>8} {'tree ms':>8} {'expl ms':>8} {'tree/x':>7} {'expl/x':>7}")
    for label, a, b, c, rb, rc in table:
        print(f"{label[:width]:<{width}} {ms(a)} {ms(b)} {ms(c)} {rb:6.2f}x {rc:6.2f}x")

    med_a = statistics.median(r[1] for r in table)
    med_b = statistics.median(r[2] for r in table)
    med_c = statistics.median(r[3] for r in table)
    print(f"{'median over rows (raw ms)':<{width}} {ms(med_a)} {ms(med_b)} {ms(med_c)}")
    print(f"{'total over rows (raw ms)':<{width}} {ms(sum(r[1] for r in table))} "
          f"{ms(sum(r[2] for r in table))} {ms(sum(r[3] for r in table))}")

    for title, col in (("tree / sympy.diff", 4), ("explain / sympy.diff", 5)):
        print(f"\n{WORST} worst rows, {title}:")
        for row in sorted(table, key=lambda r: -r[col])[:WORST]:
            print(f"  {row[col]:6.2f}x  {row[0]}  (diff {row[1] * 1000:.2f} ms, tree {row[2] * 1000:.2f} ms, "
                  f"explain {row[3] * 1000:.2f} ms)")

    try:
        mse_a, mse_c = mse_line(repeats)
        print(f"\nmse: explain('mse', wrt='weight').to_text() {mse_c * 1000:.1f} ms vs sympy.diff of the "
              f"written-out loss {mse_a * 1000:.2f} ms: {mse_c / mse_a:.1f}x (no target)")
    except Exception as error:  # noqa: BLE001 - the figure is extra; never lose the targets
        print(f"\nmse: not measured: {type(error).__name__}: {str(error).splitlines()[0][:160]}")

    tree = statistics.median(r[4] for r in table)
    whole = statistics.median(r[5] for r in table)
    print()
    print(f"tree: {tree:.2f}x of sympy.diff (median over {len(table)} rows; target <= {TREE_TARGET:g}x) "
          f"{'PASS' if tree <= TREE_TARGET else 'FAIL'}")
    print(f"whole explanation: {whole:.2f}x of sympy.diff (median over {len(table)} rows; target <= "
          f"{EXPLAIN_TARGET:g}x) {'PASS' if whole <= EXPLAIN_TARGET else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
