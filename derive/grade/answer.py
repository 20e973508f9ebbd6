"""Check a student's derivative: a verdict, the likely mistake and where it is, and a point
where the answer and the right derivative differ.

>>> r = check_answer("(w*x + b - y)^2", "w", "2(w x + b - y)")
>>> r.verdict, r.mistakes
('incorrect', ['missing_chain_factor', 'wrong_variable'])

How it decides
--------------
The expression and the answer are read by the safe parsers (:mod:`derive.parsing.text`, or
:mod:`derive.parsing.latex` for LaTeX); nothing a user types is evaluated as code. Both the
right derivative (from the step engine) and the answer are evaluated with the project's own
mpmath evaluator at random rational points where the expression and its derivative are
finite and real (non-finite points are skipped; at least ``MIN_POINTS`` must remain). Values
that agree to about 13 digits at 15-digit precision agree; any other value is recomputed at
60 digits before the answer is called wrong, so rounding never decides. ``nan`` and ``inf``
never agree with anything. Answers with decimals are compared within a relative tolerance
that follows the digits typed, and the message says so. ``simplify`` is never called.

How it diagnoses
----------------
The step engine is run again with one rule broken at one place (:class:`BrokenEngine`):
the chain rule without its inner factor at the k-th chain node, the power rule without
its ``n`` or without lowering the exponent, and so on. Each such candidate is evaluated at
the same points once per problem; an incorrect answer is compared with every candidate, and
all that match are reported, most likely first, with where the break was.
"""

import contextlib
import functools
import hashlib
import random
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction

import mpmath
import sympy

from derive.errors import DeriveError, ParseError
from derive.parsing.latex import looks_like_latex, parse_latex
from derive.limits import TimeLimit, time_limit
from derive.verify.numeric import NotNumeric, evaluator, is_finite_real
from derive.parsing.text import parse
from derive.engine.rules import Engine, tidy
from derive.engine.steps import Step
from derive.symbols import symbol

# Mistake codes, most likely first when several match the same answer.
CODES = (
    "missing_chain_factor",
    "missing_power_coefficient",
    "exponent_not_reduced",
    "product_of_derivatives",
    "quotient_rule_sign",
    "sign_error",
    "missing_mean_factor",
    "wrong_variable",
    "not_differentiated",
    "integrated_instead",
)
_PRIORITY = {code: k for k, code in enumerate(CODES)}
_ENGINE_CODES = ("missing_chain_factor", "missing_power_coefficient", "exponent_not_reduced",
                 "product_of_derivatives", "quotient_plus", "quotient_swapped", "sign_error",
                 "missing_mean_factor")

POINTS = 6  # valid points an answer is compared at
MIN_POINTS = 4  # fewer valid points than this and no verdict is given
TRIES = 60  # random points tried to find POINTS valid ones
DPS = 15  # screening precision (the evaluator adds 10 guard digits)
CONFIRM_DPS = 60  # every disagreement is confirmed at this precision
SAME = mpmath.mpf("1e-13")  # relative agreement at DPS
SAME_CONFIRMED = mpmath.mpf("1e-45")  # relative agreement at CONFIRM_DPS
ANSWER_SECONDS = 1.0  # parse and compare one answer
PREPARE_SECONDS = 3.0  # parse, differentiate and sample one problem
CANDIDATE_SECONDS = 2.0  # enumerate the mistake candidates of one problem
MAX_CANDIDATES = 120
APPROX_MIN, APPROX_MAX = 1e-9, 5e-3  # relative tolerance range for answers with decimals
_DENOMINATORS = (7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97)
_RANGES = ((-3, 3), (0, 3), (-1, 1), (0, 1))  # tried in turn: wide, positive, unit, unit positive
_DECIMAL = re.compile(r"(?<![A-Za-z_0-9])(\d*\.\d+|\d+\.\d*)(?:[eE][-+]?\d+)?")


# --------------------------------------------------------------------------- results


