"""How an answer was read, before it is graded: what STACK and Numbas show a student first.

An answer is read with the problem's own names, so letters typed together split into them
(``2xy`` is 2·x·y when the problem has x and y; ``xe^x`` is x·e^x), while a name the problem
defines stays whole (``error``, ``yhat``). A name the problem does not have is never graded
as a variable: the answer is *unreadable*, with a did-you-mean (case, a near spelling, a
function written without its parentheses), unless it is a constant of integration (see
:mod:`derive.grade.answer`).
"""

import difflib
import re
from dataclasses import dataclass, field

import sympy

from derive.errors import ParseError
from derive.parsing.latex import looks_like_latex, parse_latex
from derive.parsing.text import FUNCTIONS, parse

# Single letters students use for a constant of integration.
CONSTANT_NAMES = frozenset({"C", "c", "K", "k", "C_1", "c_1", "A", "D"})


@dataclass
class Reading:
    """An answer as read: the expression, the splits made, the names the problem lacks."""

    text: str
    expr: object = None
    error: str | None = None
    splits: list = field(default_factory=list)  # (typed, pieces)
    unknown: list = field(default_factory=list)  # names (str) the problem does not have
    latex: bool = False

    @property
    def notes(self):
        """One line per split: "xy was read as x·y"."""
        return [f"{typed} was read as {'·'.join(pieces)}" for typed, pieces in self.splits]


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


def read(text, what="expression", names=None, splits=None):
    """Parse user text (plain or LaTeX) into SymPy with the safe parsers; ParseError on refusal."""
    if not isinstance(text, str):
        raise ParseError(f"the {what} must be text")
    if looks_like_latex(text):
        try:
            return parse_latex(text, names=splits if splits is not None else None)
        except ParseError as error:
            raise ParseError(f"{what} (LaTeX): {error}") from None
    rewritten, cols = _sigma_to_sigmoid(text)
    try:
        return parse(rewritten, names=names, splits=splits)
    except ParseError as error:
        message = str(error)
        if error.position is not None and rewritten != text:
            original = cols[error.position - 1] if error.position <= len(cols) else len(text) + 1
            message = message.replace(f"at column {error.position}", f"at column {original}")
        raise ParseError(f"{what}: {message}") from None


def read_answer(text, names):
    """The answer as read with the problem's ``names`` (a set of str)."""
    reading = Reading(text=text if isinstance(text, str) else str(text))
    if not isinstance(text, str):
        reading.error = "the answer must be text"
        return reading
    if not text.strip():
        reading.error = "the answer is empty"
        return reading
    reading.latex = looks_like_latex(text)
    splits = []
    try:
        reading.expr = read(text, "answer", names=set(names), splits=splits)
    except ParseError as error:
        reading.error = str(error)
        hint = _function_hint(text)
        if hint:
            reading.error += f"; did you mean {hint}?"
        return reading
    if reading.latex:  # the LaTeX reader lists the names it read
        latex_names, splits = set(splits), []
    else:
        latex_names = set()
    reading.splits = [(typed, pieces) for typed, pieces, _col in splits]
    present = {s.name for s in reading.expr.free_symbols if isinstance(s, sympy.Symbol)}
    present |= {b.label.name for b in reading.expr.atoms(sympy.IndexedBase)}
    bound = set()
    for total in reading.expr.atoms(sympy.Sum):
        bound |= {str(limit[0]) for limit in total.limits}
        for limit in total.limits:
            bound |= {s.name for s in sympy.Tuple(*limit[1:]).free_symbols}
    unknown = (present | latex_names) - set(names) - bound
    if not reading.latex:
        unknown |= typed_unknown(text, names)  # SymPy may have cancelled a name away: 0*inf is 0
    reading.unknown = sorted(unknown)
    return reading


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def typed_unknown(text, names):
    """The names typed in plain-text ``text`` that are neither the problem's ``names``, nor
    functions, constants, nor split into those (read from the text itself, so nothing
    SymPy simplified away, such as the inf of 0*inf, goes unseen)."""
    from derive.parsing.text import CONSTANTS, split_name

    unknown = set()
    for match in _NAME.finditer(text):
        name = match.group(0)
        start = match.start()
        if start and text[start - 1].isdigit() and name[0] in "eE":  # the exponent of 2e3 or 1e-8
            exponent = re.match(r"[eE]\d+", name)
            if exponent:
                name = name[exponent.end():]
            elif name in ("e", "E") and re.match(r"[-+]\d", text[match.end():match.end() + 2]):
                continue
            if not name or not name[0].isalpha():
                continue
        following = text[match.end():].lstrip()[:1]
        if name in FUNCTIONS and following in ("(", "^", "*") or name in CONSTANTS or name in names:
            continue
        if name in ("sigma",) and following == "(":
            continue
        if split_name(name, names, following == "(") is not None:
            continue
        unknown.add(name)
    return unknown


