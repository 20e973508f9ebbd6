"""Turn the text a learner types into a SymPy expression, safely.

The text is read by a hand-written tokenizer and a recursive-descent parser that builds
SymPy objects directly; it is never handed to ``eval``, ``exec``, ``compile``,
``sympify``, ``parse_expr``, ``S(str)`` or ``lambdify``.

What is accepted
----------------
* Numbers: integers (at most ``MAX_INTEGER_DIGITS`` digits), decimals ``0.5``, ``.5``,
  ``2.`` and scientific ``1e-3`` (decimals become ``Float`` keeping the typed digits, at
  least 15 significant).  ``3/2`` is the exact ``Rational(3, 2)``.
* Names: ``[A-Za-z][A-Za-z0-9_]*`` up to ``MAX_NAME_LENGTH`` characters (``x``, ``weight``,
  ``x_1``, ``lambda``), and the Greek letters ``α β γ δ ε ζ η θ λ μ ξ σ τ φ χ ψ ω Δ Σ Φ Ψ Ω``,
  which mean the same variable as their spelled-out names (``λ`` is ``lambda``).  Python
  keywords other than ``lambda`` and names starting with ``_`` are refused.
* Constants: ``pi`` and ``π``; ``e`` and ``E`` (so ``e^x`` is ``exp(x)``).
* Operators: ``+ - * / ^ **`` with the usual precedence; ``^`` and ``**`` are both power
  and right-associative; unary minus binds looser than power (``-x^2`` is ``-(x^2)``) and
  may follow an operator (``2^-x``, ``x*-y``).  The typographic ``· × ⋅ ∗`` (times),
  ``÷ ⁄ ∕`` (divide), ``−`` (minus), vulgar fractions ``½`` and superscripts ``x² x⁻¹``
  are read as their plain forms; subscript digits ``x₁`` are the name ``x_1``.
* Implicit multiplication, at the same precedence as ``*``: ``2x``, ``2 x``, ``3(x+1)``,
  ``(x+1)(x-1)``, ``(x+1)x``, ``x y``, ``2 sin(x)``.  A number never multiplies what comes
  before it (``x 2`` and ``(x+1)2`` are refused: write ``*``).  A name followed by ``(``
  is a function call, so ``x(x+1)`` is refused unless ``x`` is a known function.
* Functions, always with parentheses: see ``FUNCTIONS``.  ``f``, ``g`` and ``h`` are
  abstract functions of one argument when followed by ``(`` and plain variables otherwise.
  ``sin²(x)``, ``sin^2(x)`` and ``sin^2 x`` mean ``sin(x)^2``; ``sin⁻¹(x)`` and
  ``sin^(-1)(x)`` mean ``asin(x)`` (for the trigonometric and hyperbolic functions).

Everything else is refused with a one-line ``ParseError`` naming the column and what
would work.  Sizes are bounded before anything is computed, so hostile input such as
``9**9**9**9`` or ``"(" * 100000`` is refused in milliseconds.
"""

import keyword
import math
import unicodedata
from dataclasses import dataclass
from typing import Callable, NamedTuple

import sympy
from sympy.core.function import AppliedUndef

from derive.errors import ParseError
from derive.functions import log_base, sigmoid
from derive.symbols import evaluated, symbol

# --- bounds -------------------------------------------------------------------------

MAX_LENGTH = 2000  # characters of input, checked before anything else
MAX_DEPTH = 60  # nesting of brackets, function calls and exponents
MAX_INTEGER_DIGITS = 100  # digits in one typed number
MAX_EXPONENT = 1000  # largest |n| in a power with a numeric exponent
MAX_RESULT_DIGITS = 2000  # digits a computed number may reach
MAX_NAME_LENGTH = 32  # characters in one name
# SymPy's Max/Min compare every pair of arguments symbolically: about 4 ms for 2
# arguments, 55 ms for 8, growing with the square.  Bound the arguments of one call and
# the sum over the expression of (arguments per call)^2, so no input takes seconds.
MAX_MINMAX_ARGS = 8
MAX_MINMAX_WORK = 256  # e.g. 64 calls of relu or max(a, b), or 4 of max with 8 arguments

_LOG10_2 = math.log10(2)

# --- functions ------------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionSpec:
    """How one accepted function name is built, and how many arguments it takes."""

    build: Callable[..., sympy.Expr]
    min_args: int = 1
    max_args: int = 1
    example: str = "x"

    def __call__(self, *args):
        return self.build(*args)

    def arity(self):
        """The argument count in words, for error messages."""
        if self.min_args == self.max_args:
            n = self.min_args
            return f"exactly {n} argument" + ("" if n == 1 else "s")
        return f"{self.min_args} to {self.max_args} arguments"


def _log(u, base=None):
    # log(x, b) is the base-b logarithm, kept as the author wrote it: the explanation shows
    # the change of base as a step of its own.
    if base is None:
        return _unevaluated(sympy.log)(u)
    return _unevaluated(log_base)(u, base)


def _unevaluated(func):
    """``func`` applied as typed: log(x, x) stays log(x, x) and sin(asin(x)) stays itself."""

    def build(*args):
        if all(a.is_Number for a in args) and func not in (log_base,):
            value = func(*args)
            if value.is_Number:
                return value  # sqrt(4) is 2: numbers alone are evaluated
        return func(*args, evaluate=False)

    return build


def _one(func):
    return FunctionSpec(_unevaluated(func))


def _sqrt(u):
    if u.is_Number:
        return sympy.sqrt(u)
    return sympy.Pow(u, sympy.S.Half, evaluate=False)


def _relu(u):
    return sympy.Max(sympy.S.Zero, u, evaluate=False)


def _log_to(base):
    return FunctionSpec(lambda u: _unevaluated(log_base)(u, sympy.Integer(base)))


_MINMAX = dict(min_args=2, max_args=MAX_MINMAX_ARGS, example="x, y")

