"""Final forms: derive's last line against SymPy's best, over the textbook corpus.

Over every row of ``tests/data/textbook_exercises.csv`` (open-textbook and deep-learning
exercises, each cited): derive's final form is the worked solution's boxed last line
(``explain(...).shown_result``); its length is SymPy's ``count_ops`` of that form as
printed. SymPy's best is the shorter of ``sympy.diff`` and ``sympy.simplify(sympy.diff)``
on plain SymPy, with the symbols as SymPy makes them and declared real, whichever is
shortest (the CSV's ``sympy_best_ops``, written by ``--write-references``).

Prints:
  * the share of rows whose final form is no longer than SymPy's best (target >= 95%)
    and the worst ratios with their rows (target: never over 1.5x);
  * for each row over the target, which one SymPy tidying reaches SymPy's best from
    derive's form (cancel, together, factor, expand, trigsimp, ...): the kind of fault;
  * the median time of ``explain(...)`` (steps, check, worked solution) per row against
    ``sympy.diff``, both with a cold SymPy cache, interleaved;
  * the rows where derive's final form is longer than the book's printed answer;
  * the rows where the worked solution's last line is longer than the engine's own
    result (``explain(...).result``), and the share the target would have on that result;
  * the rows that do not parse, with derive's message.

Usage:
  python bench/final_forms.py [--rows TEXT] [--worst N]
  python bench/final_forms.py --write-references [--simplify-seconds S]
      recompute the sympy_* columns of the CSV (slow: simplify on every row, bounded)

Reports, never gates: exits 0 even when a target is missed.
"""

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout, installed or not
sys.path.insert(0, str(ROOT / "tests"))

import sympy  # noqa: E402
from sympy.core.cache import clear_cache  # noqa: E402

from derive import DeriveError, explain, parse, to_sympy  # noqa: E402
from derive.limits import TimeLimit, time_limit  # noqa: E402
from derive.verify import numeric  # noqa: E402
from test_corpus import CSV_PATH, RATIO_CAP, SHARE_TARGET, final_form, form_ops, load_rows, ratio  # noqa: E402

REFERENCE_COLUMNS = ["sympy_diff_ops", "sympy_simplify_ops", "sympy_real_diff_ops", "sympy_real_simplify_ops",
                     "sympy_best_ops"]
TIDY_SECONDS = 3.0


# -- references -------------------------------------------------------------------------------
def sympy_reading(text):
    """The expression read by SymPy's own parser (implicit multiplication), for a row derive
    cannot read yet: the reference must not wait for the parser."""
    from sympy.parsing.sympy_parser import (convert_xor, implicit_multiplication_application, parse_expr,
                                            standard_transformations)

    names = {"e": sympy.E, "ln": sympy.log, "pi": sympy.pi, "abs": sympy.Abs, "max": sympy.Max, "min": sympy.Min}
    return parse_expr(text, local_dict=names,
                      transformations=standard_transformations + (implicit_multiplication_application, convert_xor))


def references(row, seconds):
    """{column: ops} on plain SymPy, with plain symbols and with real ones (a SymPy user who
    declares x real gets sign(x) for |x|' where plain symbols give re/im terms); simplify
    that runs out of time gives "" for its column."""
    try:
        expr = to_sympy(parse(row["expression"]))
    except DeriveError:
        expr = sympy_reading(row["expression"])
    out = {}
    for prefix, variant in (("sympy", expr), ("sympy_real", real(expr))):
        wrt = sympy.Symbol(row["wrt"], real=True) if prefix == "sympy_real" else sympy.Symbol(row["wrt"])
        derivative = sympy.diff(variant, wrt, int(row["order"]))
        out[f"{prefix}_diff_ops"] = int(sympy.count_ops(derivative))
        try:
            with time_limit(seconds):
                out[f"{prefix}_simplify_ops"] = int(sympy.count_ops(sympy.simplify(derivative)))
        except (TimeLimit, RecursionError):
            out[f"{prefix}_simplify_ops"] = ""
    out["sympy_best_ops"] = min(v for v in out.values() if v != "")
    return out


def real(expr):
    """``expr`` with every symbol declared real."""
    return expr.xreplace({s: sympy.Symbol(s.name, real=True) for s in expr.free_symbols if isinstance(s, sympy.Symbol)})


