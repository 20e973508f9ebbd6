"""Problem templates: parameters drawn from ``[problems.params]`` and put into the text.

    [[problems]]
    expression = "{a} x^{k} sin({b} x)"
    wrt = "x"
    [problems.params]
    a = "int(2, 9)"              # the integers 2..9 (a third number is the step)
    k = "int(2, 5)"
    b = "choice(2, 3, 5, 1/2)"   # one of these numbers (integers, fractions, decimals)
    where = "a != b"             # constraints every draw must meet (text or a list of texts)
    reference = { a = 3, k = 4, b = 2 }   # optional: the version the handout itself shows

A placeholder ``{a}`` (or a little arithmetic over parameters, ``{2*a}``, ``{k - 1}``)
may stand in ``expression``, ``let``, ``prompt`` and the ``[descent]`` table (whose own
parameters go in ``[descent.params]``); ``{{`` and ``}}`` are literal braces in a prompt.

Everything here is read by a small parser of our own: the specs, the constraints and the
placeholders are never handed to ``eval``. Numbers are exact (``Fraction``); sizes are
bounded (a parameter's values, the text, the nesting, every power), so a hostile file is
refused at once instead of computed. Every mistake is one line naming the file, the
problem and the parameter.
"""

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction

from derive.errors import DeriveError

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}\Z")
RESERVED = {"where", "reference"}
MAX_PARAMS = 12
MAX_VALUES = 100_000  # values one parameter may take (int(1, 100000))
MAX_CHOICES = 200
MAX_TEXT = 500  # characters of one spec or constraint
MAX_DEPTH = 30
MAX_EXPONENT = 64
MAX_DIGITS = 60  # digits of any number computed while checking a constraint
MAX_CONSTRAINTS = 20
FUNCTIONS = {"abs": 1, "min": 2, "max": 2, "gcd": 2}
COMPARISONS = ("==", "!=", "<=", ">=", "<", ">")
_TOKEN = re.compile(r"\s*(?:(?P<number>\d+(?:\.\d+)?|\.\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
                    r"|(?P<op>==|!=|<=|>=|\*\*|[-+*/^%(),<>]))")


class TemplateError(DeriveError):
    """A template that cannot be drawn from; the message names where."""


# ------------------------------------------------------------------------------ numbers
@dataclass(frozen=True)
class Value:
    """One drawn number: exact, and how it is written into the text."""

    number: Fraction
    typed: str  # as the file wrote it ("1/2", "0.5", "3")

    @property
    def text(self):
        """How it goes into an expression: bare when it cannot join with its neighbours,
        bracketed when it is negative or a fraction (so {a} x^{k} stays what it says)."""
        if self.number < 0 or "/" in self.typed:
            return f"({self.typed})"
        return self.typed

    def __str__(self):
        return self.typed


def value_of(number, typed=None):
    """A ``Value`` from a Fraction (written as an integer or p/q) or a TOML number."""
    if isinstance(number, float):
        if not math.isfinite(number):
            raise ValueError("not a finite number")
        typed = typed or repr(number)
        number = Fraction(typed) if "e" not in typed.lower() else Fraction(number)
    number = Fraction(number)
    if typed is None:
        typed = str(number.numerator) if number.denominator == 1 else f"{number.numerator}/{number.denominator}"
        if number < 0 and number.denominator != 1:
            typed = f"-{-number.numerator}/{number.denominator}"
    return Value(number, typed)


# ------------------------------------------------------------------------ the little parser
class _Tokens:
    def __init__(self, text, what):
        self.what = what
        if len(text) > MAX_TEXT:
            raise ValueError(f"{what} is longer than {MAX_TEXT} characters")
        self.items, position = [], 0
        text = text.rstrip()
        while position < len(text):
            match = _TOKEN.match(text, position)
            if not match or match.end() == position:
                bad = text[position:].lstrip()[:1]
                raise ValueError(f"unexpected '{bad}' in {what}; use numbers, parameter names, "
                                 f"+ - * / ^ ( ) and comparisons such as a != b")
            kind = match.lastgroup
            word = match.group(kind)
            if kind == "name" and word in ("and", "or", "not"):
                kind = "op"
            self.items.append((kind, word))
            position = match.end()
        self.k = 0

    def peek(self):
        return self.items[self.k] if self.k < len(self.items) else (None, None)

    def take(self):
        token = self.peek()
        self.k += 1
        return token

    def expect(self, word):
        kind, got = self.take()
        if got != word:
            raise ValueError(f"expected '{word}' in {self.what}, found {repr(got) if got else 'the end'}")