FUNCTIONS = {
    "sin": _one(sympy.sin),
    "cos": _one(sympy.cos),
    "tan": _one(sympy.tan),
    "cot": _one(sympy.cot),
    "sec": _one(sympy.sec),
    "csc": _one(sympy.csc),
    "asin": _one(sympy.asin),
    "acos": _one(sympy.acos),
    "atan": _one(sympy.atan),
    "acot": _one(sympy.acot),
    "asec": _one(sympy.asec),
    "acsc": _one(sympy.acsc),
    "arcsin": _one(sympy.asin),
    "arccos": _one(sympy.acos),
    "arctan": _one(sympy.atan),
    "arccot": _one(sympy.acot),
    "arcsec": _one(sympy.asec),
    "arccsc": _one(sympy.acsc),
    "sinh": _one(sympy.sinh),
    "cosh": _one(sympy.cosh),
    "tanh": _one(sympy.tanh),
    # with grading (issue 13): the other names textbooks use, and the inverses
    "coth": _one(sympy.coth), "sech": _one(sympy.sech), "csch": _one(sympy.csch),
    "cosec": _one(sympy.csc), "cosech": _one(sympy.csch),
    "asinh": _one(sympy.asinh), "acosh": _one(sympy.acosh), "atanh": _one(sympy.atanh),
    "acoth": _one(sympy.acoth), "asech": _one(sympy.asech), "acsch": _one(sympy.acsch),
    "arcsinh": _one(sympy.asinh), "arccosh": _one(sympy.acosh), "arctanh": _one(sympy.atanh),
    "arsinh": _one(sympy.asinh), "arcosh": _one(sympy.acosh), "artanh": _one(sympy.atanh),
    "arccoth": _one(sympy.acoth), "arcoth": _one(sympy.acoth),
    "exp": _one(sympy.exp),
    "log": FunctionSpec(_log, 1, 2, "x"),
    "ln": _one(sympy.log),
    "log2": _log_to(2),
    "log10": _log_to(10),
    "lg": _log_to(10),
    "sqrt": FunctionSpec(_sqrt),
    "abs": _one(sympy.Abs),
    "Abs": _one(sympy.Abs),
    "sign": _one(sympy.sign),
    "sgn": _one(sympy.sign),
    "Heaviside": _one(sympy.Heaviside),
    "erf": _one(sympy.erf),
    "max": FunctionSpec(_unevaluated(sympy.Max), **_MINMAX),
    "Max": FunctionSpec(_unevaluated(sympy.Max), **_MINMAX),
    "min": FunctionSpec(_unevaluated(sympy.Min), **_MINMAX),
    "Min": FunctionSpec(_unevaluated(sympy.Min), **_MINMAX),
    "sigmoid": _one(sigmoid),
    "relu": FunctionSpec(_relu),
    "f": _one(sympy.Function("f")),
    "g": _one(sympy.Function("g")),
    "h": _one(sympy.Function("h")),
}

# f⁻¹(x) and f^(-1)(x) are the inverse function for these (as textbooks write sin⁻¹ x).
INVERSES = {
    "sin": "asin", "cos": "acos", "tan": "atan", "cot": "acot", "sec": "asec", "csc": "acsc",
    "cosec": "acsc", "sinh": "asinh", "cosh": "acosh", "tanh": "atanh", "coth": "acoth",
    "sech": "asech", "csch": "acsch", "cosech": "acsch",
}  # fmt: skip

# Without "(" these are ordinary variables, so f*x and f(x) can both be written.
ABSTRACT_FUNCTIONS = frozenset({"f", "g", "h"})
_MINMAX_NAMES = frozenset({"max", "Max", "min", "Min", "relu"})

CONSTANTS = {"pi": sympy.pi, "e": sympy.E, "E": sympy.E}

# `lambda` is λ in ridge regression; `lambda x: x` still fails at the ':'.
_KEYWORDS = frozenset(keyword.kwlist) - {"lambda"}

# --- characters -----------------------------------------------------------------------

_DIGITS = frozenset("0123456789")
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_NAME_CHARS = _LETTERS | _DIGITS | {"_"}

GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta",
    "η": "eta", "θ": "theta", "λ": "lambda", "μ": "mu", "ξ": "xi", "σ": "sigma",
    "τ": "tau", "φ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega",
    "Δ": "Delta", "Σ": "Sigma", "Φ": "Phi", "Ψ": "Psi", "Ω": "Omega",
}  # fmt: skip

# Superscripts are read before NFKC, which would turn x² into the name x2.
_SUPERSCRIPTS = {
    "⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5", "⁶": "6", "⁷": "7",
    "⁸": "8", "⁹": "9", "⁻": "-", "⁺": "+",
}  # fmt: skip
_SUBSCRIPT_DIGITS = frozenset("₀₁₂₃₄₅₆₇₈₉")

_OPERATOR_ALIASES = {
    "·": "*", "×": "*", "⋅": "*", "∗": "*",
    "÷": "/", "⁄": "/", "∕": "/",
    "−": "-",
}  # fmt: skip

# Line breaks of every kind are spaces; other control characters are refused.
_SPACES = frozenset("\t\n\r\x0b\x0c\x85\u2028\u2029")

# Letters that look like ASCII ones but are not: refusing them names the confusion
# instead of silently making a second variable that prints like the first.
_LOOKALIKES = {
    # Cyrillic
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i",
    "ј": "j", "ѕ": "s", "ԁ": "d", "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M",
    "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T", "Х": "X",
    # Greek
    "ο": "o", "ν": "v", "ρ": "p", "ι": "i", "κ": "k", "υ": "u", "Α": "A", "Β": "B",
    "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
}  # fmt: skip

_ACCEPTED = "use names, numbers, + - * / ^ ( ) and functions such as sin(x)"

