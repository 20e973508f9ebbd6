"""Tests for derive.parsing.text: what it accepts, what it refuses, and that it stays fast and safe.

Expected values are built with SymPy calls directly, never by parsing text.
"""

import ast
import builtins
import pathlib
import time

import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import derive.parsing.text as parse_module
from derive.errors import ParseError
from derive.functions import sigmoid
from derive.parsing.text import FUNCTIONS, MAX_EXPONENT, MAX_LENGTH, parse
from derive.symbols import symbol, to_sympy

x, y, z, w, b = (symbol(n) for n in ("x", "y", "z", "w", "b"))
f, g = sympy.Function("f"), sympy.Function("g")
half = sympy.Rational(1, 2)

ACCEPTED = [
    ("x", x),
    ("sin(x^2)", sympy.sin(x**2)),
    ("x**2", x**2),
    ("x^2^3", x ** (2**3)),  # right-associative
    ("2^3^2", sympy.Integer(512)),
    ("-x^2", -(x**2)),
    ("2^-x", 2 ** (-x)),
    ("x^-1", 1 / x),
    ("x*-y", -x * y),
    ("x - -y", x + y),
    ("3/2", sympy.Rational(3, 2)),
    ("x/y/z", x / (y * z)),
    ("1/2x", x / 2),  # implicit multiplication has the precedence of *
    ("2x", 2 * x),
    ("2 x", 2 * x),
    ("3(x+1)", 3 * (x + 1)),
    ("(x+1)(x-1)", (x + 1) * (x - 1)),
    ("(x+1)x", (x + 1) * x),
    ("x y", x * y),
    ("2 sin(x)", 2 * sympy.sin(x)),
    ("sin(x) cos(x)", sympy.sin(x) * sympy.cos(x)),
    ("2(3)", sympy.Integer(6)),
    ("e^x", sympy.exp(x)),
    ("E^x", sympy.exp(x)),
    ("exp(x)", sympy.exp(x)),
    ("pi x", sympy.pi * x),
    ("π", sympy.pi),
    ("ln(x)", sympy.log(x)),
    ("log(x)", sympy.log(x)),
    ("log(x, 2)", sympy.log(x) / sympy.log(2)),
    ("sqrt(x)", sympy.sqrt(x)),
    ("abs(x)", sympy.Abs(x)),
    ("Abs(x)", sympy.Abs(x)),
    ("max(x, y)", sympy.Max(x, y)),
    ("Min(x, y, z)", sympy.Min(x, y, z)),
    ("relu(w x + b)", sympy.Max(0, w * x + b)),
    ("sigmoid(w*x+b)", sigmoid(w * x + b)),
    ("arcsin(x)", sympy.asin(x)),
    ("atan(x)", sympy.atan(x)),
    ("tanh(x)+sinh(x)+cosh(x)", sympy.tanh(x) + sympy.sinh(x) + sympy.cosh(x)),
    ("sec(x)+csc(x)+cot(x)", sympy.sec(x) + sympy.csc(x) + sympy.cot(x)),
    ("f(g(x))", f(g(x))),
    ("f x", symbol("f") * x),  # without "(" f is a variable
    ("weight*error^2", symbol("weight") * symbol("error") ** 2),
    ("yhat - y", symbol("yhat") - y),
    ("lambda*w^2", symbol("lambda") * w**2),
    ("λ w^2", symbol("lambda") * w**2),
    ("α_1 + x_1 + w2", symbol("alpha_1") + symbol("x_1") + symbol("w2")),
    ("θx", symbol("theta") * x),
    ("x²", x**2),
    ("x⁻¹", 1 / x),
    ("2x³", 2 * x**3),
    ("-x²", -(x**2)),
    ("sin²(x)", sympy.sin(x) ** 2),
    ("x₁", symbol("x_1")),
    ("½x", x / 2),
    ("x·y", x * y),
    ("x×y", x * y),
    ("x⋅y", x * y),
    ("x÷y", x / y),
    ("x − y", x - y),
    ("ｘ＋１", x + 1),  # fullwidth survives NFKC as ASCII
    ("x\t+\ny", x + y),
    ("  x  ", x),
    ("0.5", sympy.Float("0.5", 15)),
    (".5", sympy.Float("0.5", 15)),
    ("2.", sympy.Float("2.0", 15)),
    ("1e-3", sympy.Float("0.001", 15)),
    ("2e", 2 * sympy.E),  # 'e' starts an exponent only when digits follow
    ("((((x))))", x),
    ("+x", x),
    ("2^x", 2**x),
    ("x^x", x**x),
]


