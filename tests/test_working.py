"""derive check --working: the first wrong line of a worked solution, the rule misapplied
there, and follow-through, on solutions with one planted error each."""

import json
import pathlib
import tomllib

import pytest
from click.testing import CliRunner

from derive.cli.check import check
from derive.grade.answer import Problem
from derive.grade.working import check_working, split_lines

PLANTED = tomllib.loads((pathlib.Path(__file__).parent / "data" / "working_planted.toml").read_text())["solution"]


def lines_of(solution):
    return split_lines(solution["latex"]) if "latex" in solution else list(solution["lines"])


@pytest.mark.parametrize("solution", PLANTED, ids=[s["name"] for s in PLANTED])
def test_planted_error_is_found(solution):
    problem = Problem(solution["expression"], solution["wrt"])
    result = check_working(problem, lines_of(solution))
    wrong = result.steps[result.first_wrong].line if result.first_wrong is not None else 0
    assert wrong == solution["first_wrong"], result.message
    if solution["first_wrong"]:
        assert result.verdict == "incorrect" and result.should_be
        if solution["mistake"]:
            assert result.mistake == solution["mistake"], result.message
        follow = [result.steps[k].line for k in result.follow_through]
        assert follow == solution.get("follow_through", []), result.message
    else:
        assert result.verdict == "correct"


def test_the_set_covers_the_error_kinds():
    kinds = {s["mistake"] for s in PLANTED}
    assert {"missing_chain_factor", "product_of_derivatives", "sign_error", "exponent_not_reduced"} <= kinds
    assert sum(bool(s.get("follow_through")) for s in PLANTED) >= 5  # right steps after a wrong one
    assert sum("latex" in s for s in PLANTED) >= 3


def test_cli_working_text_and_json(tmp_path):
    steps = tmp_path / "steps.txt"
    steps.write_text("f'(x) = d/dx(x^2) sin(x) + x^2 d/dx(sin(x))\n= 2x sin(x) - x^2 cos(x)\n")
    out = CliRunner().invoke(check, ["x^2 sin(x)", "--wrt", "x", "--working", str(steps)])
    assert out.exit_code == 1
    assert "first wrong line: 2" in out.output and "d/dx(sin x) = cos x, not −cos x" in out.output
    out = CliRunner().invoke(check, ["x^2 sin(x)", "--wrt", "x", "--working", str(steps), "--format", "json"])
    data = json.loads(out.output)
    assert data["first_wrong_line"] == 2 and data["mistake"] == "sign_error"
    assert [s["equals_derivative"] for s in data["steps"]] == ["correct", "incorrect"]


def test_unreadable_steps_are_said_and_the_rest_checked(tmp_path):
    problem = Problem("x^3", "x")
    result = check_working(problem, ["= 3x^2 +", "= 3x^2"])
    assert result.verdict == "correct" or result.steps[0].error
    assert result.steps[0].equals_derivative == "unreadable" and "trailing operator" in result.steps[0].error
    assert result.steps[1].equals_derivative == "correct"