_PUNCTUATION_HINTS = {
    ".": "'.' is only a decimal point, as in 0.5 (attribute access such as x.real is not accepted)",
    '"': "quotes are not accepted: type the expression itself",
    "'": "quotes and primes are not accepted: type the expression itself",
    "#": "comments are not accepted",
    "[": "square brackets are not accepted (no lists or subscripts); use ( ) to group and x_1 for a subscript",
    "]": "square brackets are not accepted (no lists or subscripts); use ( ) to group and x_1 for a subscript",
    "{": "braces are not accepted; use ( ) to group",
    "}": "braces are not accepted; use ( ) to group",
    ":": "':' is not accepted (no lambdas, slices or dictionaries)",
    ";": "';' is not accepted: type a single expression",
    "=": "'=' is not accepted: type an expression, not an equation or assignment",
    "@": "'@' is not accepted; use * to multiply",
    "!": "'!' is not accepted (no factorials or negation)",
    "&": "'&' is not accepted (no logical or bitwise operators)",
    "|": "'|' is not accepted; write abs(x) for an absolute value",
    "<": "comparisons are not accepted: type an expression",
    ">": "comparisons are not accepted: type an expression",
    "\\": "backslashes are not accepted; write sin(x), not LaTeX such as \\sin x",
    "$": "'$' is not accepted; type the expression without LaTeX delimiters",
    "?": "'?' is not accepted",
    "`": "backticks are not accepted",
    "%": "'%' is not accepted; use / to divide",
    "~": "'~' is not accepted",
}


def _describe(ch):
    """A character for a message: the glyph when it is visible, always the Unicode name."""
    name = unicodedata.name(ch, None) or f"U+{ord(ch):04X}"
    # Only letters, digits, punctuation and symbols are shown as themselves: a raw line
    # separator or combining mark would break the one-line message.
    if unicodedata.category(ch)[0] in "LNPS":
        return f"'{ch}' ({name})"
    return f"U+{ord(ch):04X} ({name})"


# --- normalisation --------------------------------------------------------------------


class _Char(NamedTuple):
    char: str  # after normalisation
    col: int  # 1-based column in the user's text
    original: str  # what the user typed, for messages


def _normalise(text):
    """Per-character normalisation that keeps each character's original column."""
    out = []
    in_subscript = False
    for col, ch in enumerate(text, 1):
        was_subscript, in_subscript = in_subscript, ch in _SUBSCRIPT_DIGITS
        if " " <= ch <= "~":  # printable ASCII: nothing to normalise (the common case)
            out.append(_Char(ch, col, ch))
        elif ch in _SPACES:
            out.append(_Char(" ", col, ch))
        elif ch in _SUPERSCRIPTS:
            out.append(_Char(ch, col, ch))
        elif in_subscript:
            # x₁₂ is the name x_12: a subscript run opens with '_'.
            if not was_subscript:
                out.append(_Char("_", col, ch))
            out.append(_Char(unicodedata.normalize("NFKC", ch), col, ch))
        else:
            out.extend(_normalise_one(ch, col))
    return out


def _normalise_one(ch, col):
    category = unicodedata.category(ch)
    if category == "Cc":
        raise ParseError(f"control character U+{ord(ch):04X}{{where}}: delete it", col)
    if category in ("Cf", "Cs", "Co", "Cn"):
        raise ParseError(f"invisible or unassigned character {_describe(ch)}{{where}}: delete it", col)
    name = unicodedata.name(ch, "")
    if "SUPERSCRIPT" in name or name.startswith("MODIFIER LETTER"):
        raise ParseError(f"superscript {_describe(ch)}{{where}} is not accepted; write powers with ^, as in x^n", col)
    if "SUBSCRIPT" in name:
        raise ParseError(f"subscript {_describe(ch)}{{where}} is not accepted; write x_n for a subscript", col)
    plain = unicodedata.normalize("NFKC", _OPERATOR_ALIASES.get(ch, ch))
    if name.startswith("VULGAR FRACTION"):
        plain = f"({plain})"  # ½x is (1/2)x, not 1/(2x)
    return [_Char(_OPERATOR_ALIASES.get(c, c), col, ch) for c in plain]


# --- tokens ----------------------------------------------------------------------------


class Token(NamedTuple):
    kind: str  # "num", "name", "op", "(", ")", ",", "sup" or "end"
    text: str  # as typed, for messages
    col: int
    value: object = None  # numbers: the SymPy number; superscripts: the int exponent;
    # operators: one of + - * / ^ (so ** is "^")


def _refuse_character(c, col, original):
    if c in _PUNCTUATION_HINTS:
        raise ParseError(f"unexpected '{c}'{{where}}: {_PUNCTUATION_HINTS[c]}", col)
    if c in _LOOKALIKES:
        message = (
            f"character {_describe(original)}{{where}} looks like '{_LOOKALIKES[c]}' "
            "but is a different letter; type it as plain ASCII"
        )
        if unicodedata.name(c, "").startswith("GREEK"):
            greek = unicodedata.name(c).split()[-1].lower()
            message += f" (for the Greek letter, write its name: {greek})"
        raise ParseError(message, col)
    if c.isascii() and c.isprintable():
        raise ParseError(f"unexpected '{c}'{{where}}: {_ACCEPTED}", col)
    raise ParseError(f"character {_describe(original)}{{where}} is not accepted; {_ACCEPTED}", col)