@pytest.mark.parametrize("text, expected", ACCEPTED, ids=[t for t, _ in ACCEPTED])
def test_accepted(text, expected):
    result = to_sympy(parse(text))  # the typed form, evaluated, as plain SymPy
    expected = to_sympy(expected)
    assert result == expected or sympy.simplify(result - expected) == 0


def test_variables_come_from_symbols_and_are_real():
    result = parse("weight + x")
    assert result.free_symbols == {symbol("weight"), x}
    assert all(s.is_real for s in result.free_symbols)
    assert sympy.Symbol("x") not in parse("x").free_symbols  # the plain, non-real one


def test_exact_rational_and_float():
    assert parse("3/2") == sympy.Rational(3, 2)
    assert isinstance(parse("3/2"), sympy.Rational)
    assert isinstance(parse("0.5"), sympy.Float)
    assert isinstance(parse("7"), sympy.Integer)


def test_float_keeps_typed_digits():
    typed = "0.12345678901234567890123"
    value = parse(typed)
    assert isinstance(value, sympy.Float)
    assert sympy.Float(typed, 23) == value  # 23 typed significant digits
    assert value._prec >= sympy.Float("0.5", 15)._prec


def test_functions_table_is_listed():
    for name in ("sin", "ln", "log", "sqrt", "abs", "max", "min", "sigmoid", "relu", "arctan", "f"):
        assert name in FUNCTIONS
    assert FUNCTIONS["relu"](x) == sympy.Max(0, x)
    assert to_sympy(FUNCTIONS["log"](x, 2)) == to_sympy(sympy.log(x) / sympy.log(2))


# (input, a word the message must contain, whether a column is meaningful)
REJECTED = [
    ("", "empty", False),
    ("   \t\n", "empty", False),
    ("foo(x+1)", "unknown function", True),
    ("weight (x+1)", "unknown function", True),
    ("import", "keyword", True),
    ("x + None", "keyword", True),
    ("for", "keyword", True),
    ("lambda x: x", "':'", True),
    ("[x for x in y]", "square brackets", True),
    ("x[1]", "square brackets", True),
    ("__import__('os').system('ls')", "'_'", True),
    ("_x", "'_'", True),
    ("().__class__", "'.'", True),
    ("x.real", "'.'", True),
    ("'x'", "quotes", True),
    ('"x"', "quotes", True),
    ("x # note", "comments", True),
    ("{x}", "braces", True),
    ("x; y", "';'", True),
    ("x = 1", "'='", True),
    ("x @ y", "'@'", True),
    ("3!", "'!'", True),
    ("x & y", "'&'", True),
    ("|x|", "abs(x)", True),
    ("x < y", "comparisons", True),
    ("x > y", "comparisons", True),
    ("\\sin x", "backslash", True),
    ("$x$", "'$'", True),
    ("x?", "'?'", True),
    ("`x`", "backticks", True),
    ("(x+1", "unclosed '('", True),
    ("sin((x)", "unclosed '('", True),
    ("x+1)", "unmatched ')'", True),
    ("x+", "trailing operator", True),
    ("x**", "trailing operator", True),
    ("x*/y", "two operators", True),
    ("x^^2", "two operators", True),
    ("*x", "cannot start", True),
    ("()", "empty parentheses", True),
    ("sin x", "needs parentheses", True),
    ("sin", "needs parentheses", True),
    ("sin(x, y)", "exactly 1 argument", True),
    ("sin()", "exactly 1 argument", True),
    ("max(x)", "2 to", True),
    ("log(x, 2, 3)", "1 to 2", True),
    ("max(x,)", "missing argument", True),
    ("x, y", "commas", True),
    ("(x, y)", "commas", True),
    ("2 3", "follows a value", True),
    ("(x+1)2", "follows a value", True),
    ("1..2", "decimal point", True),
    ("1" * 101, "number too long", True),
    ("a" * 33, "too long", True),
    ("1e5000", "exponent", True),
    ("x^1001", "exponent", True),
    ("2^(10^5)", "exponent", True),
    ("(2^1000)^1000", "number too large", True),
    ("1/0", "division by zero", True),
    ("0^-1", "division by zero", True),
    ("log(0)", "undefined", True),
    ("log⁻¹(x)", "ambiguous", True),
    ("xⁿ", "superscript", True),
    ("²", "superscript", True),
    ("хy", "CYRILLIC SMALL LETTER HA", True),
    ("ρ", "looks like 'p'", True),
    ("Α", "looks like 'A'", True),
    ("ℵ", "ALEF SYMBOL", True),
    ("∞", "not accepted", True),
    ("x\x00", "control character U+0000", True),
    ("x\x1b[31m", "control character", True),
    ("x\u200by", "ZERO WIDTH SPACE", True),
    ("x\u202ey", "invisible", True),
    ("max(log(-1), 2)", "real", True),
    ("sqrt(-1)", "not a real number", True),
    ("asin(2)", "not a real number", True),
]