@dataclass
class CheckResult:
    """The verdict on one answer; ``to_dict()`` is the JSON of ``derive check --format json``."""

    verdict: str  # "correct" or "incorrect"
    mistakes: list = field(default_factory=list)  # codes, most likely first
    message: str = ""
    expected: str = ""
    counterexample: dict | None = None  # {"point", "expected_value", "answer_value"}
    approximate: bool = False
    where: list = field(default_factory=list)  # (code, where) of each matching candidate

    def to_dict(self):
        return {
            "verdict": self.verdict,
            "mistakes": list(self.mistakes),
            "message": self.message,
            "expected": self.expected,
            "counterexample": self.counterexample,
        }

    @property
    def correct(self):
        return self.verdict == "correct"


@dataclass
class Candidate:
    """A wrong derivative one broken rule gives, and where the rule was broken."""

    code: str
    where: str
    derivative: object
    values: list  # at the problem's points, at DPS


# --------------------------------------------------------------------------- parsing


def _sigma_to_sigmoid(text):
    """``σ(`` and ``sigma(`` are the sigmoid, which the expression parser spells ``sigmoid(``.
    Returns the rewritten text and, for each of its characters, the column it came from."""
    out, cols = [], []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        length = 1 if c == "σ" else 5 if text.startswith("sigma", i) else 0
        if length and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            j = i + length
            if length == 1 or not (j < n and (text[j].isalnum() or text[j] == "_")):
                k = j
                while k < n and text[k] == " ":
                    k += 1
                if k < n and text[k] == "(":
                    out.append("sigmoid")
                    cols.extend([i + 1] * 7)
                    i = j
                    continue
        out.append(c)
        cols.append(i + 1)
        i += 1
    return "".join(out), cols


def read(text, what="expression"):
    """Parse user text (plain or LaTeX) into SymPy with the safe parsers; ParseError on refusal."""
    if not isinstance(text, str):
        raise ParseError(f"the {what} must be text")
    if looks_like_latex(text):
        try:
            return parse_latex(text)
        except ParseError as error:
            raise ParseError(f"{what} (LaTeX): {error}") from None
    rewritten, cols = _sigma_to_sigmoid(text)
    try:
        return parse(rewritten)
    except ParseError as error:
        message = str(error)
        if error.position is not None and rewritten != text:
            original = cols[error.position - 1] if error.position <= len(cols) else len(text) + 1
            message = message.replace(f"at column {error.position}", f"at column {original}")
        raise ParseError(f"{what}: {message}") from None


def _variable(expr, wrt):
    present = sorted(expr.free_symbols, key=str)
    if wrt is None or (isinstance(wrt, str) and not wrt.strip()):
        if len(present) == 1:
            return present[0]
        names = ", ".join(str(s) for s in present) or "none"
        raise DeriveError(f"say which variable to differentiate by with --wrt (the expression has: {names})")
    text = str(wrt).strip()
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,31}", text):
        raise DeriveError(f"--wrt must be a variable name such as x or w, not {text[:40]!r}")
    for s in present:
        if s.name == text:
            return s
    return symbol(text)


def _decimal_tolerance(text):
    """The relative tolerance an answer with decimals is compared within, or None if exact."""
    if not isinstance(text, str):
        return None
    tolerance = None
    for match in _DECIMAL.finditer(text):
        literal = match.group(0)
        mantissa = match.group(1)
        try:
            value = abs(float(literal))
        except ValueError:
            continue
        places = len(mantissa.partition(".")[2])
        exponent = re.search(r"[eE]([-+]?\d+)", literal)
        shift = int(exponent.group(1)) if exponent and len(exponent.group(1)) < 6 else 0
        half_unit = 0.5 * 10.0 ** (shift - places)
        relative = 10 * half_unit / value if value else APPROX_MAX
        relative = min(APPROX_MAX, max(APPROX_MIN, relative))
        tolerance = relative if tolerance is None else max(tolerance, relative)
    return tolerance


# --------------------------------------------------------------------------- numbers