class _Tokenizer:
    def __init__(self, chars, names=None, splits=None):
        self.text = "".join(c.char for c in chars)
        self.chars = chars
        self.i = 0
        self.names = names  # the problem's own names: letters typed together split into them
        self.splits = splits  # where a split was made: (typed, pieces, column)

    def col(self, i=None):
        i = self.i if i is None else i
        if i < len(self.chars):
            return self.chars[i].col
        return self.chars[-1].col + 1 if self.chars else 1

    def at(self, i):
        return self.text[i] if i < len(self.text) else ""

    def tokens(self):
        out = []
        while self.i < len(self.text):
            c = self.text[self.i]
            if c == " ":
                self.i += 1
            elif c in _DIGITS or (c == "." and self.at(self.i + 1) in _DIGITS):
                out.append(self.number())
            elif c in _LETTERS:
                token = self.name()
                pieces = self.split(token) if self.names is not None else None
                out.extend(pieces or [token])
            elif c in GREEK or c == "π":
                out.append(self.greek())
            elif c == "_":
                raise ParseError("names cannot start with '_'{where}: start with a letter, as in x_1", self.col())
            elif c in _SUPERSCRIPTS:
                out.append(self.superscript())
            elif c == "*" and self.at(self.i + 1) == "*":
                out.append(Token("op", "**", self.col(), "^"))
                self.i += 2
            elif c in "+-*/^":
                out.append(Token("op", c, self.col(), c))
                self.i += 1
            elif c in "(),":
                out.append(Token(c, c, self.col()))
                self.i += 1
            else:
                here = self.chars[self.i]
                _refuse_character(c, here.col, here.original)
        out.append(Token("end", "", self.col(len(self.text))))
        return out

    def run(self, allowed):
        start = self.i
        while self.i < len(self.text) and self.text[self.i] in allowed:
            self.i += 1
        return self.text[start : self.i]

    def number(self):
        col, start = self.col(), self.i
        whole = self.run(_DIGITS)
        is_float = False
        fraction = ""
        if self.at(self.i) == ".":
            self.i += 1
            fraction = self.run(_DIGITS)
            is_float = True
        exponent = self.scientific_exponent()
        if self.at(self.i) == ".":
            raise ParseError("unexpected '.'{where}: a number has at most one decimal point, as in 0.5", self.col())
        digits = whole + fraction
        if len(digits) > MAX_INTEGER_DIGITS:
            raise ParseError(f"number too long{{where}}: at most {MAX_INTEGER_DIGITS} digits", col)
        typed = self.text[start : self.i]
        if exponent is None and not is_float:
            return Token("num", whole, col, sympy.Integer(int(whole)))
        significant = len(digits.lstrip("0")) or 1
        canonical = f"{whole or '0'}.{fraction or '0'}e{exponent or 0}"
        return Token("num", typed, col, sympy.Float(canonical, max(15, significant)))

    def scientific_exponent(self):
        """The n of 1e-n, or None: 'e' only starts an exponent when digits follow."""
        if self.at(self.i) not in ("e", "E"):
            return None
        j = self.i + 1
        if self.at(j) in ("+", "-"):
            j += 1
        if not (self.at(j) and self.at(j) in _DIGITS):
            return None  # 2e is 2*e, 2e^x is 2*e^x
        col = self.col()
        sign = self.text[self.i + 1 : j]
        self.i = j
        digits = self.run(_DIGITS)
        if len(digits) > 4 or int(digits) > MAX_EXPONENT:
            raise ParseError(f"exponent too large{{where}}: at most {MAX_EXPONENT}", col)
        return int(sign + digits)

    def name(self):
        col = self.col()
        text = self.run(_NAME_CHARS)
        return self.checked_name(text, text, col)

    def split(self, token):
        """A name the problem does not have, read as a product of the problem's names (and
        e), ending in a function name when "(" follows: xy is x·y, xe is x·e, xsin( is x·sin(.
        None when the name is known, or does not split."""
        text = token.text
        if (text in self.names or text in FUNCTIONS or text in CONSTANTS or not text.isalpha()
                or len(text) < 2):
            return None
        calls = self.at(self.i) == "(" or (self.at(self.i) == " " and self.text[self.i:].lstrip().startswith("("))
        pieces = split_name(text, self.names, calls)
        if pieces is None:
            return None
        if self.splits is not None:
            self.splits.append((text, pieces, token.col))
        out, offset = [], 0
        for piece in pieces:
            out.append(Token("name", piece, token.col + offset))
            offset += len(piece)
        return out

    def greek(self):
        col = self.col()
        c = self.text[self.i]
        self.i += 1
        if c == "π":
            return Token("name", "pi", col)
        # σ2 and α_1 continue as names (sigma2, alpha_1); θx is θ times x.
        tail = self.run(_NAME_CHARS) if self.at(self.i) in _DIGITS | {"_"} else ""
        return self.checked_name(GREEK[c] + tail, c + tail, col)

    @staticmethod
    def checked_name(name, typed, col):
        if len(name) > MAX_NAME_LENGTH:
            shown = typed[:MAX_NAME_LENGTH] + "..."
            raise ParseError(f"name '{shown}' is too long{{where}}: at most {MAX_NAME_LENGTH} characters", col)
        if name in _KEYWORDS:
            raise ParseError(f"'{name}' is a Python keyword, not a variable name{{where}}; choose another name", col)
        return Token("name", name, col)

    def superscript(self):
        col = self.col()
        typed = self.run(_SUPERSCRIPTS.keys())
        plain = "".join(_SUPERSCRIPTS[c] for c in typed)
        sign, digits = (plain[0], plain[1:]) if plain[0] in "+-" else ("", plain)
        if not digits or not all(c in _DIGITS for c in digits):
            raise ParseError(f"superscript '{typed}'{{where}} is not a whole number; write x^(...)", col)
        if len(digits) > 4:
            raise ParseError(f"exponent too large{{where}}: at most {MAX_EXPONENT}", col)
        return Token("sup", typed, col, int(sign + digits))


def split_name(text, names, calls=False):
    """The fewest pieces ``text`` is made of, each one of ``names`` or ``e`` (the last may be
    a function name when ``calls``), or None. Longer names win ties, so a defined ``ab``
    stays whole inside ``abx``."""
    allowed = set(names) | {"e"}
    best = {0: ()}
    for end in range(1, len(text) + 1):
        options = []
        for start in range(end):
            if start in best:
                piece = text[start:end]
                last = end == len(text)
                if piece in allowed or (last and calls and piece in FUNCTIONS and piece not in ABSTRACT_FUNCTIONS):
                    options.append(best[start] + (piece,))
        if options:
            best[end] = min(options, key=lambda p: (len(p), [-len(x) for x in p]))
    found = best.get(len(text))
    return list(found) if found and len(found) > 1 else None


def _check_brackets(tokens, max_depth):
    """Find unbalanced or too deeply nested brackets without recursing."""
    open_parens = []
    for tok in tokens:
        if tok.kind == "(":
            open_parens.append(tok)
            if len(open_parens) > max_depth:
                raise _too_deep(max_depth, tok.col)
        elif tok.kind == ")":
            if not open_parens:
                raise ParseError("unmatched ')'{where}: remove it or add a '(' before it", tok.col)
            open_parens.pop()
    if open_parens:
        raise ParseError("unclosed '('{where}: add a matching ')'", open_parens[-1].col)


