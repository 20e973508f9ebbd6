"""Check a student's derivative: how the answer was read, a verdict that is never a false
accept, the likely mistake and where it is, and a point where the answer and the right
derivative differ.

>>> r = check_answer("(w*x + b - y)^2", "w", "2(w x + b - y)")
>>> r.verdict, r.mistakes
('incorrect', ['missing_chain_factor', 'wrong_variable'])

Verdicts
--------
``correct``, ``incorrect``; ``unreadable`` (the answer cannot be read, or uses a name the
problem does not have: never graded as ``incorrect``); ``depends_on_domain`` (the answer
equals the derivative wherever both are real, but is undefined on part of the problem's
domain); ``uncertain`` (no decision could be reached within the bounds: never counted as
right). A problem that cannot be checked raises :class:`~derive.errors.DeriveError`.

How it decides
--------------
Answers are read by the safe parsers with the problem's own names (:mod:`.reading`). The
right derivative comes from the step engine. Both are evaluated in the real numbers
(:mod:`.values`) at points of the problem's own domain (:mod:`.points`): the problem's
points cover each sign of each variable, each piece of each kink and each scale, and every
answer adds points drawn by its own seed and one on each piece of its own kinks.

1. Screening, in floats: a difference larger than rounding can explain (measured against
   the size of the terms that were added, never relatively against a value that may be 0)
   is recomputed at high precision and, when it holds, makes the answer incorrect.
2. Confirmation: an answer that agrees everywhere is confirmed at one point of each piece,
   exactly. When both sides are rational functions, in exact rational arithmetic at those
   points and at fresh points with large denominators (a nonzero difference of degree d
   vanishes at such a point with probability below d/10⁹). Otherwise at a precision chosen
   from the magnitudes met in the evaluation (every term, however small, is resolved with
   30 digits to spare) and again 30 digits higher: a true zero shrinks with the precision,
   a tiny real difference such as ``2x + 10^-20`` does not.
3. Decimals follow the policy (:mod:`.decimals`), and the message says which.

How it diagnoses
----------------
:mod:`.mistakes` runs the engine with one rule broken at one place; an incorrect answer is
compared with every such candidate. ``integrated_instead`` is found by differentiating the
answer back, constants of integration (``+ C``, ``ln(k x)``) aside.
"""

import functools
import hashlib
import math
import random
import re
from dataclasses import dataclass, field
from fractions import Fraction

import mpmath
import sympy

from derive.errors import DeriveError
from derive.grade import points as sampling
from derive.grade.decimals import Decimals, literal_spans, literals, match_literal
from derive.grade.mistakes import CODES, PRIORITY, BrokenEngine, enumerate_mistakes  # noqa: F401
from derive.grade.reading import CONSTANT_NAMES, outside, read, read_answer, suggestions, typed_domain  # noqa: F401
from derive.grade.values import NotSupported, compile_expression
from derive.limits import TimeLimit, time_limit
from derive.symbols import symbol

VERDICTS = ("correct", "incorrect", "depends_on_domain", "uncertain", "unreadable")
MIN_POINTS = 4  # fewer defined points than this and the problem cannot be checked
ANSWER_SECONDS = 1.0  # read and compare one answer
PREPARE_SECONDS = 3.0  # read, differentiate and sample one problem
CANDIDATE_SECONDS = 2.0  # enumerate the mistake candidates of one problem
MAX_CANDIDATES = 120
SAME = 1e-9  # floats: a gap below this times the scale is rounding
APART = 1e-6  # floats: a gap above this times the scale is worth confirming
GUARD = 30  # digits to spare beyond the magnitudes met
BASE_DIGITS = 40  # the least precision of a confirmation
MAX_DIGITS = 3000  # beyond this the verdict is "uncertain"
FRESH_POINTS = 2  # extra points with large denominators for exact rational confirmation


# --------------------------------------------------------------------------- results


