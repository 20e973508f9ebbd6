"""The textbook corpus: open-textbook and deep-learning-docs exercises, typed as students type them.

``tests/data/textbook_exercises.csv`` holds one exercise a row, each cited (``source``,
``section``, ``number`` as printed; ``note`` says how the printed notation was typed and
what the book asks). Its ``sympy_*_ops`` columns are SymPy's own lengths (``count_ops``)
of ``sympy.diff`` and ``sympy.simplify(sympy.diff(...))`` on plain SymPy (symbols as
SymPy makes them, and declared real), written by ``python bench/final_forms.py
--write-references`` because simplify is slow; ``sympy_best_ops`` is the shortest.

Against those independent references:

(a) every row that is not marked ambiguous parses as written (and every printed answer);
(b) derive's derivative equals ``sympy.diff`` at random points, and its own check passed;
(c) the book's printed answer, where there is one, equals derive's derivative;
(d) derive's final form (the worked solution's boxed last line) is no longer than SymPy's
    best in at least 95% of rows, and never more than 1.5 times as long (issue 11, point 4).

(b)-(d) run over a deterministic third of the rows (every row whose position is 0 mod 3;
the 1.5x cap also over the rows known to break it) so the file stays fast; the bench
``bench/final_forms.py`` measures all of them. Rows where derive does not meet a target
yet are listed in ``KNOWN_*`` below and marked ``xfail(strict=True)``: when derive is
fixed the mark must go.
"""

import csv
import functools
import random
import re
from pathlib import Path

import pytest
import sympy
from sympy.core.function import AppliedUndef

CSV_PATH = Path(__file__).resolve().parent / "data" / "textbook_exercises.csv"
REQUIRED = ("id", "source", "section", "number", "expression", "wrt", "order", "answer", "note",
            "sympy_diff_ops", "sympy_simplify_ops", "sympy_real_diff_ops", "sympy_real_simplify_ops", "sympy_best_ops")
REFERENCES = REQUIRED[-5:-1]
SHARE_TARGET = 0.95
RATIO_CAP = 1.5
RELATIVE_TOLERANCE = 1e-8
WANTED_POINTS = 6
TRIES = 120
SUBSET_STEP = 3

# Rows derive does not handle yet (the lead is changing the parser and the final forms).
# Each entry says why; a row that starts to pass makes its test fail (strict xfail).
KNOWN_PARSE_FAILURES = {}
KNOWN_LONG_FORMS = {}  # id -> derive's last line against SymPy's best (count_ops), and why
KNOWN_SHARE_SHORTFALL = None  # a reason while fewer than 95% of rows meet the target; None when they do


def load_rows(path=CSV_PATH):
    """The corpus rows as dicts, in file order."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


ROWS = load_rows()
BY_ID = {row["id"]: row for row in ROWS}


def ambiguous(row):
    return "ambiguous" in row["note"].lower()


def subset(rows=ROWS):
    """A deterministic third of the rows, spread over every book and section."""
    return [row for k, row in enumerate(rows) if k % SUBSET_STEP == 0]


def marked(rows, known, reason_prefix):
    """pytest params for rows, the known failures marked xfail(strict=True)."""
    params = []
    for row in rows:
        marks = []
        if row["id"] in known:
            marks.append(pytest.mark.xfail(strict=True, reason=f"{reason_prefix}: {known[row['id']]}"))
        params.append(pytest.param(row, id=row["id"], marks=marks))
    return params


# -- readings ---------------------------------------------------------------------------------
_T = sympy.Dummy("t")
CONCRETE = {  # stand-ins for the abstract f, g, h, so formulas with them compare as numbers
    "f": sympy.Lambda(_T, _T**3 + sympy.sin(_T)),
    "g": sympy.Lambda(_T, sympy.exp(_T / 2) + _T),
    "h": sympy.Lambda(_T, sympy.cos(2 * _T) + _T**2),
}


def concrete(expr):
    """``expr`` with f, g, h replaced by CONCRETE and derivatives of them done; derive
    writes a derivative of f as the function f′ (f′′ for the second)."""
    if not expr.has(AppliedUndef):
        return expr

    def stand_in(e):
        name = e.func.__name__
        order = len(name) - len(name.rstrip("′"))
        return sympy.diff(CONCRETE[name.rstrip("′")](_T), _T, order).subs(_T, e.args[0])

    expr = expr.replace(lambda e: isinstance(e, AppliedUndef) and e.func.__name__.rstrip("′") in CONCRETE, stand_in)
    return expr.doit()


def plain(text):
    """The row's expression as plain SymPy, read by derive's parser."""
    from derive import parse, to_sympy

    return to_sympy(parse(text))


def real(expr):
    """``expr`` with every symbol declared real: the functions are real functions of real
    variables, so |x|' is sign(x) (plain symbols give re/im terms that have no number)."""
    return expr.xreplace({s: sympy.Symbol(s.name, real=True) for s in expr.free_symbols if isinstance(s, sympy.Symbol)})