# Where what was typed has a value. SymPy simplifies as it reads (exp(log(x)) is x,
# sqrt(x)^2 is x, sin(asin(x)) is x), which can widen the domain of what was typed; so the
# arguments of the functions that restrict it are read from the text itself, each on its
# own, and an answer is undefined wherever one of them is outside its function's domain.
_RESTRICTED = {
    "log": "positive", "ln": "positive", "sqrt": "nonnegative", "asin": "unit", "acos": "unit",
    "arcsin": "unit", "arccos": "unit", "atanh": "open unit", "artanh": "open unit", "arctanh": "open unit",
    "acosh": "at least 1", "arcosh": "at least 1", "arccosh": "at least 1", "asec": "outside unit",
    "acsc": "outside unit", "arcsec": "outside unit", "arccsc": "outside unit", "acoth": "beyond unit",
    "arcoth": "beyond unit", "arccoth": "beyond unit", "asech": "unit interval", "acsch": "nonzero",
}
_CALL = re.compile(r"(?<![A-Za-z_0-9])(" + "|".join(sorted(_RESTRICTED, key=len, reverse=True)) + r")\s*\(")
_ROOT = re.compile(r"(?<![A-Za-z_0-9])([A-Za-z][A-Za-z0-9_]*|\))\s*(?:\^|\*\*)\s*\(\s*(-?\s*\d+)\s*/\s*(\d+)\s*\)")


def _closing(text, start):
    """Index of the ')' closing the '(' at ``start``, or None."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    return None


def _opening(text, end):
    """Index of the '(' that the ')' at ``end`` closes, or None."""
    depth = 0
    for i in range(end, -1, -1):
        if text[i] == ")":
            depth += 1
        elif text[i] == "(":
            depth -= 1
            if depth == 0:
                return i
    return None


def typed_domain(text, names):
    """[(condition, argument expression)] of the restricting functions typed in plain-text
    ``text``: log u needs u > 0, sqrt u and u^(1/2) need u ≥ 0, asin u needs |u| ≤ 1, …"""
    if not isinstance(text, str) or looks_like_latex(text):
        return []
    found = []
    for match in _CALL.finditer(text):
        open_at = match.end() - 1
        close = _closing(text, open_at)
        if close is None:
            continue
        inner = text[open_at + 1:close]
        depth, cut = 0, len(inner)
        for i, c in enumerate(inner):  # log(u, b): the first argument
            depth += c == "("
            depth -= c == ")"
            if c == "," and depth == 0:
                cut = i
                break
        found.append((_RESTRICTED[match.group(1)], inner[:cut]))
    for match in _ROOT.finditer(text):
        if int(match.group(3)) % 2:
            continue  # odd roots are defined for every real number
        if match.group(1) == ")":
            start = _opening(text, match.start(1))
            if start is None:
                continue
            call = re.search(r"[A-Za-z][A-Za-z0-9_]*\s*$", text[:start])
            # abs(u)^(1/2): the base is the whole call, not its argument
            base = text[call.start():match.start(1) + 1] if call else text[start + 1:match.start(1)]
        else:
            base = match.group(1)
        found.append(("nonnegative", base))
    out = []
    for condition, argument in found:
        try:
            out.append((condition, parse(argument, names=set(names))))
        except ParseError:
            continue
    return out


def outside(condition, value):
    """Whether a real ``value`` is outside what ``condition`` allows."""
    if condition == "positive":
        return value <= 0
    if condition == "nonnegative":
        return value < 0
    if condition == "unit":
        return abs(value) > 1
    if condition == "open unit":
        return abs(value) >= 1
    if condition == "at least 1":
        return value < 1
    if condition == "outside unit":
        return abs(value) < 1
    if condition == "beyond unit":
        return abs(value) <= 1
    if condition == "unit interval":
        return not 0 < value <= 1
    return value == 0


def suggestions(name, names):
    """Did-you-mean for a name the problem lacks: its case, a near spelling, e·x."""
    out = []
    lowered = {n.lower(): n for n in names}
    if name.lower() in lowered and lowered[name.lower()] != name:
        out.append(lowered[name.lower()])
    out.extend(m for m in difflib.get_close_matches(name, sorted(names), n=2, cutoff=0.6) if m not in out)
    for function in sorted(FUNCTIONS, key=len, reverse=True):
        if name.startswith(function) and len(name) > len(function) and name[len(function):] in names:
            out.append(f"{function}({name[len(function):]})")
            break
    return out


def _function_hint(text):
    """sinx, lnx, cos x: a function typed without its parentheses."""
    match = re.search(r"\b(" + "|".join(sorted(FUNCTIONS, key=len, reverse=True)) + r")\s*([A-Za-z])\b", text)
    if match:
        return f"{match.group(1)}({match.group(2)})"
    return None