def _too_large(col):
    return ParseError(f"number too large{{where}}: a number here would have more than {MAX_RESULT_DIGITS} digits", col)


def _check_raw_depth(text, max_depth):
    """Refuse "(((((..." before building a token for each character (fails fast even when
    a caller raises max_length)."""
    if text.count("(") <= max_depth:
        return
    depth = 0
    for col, ch in enumerate(text, 1):
        if ch == "(":
            depth += 1
            if depth > max_depth:
                raise _too_deep(max_depth, col)
        elif ch == ")":
            depth -= 1


def _too_deep(max_depth, col):
    return ParseError(
        f"expression nested too deeply{{where}}: at most {max_depth} levels of brackets, "
        "function calls and powers",
        col,
    )


# --- size estimates -----------------------------------------------------------------------


def _digits(expr):
    """About how many decimal digits the numbers in expr have, without big arithmetic."""
    bits = 0
    for atom in expr.atoms(sympy.Rational):
        bits += max(abs(atom.p).bit_length(), atom.q.bit_length())
    for atom in expr.atoms(sympy.Float):
        _sign, mantissa, exponent, bc = atom._mpf_
        if mantissa:
            bits += abs(exponent + bc)
    return min(bits, 10**9) * _LOG10_2  # capped: a float cannot hold 2^(10^400)


def _largest_digits(expr):
    """Digits of the largest exact number in expr (numerator or denominator)."""
    bits = max((max(abs(a.p).bit_length(), a.q.bit_length()) for a in expr.atoms(sympy.Rational)), default=0)
    return bits * _LOG10_2


def _approximate(value):
    """A low-precision numeric look at a symbol-free compound value such as exp(40).

    SymPy answers questions about such values (is it zero? positive?) by evaluating
    them, and a huge or complex one (0.5^(1000^11013), sin(exp(10^5)), (-1)^asin(-e))
    takes it seconds to minutes.  Every built node is checked, so its parts are already
    small and real, and this look is cheap.  None when there is nothing numeric to see.
    """
    # f(2) has no numeric value, and evalf of things like log(f(e)^999) loops for minutes.
    if value.is_Number or value.free_symbols or value.has(AppliedUndef):
        return None
    try:
        return value.evalf(5, maxn=60)
    except Exception:
        return None


def _approximate_bits(approx):
    """Roughly log2|approx| of an evalf result, or None."""
    if approx is None:
        return None
    exponents = [a._mpf_[2] + a._mpf_[3] for a in approx.atoms(sympy.Float) if a._mpf_[1]]
    return max(exponents, default=None)


def _check_value(value, col, what):
    """Refuse a numeric value that is not real or would have more than MAX_RESULT_DIGITS digits."""
    approx = value if value.is_Float else _approximate(value)  # sinh(1e3) is a Float already
    if approx is None:
        return value
    if approx.has(sympy.I):
        raise ParseError(
            f"{what} is not a real number{{where}}; derivatives here are over the real numbers", col
        )
    bits = _approximate_bits(approx)
    if bits is not None and bits > MAX_RESULT_DIGITS / _LOG10_2:
        raise _too_large(col)
    return value


def _is_undefined(expr):
    return expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo)


def _build(func, *args, col=None):
    """Call SymPy; anything it raises becomes a plain ParseError."""
    try:
        return func(*args)
    except ParseError:
        raise
    except RecursionError:
        raise ParseError("expression nested too deeply{where} for SymPy to build", col) from None
    except Exception as exc:  # SymPy may raise many types; the user sees one kind
        raise ParseError(f"could not build this expression{{where}}: SymPy refused it ({type(exc).__name__})", col) from None


def _typed(cls, *args, col=None):
    """``cls(*args)`` as the author wrote it: unevaluated, unless every argument is a number
    (2*3 is 6, 1/2 is a half; x*(x + x) stays as typed, never 2x²). Only what changes
    nothing is dropped: a factor 1, a term 0, a power 1 (1x is x, as a reader reads it)."""
    if all(a.is_Number for a in args):
        return _build(cls, *args, col=col)
    if cls is sympy.Mul:
        if any(a == 0 for a in args):
            return sympy.S.Zero  # 0x is 0
        args = [a for a in args if a != 1] or [sympy.S.One]
    elif cls is sympy.Add:
        args = [a for a in args if a != 0] or [sympy.S.Zero]
    elif cls is sympy.Pow and args[1] == 1:
        return args[0]
    elif cls is sympy.Pow and args[1] == 0 and not args[0].is_zero:
        return sympy.S.One
    if len(args) == 1:
        return args[0]
    return _build(lambda *a: cls(*a, evaluate=False), *args, col=col)


def _negated(value, col=None):
    """−value as typed: a number changes sign, anything else is −1 times it."""
    if value.is_Number:
        return -value
    return _typed(sympy.Mul, sympy.S.NegativeOne, value, col=col)


def _canonical(expr):
    """The evaluated form of a typed expression, for the checks that need SymPy's values."""
    return evaluated(expr)


def _power(base, exponent, col):
    """base**exponent, refused when the result would be huge, before computing it."""
    if exponent.is_Number:
        if not exponent.is_finite:
            raise ParseError("the exponent is undefined{where}", col)
        if abs(exponent) > MAX_EXPONENT:
            raise _exponent_too_large(col)
        if base.is_zero and exponent.is_negative:
            raise ParseError("division by zero{where}: 0 to a negative power", col)
        # SymPy evaluates numeric powers, and distributes over products ((2x)^3 = 8x^3)
        # and powers ((a^b)^c), so estimate the digits of those before computing them.
        if base.is_Number or base.is_Mul or base.is_Pow:
            digits = float(abs(exponent)) * _digits(base)
            if digits > MAX_RESULT_DIGITS:
                raise ParseError(
                    f"number too large{{where}}: this power would have about {digits:.0f} digits, "
                    f"at most {MAX_RESULT_DIGITS}",
                    col,
                )
        # Exact roots of big integers make SymPy search for perfect powers (slow).
        if base.is_Rational and not exponent.is_Integer and _digits(base) > MAX_INTEGER_DIGITS:
            raise ParseError(f"root of a number with more than {MAX_INTEGER_DIGITS} digits{{where}}", col)
    else:
        bits = _approximate_bits(_approximate(exponent))  # 2^sinh(10) is 2^11013
        if bits is not None and bits > math.log2(MAX_EXPONENT) + 1:
            raise _exponent_too_large(col)
    return _check_value(_typed(sympy.Pow, base, exponent, col=col), col, "this power")