@pytest.mark.parametrize("text, word, has_column", REJECTED, ids=[repr(t)[:40] for t, _, _ in REJECTED])
def test_rejected(text, word, has_column):
    with pytest.raises(ParseError) as info:
        parse(text)
    message = str(info.value)
    assert len(message.splitlines()) == 1 and "\n" not in message
    assert word in message
    if has_column:
        assert "column" in message
        assert isinstance(info.value.position, int) and info.value.position >= 1
    assert "{where}" not in message


def test_column_points_at_the_culprit():
    with pytest.raises(ParseError) as info:
        parse("sin(x) + 2*y.real")
    assert info.value.position == 13
    with pytest.raises(ParseError) as info:
        parse("x²+хy")  # the superscript does not shift columns
    assert info.value.position == 4


def test_unclosed_bracket_message_names_its_column():
    with pytest.raises(ParseError) as info:
        parse("2 +(x")
    assert "unclosed '(' at column 4" in str(info.value)


def test_unknown_function_lists_known_ones_and_suggests_star():
    with pytest.raises(ParseError) as info:
        parse("foo(x+1)")
    message = str(info.value)
    assert "known functions: sin, cos" in message and "foo*(...)" in message


def test_too_long_and_too_deep_say_the_limit():
    with pytest.raises(ParseError, match=f"at most {MAX_LENGTH}"):
        parse("x" * (MAX_LENGTH + 1))
    with pytest.raises(ParseError, match="at most 60"):
        parse("(" * 61 + "x" + ")" * 61)
    with pytest.raises(ParseError, match="at most 5 "):
        parse("sin(sin(sin(sin(sin(sin(x))))))", max_depth=5)
    with pytest.raises(ParseError, match="nested too deeply"):
        parse("x" + "^x" * 80)
    assert parse("(" * 60 + "x" + ")" * 60) == x
    assert parse("-" * 300 + "x") == x  # signs are a loop, not recursion


def test_non_text_is_refused():
    with pytest.raises(ParseError):
        parse(b"x")  # type: ignore[arg-type]
    with pytest.raises(ParseError):
        parse(None)  # type: ignore[arg-type]


BOMBS = [
    "9**9**9**9",
    "x**(10**100000)",
    "10**10**10",
    "(2^1000)^1000",
    "2^(10^5)",
    "(" * 100000,
    "x+" * 50000 + "x",
    "x" * 100000,
    "1" * 100000,
    "sin(" * 1000 + "x" + ")" * 1000,
    "10^999*" * 280 + "1",
    "tan(asin(0.5²*0.5**1e3^sinh((10)))*sigmoid(1e3)^(1e3))",
    "sin(exp(exp(exp(10))))",
    "exp(4000)^1000",
    "asin(-e)^e",
    "(-1)^asin(-e)^e",
    "max(a,b,c,d,e,f,g,h)+" * 20 + "1",
    "relu(w*x+b)+" * 100 + "1",
]