def answer_expression(text):
    """A printed answer as plain SymPy; ``f'(u)`` (and g', h') become CONCRETE's derivative at u."""
    primes = {}
    while (m := re.search(r"([fgh])'\(", text)):
        depth, end = 0, m.end() - 1
        for end in range(m.end() - 1, len(text)):
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            if depth == 0:
                break
        name = f"prime{len(primes)}"
        primes[name] = (m.group(1), text[m.end():end])
        text = f"{text[:m.start()]}({name}){text[end + 1:]}"
    expr = concrete(plain(text))
    for name, (function, argument) in primes.items():
        slope = sympy.diff(CONCRETE[function](_T), _T).subs(_T, concrete(plain(argument)))
        expr = expr.subs(sympy.Symbol(name), slope)
    return expr


@functools.lru_cache(maxsize=None)
def derivation(row_id):
    """derive's explanation of a row (cached: several tests look at one row)."""
    from derive import explain

    row = BY_ID[row_id]
    return explain(row["expression"], wrt=row["wrt"], order=int(row["order"]))


def final_form(d):
    """What derive prints as the answer: the worked solution's boxed last line."""
    return d.shown_result


def form_ops(expr):
    """SymPy's count_ops of a form as printed (derive's typed, unevaluated form is counted as is)."""
    return int(sympy.count_ops(expr))


def ratio(ops, best):
    """derive's length over SymPy's best; 0 over 0 is 1."""
    if best == 0:
        return 1.0 if ops == 0 else float("inf")
    return ops / best


def sample_point(rng, attempt):
    """Positive points first (ln, sqrt, x^x), then both signs, inside (-1, 1) (asin), and
    beyond 3 (sqrt(x^3 - 9) tan x is real only past pi)."""
    kind = attempt % 4
    if kind == 0:
        return rng.uniform(0.1, 3.0)
    if kind == 1:
        return rng.uniform(-3.0, 3.0)
    if kind == 2:
        return rng.uniform(-0.95, 0.95)
    return rng.uniform(3.0, 6.0)


def agreement(a, b, seed=0):
    """(points where both are finite and real, a counterexample or None) for a == b."""
    from derive.verify.numeric import NotNumeric, evaluate, is_finite_real

    a, b = concrete(a), concrete(b)
    symbols = sorted(a.free_symbols | b.free_symbols, key=str)
    rng = random.Random(seed)
    valid = 0
    for attempt in range(TRIES):
        if valid >= WANTED_POINTS:
            break
        values = {s: sample_point(rng, attempt) for s in symbols}
        try:
            va, vb = evaluate(a, values), evaluate(b, values)
        except (NotNumeric, ZeroDivisionError, ValueError, OverflowError):
            continue
        if not (is_finite_real(va) and is_finite_real(vb)):
            continue
        valid += 1
        if abs(va.real - vb.real) > RELATIVE_TOLERANCE * max(1.0, abs(vb.real)):
            return valid, {str(k): v for k, v in values.items()}
    return valid, None


# -- (a) the corpus and its parsing ---------------------------------------------------------
def test_corpus_is_large_cited_and_well_formed():
    assert len(ROWS) >= 400
    assert list(ROWS[0]) [:len(REQUIRED)] == list(REQUIRED)
    assert len(BY_ID) == len(ROWS), "row ids are unique"
    for row in ROWS:
        for column in ("source", "section", "number", "expression", "wrt"):
            assert row[column].strip(), f"{row['id']}: empty {column}"
        assert row["order"] in ("1", "2"), row["id"]
        assert re.fullmatch(r"\d+", row["sympy_best_ops"]), f"{row['id']}: run bench/final_forms.py --write-references"
        best = min(int(row[column]) for column in REFERENCES if row[column])
        assert int(row["sympy_best_ops"]) == best, row["id"]
    books = {row["source"] for row in ROWS}
    assert {"OpenStax Calculus Volume 1 (2016)", "APEX Calculus Version 3.0 (2015)"} <= books
    assert sum(bool(row["answer"]) for row in ROWS) >= 150, "printed answers are recorded"