def write_references(rows, seconds):
    fields = list(rows[0])
    fields += [c for c in REFERENCE_COLUMNS if c not in fields]
    slow = []
    for k, row in enumerate(rows, start=1):
        start = time.perf_counter()
        found = references(row, seconds)
        row.update(found)
        took = time.perf_counter() - start
        if "" in found.values() or took > 10:
            slow.append((row["id"], took, "" in found.values()))
        print(f"\r{k}/{len(rows)} {row['id']:<30}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    tmp = CSV_PATH.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(CSV_PATH)  # whole or not at all
    print(f"wrote {len(rows)} rows' references to {CSV_PATH.relative_to(ROOT)}")
    for row_id, took, timed_out in slow:
        print(f"  {row_id}: simplify {'ran out of time' if timed_out else f'took {took:.1f} s'}")


# -- measuring --------------------------------------------------------------------------------
def cold():
    clear_cache()
    numeric._cached_evaluator.cache_clear()


def timed(call):
    cold()
    start = time.perf_counter()
    value = call()
    return value, time.perf_counter() - start


KINDS = [  # (name of the kind of fault, the SymPy tidying that shows it), tried in this order
    ("a common factor left inside a sum: 4(6x + 3) for 12(2x + 1)", sympy.factor_terms),
    ("not cancelled", sympy.cancel),
    ("not over a common denominator", sympy.together),
    ("factored vs expanded: factor shortens", sympy.factor),
    ("factored vs expanded: expand shortens", sympy.expand),
    ("trig identity not used", sympy.trigsimp),
    ("exponentials not written as sinh, cosh, tanh", sympy.exptrigsimp),
    ("powers not combined: 3 * 3^u for 3^(u + 1)", sympy.powsimp),
    ("logarithms not combined: log 3 + 3 log 2 for log 24", lambda e: sympy.logcombine(e, force=True)),
    ("radicals not combined", sympy.radsimp),
    ("piecewise not folded", sympy.piecewise_fold),
]


def kind_of_fault(form, best):
    """The first SymPy tidying that brings derive's form down to SymPy's best, if any."""
    plain_form = to_sympy(form) if not form.has(sympy.Piecewise) else form
    if form_ops(plain_form) <= best:
        return "constant factors not collected: the printed form, evaluated, is short enough"
    if _constant_in_front(plain_form) <= best:
        return "the constant kept in front, 10(12x^2 - 1) for 120x^2 - 10 (one op more; textbooks print both)"
    for name, tidy in KINDS:
        try:
            with time_limit(TIDY_SECONDS):
                if form_ops(tidy(plain_form)) <= best:
                    return name
        except Exception:  # a tidying may refuse a form (TimeLimit included): try the next
            continue
    return "other (only simplify reaches it)"


def _constant_in_front(expr):
    """The fewest ops after multiplying a product's number into one of its sums."""
    if not expr.is_Mul:
        return form_ops(expr)
    number, rest = expr.as_coeff_Mul()
    if number == 1:
        return form_ops(expr)
    factors = sympy.Mul.make_args(rest)
    options = [form_ops(expr)]
    for k, factor in enumerate(factors):
        if factor.is_Add:
            spread = sympy.expand(number * factor)
            options.append(form_ops(sympy.Mul(*factors[:k], spread, *factors[k + 1:], evaluate=False)))
    return min(options)


def measure(rows):
    results, failures = [], []
    for k, row in enumerate(rows, start=1):
        print(f"\r{k}/{len(rows)} {row['id']:<30}", end="", file=sys.stderr, flush=True)
        try:
            parse(row["expression"])
        except DeriveError as error:
            failures.append((row, str(error)))
            continue
        x = sympy.Symbol(row["wrt"])
        expr = to_sympy(parse(row["expression"]))
        order = int(row["order"])
        # interleaved, alternating which goes first, so drift hits both alike
        if k % 2:
            d, t_explain = timed(lambda: _worked(explain(row["expression"], wrt=row["wrt"], order=order)))
            _, t_diff = timed(lambda: sympy.diff(expr, x, order))
        else:
            _, t_diff = timed(lambda: sympy.diff(expr, x, order))
            d, t_explain = timed(lambda: _worked(explain(row["expression"], wrt=row["wrt"], order=order)))
        form = final_form(d)
        ops = form_ops(form)
        best = int(row["sympy_best_ops"]) if row.get("sympy_best_ops") else int(sympy.count_ops(sympy.diff(expr, x, order)))
        # an answer in f'(x) is not counted: derive writes that derivative another way
        book = form_ops(parse(row["answer"])) if row["answer"] and "'" not in row["answer"] else None
        results.append(dict(row=row, form=form, ops=ops, best=best, ratio=ratio(ops, best), book=book,
                            result=d.result, result_ops=form_ops(d.result),
                            t_explain=t_explain, t_diff=t_diff, passed=d.check is not None and d.check.passed))
    print(file=sys.stderr)
    return results, failures


def _worked(d):
    d.worked  # the presentation stage (chains, final form) is part of an explanation
    return d


def report(results, failures, worst):
    n = len(results)
    meeting = [r for r in results if r["ops"] <= r["best"]]
    share = len(meeting) / n if n else 0.0
    over_cap = [r for r in results if r["ratio"] > RATIO_CAP]
    ranked = sorted(results, key=lambda r: -r["ratio"])

    print(f"\n{n} rows measured, {len(failures)} not parsed, of {n + len(failures)} in {CSV_PATH.name}")
    print("\nWorst ratios (derive's final form / SymPy's best, by count_ops):")
    print(f"  {'ratio':>6} {'ops':>4} {'best':>4}  row / derive's form")
    for r in ranked[:worst]:
        print(f"  {r['ratio']:6.2f} {r['ops']:4d} {r['best']:4d}  {r['row']['id']}: {r['row']['expression']}")
        print(f"  {'':17}derive: {r['form']}")

    longer = [r for r in results if r["ops"] > r["best"]]
    if longer:
        print(f"\nRows over SymPy's best ({len(longer)}), by kind of fault:")
        by_kind = {}
        for r in longer:
            by_kind.setdefault(kind_of_fault(r["form"], r["best"]), []).append(r)
        for kind, members in sorted(by_kind.items(), key=lambda kv: -len(kv[1])):
            print(f"  {kind} ({len(members)}):")
            for r in members:
                print(f"    {r['row']['id']}: {r['ratio']:.2f}x ({r['ops']} > {r['best']})  {r['form']}")

    than_book = [r for r in results if r["book"] is not None and r["ops"] > r["book"]]
    print(f"\nRows where derive's final form is longer than the book's printed answer: {len(than_book)}"
          f" of {sum(r['book'] is not None for r in results)} with an answer")
    for r in sorted(than_book, key=lambda r: r["book"] - r["ops"]):
        print(f"  {r['row']['id']}: {r['ops']} > {r['book']}  derive {r['form']}  |  book {r['row']['answer']}")

    # the engine's own result (explain(...).result) against the worked solution's last line
    lost = [r for r in results if r["ops"] > r["result_ops"]]
    result_share = sum(r["result_ops"] <= r["best"] for r in results) / n if n else 0.0
    print(f"\nThe engine's result (explain(...).result) is no longer than SymPy's best in {result_share:.1%} of rows;"
          f" the last line of the worked solution is longer than that result in {len(lost)} rows:")
    for r in sorted(lost, key=lambda r: r["result_ops"] - r["ops"]):
        print(f"  {r['row']['id']}: last line {r['form']} ({r['ops']})  result {r['result']} ({r['result_ops']})")

    unchecked = [r for r in results if not r["passed"]]
    if unchecked:
        print(f"\nRows whose numeric check did not pass: {', '.join(r['row']['id'] for r in unchecked)}")

    if failures:
        print(f"\nRows that do not parse ({len(failures)}):")
        for row, message in failures:
            print(f"  {row['id']}: {row['expression']!r}: {message}")

    ratios = [r["t_explain"] / r["t_diff"] for r in results if r["t_diff"] > 0]
    print("\nTime per row (cold SymPy cache, interleaved):")
    print(f"  explain (steps, check, worked solution): median {1000 * statistics.median(r['t_explain'] for r in results):.1f} ms")
    print(f"  sympy.diff:                              median {1000 * statistics.median(r['t_diff'] for r in results):.2f} ms")
    print(f"  median over rows of explain / sympy.diff: {statistics.median(ratios):.1f}x (information: the"
          f" engine target is bench/engine.py's)")

    print(f"\nfinal form no longer than SymPy's best: {share:.1%} of {n} rows (target >= {SHARE_TARGET:.0%})"
          f" {'PASS' if share >= SHARE_TARGET else 'MISS'}")
    worst_ratio = ranked[0]["ratio"] if ranked else 0.0
    print(f"final form over {RATIO_CAP}x SymPy's best: {len(over_cap)} rows, worst {worst_ratio:.2f}x (target: none)"
          f" {'PASS' if not over_cap else 'MISS'}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", help="only rows whose id contains this text")
    parser.add_argument("--worst", type=int, default=15, help="how many worst ratios to list")
    parser.add_argument("--write-references", action="store_true", help="recompute the sympy_* columns")
    parser.add_argument("--simplify-seconds", type=float, default=60.0, help="bound on one simplify")
    args = parser.parse_args()
    rows = load_rows()
    if args.write_references:
        write_references(rows, args.simplify_seconds)
        return
    if args.rows:
        rows = [r for r in rows if args.rows in r["id"]]
    explain("x^2", wrt="x").worked  # warm-up: first imports and template compiling belong to cold_start.py
    results, failures = measure(rows)
    report(results, failures, args.worst)


if __name__ == "__main__":
    main()
