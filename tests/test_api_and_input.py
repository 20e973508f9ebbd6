"""Issue 12 §6: input as textbooks write it, and a Python API that says what it is.

Each typed exercise is compared with SymPy's own derivative of the same function written
independently in SymPy (never read back from derive's parser)."""

import random

import pytest
import sympy

import derive
from derive import DeriveError, explain, gradient, parse, to_sympy
from derive.cli.main import main
from derive.verify.numeric import evaluate

X, Y, A, B, C = sympy.symbols("x y a b c", real=True)


def _agree(derivation, expected, variable, tries=5):
    """derive's result equals ``expected`` (plain SymPy) at random points."""
    got = to_sympy(derivation.result)
    rng = random.Random(11)
    checked = 0
    for _ in range(tries * 4):
        values = {s.name: rng.uniform(0.2, 0.9) for s in got.free_symbols | expected.free_symbols}
        point = {s: values[s.name] for s in got.free_symbols | expected.free_symbols}  # same name, same value
        try:
            a, b = complex(evaluate(got, point)), complex(evaluate(expected, point))
        except Exception:  # noqa: BLE001 - a point outside a domain is skipped
            continue
        assert abs(a - b) <= 1e-9 * max(1, abs(b)), (got, expected, point)
        checked += 1
        if checked == tries:
            return
    assert checked, "no point to compare at"


@pytest.mark.parametrize("typed, wrt, plain", [
    ("x(x^2 + 3x)", "x", X * (X**2 + 3 * X)),          # a variable before a bracket multiplies it
    ("a(b + c)", "a", A * (B + C)),
    ("x 5^x", "x", X * 5**X),                           # a number after a value and a space
    ("2^x 3^x", "x", 2**X * 3**X),
    ("3x^17 4^x", "x", 3 * X**17 * 4**X),
    ("asinh(x) + acosh(x + 2) + atanh(x/2)", "x", sympy.asinh(X) + sympy.acosh(X + 2) + sympy.atanh(X / 2)),
    ("sech(x) + csch(x) + coth(x)", "x", sympy.sech(X) + sympy.csch(X) + sympy.coth(X)),
    ("acot(x) + asec(x + 2) + acsc(x + 2)", "x", sympy.acot(X) + sympy.asec(X + 2) + sympy.acsc(X + 2)),
    ("erf(x) + x abs(x + 5)", "x", sympy.erf(X) + X * sympy.Abs(X + 5)),
    ("log_2(x)", "x", sympy.log(X, 2)),
    ("log(x, 10)", "x", sympy.log(X) / sympy.log(10)),
    ("d/dx sin(x)", None, sympy.sin(X)),                 # the exercise as a textbook writes it
    ("y = 3x^2", None, 3 * X**2),
    ("f(x) = x^2 + 1", None, X**2 + 1),
])
def test_textbook_input_is_read_as_the_textbook_means(typed, wrt, plain):
    d = explain(typed, wrt=wrt) if wrt else explain(typed)
    variable = sympy.Symbol(str(d.wrt), real=True)
    _agree(d, sympy.diff(plain, variable), variable)
    assert d.check.passed


def test_a_function_glued_to_a_variable_gets_a_hint():
    with pytest.raises(DeriveError) as error:
        parse("2xsin(x)")
    assert "x sin(" in str(error.value)


def test_an_expression_starting_with_minus_on_the_command_line(capsys):
    with pytest.raises(SystemExit) as done:
        main(["explain", "-x^2", "--wrt", "x"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and "= −2x" in out


def test_an_equation_is_refused_with_a_hint():
    with pytest.raises(DeriveError, match="not an equation"):
        explain("dy/dx = 2x")


def test_the_python_api_lists_what_it_offers():
    for name in ("explain", "gradient", "check_answer", "parse", "to_sympy"):
        assert name in derive.__all__ and name in dir(derive)
    assert callable(parse) and parse.__module__ == "derive.parsing.text"
    assert "Gradient of mse" in repr(gradient("mse"))


def test_results_compare_with_plain_sympy():
    d = explain("x^2 sin(x)", wrt="x")
    x = sympy.Symbol("x")  # plain SymPy, as a user would write it
    assert sympy.simplify(to_sympy(d.result) - sympy.diff(x**2 * sympy.sin(x), x)) == 0


def test_errors_speak_python_to_python_and_options_to_the_command_line(capsys):
    with pytest.raises(DeriveError) as error:
        explain("x*y")
    assert 'wrt="x"' in str(error.value) and "--wrt" not in str(error.value)
    with pytest.raises(SystemExit):
        main(["explain", "x*y"])
    assert "--wrt x" in capsys.readouterr().err