def _exponent_too_large(col):
    return ParseError(f"exponent too large{{where}}: at most {MAX_EXPONENT}", col)


# --- parser -----------------------------------------------------------------------------------


def _spaced(before, after):
    """Whether a space was typed between two tokens (x 5^x, not x5)."""
    return after.col > before.col + len(before.text)


def _log_subscript(name):
    """The base of log_2 or log_b written as a name, or None."""
    if not name.startswith("log_") or len(name) <= 4:
        return None
    base = name[4:]
    if base.isdigit():
        return sympy.Integer(int(base))
    if base.isidentifier() and base not in FUNCTIONS:
        return CONSTANTS.get(base) or symbol(base)
    return None


def _refuse_glued_function(name, col):
    """xsin(x) and sinx(2): a function name glued to a variable is a typing slip, not a
    product of new variables; say how to write it."""
    for fn in sorted(FUNCTIONS, key=len, reverse=True):
        if len(fn) < 2 or fn in ABSTRACT_FUNCTIONS:
            continue
        if name.endswith(fn) and len(name) > len(fn):
            head = name[: -len(fn)]
            raise ParseError(
                f"'{name}(' reads as one unknown name{{where}}; did you mean {head} {fn}(...)? "
                f"Put a space or * between a variable and a function, as in 2x sin(x)", col)
        if name.startswith(fn) and len(name) > len(fn) and not name[len(fn)].isdigit() and name[len(fn)] != "_":
            raise ParseError(
                f"'{name}(' reads as one unknown name{{where}}; did you mean {fn}({name[len(fn):]} …)? "
                f"A function needs its argument in brackets, as in sin(x)", col)


