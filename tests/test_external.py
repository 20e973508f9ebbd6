"""Answer checking against suites written by others (STACK, Doenet, PrairieLearn) and the
literature on derivative mistakes: no false accepts, no false rejects, every refusal says
what it did not understand, and the mistake named first is the one expected.

The sets and how each row's expected verdict was decided: tests/data/external/README.md.
"""

import collections
import csv
import pathlib

import pytest

from derive.errors import DeriveError
from derive.grade.answer import check_answer

HERE = pathlib.Path(__file__).parent / "data" / "external"
SETS = ("stack", "doenet", "prairielearn", "literature")


def rows(name):
    with open(HERE / f"{name}.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def verdict(row):
    try:
        result = check_answer(row["expression"], row["wrt"], row["answer"], decimals=row["decimals"] or None,
                              variables=tuple(row["variables"].split()))
    except DeriveError as error:
        return "invalid", [], str(error)
    return result.verdict, result.mistakes, result.reason or result.message


@pytest.fixture(scope="module")
def outcomes():
    return {name: [(row, *verdict(row)) for row in rows(name)] for name in SETS}


@pytest.mark.parametrize("name", SETS)
def test_every_row_cites_its_source(name):
    found = rows(name)
    assert len(found) >= 80
    assert all(row["source"].strip() and row["expected"] in
               ("correct", "incorrect", "depends_on_domain", "unreadable", "invalid") for row in found)


@pytest.mark.parametrize("name", SETS)
def test_no_false_accepts_and_no_false_rejects(outcomes, name):
    false_accepts = [(r["id"], r["answer"]) for r, got, _, _ in outcomes[name]
                     if got == "correct" and r["expected"] != "correct"]
    false_rejects = [(r["id"], r["answer"], got) for r, got, _, _ in outcomes[name]
                     if r["expected"] == "correct" and got != "correct"]
    assert false_accepts == [] and false_rejects == []
    other = [(r["id"], r["expected"], got) for r, got, _, _ in outcomes[name] if got != r["expected"]]
    assert other == []


@pytest.mark.parametrize("name", SETS)
def test_refusals_say_what_was_not_understood(outcomes, name):
    for row, got, _, why in outcomes[name]:
        if row["expected"] != "unreadable":
            continue
        # the refusal names the column it stopped at, the character, the function or the
        # name the problem does not have
        assert any(word in why for word in ("at column", "the variable", "the function", "'")), (row["id"], why)


def test_mistakes_named_first(outcomes):
    named, total = collections.Counter(), collections.Counter()
    for name in SETS:
        for row, _, mistakes, _ in outcomes[name]:
            if not row["mistake"]:
                continue
            total[row["mistake"]] += 1
            named[row["mistake"]] += bool(mistakes) and mistakes[0] == row["mistake"]
    assert total["integrated_instead"] >= 40
    assert named["integrated_instead"] / total["integrated_instead"] >= 0.95
    for code in total:
        assert total[code] >= 2, code
        assert named[code] / total[code] >= 0.9, (code, named[code], total[code])