@dataclass
class CheckResult:
    """The verdict on one answer; ``to_dict()`` is the JSON of ``derive check --format json``."""

    verdict: str
    mistakes: list = field(default_factory=list)  # codes, most likely first
    message: str = ""
    expected: str = ""
    counterexample: dict | None = None  # {"point", "expected_value", "answer_value"}
    approximate: bool = False
    where: list = field(default_factory=list)  # (code, where) of each matching candidate
    read_as: str = ""  # the answer as read
    notes: list = field(default_factory=list)  # how it was read: splits, constants
    decimals: str | None = None  # the policy applied, when the answer has decimals
    decimals_note: str = ""  # what the decimals stand for
    domain: str = ""  # for depends_on_domain: where the answer is undefined
    suggestions: list = field(default_factory=list)  # did-you-mean, for unreadable answers
    reason: str = ""  # for unreadable and uncertain: what was not understood or decided
    signature: tuple | None = None  # the answer's values at the problem's base points, for answer classes

    def to_dict(self):
        return {
            "verdict": self.verdict,
            "read_as": self.read_as,
            "notes": list(self.notes),
            "mistakes": list(self.mistakes),
            "where": [{"mistake": code, "where": where} for code, where in self.where],
            "message": self.message,
            "expected": self.expected,
            "decimals": self.decimals,
            "counterexample": self.counterexample,
            "suggestions": list(self.suggestions),
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
    values: list  # at the problem's base points (floats; None where undefined)


@dataclass
class _Outcome:
    """What comparing an answer with the derivative found."""

    kind: str  # equal, different, undefined, uncertain
    index: int | None = None  # the pool point of the difference
    expected_value: object = None
    answer_value: object = None
    reason: str = ""


# --------------------------------------------------------------------------- helpers


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


def _exact_decimals(expr, typed=()):
    """Floats replaced by the exact decimals they were typed as (0.1 is 1/10)."""
    replace = {}
    for f in expr.atoms(sympy.Float):
        literal = match_literal(_fraction(f), typed)
        value = literal.value if literal is not None else abs(Fraction(sympy.Rational(str(f))))
        value = -value if f < 0 else value  # typed literals carry no sign
        replace[f] = sympy.Rational(value.numerator, value.denominator)
    return expr.xreplace(replace) if replace else expr


def exact_decimals_text(text):
    """Plain text with each decimal written as the exact fraction it spells ("0.1" is
    "(1/10)"), so SymPy never rounds one or folds two into a float: 1/5.1 is 10/51."""
    from derive.parsing.latex import looks_like_latex

    if looks_like_latex(text):
        return text
    out, last = [], 0
    for literal, start, end in literal_spans(text):
        value = literal.value
        out.append(text[last:start])
        out.append(f"({value.numerator}/{value.denominator})" if value.denominator != 1 else f"({value.numerator})")
        last = end
    out.append(text[last:])
    return "".join(out)


def _fraction(f):
    r = sympy.Rational(f)
    return Fraction(int(r.p), int(r.q))


def _fraction_text(q):
    return str(q.numerator) if q.denominator == 1 else f"{q.numerator}/{q.denominator}"


def _value_out(value):
    """A number for JSON: a float when finite, else "undefined"."""
    if value is None:
        return "undefined"
    if isinstance(value, Fraction):
        return float(value) if abs(value) < 1e300 else str(value)
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return str(value)
    if math.isfinite(number) and number != 0:
        return float(f"{number:.12g}")
    return float(mpmath.nstr(value, 12)) if math.isfinite(number) else mpmath.nstr(value, 12)


def _values_out(expected, given):
    """Both values, with digits enough to tell them apart: floats when 12 digits do,
    else text with as many digits as it takes (2x + 10^-20 differs in the 21st)."""
    a, b = _value_out(expected), _value_out(given)
    if a != b or not isinstance(a, float) or expected is None or given is None:
        return a, b
    digits = 15
    while digits < 400:
        with mpmath.workdps(digits + 10):
            a_text = mpmath.nstr(_mpf(expected), digits)
            b_text = mpmath.nstr(_mpf(given), digits)
        if a_text != b_text:
            return a_text, b_text
        digits *= 2
    return a, b


def _mpf(value):
    if isinstance(value, Fraction):
        return mpmath.mpf(value.numerator) / value.denominator
    return mpmath.mpf(value)


def _spread(a, d, scale, point):
    """How extreme a point is (decimal orders of magnitude away from 1, of its values and
    its coordinates): the confirmation prefers moderate points, where fewer digits decide
    it (e^(−2x) at x = 5000 needs thousands)."""
    total = 0.0
    for v in (a, d, scale, *point.values()):
        total += abs(_log10(v))
    return total


def _log10(v):
    """log10 |v| cheaply, for floats, mpf and Fractions of any size (0 for zero)."""
    if not v:
        return 0.0
    if isinstance(v, Fraction):
        return math.log10(abs(v.numerator)) - math.log10(v.denominator)
    if isinstance(v, float):
        return math.log10(abs(v)) if math.isfinite(v) else 1e6
    try:
        return float(mpmath.log10(abs(v), prec=24)) if mpmath.isfinite(v) else 1e6
    except (TypeError, ValueError):
        return 1e6


def _seed(*parts):
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8", "replace")).digest()[:8], "big")


def _scale(*pairs):
    """The size a gap is measured against: the largest term added, or value, met."""
    size = 0
    for value, trace in pairs:
        if value is not None:
            size = max(size, abs(value))
        if trace is not None:
            size = max(size, trace.scale)
    return size


def _bounded(seconds):
    """A time bound (TimeLimit) that nests inside a command's own (derive.limits)."""
    return time_limit(seconds)


# --------------------------------------------------------------------------- the problem


class Reference:
    """An expression answers are compared with (the derivative, or a line of working), with
    its values at the problem's points computed once."""

    def __init__(self, pool, compiled):
        self.pool = pool
        self.fn = compiled
        self._float = {}
        self._mp = {}

    @property
    def rational(self):
        return self.fn.rational

    def at(self, k):
        """Float value and trace at pool point k."""
        found = self._float.get(k)
        if found is None:
            found = self._float[k] = self.fn.floats(self.pool.points[k])
        return found

    def mp(self, k, digits):
        key = (k, digits)
        found = self._mp.get(key)
        if found is None:
            if len(self._mp) > 4096:
                self._mp.clear()
            found = self._mp[key] = self.fn.mp(self.pool.points[k], digits)
        return found

    def exact(self, point):
        return self.fn.exact(point)



class Problem:
    """One expression and variable: its derivative, its points, and (once asked for) the
    mistake candidates. Built once and reused for every answer to the same problem."""

    def __init__(self, expression, wrt=None, seed=0, decimals=None, variables=()):
        """``variables``: names an answer may use that the expression does not have (as
        PrairieLearn's ``variables``); ``decimals``: the default decimals policy."""
        self.expression_text = expression
        self.variables = tuple(variables or ())
        self.decimals = Decimals.parse(decimals)
        self.candidates = None
        self._expected_text = None
        with _bounded(PREPARE_SECONDS):
            try:
                self._prepare(expression, wrt, seed)
            except TimeLimit:
                raise DeriveError(f"the expression took longer than {PREPARE_SECONDS:g} s to prepare; "
                                  "try a smaller one") from None
            except RecursionError:
                raise DeriveError("the expression is nested too deeply to check") from None

    # -- preparation ----------------------------------------------------------------------
    def _prepare(self, expression, wrt, seed):
        from derive.engine.problems import ALIASES, CATALOG
        from derive.engine.rules import Engine

        if isinstance(expression, str) and (expression.strip() in CATALOG or expression.strip() in ALIASES):
            raise DeriveError(f"'{expression.strip()}' is a named problem; derive check takes a formula, "
                              "such as \"(w*x + b - y)^2\"")
        self.conditions = []
        if isinstance(expression, sympy.Basic):
            expr = expression
        else:
            # Decimals become the exact numbers they spell before SymPy combines them (1/5.1
            # is 10/51), and the domain is that of what was written: sin(asin(x)) is defined
            # on [−1, 1] only, though SymPy reads it as x.
            expr = read(exact_decimals_text(expression), "expression")
            self.conditions = typed_domain(exact_decimals_text(expression), {s.name for s in expr.free_symbols})
        self.expr = expr
        self.wrt = _variable(expr, wrt)
        self.derivative = Engine(expr, self.wrt).differentiate(expr, self.wrt).derivative
        extra = set()
        for name in self.variables:
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,31}", name):
                raise DeriveError(f"a variable name must be letters, digits and _, not {name[:40]!r}")
            extra.add(next((s for s in expr.free_symbols if s.name == name), None) or symbol(name))
        conditioned = set().union(*(a.free_symbols for _, a in self.conditions)) if self.conditions else set()
        self.symbols = sorted(expr.free_symbols | conditioned | {self.wrt} | extra, key=str)
        self.names = {s.name for s in self.symbols}
        self.seed = _seed(expression, self.wrt, seed)
        try:
            self._expr_fn = compile_expression(expr)
            self._derivative_fn = compile_expression(self.derivative)
            self._condition_fns = [(c, compile_expression(a)) for c, a in self.conditions]
        except NotSupported as error:
            raise DeriveError(f"the expression cannot be checked: {error}") from None
        near = sampling.anchors(sympy.Add(expr, self.derivative, evaluate=False), set(self.symbols))
        self.pool = sampling.Pool(self.symbols, self._defined, self.seed, near=near)
        if len(self.pool.points) < MIN_POINTS:
            raise DeriveError("could not find enough points where the expression and its derivative are "
                              "defined and real, so answers to it cannot be checked")
        self.reference = Reference(self.pool, self._derivative_fn)

    def _defined(self, point):
        try:
            return self._defined_at(point)
        except NotSupported:
            return False, ()

    def _defined_at(self, point):
        value, trace = self._expr_fn.floats(point)
        if value is None or not mpmath.isfinite(value):
            return False, ()
        d, d_trace = self._derivative_fn.floats(point)
        if d is None or not mpmath.isfinite(d):
            return False, ()
        for condition, compiled in self._condition_fns:
            u, _ = compiled.floats(point)
            if u is None or outside(condition, u):
                return False, ()
        return True, tuple(trace.pieces) + tuple(d_trace.pieces)

    def __getstate__(self):
        state = dict(self.__dict__)
        for key in ("_expr_fn", "_derivative_fn", "_condition_fns", "reference"):
            state[key] = None  # closures do not pickle; rebuilt on demand
        state["_evaluators"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._expr_fn = compile_expression(self.expr)
        self._derivative_fn = compile_expression(self.derivative)
        self._condition_fns = [(c, compile_expression(a)) for c, a in self.conditions]
        self.reference = Reference(self.pool, self._derivative_fn)

    @property
    def points(self):
        return self.pool.points

    def derivative_at(self, k):
        """The derivative's float value and trace at pool point k (cached)."""
        return self.reference.at(k)

    def derivative_mp(self, k, digits):
        return self.reference.mp(k, digits)

    def reference_for(self, expr):
        """A :class:`Reference` for another expression (a line of working) at these points."""
        return Reference(self.pool, compile_expression(expr))

    @property
    def expected(self):
        """The right derivative, tidied for reading."""
        if self._expected_text is None:
            from derive.engine.rules import tidy
            from derive.render.printing import to_text

            with _bounded(2.0):
                try:
                    shown = tidy(self.derivative)
                except TimeLimit:
                    shown = self.derivative
            self._expected_text = to_text(shown)
        return self._expected_text

    # -- answers ------------------------------------------------------------------------
    def check(self, answer, decimals=None, reading=None):
        """The verdict on one answer (text), within ``ANSWER_SECONDS`` (``reading``: the
        answer already read by :meth:`reading_key`)."""
        policy = self.decimals if decimals is None else Decimals.parse(decimals)
        try:
            with _bounded(ANSWER_SECONDS):
                return self._check(answer, policy, reading)
        except TimeLimit:
            return self._uncertain(f"checking this answer took longer than {ANSWER_SECONDS:g} s; "
                                   "write it in a shorter form", answer)
        except RecursionError:
            return self._unreadable(answer, "the answer is nested too deeply to check")
        except MemoryError:
            return self._unreadable(answer, "the answer is too large to check")

    def _check(self, answer, policy, reading=None):
        from derive.render.printing import to_text

        if reading is not None:
            pass
        elif isinstance(answer, sympy.Basic):
            reading = read_answer(to_text(answer), self.names)
            reading.expr = answer
        else:
            reading = read_answer(answer, self.names)
        if reading.error:
            return self._unreadable(answer, reading.error)
        expr = reading.expr
        read_as = _shown(expr)
        notes = reading.notes
        if reading.unknown:
            constants = [n for n in reading.unknown if n in CONSTANT_NAMES or (len(n) == 1 and n.isalpha())]
            if len(constants) == len(reading.unknown) and self._is_antiderivative(expr, reading.unknown):
                notes = notes + [f"{n} was read as a constant of integration" for n in reading.unknown]
                candidate = Candidate("integrated_instead", "an antiderivative: its derivative is the expression",
                                      None, [])
                return self._result("incorrect", [candidate], read_as=read_as, notes=notes)
            return self._unknown_names(answer, reading, read_as)
        try:
            compiled = compile_expression(expr)
        except NotSupported as error:
            return self._unreadable(answer, f"the answer cannot be evaluated: {error}", read_as)
        typed = literals(answer) if isinstance(answer, str) else []
        floats = sorted(expr.atoms(sympy.Float), key=str)
        approximate, decimals_note = False, ""
        if floats and policy.policy == "exact":
            expr = read(exact_decimals_text(reading.text), "answer", names=self.names) if reading.text == answer \
                else _exact_decimals(expr, typed)
            compiled = compile_expression(expr)
            decimals_note = "each decimal was read as the exact number it spells"
            outcome = self._compare(expr, compiled, answer)
        elif floats and policy.policy == "tolerance":
            approximate = True
            decimals_note = f"compared within a relative {policy.tolerance:g}"
            outcome = self._compare_within(compiled, answer, policy.tolerance)
        elif floats:
            approximate = True
            outcome, decimals_note = self._compare_rounded(expr, floats, typed, answer)
        else:
            outcome = self._compare(expr, compiled, answer)
        extra = {"read_as": read_as, "notes": notes, "approximate": approximate,
                 "decimals": str(policy) if floats else None, "decimals_note": decimals_note,
                 "signature": self.signature(compiled)}
        if outcome.kind == "equal":
            outcome = self._typed_domain(reading, answer)
        if outcome.kind == "equal":
            return self._result("correct", **extra)
        if outcome.kind == "uncertain":
            return self._result("uncertain", reason=outcome.reason, **extra)
        counterexample = self._counterexample(outcome)
        if outcome.kind == "undefined":
            domain = _point_text(self.pool.points[outcome.index])
            return self._result("depends_on_domain", counterexample=counterexample, domain=domain, **extra)
        matches = self.diagnose(compiled, expr, tolerance=1e-6 if floats else None)
        return self._result("incorrect", matches, counterexample=counterexample, **extra)

    _shown = staticmethod(lambda expr: _shown(expr))

    @property
    def rules_used(self):
        """How many rules the derivation applies (for partial credit by rule)."""
        if getattr(self, "_rules_used", None) is None:
            from derive.engine.rules import Engine

            try:
                with _bounded(1.0):
                    tree = Engine(self.expr, self.wrt).differentiate(self.expr, self.wrt)
            except (TimeLimit, RecursionError):
                self._rules_used = 0
                return 0
            count, stack = 0, [tree]
            while stack:
                step = stack.pop()
                count += step.rule not in ("constant", "variable", "simplify", "rewrite", "definition")
                stack.extend(step.substeps or ())
            self._rules_used = count
        return self._rules_used

    def signature(self, compiled):
        """The answer's values at the problem's base points, to 9 digits: answers with the
        same signature are candidates for one answer class."""
        seen = getattr(compiled, "seen", {})
        values = []
        for k in self.pool.base:
            value = seen[k] if k in seen else compiled.floats(self.pool.points[k])[0]
            values.append(None if value is None or not mpmath.isfinite(value) else float(f"{float(value):.9g}"))
        return tuple(values)

    def reading_key(self, answer):
        """Answers with the same key read the same and get the same verdict: the expression
        as SymPy built it, the arguments whose domain it checks, and the decimals typed."""
        reading = read_answer(answer, self.names)
        if reading.error:
            return None, reading
        conditions = tuple((c, sympy.srepr(a)) for c, a in typed_domain(reading.text, self.names))
        decimals = tuple(lit.text for lit in literals(answer))
        return (sympy.srepr(reading.expr), conditions, decimals, tuple(reading.unknown)), reading

    def _typed_domain(self, reading, answer):
        """An agreeing answer, as typed: undefined anywhere the derivative is defined?
        (exp(log(x)) for x: SymPy reads it as x, but what was typed has no value at x ≤ 0.)"""
        conditions = typed_domain(reading.text, self.names)
        if not conditions:
            return _Outcome("equal")
        try:
            checks = [(condition, compile_expression(argument)) for condition, argument in conditions]
        except NotSupported:
            return _Outcome("equal")
        for k in self._indices(compile_expression(reading.expr), answer):
            point = self.pool.points[k]
            for condition, compiled in checks:
                value, _ = compiled.floats(point)
                if value is None or outside(condition, value):
                    return _Outcome("undefined", k, self.derivative_at(k)[0], None)
        return _Outcome("equal")

    # -- comparing ------------------------------------------------------------------------
    def _indices(self, compiled, answer):
        """The pool points this answer is compared at: the problem's, its own, its kinks'."""
        def pieces(k):
            return tuple(compiled.floats(self.pool.points[k])[1].pieces)

        kinks = pieces if sampling.has_kinks(compiled.expr) else None
        return self.pool.for_answer(_seed(self.seed, answer), kinks)

    def _compare(self, expr, compiled, answer, ref=None):
        """Screen in floats; confirm a difference at high precision, an equality exactly.
        ``ref`` is what the answer is compared with (by default the derivative)."""
        ref = ref or self.reference
        indices = self._indices(compiled, answer)
        equal, undefined = [], []
        for k in indices:
            point = self.pool.points[k]
            d, d_trace = ref.at(k)
            if d is None:
                continue  # a line of working may be undefined where the derivative is not
            a, a_trace = compiled.floats(point)
            if ref is self.reference:
                compiled.seen = getattr(compiled, "seen", {})
                compiled.seen[k] = a
            if a is None or not mpmath.isfinite(a):
                undefined.append(k)
                continue
            scale = _scale((a, a_trace), (d, d_trace))
            gap = abs(a - d)
            if gap <= SAME * scale:
                equal.append((k, a_trace, d_trace, _spread(a, d, scale, point)))
                continue
            outcome = self._confirm_difference(compiled, k, ref)
            if outcome is not None:
                return outcome
            equal.append((k, a_trace, d_trace, _spread(a, d, scale, point)))
        if not equal:
            return _Outcome("undefined", undefined[0], ref.at(undefined[0])[0], None) if undefined \
                else _Outcome("uncertain", reason="no point to compare at")
        outcome = self._confirm_equal(expr, compiled, equal, ref)
        if outcome.kind != "equal":
            return outcome
        if undefined:
            return _Outcome("undefined", undefined[0], ref.at(undefined[0])[0], None)
        return outcome

    def _confirm_difference(self, compiled, k, ref):
        """A float difference at point k, settled at high precision (None: it was rounding)."""
        outcome = self._settle(compiled, k, ref)
        if outcome.kind in ("different", "undefined"):
            return outcome
        return None

    def _settle(self, compiled, k, ref=None):
        """Equal or different at point k, at high precision.

        The precision resolves every magnitude met with ``GUARD`` digits to spare; the gap is
        then measured again 30 and 60 digits higher. Rounding shrinks as the digits grow (a
        true zero, even sin π next to 0, whatever its size); a real difference, however
        small (2x + 10^-20), stays where it is."""
        ref = ref or self.reference
        point = self.pool.points[k]
        digits = BASE_DIGITS
        for _ in range(6):
            d, d_trace = ref.mp(k, digits)
            a, a_trace = compiled.mp(point, digits)
            if d is None:
                return _Outcome("uncertain", k, reason="the derivative could not be computed here")
            if a is None:
                return _Outcome("undefined", k, d, None)
            need = GUARD + max(a_trace.digits_needed(), d_trace.digits_needed())
            if need <= digits:
                break
            if need > MAX_DIGITS:
                return _Outcome("uncertain", k, reason=f"the answer has terms more than {MAX_DIGITS} digits "
                                                       "apart in size, too far apart to compare")
            digits = int(need) + 1
        if abs(a - d) > mpmath.mpf(10) ** -12 * _scale((a, a_trace), (d, d_trace)):
            return _Outcome("different", k, d, a)  # far beyond what these digits could round to
        gaps, values = [], []
        for extra in (0, GUARD, 2 * GUARD):
            precision = digits + extra
            d, d_trace = ref.mp(k, precision)
            a, a_trace = compiled.mp(point, precision)
            if a is None or d is None:
                return _Outcome("uncertain", k, reason="the answer's value could not be computed")
            scale = _scale((a, a_trace), (d, d_trace))
            gap = abs(a - d)
            gaps.append(gap)
            values.append((d, a))
            rounding = mpmath.mpf(10) ** (-precision + 15) * scale
            if extra == GUARD and gaps[0] <= mpmath.mpf(10) ** (-digits + 15) * scale and gap <= rounding:
                return _Outcome("equal")  # rounding at both precisions: the common case
            if extra == 2 * GUARD:
                shrinks = gaps[1] <= gaps[0] * mpmath.mpf(10) ** -20 and gap <= gaps[1] * mpmath.mpf(10) ** -20
                if gap <= rounding or shrinks:
                    return _Outcome("equal")
                if gap >= gaps[1] * mpmath.mpf(10) ** -5:
                    return _Outcome("different", k, d, a)
        return _Outcome("uncertain", k, reason="the answer and the derivative could not be told apart "
                                                  "or shown equal at high precision")

    def _confirm_equal(self, expr, compiled, equal, ref):
        """Confirm an agreement exactly at one point of each piece, choosing in each piece
        the point whose values are least extreme."""
        groups = {}
        for k, a_trace, d_trace, spread in sorted(equal, key=lambda item: item[3]):
            groups.setdefault((tuple(a_trace.pieces), tuple(d_trace.pieces)), []).append(k)
        if compiled.rational and ref.rational:
            return self._confirm_rational(compiled, [ks[0] for ks in groups.values()], ref)
        confirmed = 0
        for ks in groups.values():
            for attempt, k in enumerate(ks[:6]):
                outcome = self._confirm_at(compiled, k, ref)
                if outcome.kind == "uncertain" and attempt + 1 < len(ks[:6]):
                    continue  # a point of more moderate size may decide it
                if outcome.kind != "equal":
                    return outcome
                confirmed += 1
                break
        return _Outcome("equal") if confirmed else _Outcome("uncertain", reason="no point to confirm at")

    def _confirm_rational(self, compiled, chosen, ref):
        """Exact arithmetic: at the chosen points and at fresh ones with large denominators."""
        rng = random.Random(self.seed ^ 0x5EED)
        points = [(k, self.pool.points[k]) for k in chosen]
        tries = 0
        while len(points) < len(chosen) + FRESH_POINTS and tries < 20:
            tries += 1
            template = self.pool.points[rng.choice(chosen)]
            fresh = {s: v + Fraction(rng.randint(-10**9, 10**9), rng.randint(10**9, 2 * 10**9))
                     for s, v in template.items()}
            points.append((None, fresh))
        for k, point in points:
            d = ref.exact(point)
            if d is None:
                continue
            a = compiled.exact(point)
            if a is None:
                if k is not None:
                    return _Outcome("undefined", k, d, None)
                continue
            if a != d:
                if k is None:
                    return self._fresh_difference(point, d, a)
                return _Outcome("different", k, d, a)
        return _Outcome("equal")

    def _fresh_difference(self, point, d, a):
        self.pool.points.append(point)  # so the counterexample can name it
        k = len(self.pool.points) - 1
        self.pool.pieces.append(())
        return _Outcome("different", k, d, a)

    def _confirm_at(self, compiled, k, ref):
        """Confirm an agreement at point k (see :meth:`_settle`)."""
        outcome = self._settle(compiled, k, ref)
        if outcome.kind == "undefined":
            return _Outcome("uncertain", k, reason="the answer is not defined at a point where it agreed in floats")
        return outcome

    def _compare_within(self, compiled, answer, tolerance):
        """The tolerance policy: within a relative ``tolerance`` at every point."""
        equal = 0
        for k in self._indices(compiled, answer):
            d, d_trace = self.derivative_at(k)
            a, a_trace = compiled.floats(self.pool.points[k])
            if a is None:
                return _Outcome("undefined", k, d, None)
            size = abs(d) if abs(d) > SAME * _scale((d, d_trace)) else _scale((a, a_trace), (d, d_trace))
            if abs(a - d) > tolerance * size + SAME * _scale((a, a_trace), (d, d_trace)):
                return _Outcome("different", k, d, a)
            equal += 1
        return _Outcome("equal") if equal else _Outcome("uncertain", reason="no point to compare at")

    def _compare_rounded(self, expr, floats, typed, answer):
        """The rounded policy: find one exact value for each decimal, within half a unit of
        its last digit, that makes the answer the derivative; then confirm it."""
        from derive.grade.rounding import solve_decimals

        return solve_decimals(self, expr, floats, typed, answer)

    def _counterexample(self, outcome):
        point = self.pool.points[outcome.index]
        expected, given = _values_out(outcome.expected_value, outcome.answer_value)
        return {
            "point": {str(s): _fraction_text(v) for s, v in point.items()},
            "expected_value": expected,
            "answer_value": given,
        }

    # -- antiderivatives ------------------------------------------------------------------
    def _is_antiderivative(self, answer_expr, constants=()):
        """Whether the answer differentiates back to the expression, constants of
        integration aside (each is given two different values, and both must agree)."""
        if not answer_expr.has(self.wrt):
            return False
        extra = [s for s in answer_expr.free_symbols if s.name in set(constants)]
        if not self._slopes_match(answer_expr, extra):
            return False  # a numerical slope settles most answers without differentiating them
        try:
            back = compile_expression(sympy.diff(answer_expr, self.wrt))
        except (NotSupported, ValueError, TypeError):
            return False
        checked = 0
        for round_ in range(2):
            rng = random.Random(f"{self.seed}:{round_}")
            for k in self.pool.base:
                point = dict(self.pool.points[k])
                for s in extra:
                    point[s] = Fraction(rng.randint(1, 400), rng.choice((7, 11, 13)))
                e, e_trace = self._expr_fn.floats(point)
                b, b_trace = back.floats(point)
                if b is None:
                    continue
                if abs(b - e) > 1e-7 * _scale((b, b_trace), (e, e_trace)):
                    return False
                checked += 1
        return checked >= MIN_POINTS

    def _slopes_match(self, answer_expr, extra):
        """Whether the answer's slope (a central difference at 30 digits) is the expression's
        at two base points: a cheap screen before the answer is differentiated exactly."""
        try:
            compiled = compile_expression(answer_expr)
        except NotSupported:
            return False
        rng = random.Random(self.seed)
        moderate = sorted(self.pool.base, key=lambda k: max((abs(v) for v in self.pool.points[k].values()),
                                                           default=0))  # far points lose the slope to rounding
        for k in moderate[:2]:
            point = dict(self.pool.points[k])
            for s in extra:
                point[s] = Fraction(rng.randint(1, 400), 7)
            x = point[self.wrt]
            rough = float(x) * 1e-6 or 1e-6  # first a rough slope in floats: most answers fail it
            up, down = dict(point), dict(point)
            up[self.wrt], down[self.wrt] = float(x) + rough, float(x) - rough
            high, _ = compiled.floats(up)
            low, _ = compiled.floats(down)
            e, e_trace = self._expr_fn.floats(point)
            if high is not None and low is not None and e is not None:
                slope = (high - low) / (2 * rough)
                rounding = 1e-13 * max(abs(high), abs(low)) / abs(rough)  # the difference's own rounding
                if abs(slope - e) > 1e-3 * max(abs(e), e_trace.scale, abs(slope)) + rounding + 1e-300:
                    return False
            step = Fraction(1, 10**12) * max(abs(x), 1)
            up, down = dict(point), dict(point)
            up[self.wrt], down[self.wrt] = x + step, x - step
            high, _ = compiled.mp(up, 30)
            low, _ = compiled.mp(down, 30)
            e, e_trace = self._expr_fn.mp(point, 30)
            if high is None or low is None or e is None:
                continue
            with mpmath.workdps(40):
                slope = (high - low) / (2 * (mpmath.mpf(step.numerator) / step.denominator))
                if abs(slope - e) > mpmath.mpf(10) ** -8 * max(abs(e), e_trace.scale, abs(slope), 1e-300):
                    return False
        return True

    # -- mistakes -------------------------------------------------------------------------
    def prepare_candidates(self):
        """Every wrong derivative one broken rule gives, at the base points (once)."""
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
        right = [self.derivative_at(k) for k in self.pool.base]
        seen, candidates = set(), []
        for code, where, derivative in found:
            key = (code, derivative)
            if key in seen:
                continue
            seen.add(key)
            try:
                f = compile_expression(derivative)
            except NotSupported:
                continue
            values = [f.floats(self.pool.points[k])[0] for k in self.pool.base]
            if all(v is not None and abs(v - d) <= SAME * _scale((v, None), (d, t))
                   for v, (d, t) in zip(values, right)):
                continue  # the break changed nothing here (an inner derivative of 1)
            candidates.append(Candidate(code, where, derivative, values))
        self.candidates = candidates
        return candidates

    def diagnose(self, compiled, answer_expr=None, tolerance=None):
        """The candidates the answer's values match, most likely first."""
        seen = getattr(compiled, "seen", {})  # values _compare already computed
        values = [seen[k] if k in seen else compiled.floats(self.pool.points[k])[0] for k in self.pool.base]
        rel = max(tolerance or 0, 1e-9)
        matches = []
        for c in self.prepare_candidates():
            ok = True
            for a, v in zip(values, c.values):
                if a is None or v is None:
                    if a is not v:
                        ok = False
                        break
                    continue
                if abs(a - v) > rel * max(abs(a), abs(v), 1e-300):
                    ok = False
                    break
            if ok:
                matches.append(c)
        if answer_expr is not None and not any(c.code == "integrated_instead" for c in matches):
            if self._is_antiderivative(answer_expr):
                matches.append(Candidate("integrated_instead", "an antiderivative: its derivative is the expression",
                                         None, values))
        matches.sort(key=lambda c: PRIORITY[c.code])  # stable: engine order within a code
        return matches

    # -- results --------------------------------------------------------------------------
    def _result(self, verdict, matches=(), **fields):
        from derive.grade.words import message

        mistakes = list(dict.fromkeys(c.code for c in matches))
        first_where = {}
        for c in matches:
            first_where.setdefault(c.code, c.where)
        result = CheckResult(verdict=verdict, mistakes=mistakes, expected=self.expected,
                             where=[(code, first_where[code]) for code in mistakes], **fields)
        result.message = message(result)
        return result

    def _unreadable(self, answer, reason, read_as=""):
        return self._result("unreadable", reason=reason, read_as=read_as)

    def _uncertain(self, reason, answer):
        return self._result("uncertain", reason=reason)

    def _unknown_names(self, answer, reading, read_as):
        names = ", ".join(reading.unknown)
        plural = "s" if len(reading.unknown) > 1 else ""
        offers = []
        for name in reading.unknown:
            offers.extend(suggestions(name, self.names))
        known = ", ".join(sorted(self.names))
        reason = f"the answer has the variable{plural} {names}, which the problem does not have (it has {known})"
        return self._result("unreadable", reason=reason, read_as=read_as, notes=reading.notes,
                            suggestions=offers)


def _shown(expr):
    from derive.render.printing import to_text

    try:
        return to_text(expr)
    except Exception:  # printing is for the reader; a failure must not lose the verdict
        return str(expr)


def _point_text(point):
    return ", ".join(f"{s} = {_fraction_text(v)}" for s, v in point.items())


# --------------------------------------------------------------------------- entry point


@functools.lru_cache(maxsize=64)
def problem(expression, wrt=None, seed=0, decimals=None, variables=()):
    """The prepared problem for an expression and variable (cached)."""
    return Problem(expression, wrt, seed, decimals, variables)


def check_answer(expression, wrt, answer, *, seed=0, decimals=None, variables=()):
    """Check ``answer`` as the derivative of ``expression`` with respect to ``wrt``.

    All three are text (``answer`` may be LaTeX). An answer that cannot be read is a
    result with the verdict ``unreadable``; a problem that cannot be checked raises a
    one-line :class:`~derive.errors.DeriveError`. ``decimals`` is the decimals policy
    (``"rounded"``, ``"exact"`` or ``"tolerance=1e-6"``); ``variables`` are names the
    answer may use that the expression does not have.
    """
    if not isinstance(expression, str) or not isinstance(answer, str):
        raise DeriveError("the expression and the answer must be text")
    policy = str(Decimals.parse(decimals))
    prepared = problem(expression, wrt if wrt is None else str(wrt), seed, None, tuple(variables or ()))
    return prepared.check(answer, policy)