class _Parser:
    """Recursive descent over the token list; depth is checked before each recursion.

    expression := term (("+" | "-") term)*
    term       := unary (("*" | "/") unary | <implicit> power)*
    unary      := ("+" | "-")* power
    power      := postfix ("^" unary)?          (right-associative through unary)
    postfix    := primary superscript*
    primary    := number | name | call | "(" expression ")"
    """

    def __init__(self, tokens, max_depth, names=None):
        self.names = names  # the problem's variables: x(x+1) is then x·(x+1), not a call
        self.tokens = tokens
        self.i = 0
        self.depth = 0
        self.max_depth = max_depth
        self.minmax_work = 0

    # token access
    def peek(self, ahead=0):
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def previous(self):
        return self.tokens[self.i - 1] if self.i > 0 else None

    def advance(self):
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def is_op(self, *ops):
        tok = self.peek()
        return tok.kind == "op" and tok.value in ops

    def enter(self, col):
        self.depth += 1
        if self.depth > self.max_depth:
            raise _too_deep(self.max_depth, col)

    def leave(self):
        self.depth -= 1

    # grammar
    def parse(self):
        expr = self.expression()
        tok = self.peek()
        if tok.kind != "end":
            self.unexpected_after_value(tok)
        return expr

    def expression(self):
        terms = [self.term()]
        while self.is_op("+", "-"):
            op = self.advance()
            term = self.term()
            terms.append(term if op.value == "+" else _negated(term, col=op.col))
        return _typed(sympy.Add, *terms) if len(terms) > 1 else terms[0]

    def term(self):
        start = self.peek()
        factors = [self.unary()]
        number_digits = _digits(factors[0].as_coeff_Mul()[0])
        while True:
            tok = self.peek()
            if tok.kind == "op" and tok.value in ("*", "/"):
                self.advance()
                factor = self.unary()
                if tok.value == "/":
                    if factor.is_zero:
                        raise ParseError("division by zero{where}", tok.col)
                    if factor.is_Number and factors[-1].is_Number:  # 3/2 is one number
                        factors[-1] = _build(sympy.Mul, factors[-1], 1 / factor, col=tok.col)
                        continue
                    factor = _typed(sympy.Pow, factor, sympy.S.NegativeOne, col=tok.col)
                    if len(factors) == 1 and factors[0] == 1:  # 1/x is the reciprocal of x
                        factors[0] = factor
                        continue
            elif tok.kind in ("name", "("):
                factor = self.power()  # implicit multiplication: 2x, (x+1)(x-1), x y
            elif tok.kind == "num" and _spaced(self.previous(), tok) and (
                    self.previous().kind in ("name", ")", "sup") or self._after_exponent()):
                factor = self.power()  # a number after a value and a space: x 5^x, 2^x 3^x
            else:
                break
            # The numeric coefficients of a product multiply into one number: estimate
            # it as factors arrive, so 10^999*10^999*... stops before it is computed.
            number_digits += _digits(factor.as_coeff_Mul()[0])
            if number_digits > MAX_RESULT_DIGITS:
                raise _too_large(tok.col)
            factors.append(factor)
        if len(factors) == 1:
            return factors[0]
        # exp(4000)*exp(4000) is exp(8000): products of numeric values are checked too.
        product = _check_value(_typed(sympy.Mul, *factors, col=start.col), start.col, "this product")
        if _largest_digits(product) > MAX_RESULT_DIGITS:
            raise _too_large(start.col)
        return product

    def _after_exponent(self):
        """Whether the last token is a number that was an exponent: 3w^17 4^w."""
        if self.i < 2:
            return False
        before = self.tokens[self.i - 2]
        return self.previous().kind == "num" and before.kind == "op" and before.value == "^"

    def unary(self):
        negative = False
        while self.is_op("+", "-"):  # a loop, not recursion: "- - - x" costs no depth
            negative ^= self.advance().value == "-"
        value = self.power()
        return _negated(value) if negative else value

    def power(self):
        base = self.postfix()
        if not self.is_op("^"):
            return base
        op = self.advance()
        self.enter(op.col)
        exponent = self.unary()  # allows 2^-x; unary -> power makes ^ right-associative
        self.leave()
        return _power(base, exponent, op.col)

    def postfix(self):
        value = self.primary()
        while self.peek().kind == "sup":
            tok = self.advance()
            value = _power(value, sympy.Integer(tok.value), tok.col)
        return value

    def primary(self):
        tok = self.peek()
        if tok.kind == "num":
            self.advance()
            return tok.value
        if tok.kind == "name":
            return self.name()
        if tok.kind == "(":
            self.advance()
            self.enter(tok.col)
            value = self.expression()
            self.expect_close(tok)
            self.leave()
            return value
        self.missing_value(tok)

    def name(self):
        tok = self.advance()
        name = tok.text
        following = self.peek()
        if name in FUNCTIONS:
            if following.kind == "(":
                return self.call(tok)
            if following.kind == "sup" and self.peek(1).kind == "(":
                return self.call_with_power(tok)
            if name not in ABSTRACT_FUNCTIONS and following.kind == "op" and following.value == "^":
                power = self.function_power()
                if power is not None:
                    return self.call_with_caret(tok, power)
            if name not in ABSTRACT_FUNCTIONS:
                raise ParseError(
                    f"{name} needs parentheses: {name}({FUNCTIONS[name].example}){{where}}; "
                    f"for a power write {name}(x)^2",
                    tok.col,
                )
        elif following.kind == "(" and self.names is not None and name in self.names:
            pass  # one of the problem's variables times a bracket, as students write 2x(x+1)
        elif following.kind == "(":
            base = _log_subscript(name)
            if base is not None:  # log_2(x), log_b(x)
                call = self.call(Token("name", "log", tok.col))
                return self.apply(Token("name", "log", tok.col), [call.args[0], base]) if len(call.args) == 1 else call
            _refuse_glued_function(name, tok.col)
            if len(name) > 1 and name not in GREEK.values() and name not in CONSTANTS:
                known = ", ".join(FUNCTIONS)
                raise ParseError(
                    f"unknown function '{name}'{{where}}; known functions: {known}; "
                    f"for multiplication write {name}*(...)",
                    tok.col,
                )
            # x(x^2 + 3x), a(b + c), pi(2): a one-letter variable before a bracket multiplies it
        if name in CONSTANTS:
            return CONSTANTS[name]
        return symbol(name)

    def call_with_power(self, name_tok):
        """sin²(x) is sin(x)²; sin⁻¹(x) is the inverse, asin(x), as textbooks write it."""
        sup = self.advance()
        name = name_tok.text
        if sup.value == -1 and name in INVERSES:
            return self.call(Token("name", INVERSES[name], name_tok.col))
        if sup.value < 1:
            raise ParseError(f"{name}{sup.text}(x) is ambiguous{{where}}: write {name}(x)^({sup.value})", sup.col)
        value = self.call(name_tok)
        return _power(value, sympy.Integer(sup.value), sup.col)

    def function_power(self):
        """After a function name, ^n, ^(n), ^-1 or ^(-1) followed by its argument: the
        whole number n (tokens consumed), or None (nothing consumed)."""
        i = self.i + 1
        bracket = self.peek(i - self.i).kind == "("
        j = i + 1 if bracket else i
        negative = self.peek(j - self.i).kind == "op" and self.peek(j - self.i).value == "-"
        k = j + 1 if negative else j
        number = self.peek(k - self.i)
        if number.kind != "num" or not isinstance(number.value, sympy.Integer):
            return None
        end = k + 1
        if bracket:
            if self.peek(end - self.i).kind != ")":
                return None
            end += 1
        if self.peek(end - self.i).kind not in ("(", "name", "num"):
            return None
        n = -int(number.value) if negative else int(number.value)
        self.i = end
        return (n, number.col)

    def call_with_caret(self, name_tok, power):
        """coth^2(x) and coth^2 x are coth(x)²; coth^(-1)(x) is acoth(x)."""
        n, col = power
        name = name_tok.text
        if n == -1 and name in INVERSES:
            name_tok = Token("name", INVERSES[name], name_tok.col)
        elif n < 1:
            raise ParseError(f"{name}^({n})(x) is ambiguous{{where}}: write {name}(x)^({n})", col)
        if self.peek().kind == "(":
            value = self.call(name_tok)
        else:
            value = self.apply(name_tok, [self.bare_argument(name_tok)])
        return value if n == -1 else _power(value, sympy.Integer(n), col)

    def bare_argument(self, name_tok):
        """The argument of sin^2 x or sin^2 3x: a number and/or one name, nothing more."""
        factors = []
        if self.peek().kind == "num":
            factors.append(self.advance().value)
        if self.peek().kind == "name" and self.peek().text not in FUNCTIONS:
            factors.append(self.name())
        following = self.peek()
        if not factors or following.kind in ("sup", "num", "(") or (following.kind == "op" and following.value == "^") \
                or (following.kind == "name" and following.text not in FUNCTIONS):
            raise ParseError(f"the argument of {name_tok.text} is ambiguous{{where}}: "
                             f"write it in parentheses, as in {name_tok.text}(x)^2", name_tok.col)
        return factors[0] if len(factors) == 1 else _build(sympy.Mul, *factors, col=name_tok.col)

    def call(self, name_tok):
        open_tok = self.advance()
        self.enter(open_tok.col)
        args = []
        if self.peek().kind == ")":
            self.advance()
        else:
            args.append(self.expression())
            while self.peek().kind == ",":
                self.advance()
                args.append(self.expression())
            self.expect_close(open_tok)
        self.leave()
        return self.apply(name_tok, args)

    def apply(self, name_tok, args):
        name = name_tok.text
        spec = FUNCTIONS[name]
        if not spec.min_args <= len(args) <= spec.max_args:
            raise ParseError(
                f"{name} takes {spec.arity()} (got {len(args)}){{where}}, as in {name}({spec.example})",
                name_tok.col,
            )
        if name in _MINMAX_NAMES:
            self.count_minmax(name, args, name_tok.col)
        if name in _MINMAX_NAMES and not all(a.is_extended_real is not False for a in args):
            # SymPy's Max/Min can only order real values; log(-1) is not one.
            raise ParseError(f"{name} needs real arguments{{where}}; one of these is not real", name_tok.col)
        value = _check_value(_build(spec, *args, col=name_tok.col), name_tok.col, f"{name}(...)")
        if _is_undefined(value) or (not value.free_symbols and _is_undefined(_canonical(value))):
            raise ParseError(f"{name} is undefined here{{where}} (for example log(0) or tan(pi/2))", name_tok.col)
        return value

    def count_minmax(self, name, args, col):
        # max(max(a, b), c) is flattened into one Max by SymPy, so count flattened args.
        count = sum(len(a.args) if isinstance(a, (sympy.Max, sympy.Min)) else 1 for a in args)
        count += name == "relu"  # relu(u) is Max(0, u)
        self.minmax_work += count * count
        if self.minmax_work > MAX_MINMAX_WORK:
            raise ParseError(
                f"too many max/min/relu arguments{{where}}: the sum of (arguments per call)^2 "
                f"is at most {MAX_MINMAX_WORK} in one expression",
                col,
            )

    # errors
    def expect_close(self, open_tok):
        tok = self.peek()
        if tok.kind == ")":
            self.advance()
            return
        if tok.kind == "end":
            raise ParseError("unclosed '('{where}: add a matching ')'", open_tok.col)
        self.unexpected_after_value(tok)

    def unexpected_after_value(self, tok):
        if tok.kind == ")":
            raise ParseError("unmatched ')'{where}: remove it or add a '(' before it", tok.col)
        if tok.kind == ",":
            raise ParseError("unexpected ','{where}: commas only separate function arguments, as in max(x, y)", tok.col)
        if tok.kind == "num":
            raise ParseError(
                f"number '{tok.text}' follows a value{{where}} without an operator: write * between them, as in x*2",
                tok.col,
            )
        raise ParseError(f"unexpected '{tok.text}'{{where}}: {_ACCEPTED}", tok.col)

    def missing_value(self, tok):
        prev = self.previous()
        if tok.kind == "sup":
            raise ParseError(f"superscript '{tok.text}'{{where}} must follow a value, as in x²", tok.col)
        if tok.kind == "op":
            if prev is None:
                raise ParseError(f"an expression cannot start with '{tok.text}'{{where}}: {_ACCEPTED}", tok.col)
            if prev.kind == "op":
                raise ParseError(
                    f"two operators in a row: '{tok.text}' after '{prev.text}'{{where}}; "
                    "only + or - may follow another operator, as in x*-y",
                    tok.col,
                )
            raise ParseError(f"'{tok.text}' cannot follow '{prev.text}'{{where}}; put a value before it", tok.col)
        if prev is not None and prev.kind == "op":
            if tok.kind == "end":
                raise ParseError(
                    f"trailing operator '{prev.text}'{{where}}: add a value after it, as in x{prev.text}2", prev.col
                )
            raise ParseError(f"missing value after operator '{prev.text}'{{where}}", prev.col)
        if tok.kind == ")" and prev is not None and prev.kind == "(":
            raise ParseError("empty parentheses{where}: put an expression inside, as in (x+1)", prev.col)
        if tok.kind in (")", ",") and prev is not None and prev.kind == ",":
            raise ParseError("missing argument after ','{where}", prev.col)
        if tok.kind == "," and prev is not None and prev.kind == "(":
            raise ParseError("missing argument before ','{where}", tok.col)
        if tok.kind == ",":
            raise ParseError("unexpected ','{where}: commas only separate function arguments, as in max(x, y)", tok.col)
        raise ParseError(f"expected a value{{where}}: {_ACCEPTED}", tok.col)