@contextlib.contextmanager
def _bounded(seconds):
    """A time bound (TimeLimit) that also nests: inside a longer outer bound, the shorter
    one applies and the outer one is put back, less the time spent, afterwards."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    remaining = signal.getitimer(signal.ITIMER_REAL)[0] if usable else 0
    if not usable or remaining == 0:
        with time_limit(seconds):
            yield
        return
    if remaining <= seconds:
        yield  # the outer bound comes first
        return

    def on_alarm(signum, frame):
        raise TimeLimit(f"took longer than {seconds} s")

    start = time.monotonic()
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        signal.setitimer(signal.ITIMER_REAL, max(remaining - (time.monotonic() - start), 0.001))


def _finite(value):
    if value is None:
        return False
    if isinstance(value, mpmath.mpc):
        return mpmath.isfinite(value.real) and mpmath.isfinite(value.imag)
    return mpmath.isfinite(value)


def _relative_gap(a, b):
    """|a − b| / max(|a|, |b|, 1e-30): +inf when either is not finite."""
    if not (_finite(a) and _finite(b)):
        return mpmath.inf
    scale = max(abs(a), abs(b))
    gap = abs(a - b)
    if gap == 0:
        return mpmath.mpf(0)
    return gap / max(scale, mpmath.mpf("1e-30"))


def _value_out(value):
    """A number for JSON: a float when finite and real, else its text."""
    if is_finite_real(value):
        real = value.real if isinstance(value, mpmath.mpc) else value
        return float(mpmath.nstr(real, 12))
    return mpmath.nstr(value, 12) if value is not None else "undefined"


def _fraction_text(q):
    return str(q.numerator) if q.denominator == 1 else f"{q.numerator}/{q.denominator}"


def _safe_eval(fn, point, dps):
    try:
        return fn(point, dps)
    except NotNumeric:
        return None
    except (TypeError, ValueError, ArithmeticError, RecursionError):
        return None


# --------------------------------------------------------------------------- the problem


class Problem:
    """One expression and variable: its derivative, the test points, and (once asked for)
    the mistake candidates. Built once and reused for every answer to the same problem."""

    def __init__(self, expression, wrt=None, seed=0):
        self.expression_text = expression
        self._evaluators = {}
        self.candidates = None
        with _bounded(PREPARE_SECONDS):
            try:
                self._prepare(expression, wrt, seed)
            except TimeLimit:
                raise DeriveError(f"the expression took longer than {PREPARE_SECONDS:g} s to differentiate; "
                                  "try a smaller one") from None
            except RecursionError:
                raise DeriveError("the expression is nested too deeply to check") from None

    def _prepare(self, expression, wrt, seed):
        from derive.engine.problems import ALIASES, CATALOG

        if isinstance(expression, str) and (expression.strip() in CATALOG or expression.strip() in ALIASES):
            raise DeriveError(f"'{expression.strip()}' is a named problem; derive check takes a formula, "
                              "such as \"(w*x + b - y)^2\"")
        self.expr = expression if isinstance(expression, sympy.Basic) else read(expression, "expression")
        self.wrt = _variable(self.expr, wrt)
        self.derivative = Engine(self.expr, self.wrt).differentiate(self.expr, self.wrt).derivative
        self.symbols = sorted(self.expr.free_symbols | {self.wrt}, key=str)
        text = f"{expression}|{self.wrt}|{seed}".encode("utf-8", "replace")
        self.seed = int.from_bytes(hashlib.sha256(text).digest()[:8], "big")
        self._sample()
        self._expected_text = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_evaluators"] = {}  # closures do not pickle; they are rebuilt on demand
        return state

    def evaluator(self, key, expr):
        fn = self._evaluators.get(key)
        if fn is None:
            fn = self._evaluators[key] = evaluator(expr)
        return fn

    def _sample(self):
        rng = random.Random(self.seed)
        f_expr = self.evaluator("expr", self.expr)
        f_der = self.evaluator("derivative", self.derivative)
        self.points, self.values = [], []
        for attempt in range(TRIES):
            low, high = _RANGES[(attempt // 3) % len(_RANGES)]
            point = {}
            for s in self.symbols:
                q = rng.choice(_DENOMINATORS)
                p = rng.randint(low * q + 1, high * q - 1)
                while p % q == 0:  # never an integer
                    p = rng.randint(low * q + 1, high * q - 1)
                point[s] = Fraction(p, q)
            if not is_finite_real(_safe_eval(f_expr, point, DPS)):
                continue
            value = _safe_eval(f_der, point, DPS)
            if not is_finite_real(value):
                continue
            self.points.append(point)
            self.values.append(value)
            if len(self.points) == POINTS:
                break
        if len(self.points) < MIN_POINTS:
            raise DeriveError("could not find enough points where the expression and its derivative are "
                              "defined and real, so answers to it cannot be checked")
        self.confirmed = [None] * len(self.points)

    @property
    def expected(self):
        """The right derivative, tidied for reading."""
        if self._expected_text is None:
            from derive.render.printing import to_text

            with _bounded(2.0):
                try:
                    shown = tidy(self.derivative)
                except TimeLimit:
                    shown = self.derivative
            self._expected_text = to_text(shown)
        return self._expected_text

    def expected_confirmed(self, k):
        if self.confirmed[k] is None:
            f = self.evaluator("derivative", self.derivative)
            self.confirmed[k] = _safe_eval(f, self.points[k], CONFIRM_DPS)
        return self.confirmed[k]

    # -- answers ------------------------------------------------------------------------
    def check(self, answer):
        """The verdict on one answer (text or SymPy), within ``ANSWER_SECONDS``."""
        try:
            with _bounded(ANSWER_SECONDS):
                outcome = self._check(answer)
            return self._verdict(outcome)
        except TimeLimit:
            raise DeriveError(f"checking this answer took longer than {ANSWER_SECONDS:g} s; "
                              "write it in a shorter form") from None
        except RecursionError:
            raise DeriveError("the answer is nested too deeply to check") from None
        except MemoryError:
            raise DeriveError("the answer is too large to check") from None

    def _check(self, answer):
        answer_expr = answer if isinstance(answer, sympy.Basic) else read(answer, "answer")
        tolerance = _decimal_tolerance(answer) if isinstance(answer, str) else None
        if tolerance is None and answer_expr.has(sympy.Float):
            tolerance = APPROX_MAX
        approximate = tolerance is not None
        try:
            f = evaluator(answer_expr)
        except NotNumeric as error:
            raise DeriveError(f"the answer cannot be evaluated: {error}") from None
        extra = sorted((s for s in answer_expr.free_symbols - set(self.symbols)
                        if type(s) is sympy.Symbol), key=str)
        values, mismatch = [], None
        for k, point in enumerate(self.points):
            point = self._extend(point, k, answer_expr, extra)
            value = self._answer_value(f, point)
            values.append(value)
            if mismatch is not None:
                continue
            gap = _relative_gap(self.values[k], value)
            if gap <= (tolerance or SAME):
                continue
            if approximate and _finite(value):
                mismatch = (k, self.values[k], value)
                continue
            hi_expected, hi_value = self.expected_confirmed(k), self._answer_value(f, point, CONFIRM_DPS)
            if _relative_gap(hi_expected, hi_value) <= SAME_CONFIRMED:
                continue
            mismatch = (k, hi_expected, hi_value)
        if mismatch is None:
            return self._result("correct", approximate=approximate, tolerance=tolerance)
        k, expected_value, answer_value = mismatch
        integrated = self._is_antiderivative(answer_expr, extra, tolerance)
        return ("incorrect", k, expected_value, answer_value, values, approximate, tolerance, integrated)

    def _is_antiderivative(self, answer_expr, extra, tolerance):
        """Whether the answer differentiates back to the expression: integrated, not
        differentiated. Deciding it this way needs no sympy.integrate (which costs a tenth
        of a second or more per problem) and recognises any antiderivative, + C included."""
        if extra or not answer_expr.has(self.wrt):
            return False
        try:
            back = evaluator(sympy.diff(answer_expr, self.wrt))
            original = self._expression_values()
            rel = max(tolerance or 0, 1e-9)
            return all(_relative_gap(back(p, DPS), v) <= rel for p, v in zip(self.points, original))
        except (NotNumeric, ValueError, TypeError):
            return False

    def _expression_values(self):
        if getattr(self, "_expr_values", None) is None:
            f = evaluator(self.expr)
            self._expr_values = [_safe_eval(f, p, DPS) for p in self.points]
        return self._expr_values

    def _verdict(self, outcome):
        if isinstance(outcome, CheckResult):
            return outcome
        _, k, expected_value, answer_value, values, approximate, tolerance, integrated = outcome
        matches = self.diagnose(values, tolerance)
        if integrated and not any(c.code == "integrated_instead" for c in matches):
            matches.append(Candidate("integrated_instead", "an antiderivative: its derivative is the expression",
                                     None, values))
            matches.sort(key=lambda c: _PRIORITY[c.code])
        counterexample = {
            "point": {str(s): _fraction_text(v) for s, v in self.points[k].items()},
            "expected_value": _value_out(expected_value),
            "answer_value": _value_out(answer_value),
        }
        return self._result("incorrect", matches=matches, counterexample=counterexample,
                            approximate=approximate, tolerance=tolerance)

    def _answer_value(self, f, point, dps=DPS):
        try:
            return f(point, dps)
        except NotNumeric as error:
            raise DeriveError(f"the answer cannot be evaluated: {error}") from None

    def _extend(self, point, k, answer_expr, extra):
        """Values for what the answer has and the expression has not (a wrong answer's
        extra variables, a sum's n and data x_i): random, but the same for a given name."""
        if not extra and not answer_expr.has(sympy.Indexed):
            return point
        point = dict(point)
        rng = random.Random(f"{self.seed}:{k}")
        bounds = set()
        for total in answer_expr.atoms(sympy.Sum):
            for _, low, high in total.limits:
                bounds |= low.free_symbols | high.free_symbols
        for s in extra:
            point[s] = 4 if s in bounds else Fraction(rng.randint(-300, 300), 97)
        for item in answer_expr.atoms(sympy.Indexed):
            for j in range(1, 5):
                point.setdefault(item.base[j], Fraction(rng.randint(-300, 300), 89))
        return point

    # -- mistakes -------------------------------------------------------------------------
    def prepare_candidates(self):
        """Every wrong derivative one broken rule gives, evaluated at the points (once)."""
        if self.candidates is not None:
            return self.candidates
        found = []
        try:
            with _bounded(CANDIDATE_SECONDS):
                for code, where, derivative in enumerate_mistakes(self.expr, self.wrt, self.derivative):
                    found.append((code, where, derivative))
                    if len(found) >= MAX_CANDIDATES:
                        break
        except (TimeLimit, RecursionError):
            pass  # diagnose with what was found in time
        seen, candidates = set(), []
        for code, where, derivative in found:
            key = (code, derivative)
            if key in seen:
                continue
            seen.add(key)
            try:
                f = evaluator(derivative)
            except NotNumeric:
                continue
            values = [_safe_eval(f, p, DPS) for p in self.points]
            if all(_relative_gap(v, e) <= SAME for v, e in zip(values, self.values)):
                continue  # the break changed nothing here (an inner derivative of 1)
            candidates.append(Candidate(code, where, derivative, values))
        self.candidates = candidates
        return candidates

    def diagnose(self, answer_values, tolerance=None):
        """The candidates the answer's values match, most likely first."""
        candidates = self.prepare_candidates()
        rel = max(tolerance or 0, 1e-9)
        matches = []
        for c in candidates:
            if c.code == "integrated_instead":
                ok = _same_up_to_constant(answer_values, c.values, rel)
            else:
                ok = all(_relative_gap(a, v) <= rel for a, v in zip(answer_values, c.values))
            if ok:
                matches.append(c)
        matches.sort(key=lambda c: _PRIORITY[c.code])  # stable: engine order within a code
        return matches

    def _result(self, verdict, matches=(), counterexample=None, approximate=False, tolerance=None):
        from derive.grade.words import message

        mistakes = list(dict.fromkeys(c.code for c in matches))
        first_where = {}
        for c in matches:
            first_where.setdefault(c.code, c.where)
        result = CheckResult(
            verdict=verdict, mistakes=mistakes, expected=self.expected, counterexample=counterexample,
            approximate=approximate, where=[(code, first_where[code]) for code in mistakes],
        )
        result.message = message(result, tolerance)
        return result


def _same_up_to_constant(answer_values, values, rel):
    """Whether answer − candidate is the same number at every point (an antiderivative + C)."""
    if not all(_finite(a) and _finite(v) for a, v in zip(answer_values, values)):
        return False
    gaps = [a - v for a, v in zip(answer_values, values)]
    scale = max(max(abs(a) for a in answer_values), mpmath.mpf(1))
    return all(abs(g - gaps[0]) <= rel * scale for g in gaps)


# --------------------------------------------------------------------------- broken engine


class BrokenEngine(Engine):
    """The step engine with one rule broken at its ``target``-th use (1-based).

    With ``target == 0`` nothing is broken: the run counts the places the rule could break
    (``self.seen``). ``self.where`` says, in words, where the break was made.
    """

    def __init__(self, expr, wrt, mistake, target=0):
        super().__init__(expr, wrt)
        self.mistake = mistake
        self.target = target
        self.seen = 0
        self.where = None

    def _hit(self):
        self.seen += 1
        return self.seen == self.target

    @staticmethod
    def _t(expr):
        from derive.render.printing import to_text

        return to_text(expr)

    def chain(self, expr, x, inner, outer_of):
        step = super().chain(expr, x, inner, outer_of)
        if self.mistake == "missing_chain_factor" and step.substeps[1].derivative != 1 and self._hit():
            u, meaning = step.intermediate
            self.where = f"in the chain rule at {self._t(u)} = {self._t(meaning)}"
            return Step("chain", expr, x, step.detail["outer_at_inner"], step.substeps,
                        intermediate=step.intermediate, detail=step.detail)
        return step

    def power(self, expr, x):
        if self.mistake in ("missing_power_coefficient", "exponent_not_reduced") and self._hit():
            n = expr.exp
            if self.mistake == "missing_power_coefficient":
                result, said = x ** (n - 1), "dropping the factor n"
            else:
                result, said = n * x**n, "keeping the exponent n instead of n − 1"
            self.where = f"in the power rule for {self._t(expr)} ({said})"
            return Step("power", expr, x, result, detail={"n": n})
        return super().power(expr, x)

    def product(self, expr, x, u, v):
        if self.mistake == "product_of_derivatives":
            du, dv = self.differentiate(u, x), self.differentiate(v, x)
            if self._hit():
                self.where = f"in the product rule for ({self._t(u)})·({self._t(v)})"
                return Step("product", expr, x, du.derivative * dv.derivative, [du, dv], detail={"u": u, "v": v})
            return Step("product", expr, x, du.derivative * v + u * dv.derivative, [du, dv], detail={"u": u, "v": v})
        return super().product(expr, x, u, v)

    def quotient(self, expr, x, u, v):
        if self.mistake in ("quotient_plus", "quotient_swapped"):
            du, dv = self.differentiate(u, x), self.differentiate(v, x)
            if self._hit():
                where = f"in the quotient rule for ({self._t(u)})/({self._t(v)})"
                if self.mistake == "quotient_plus":
                    result = (du.derivative * v + u * dv.derivative) / v**2
                    self.where = where + ", with + instead of −"
                else:
                    result = (u * dv.derivative - du.derivative * v) / v**2
                    self.where = where + ", with the terms of the numerator swapped"
            else:
                result = (du.derivative * v - u * dv.derivative) / v**2
            return Step("quotient", expr, x, result, [du, dv], detail={"u": u, "v": v})
        return super().quotient(expr, x, u, v)

    def sum_rule(self, expr, x):
        if self.mistake != "sign_error":
            return super().sum_rule(expr, x)
        subs = [self.differentiate(term, x) for term in expr.args]
        parts = []
        for term, sub in zip(expr.args, subs):
            d = sub.derivative
            if d != 0 and self._hit():
                self.where = f"in the sign of the derivative of the term {self._t(term)}"
                d = -d
            parts.append(d)
        return Step("sum", expr, x, sympy.Add(*parts), subs)

    def function(self, expr, x):
        step = super().function(expr, x)
        if (self.mistake == "sign_error" and step.rule in ("trig", "inverse_trig", "hyperbolic")
                and step.derivative.could_extract_minus_sign() and self._hit()):
            self.where = f"in the derivative of {expr.func.__name__}, whose sign is negative"
            return Step(step.rule, expr, x, -step.derivative, detail=step.detail)
        return step

    def product_like(self, expr, x):
        if self.mistake == "missing_mean_factor":
            constants = [f for f in expr.args if not self.depends(f, x)]
            reciprocal = [f for f in constants if (f.is_Pow and f.exp.is_negative)
                          or (f.is_Rational and f.q != 1)]
            if reciprocal:
                rest = sympy.Mul(*[f for f in expr.args if self.depends(f, x)])
                sub = self.differentiate(rest, x)
                c = sympy.Mul(*constants)
                if self._hit():
                    kept = sympy.Mul(*[f for f in constants if f not in reciprocal])
                    for f in reciprocal:
                        if f.is_Rational:
                            kept *= f.p
                    dropped = sympy.Mul(*[f for f in reciprocal])
                    self.where = f"dropping the constant factor {self._t(dropped)}"
                    c = kept
                return Step("constant_multiple", expr, x, c * sub.derivative, [sub],
                            detail={"constant": c, "factor": rest})
        return super().product_like(expr, x)


def enumerate_mistakes(expr, wrt, derivative):
    """Yield ``(code, where, wrong derivative)`` for each single broken rule."""
    code_of = {"quotient_plus": "quotient_rule_sign", "quotient_swapped": "quotient_rule_sign"}
    for mistake in _ENGINE_CODES:
        counter = BrokenEngine(expr, wrt, mistake)
        counter.differentiate(expr, wrt)
        for k in range(1, counter.seen + 1):
            engine = BrokenEngine(expr, wrt, mistake, k)
            wrong = engine.differentiate(expr, wrt).derivative
            yield code_of.get(mistake, mistake), engine.where or "", wrong
        if mistake == "sign_error":
            yield "sign_error", "in the sign of the whole derivative", -derivative
    from derive.render.printing import to_text

    for other in sorted(expr.free_symbols - {wrt}, key=str):
        wrong = Engine(expr, other).differentiate(expr, other).derivative
        yield "wrong_variable", f"with respect to {to_text(other)} instead of {to_text(wrt)}", wrong
    yield "not_differentiated", "the expression itself, not its derivative", expr
    # integrated_instead is decided per answer, by differentiating the answer back
    # (Problem._is_antiderivative): no sympy.integrate here.


# --------------------------------------------------------------------------- entry point


@functools.lru_cache(maxsize=64)
def problem(expression, wrt=None, seed=0):
    """The prepared problem for an expression and variable (cached)."""
    return Problem(expression, wrt, seed)


def check_answer(expression, wrt, answer, *, seed=0):
    """Check ``answer`` as the derivative of ``expression`` with respect to ``wrt``.

    All three are text (``answer`` may be LaTeX); bad input raises a one-line
    :class:`~derive.errors.DeriveError` (a :class:`ParseError` for unreadable text).
    """
    if not isinstance(expression, str) or not isinstance(answer, str):
        raise DeriveError("the expression and the answer must be text")
    prepared = problem(expression, wrt if wrt is None else str(wrt), seed)
    return prepared.check(answer)