# An expression is a tree of tuples: ("num", Value) ("name", str) ("neg", e) ("op", sym, a, b)
# ("call", fn, [args]) ("cmp", [e0, e1, ...], [ops]) ("not", e) ("and"|"or", a, b).
def parse_expression(text, what, *, logic=True):
    """The tree of ``text``; comparisons and and/or/not only when ``logic``."""
    tokens = _Tokens(text, what)
    if not tokens.items:
        raise ValueError(f"{what} is empty")
    tree = _Parser(tokens, logic).top()
    if tokens.peek()[1] is not None:
        raise ValueError(f"unexpected '{tokens.peek()[1]}' in {what}")
    return tree


class _Parser:
    def __init__(self, tokens, logic):
        self.t, self.logic, self.depth = tokens, logic, 0

    def deeper(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ValueError(f"{self.t.what} is nested too deeply")

    def top(self):
        return self.disjunction() if self.logic else self.sum()

    def disjunction(self):
        left = self.conjunction()
        while self.t.peek()[1] == "or":
            self.t.take()
            left = ("or", left, self.conjunction())
        return left

    def conjunction(self):
        left = self.negation()
        while self.t.peek()[1] == "and":
            self.t.take()
            left = ("and", left, self.negation())
        return left

    def negation(self):
        if self.t.peek()[1] == "not":
            self.t.take()
            self.deeper()
            inner = self.negation()
            self.depth -= 1
            return ("not", inner)
        return self.comparison()

    def comparison(self):
        parts, ops = [self.sum()], []
        while self.t.peek()[1] in COMPARISONS:
            ops.append(self.t.take()[1])
            parts.append(self.sum())
        return ("cmp", parts, ops) if ops else parts[0]

    def sum(self):
        left = self.product()
        while self.t.peek()[1] in ("+", "-"):
            op = self.t.take()[1]
            left = ("op", op, left, self.product())
        return left

    def product(self):
        left = self.unary()
        while self.t.peek()[1] in ("*", "/", "%"):
            op = self.t.take()[1]
            left = ("op", op, left, self.unary())
        return left

    def unary(self):
        if self.t.peek()[1] in ("-", "+"):
            op = self.t.take()[1]
            self.deeper()
            inner = self.unary()
            self.depth -= 1
            return ("neg", inner) if op == "-" else inner
        return self.power()

    def power(self):
        base = self.atom()
        if self.t.peek()[1] in ("^", "**"):
            self.t.take()
            self.deeper()
            exponent = self.unary()  # right-associative, and 2^-1 reads as it looks
            self.depth -= 1
            return ("op", "^", base, exponent)
        return base

    def atom(self):
        kind, word = self.t.take()
        if kind == "number":
            return ("num", value_of(Fraction(word), word))
        if kind == "name":
            if self.t.peek()[1] == "(" and word in FUNCTIONS:
                self.t.take()
                self.deeper()
                args = [self.sum()]
                while self.t.peek()[1] == ",":
                    self.t.take()
                    args.append(self.sum())
                self.t.expect(")")
                self.depth -= 1
                if len(args) != FUNCTIONS[word]:
                    raise ValueError(f"{word}() takes {FUNCTIONS[word]} argument(s) in {self.t.what}")
                return ("call", word, args)
            if self.t.peek()[1] == "(":
                raise ValueError(f"unknown function '{word}' in {self.t.what}; "
                                 f"the functions are {', '.join(FUNCTIONS)}")
            return ("name", word)
        if word == "(":
            self.deeper()
            inner = self.top()
            self.t.expect(")")
            self.depth -= 1
            return inner
        raise ValueError(f"expected a number or a parameter in {self.t.what}, "
                         f"found {repr(word) if word else 'the end'}")


def names_in(tree):
    """Every parameter name a tree uses."""
    kind = tree[0]
    if kind == "name":
        return {tree[1]}
    if kind == "num":
        return set()
    if kind in ("neg", "not"):
        return names_in(tree[1])
    if kind in ("and", "or"):
        return names_in(tree[1]) | names_in(tree[2])
    if kind == "op":
        return names_in(tree[2]) | names_in(tree[3])
    if kind == "call":
        return set().union(*(names_in(a) for a in tree[2]))
    return set().union(*(names_in(p) for p in tree[1]))  # cmp


class Undefined(ArithmeticError):
    """A division by zero or a number too large, met while evaluating."""


def _bounded(q):
    if max(abs(q.numerator), q.denominator).bit_length() > MAX_DIGITS * 3.33:
        raise Undefined("a number grows too large")
    return q


def evaluate(tree, values):
    """The exact value (Fraction, or bool for logic) of a tree, with ``values`` {name: Fraction}."""
    kind = tree[0]
    if kind == "num":
        return tree[1].number
    if kind == "name":
        return values[tree[1]]
    if kind == "neg":
        return -_number(evaluate(tree[1], values))
    if kind == "not":
        return not _truth(evaluate(tree[1], values))
    if kind == "and":
        return _truth(evaluate(tree[1], values)) and _truth(evaluate(tree[2], values))
    if kind == "or":
        return _truth(evaluate(tree[1], values)) or _truth(evaluate(tree[2], values))
    if kind == "cmp":
        items = [_number(evaluate(p, values)) for p in tree[1]]
        compare = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
                   "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
        return all(compare[op](items[k], items[k + 1]) for k, op in enumerate(tree[2]))
    if kind == "call":
        args = [_number(evaluate(a, values)) for a in tree[2]]
        if tree[1] == "abs":
            return abs(args[0])
        if tree[1] == "min":
            return min(args)
        if tree[1] == "max":
            return max(args)
        if any(a.denominator != 1 for a in args):
            raise Undefined("gcd() takes whole numbers")
        return Fraction(math.gcd(int(args[0]), int(args[1])))
    _, op, left, right = tree
    a, b = _number(evaluate(left, values)), _number(evaluate(right, values))
    if op == "+":
        return _bounded(a + b)
    if op == "-":
        return _bounded(a - b)
    if op == "*":
        return _bounded(a * b)
    if op in ("/", "%"):
        if b == 0:
            raise Undefined("a division by zero")
        return _bounded(a / b) if op == "/" else _bounded(a - b * math.floor(a / b))
    if b.denominator != 1 or abs(b) > MAX_EXPONENT:
        raise Undefined(f"a power needs a whole exponent of at most {MAX_EXPONENT}")
    if a == 0 and b < 0:
        raise Undefined("a division by zero")
    return _bounded(a ** int(b))


def _number(x):
    if isinstance(x, bool):
        raise Undefined("a comparison used as a number")
    return x


def _truth(x):
    if not isinstance(x, bool):
        raise Undefined("a number used as a condition (write a comparison, as in a != b)")
    return x


def to_text(tree, spell):
    """The tree written back as derive's parser reads it, each parameter as ``spell(name)``."""
    kind = tree[0]
    if kind == "num":
        return tree[1].text
    if kind == "name":
        return spell(tree[1])
    if kind == "neg":
        return f"(-{to_text(tree[1], spell)})"
    if kind == "call":
        return f"{tree[1]}({', '.join(to_text(a, spell) for a in tree[2])})"
    if kind == "op":
        return f"({to_text(tree[2], spell)} {tree[1]} {to_text(tree[3], spell)})"
    raise ValueError("a condition cannot stand in an expression")


# --------------------------------------------------------------------------- the specs
@dataclass(frozen=True)
class Spec:
    """How one parameter is drawn: ``int(low, high[, step])`` or ``choice(v, …)``."""

    name: str
    text: str
    values: tuple  # of Value, in order

    def draw(self, rng):
        return self.values[rng.randrange(len(self.values))]

    def maxima(self):
        """The same draw in Maxima, for a STACK question: ``rand`` picks 0..n-1."""
        items = ", ".join(_maxima_number(v.number) for v in self.values)
        return f"[{items}]"


def _maxima_number(q):
    return str(q.numerator) if q.denominator == 1 else f"({q.numerator}/{q.denominator})"


def parse_spec(name, raw, where):
    """A ``Spec`` from the file's text (or a bare number, a fixed value)."""
    if not isinstance(raw, bool) and isinstance(raw, (int, float)):
        try:
            return Spec(name, str(raw), (value_of(raw),))
        except ValueError:
            raise TemplateError(f"{where}: parameter '{name}' must be a finite number") from None
    if not isinstance(raw, str):
        raise TemplateError(f"{where}: parameter '{name}' must be text such as \"int(2, 9)\" or "
                            f"\"choice(2, 3, 1/2)\"")
    text = raw.strip()
    match = re.fullmatch(r"(int|choice)\s*\((.*)\)", text, re.S)
    if not match:
        raise TemplateError(f"{where}: parameter '{name}' is \"{text[:60]}\"; write int(low, high), "
                            f"int(low, high, step) or choice(v1, v2, ...)")
    kind, inside = match.groups()
    try:
        numbers = [_constant(item, name) for item in _split(inside)]
    except ValueError as error:
        raise TemplateError(f"{where}: parameter '{name}': {error}") from None
    if kind == "choice":
        if not numbers:
            raise TemplateError(f"{where}: parameter '{name}': choice() is empty; give at least one value")
        if len(numbers) > MAX_CHOICES:
            raise TemplateError(f"{where}: parameter '{name}': at most {MAX_CHOICES} choices")
        return Spec(name, text, tuple(numbers))
    if len(numbers) not in (2, 3) or any(v.number.denominator != 1 for v in numbers):
        raise TemplateError(f"{where}: parameter '{name}': int() takes two or three whole numbers, "
                            f"as in int(2, 9) or int(-10, 10, 2)")
    low, high = int(numbers[0].number), int(numbers[1].number)
    step = int(numbers[2].number) if len(numbers) == 3 else 1
    if step <= 0:
        raise TemplateError(f"{where}: parameter '{name}': the step of int() must be at least 1")
    if high < low:
        raise TemplateError(f"{where}: parameter '{name}': int({low}, {high}) is an empty range; "
                            f"the first number is the lowest, as in int(2, 9)")
    count = (high - low) // step + 1
    if count > MAX_VALUES:
        raise TemplateError(f"{where}: parameter '{name}': int({low}, {high}) has {count} values; "
                            f"at most {MAX_VALUES}")
    return Spec(name, text, tuple(value_of(Fraction(low + k * step)) for k in range(count)))


def _split(inside):
    items = [item.strip() for item in inside.split(",")]
    return [] if items == [""] else items


def _constant(item, name):
    """One number of a spec: 3, -2, 1/2, -3/4, 0.25 (no arithmetic)."""
    match = re.fullmatch(r"([-+]?)\s*(\d{1,30}(?:\.\d{1,30})?|\.\d{1,30})(?:\s*/\s*(\d{1,30}))?", item)
    if not match:
        raise ValueError(f"'{item[:40]}' is not a number; values are integers, fractions such as 1/2 "
                         f"or decimals such as 0.5")
    sign, body, denominator = match.groups()
    number = Fraction(body)
    if denominator is not None:
        if "." in body:
            raise ValueError(f"'{item}': write a fraction of whole numbers, as in 1/2")
        if int(denominator) == 0:
            raise ValueError(f"'{item}' divides by zero")
        number /= int(denominator)
    if sign == "-":
        number = -number
    typed = (("-" if sign == "-" else "") + body + (f"/{denominator}" if denominator is not None else ""))
    return Value(number, typed)


# ------------------------------------------------------------------------- placeholders
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


@dataclass
class Text:
    """A text with placeholders: literal pieces and expression trees, in order."""

    key: str
    parts: list  # str or (source, tree)

    @property
    def names(self):
        return set().union(*(names_in(p[1]) for p in self.parts if not isinstance(p, str)))

    @property
    def has_placeholders(self):
        return any(not isinstance(p, str) for p in self.parts)

    def fill(self, draw):
        """The text with each placeholder replaced by its number (``Value.text``); ``draw``
        is ``{name: Value}``. A bare ``{a}`` is written as the file typed the value (0.5
        stays 0.5); arithmetic such as ``{2*a}`` is written exactly (1/2, never 0.5000)."""
        numbers = {name: v.number for name, v in draw.items()}
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            elif part[1][0] == "name":
                out.append(draw[part[1][1]].text)
            else:
                out.append(value_of(evaluate(part[1], numbers)).text)
        return "".join(out)

    def spell(self, spell):
        """The text with each placeholder written as ``(…)`` over ``spell(name)``."""
        return "".join(part if isinstance(part, str) else f"({to_text(part[1], spell)})" for part in self.parts)


def parse_text(text, key, names, where, *, literal_braces):
    """Split ``text`` into pieces and placeholder trees; unknown names are TemplateErrors.

    With ``literal_braces`` (a prompt) ``{{``/``}}`` are braces and a ``{…}`` that is no
    arithmetic at all (LaTeX such as ``\\frac{1}{2}``) is kept as it is."""
    parts, last = [], 0
    for match in _PLACEHOLDER.finditer(text):
        parts.append(text[last:match.start()])
        last = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            parts.append(token[0] if literal_braces else token)
            continue
        source = match.group(1).strip()
        try:
            tree = parse_expression(source, f"{{{source}}}", logic=False)
        except ValueError as error:
            if literal_braces:
                parts.append(token)
                continue
            raise TemplateError(f"{where}: the key '{key}': {error}") from None
        unknown = sorted(names_in(tree) - set(names))
        if unknown:
            known = ", ".join(sorted(names)) or "none (add a [problems.params] table)"
            raise TemplateError(f"{where}: the key '{key}' uses the parameter '{unknown[0]}', which is not "
                                f"defined; the parameters are {known}")
        if any(t[0] == "call" and t[1] == "gcd" for t in _walk(tree)) or any(
                t[0] == "op" and t[1] == "%" for t in _walk(tree)):
            raise TemplateError(f"{where}: the key '{key}': {{{source}}} may use + - * / ^ and abs, "
                                f"min, max, not gcd or %")
        parts.append((source, tree))
    parts.append(text[last:])
    parts = [p for p in parts if p != ""]
    if not literal_braces:
        _refuse_run_together(parts, key, where)
    return Text(key, parts)


def _walk(tree):
    yield tree
    kind = tree[0]
    children = ()
    if kind in ("neg", "not"):
        children = (tree[1],)
    elif kind in ("and", "or"):
        children = (tree[1], tree[2])
    elif kind == "op":
        children = (tree[2], tree[3])
    elif kind == "call":
        children = tuple(tree[2])
    elif kind == "cmp":
        children = tuple(tree[1])
    for child in children:
        yield from _walk(child)


def _refuse_run_together(parts, key, where):
    """``{a}{b}`` or ``2{a}`` would join two numbers into one (3 and 5 into 35)."""
    for k, part in enumerate(parts):
        if isinstance(part, str):
            continue
        before = parts[k - 1] if k > 0 else ""
        after = parts[k + 1] if k + 1 < len(parts) else ""
        joined = (not isinstance(before, str)) or (before[-1:].isdigit() or before[-1:] == ".")
        joined = joined or (not isinstance(after, str)) or after[:1].isdigit() or after[:1] == "."
        if joined:
            raise TemplateError(f"{where}: the key '{key}': {{{part[0]}}} stands next to another number, "
                                f"so the two would run together; put * between them, as in {{a}}*{{b}}")


# ------------------------------------------------------------------------- a template's params
@dataclass
class Params:
    """The parameters of one problem (or of ``[descent]``): specs, constraints, reference."""

    where: str  # "FILE: problem 3", for messages
    specs: dict = field(default_factory=dict)  # name -> Spec, in the file's order
    constraints: list = field(default_factory=list)  # (text, tree)
    reference: dict | None = None  # name -> Value, when the file gives one

    @property
    def names(self):
        return list(self.specs)

    def space(self):
        """How many draws are possible (before constraints)."""
        total = 1
        for spec in self.specs.values():
            total *= len(spec.values)
        return total

    def draw(self, rng):
        """One draw: ``{name: Value}``, constraints not yet checked."""
        return {name: spec.draw(rng) for name, spec in self.specs.items()}

    def failed_constraint(self, draw):
        """The text of the first constraint the draw breaks, or None."""
        values = {name: v.number for name, v in draw.items()}
        for text, tree in self.constraints:
            try:
                if not _truth(evaluate(tree, values)):
                    return text
            except Undefined as error:
                return f"{text} ({error})"
        return None

    def every_draw(self):
        """Every draw of the space, in order (only for small spaces)."""
        import itertools

        names = self.names
        for combination in itertools.product(*(self.specs[n].values for n in names)):
            yield dict(zip(names, combination))


def read_params(table, where):
    """``Params`` from a ``[problems.params]`` table; a TemplateError names the parameter."""
    if not isinstance(table, dict):
        raise TemplateError(f"{where}: 'params' must be a table, written [problems.params], with lines "
                            f"such as a = \"int(2, 9)\"")
    params = Params(where)
    for name, raw in table.items():
        if name in RESERVED:
            continue
        if not NAME.match(name):
            raise TemplateError(f"{where}: '{name}' cannot name a parameter; use a letter then letters, "
                                f"digits or _, as in a or k2")
        params.specs[name] = parse_spec(name, raw, where)
    if not params.specs:
        raise TemplateError(f"{where}: [problems.params] defines no parameter; add one such as "
                            f"a = \"int(2, 9)\"")
    if len(params.specs) > MAX_PARAMS:
        raise TemplateError(f"{where}: at most {MAX_PARAMS} parameters")
    constraints = table.get("where", [])
    constraints = [constraints] if isinstance(constraints, str) else constraints
    if not isinstance(constraints, list) or not all(isinstance(c, str) for c in constraints):
        raise TemplateError(f"{where}: 'where' must be a constraint such as \"a != b\", or a list of them")
    if len(constraints) > MAX_CONSTRAINTS:
        raise TemplateError(f"{where}: at most {MAX_CONSTRAINTS} constraints in 'where'")
    for text in constraints:
        try:
            tree = parse_expression(text.strip(), f"the constraint \"{text.strip()}\"")
        except ValueError as error:
            raise TemplateError(f"{where}: 'where': {error}") from None
        unknown = sorted(names_in(tree) - set(params.specs))
        if unknown:
            raise TemplateError(f"{where}: the constraint \"{text.strip()}\" uses the parameter '{unknown[0]}', "
                                f"which is not defined; the parameters are {', '.join(params.specs)}")
        if tree[0] not in ("cmp", "and", "or", "not"):
            raise TemplateError(f"{where}: the constraint \"{text.strip()}\" is a number, not a condition; "
                                f"write a comparison such as a != b")
        params.constraints.append((text.strip(), tree))
    if "reference" in table:
        params.reference = _reference(table["reference"], params, where)
    return params


def _reference(raw, params, where):
    if not isinstance(raw, dict):
        raise TemplateError(f"{where}: 'reference' must be a table of values, as in reference = {{ a = 3, k = 4 }}")
    missing = [n for n in params.specs if n not in raw]
    extra = [n for n in raw if n not in params.specs]
    if extra:
        raise TemplateError(f"{where}: 'reference' gives the parameter '{extra[0]}', which is not defined; "
                            f"the parameters are {', '.join(params.specs)}")
    if missing:
        raise TemplateError(f"{where}: 'reference' has no value for the parameter '{missing[0]}'; give "
                            f"every parameter a value")
    chosen = {}
    for name, value in raw.items():
        spec = params.specs[name]
        try:
            number = Fraction(value) if isinstance(value, str) and "/" in value else value
            number = _constant(value, name).number if isinstance(value, str) else value_of(number).number
        except (ValueError, TypeError, ZeroDivisionError):
            raise TemplateError(f"{where}: 'reference': the parameter '{name}' must be a number") from None
        match = next((v for v in spec.values if v.number == number), None)
        if match is None:
            raise TemplateError(f"{where}: 'reference': {name} = {value} is not a value of {spec.text}")
        chosen[name] = match
    broken = params.failed_constraint(chosen)
    if broken:
        raise TemplateError(f"{where}: 'reference' breaks the constraint \"{broken}\"")
    return chosen