# --- entry point ----------------------------------------------------------------------------


def parse(text: str, *, max_length: int = MAX_LENGTH, max_depth: int = MAX_DEPTH, names=None,
          splits=None) -> sympy.Expr:
    """Parse a learner's expression into SymPy, or raise a one-line ``ParseError``.

    ``names`` (a set of a problem's variable names) lets letters typed together be read as
    a product of those names: with ``{"x", "y"}``, ``2xy`` is 2·x·y and ``xe^x`` is x·e^x,
    while a name in ``names`` stays whole; each split is appended to ``splits`` (a list).
    One of those names before a bracket multiplies it: ``2x(x+1)`` is 2·x·(x + 1).

    >>> parse("sin(x^2)")
    sin(x**2)
    """
    if not isinstance(text, str):
        raise ParseError(f"expected text, got {type(text).__name__}")
    if len(text) > max_length:
        raise ParseError(f"expression too long: {len(text)} characters, at most {max_length}")
    try:
        return _parse(text, max_depth, names, splits)
    except ParseError:
        raise
    except RecursionError:
        raise _too_deep(max_depth, None) from None
    except Exception as exc:  # a bug here must still reach the user as a ParseError
        raise ParseError(f"could not read this expression (internal error: {type(exc).__name__})") from None


def _parse(text, max_depth, names=None, splits=None):
    _check_raw_depth(text, max_depth)
    tokens = _Tokenizer(_normalise(text), names, splits).tokens()
    if tokens[0].kind == "end":
        raise ParseError("empty expression: type one such as sin(x^2)")
    _check_brackets(tokens, max_depth)
    expr = _Parser(tokens, max_depth, names).parse()
    if _is_undefined(expr) or _is_undefined(_canonical(expr)):
        raise ParseError("the expression is undefined: it divides by zero or leaves a function's domain")
    if _largest_digits(expr) > MAX_RESULT_DIGITS:
        raise _too_large(None)
    return expr