@pytest.mark.parametrize("row", marked([r for r in ROWS if not ambiguous(r)], KNOWN_PARSE_FAILURES, "derive refuses it"))
def test_row_parses_as_written(row):
    from derive import DeriveError, parse

    try:
        parse(row["expression"])
    except DeriveError as error:
        pytest.fail(f"{row['expression']!r} ({row['source']}, {row['section']}, {row['number']}): {error}")


def expected_derivative(row):
    """sympy.diff of the row, the variables declared real (|x|' is sign(x))."""
    return sympy.diff(real(plain(row["expression"])), sympy.Symbol(row["wrt"], real=True), int(row["order"]))


ANSWERS = [row for row in ROWS if row["answer"] and row["id"] not in KNOWN_PARSE_FAILURES]


@pytest.mark.parametrize("row", [pytest.param(r, id=r["id"]) for r in ANSWERS])
def test_printed_answer_parses_and_equals_sympy_diff(row):
    """The data itself: each printed answer, as typed here, is the derivative (a typo in the
    CSV, or a misprint in the book, shows here; misprints are left out with a note)."""
    valid, counterexample = agreement(real(answer_expression(row["answer"])), expected_derivative(row))
    assert counterexample is None, f"{row['id']}: the answer {row['answer']!r} is not the derivative at {counterexample}"
    assert valid >= 3, f"{row['id']}: too few real points to compare"


# -- (b), (c): the derivative against sympy.diff and the book's answer ----------------------
CHECKED = [row for row in subset() if row["id"] not in KNOWN_PARSE_FAILURES and not ambiguous(row)]
CAPPED = CHECKED + [BY_ID[i] for i in KNOWN_LONG_FORMS if BY_ID[i] not in CHECKED]


@pytest.mark.parametrize("row", [pytest.param(r, id=r["id"]) for r in CHECKED])
def test_derivative_equals_sympy_diff_and_its_check_passed(row):
    from derive import to_sympy

    d = derivation(row["id"])
    expected = expected_derivative(row)
    assert int(row["sympy_best_ops"]) <= sympy.count_ops(expected), f"{row['id']}: stale sympy_* columns"
    for name, found in (("result", d.result), ("last line", final_form(d))):
        value = real(to_sympy(found))
        valid, counterexample = agreement(value, expected)
        assert counterexample is None, f"{row['id']}: derive's {name} {found} != sympy.diff {expected} at {counterexample}"
        assert valid >= 3 or sympy.simplify(value - concrete(expected)) == 0, f"{row['id']}: too few real points"
    assert d.check is not None and d.check.passed, f"{row['id']}: derive's own check failed"


ANSWERED = [row for row in CHECKED if row["answer"]]


@pytest.mark.parametrize("row", [pytest.param(r, id=r["id"]) for r in ANSWERED])
def test_book_answer_equals_derive(row):
    from derive import to_sympy

    d = derivation(row["id"])
    valid, counterexample = agreement(real(to_sympy(d.result)), real(answer_expression(row["answer"])))
    assert counterexample is None, f"{row['id']}: the book's {row['answer']!r} != derive's {d.result} at {counterexample}"
    assert valid >= 3, f"{row['id']}: too few real points to compare"


# -- (d) textbook final forms ----------------------------------------------------------------
@pytest.mark.parametrize("row", marked(CAPPED, KNOWN_LONG_FORMS, "final form too long"))
def test_final_form_is_never_over_one_and_a_half_times_sympys_best(row):
    d = derivation(row["id"])
    form = final_form(d)
    best = int(row["sympy_best_ops"])
    assert ratio(form_ops(form), best) <= RATIO_CAP, (
        f"{row['id']}: derive ends at {form} ({form_ops(form)} ops), SymPy's best has {best}")


@pytest.mark.xfail(bool(KNOWN_SHARE_SHORTFALL), reason=KNOWN_SHARE_SHORTFALL or "", strict=True)
def test_final_form_is_no_longer_than_sympys_best_in_95_percent_of_rows():
    longer = []
    for row in CHECKED:
        ops = form_ops(final_form(derivation(row["id"])))
        if ops > int(row["sympy_best_ops"]):
            longer.append(f"{row['id']} ({ops} > {row['sympy_best_ops']})")
    share = 1 - len(longer) / len(CHECKED)
    assert share >= SHARE_TARGET, f"{share:.1%} of {len(CHECKED)} rows meet the target; longer: {', '.join(longer)}"