@pytest.mark.parametrize("text", BOMBS, ids=[t[:30] for t in BOMBS])
def test_bombs_are_refused_quickly(text):
    start = time.perf_counter()
    with pytest.raises(ParseError):
        parse(text)
    assert time.perf_counter() - start < 1.0  # a hang detector, not a benchmark


def test_bombs_with_raised_limits_still_fail_cleanly():
    start = time.perf_counter()
    with pytest.raises(ParseError):
        parse("(" * 100000 + "x" + ")" * 100000, max_length=10**6)
    with pytest.raises(ParseError):
        parse("(" * 5000 + "x" + ")" * 5000, max_length=10**6, max_depth=10**6)  # RecursionError inside
    assert time.perf_counter() - start < 2.0


def test_bounds_are_exposed():
    assert parse_module.MAX_LENGTH == 2000
    assert parse_module.MAX_DEPTH == 60
    assert parse_module.MAX_INTEGER_DIGITS == 100
    assert parse_module.MAX_EXPONENT == MAX_EXPONENT == 1000
    assert parse_module.MAX_RESULT_DIGITS == 2000
    assert parse_module.MAX_NAME_LENGTH == 32
    assert parse("x^1000") == x**1000
    assert parse("2^1000") == sympy.Integer(2) ** 1000


def _assert_only_parse_errors(text):
    start = time.perf_counter()
    try:
        parse(text)
    except ParseError as exc:
        message = str(exc)
        assert len(message.splitlines()) == 1
        assert "internal error" not in message
    assert time.perf_counter() - start < 1.0


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.text(max_size=60))
def test_random_text_only_raises_parse_error(text):
    _assert_only_parse_errors(text)


ALPHABET = list("xyzwe0123456789 +-*/^().,²⁻π") + ["sin", "log", "max", "relu", "f", "**", "1e", "sqrt"]


@FUZZ
@given(st.lists(st.sampled_from(ALPHABET), max_size=40).map("".join))
def test_accepted_alphabet_only_raises_parse_error(text):
    _assert_only_parse_errors(text)


def _raise(*args, **kwargs):
    raise AssertionError("user text reached a code-evaluating function")


def test_no_eval_exec_sympify(monkeypatch):
    import sympy.parsing.sympy_parser as sympy_parser

    monkeypatch.setattr(builtins, "eval", _raise)
    monkeypatch.setattr(builtins, "exec", _raise)
    monkeypatch.setattr(builtins, "compile", _raise)
    monkeypatch.setattr(sympy, "sympify", _raise)
    monkeypatch.setattr(sympy, "parse_expr", _raise)
    monkeypatch.setattr(sympy, "lambdify", _raise)
    monkeypatch.setattr(sympy_parser, "parse_expr", _raise)
    first = parse("sin(x^2) + 3/2 + 0.5 x")
    second = parse("f(g(x)) + relu(x) + sigmoid(x) + log(x, 2)")
    monkeypatch.undo()  # comparing needs none of them, but pytest's own reports use compile
    assert to_sympy(first) == to_sympy(sympy.sin(x**2) + sympy.Rational(3, 2) + sympy.Float("0.5", 15) * x)
    assert to_sympy(second) == to_sympy(f(g(x)) + sympy.Max(0, x) + sigmoid(x) + sympy.log(x) / sympy.log(2))
    with pytest.raises(ParseError):
        parse("__import__('os')")


def test_source_never_calls_code_evaluators():
    source = pathlib.Path(parse_module.__file__).read_text(encoding="utf-8")
    banned = {"eval", "exec", "compile", "sympify", "parse_expr", "lambdify", "S", "__import__"}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            assert name not in banned, f"parse.py calls {name} at line {node.lineno}"
