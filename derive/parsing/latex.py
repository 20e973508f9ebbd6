"""Read the LaTeX a student types for an answer into SymPy, safely.

A hand-written tokenizer and recursive-descent parser build SymPy objects directly: the
text is never handed to ``eval``, ``exec``, ``sympify``, ``parse_expr`` or SymPy's own LaTeX
parser. The bounds are those of :mod:`derive.parsing.text` (length, nesting depth, digits of a
number, size of an exponent, digits of a computed number), and every refusal is a one-line
``ParseError`` naming the column.

What is accepted
----------------
* ``\\frac{a}{b}`` (also ``\\dfrac``, ``\\tfrac``), ``\\sqrt{a}``, ``\\sqrt[n]{a}``,
  ``a^{b}`` and ``a^2``, ``\\cdot``, ``\\times``, ``\\div``, ``+ - * /``, implicit
  multiplication (``2x``, ``w x_i``: single letters are variables, as in LaTeX).
* Brackets ``( ) [ ] { }``, ``\\left( \\right)`` and ``\\bigl( \\bigr)``; spacing ``\\, \\; \\!``.
* Functions ``\\sin \\cos \\tan \\sec \\csc \\cot \\arcsin \\arccos \\arctan \\sinh \\cosh
  \\tanh \\exp \\ln \\log`` (``\\log_{b}`` for base b), ``\\coth \\sech \\csch \\arcsinh
  \\arccosh \\arctanh`` and the others textbooks use (also as ``\\operatorname{sech}``), with or
  without brackets (``\\sin x``, ``\\sin^2(x)``, ``\\sinh^{-1} x`` for the inverse),
  ``\\sigma(x)`` (the logistic sigmoid), ``e^{x}``, ``\\pi``, ``|x|`` and ``\\left|x\\right|``.
* Names: letters with subscripts ``x_1``, ``w_{12}`` (the names ``x_1``, ``w_12``), Greek
  letters ``\\alpha … \\omega`` (the same variables as ``alpha … omega`` in plain text),
  ``\\mathrm{name}``, ``\\text{name}``, ``\\operatorname{name}``.
* Sums ``\\sum_{i=1}^{n} …`` and ``\\sum_i …`` (from 1 to n): inside, ``x_i`` is the i-th
  value of the data series x (``IndexedBase('x')[i]``). The sum runs over the rest of the
  product it starts (``\\sum_i (a_i) x_i`` is Σᵢ aᵢ xᵢ), as in a textbook.
"""

import sympy

from derive.errors import ParseError
from derive.functions import sigmoid
from derive.parsing.text import (
    GREEK, MAX_DEPTH, MAX_INTEGER_DIGITS, MAX_LENGTH, MAX_NAME_LENGTH, MAX_RESULT_DIGITS,
    _build, _is_undefined, _largest_digits, _log, _power,
)
from derive.symbols import indexed, symbol

FUNCTIONS = {
    "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "sec": sympy.sec, "csc": sympy.csc,
    "cot": sympy.cot, "arcsin": sympy.asin, "arccos": sympy.acos, "arctan": sympy.atan,
    "sinh": sympy.sinh, "cosh": sympy.cosh, "tanh": sympy.tanh, "exp": sympy.exp,
    "ln": sympy.log, "log": sympy.log,
    # the other names textbooks typeset, with \operatorname or their own macros
    "coth": sympy.coth, "sech": sympy.sech, "csch": sympy.csch, "cosec": sympy.csc, "cosech": sympy.csch,
    "arccot": sympy.acot, "arcsec": sympy.asec, "arccsc": sympy.acsc, "arccosec": sympy.acsc,
    "arcsinh": sympy.asinh, "arccosh": sympy.acosh, "arctanh": sympy.atanh, "arccoth": sympy.acoth,
    "arsinh": sympy.asinh, "arcosh": sympy.acosh, "artanh": sympy.atanh, "arcoth": sympy.acoth,
    "asinh": sympy.asinh, "acosh": sympy.acosh, "atanh": sympy.atanh, "asin": sympy.asin,
    "acos": sympy.acos, "atan": sympy.atan, "sgn": None,
}  # fmt: skip
del FUNCTIONS["sgn"]
# \sin^{-1} x is the inverse, as textbooks write it
INVERSES = {sympy.sin: sympy.asin, sympy.cos: sympy.acos, sympy.tan: sympy.atan, sympy.cot: sympy.acot,
            sympy.sec: sympy.asec, sympy.csc: sympy.acsc, sympy.sinh: sympy.asinh, sympy.cosh: sympy.acosh,
            sympy.tanh: sympy.atanh, sympy.coth: sympy.acoth, sympy.sech: sympy.asech, sympy.csch: sympy.acsch}
GREEK_NAMES = frozenset(GREEK.values()) | {"rho", "nu", "kappa", "iota", "upsilon", "omicron",
                                           "varepsilon", "vartheta", "varphi", "Gamma", "Lambda",
                                           "Theta", "Pi", "Xi", "Upsilon"}
_VAR_GREEK = {"varepsilon": "epsilon", "vartheta": "theta", "varphi": "phi"}
_SPACING = frozenset({",", ";", "!", ":", " ", "quad", "qquad", "displaystyle", "textstyle",
                      "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl",
                      "biggr", "left", "right"})
_NAME_COMMANDS = frozenset({"mathrm", "text", "operatorname", "mathit", "textrm"})
_TIMES = frozenset({"cdot", "times", "ast"})
_UNICODE_OPS = {"−": "-", "·": "*", "×": "*", "⋅": "*", "÷": "/"}
_DIGITS = frozenset("0123456789")


class Tok:
    __slots__ = ("kind", "text", "col")

    def __init__(self, kind, text, col):
        self.kind, self.text, self.col = kind, text, col  # kind: num letter cmd op open close end

    def __repr__(self):
        return f"Tok({self.kind}, {self.text!r}, {self.col})"


def looks_like_latex(text):
    """Whether an answer is LaTeX rather than plain text: a backslash, a brace or ``$``."""
    return any(c in text for c in "\\{}$")


def _tokens(text):
    out = []
    i, n = 0, len(text)
    while i < n:
        c, col = text[i], i + 1
        if c.isspace():
            i += 1
        elif c == "\\":
            j = i + 1
            while j < n and text[j].isascii() and text[j].isalpha():
                j += 1
            if j == i + 1:  # a one-character command: \, \; \! \{ \} \|
                if j >= n:
                    raise ParseError("a lone backslash{where} at the end: delete it", col)
                j += 1
            name = text[i + 1:j]
            i = j
            if name in _SPACING:
                continue
            if name == "{":
                out.append(Tok("open", "{", col))
            elif name == "}":
                out.append(Tok("close", "}", col))
            elif name in _TIMES:
                out.append(Tok("op", "*", col))
            elif name in ("lvert", "rvert", "vert", "|"):
                out.append(Tok("bar", "|", col))
            elif name == "div":
                out.append(Tok("op", "/", col))
            else:
                out.append(Tok("cmd", name, col))
        elif c in _DIGITS or (c == "." and i + 1 < n and text[i + 1] in _DIGITS):
            j = i
            while j < n and text[j] in _DIGITS:
                j += 1
            if j < n and text[j] == ".":
                j += 1
                while j < n and text[j] in _DIGITS:
                    j += 1
            digits = sum(ch in _DIGITS for ch in text[i:j])
            if digits > MAX_INTEGER_DIGITS:
                raise ParseError(f"number too long{{where}}: at most {MAX_INTEGER_DIGITS} digits", col)
            out.append(Tok("num", text[i:j], col))
            i = j
        elif c.isascii() and c.isalpha():
            out.append(Tok("letter", c, col))
            i += 1
        elif c in GREEK:
            out.append(Tok("cmd", GREEK[c], col))
            i += 1
        elif c == "π":
            out.append(Tok("cmd", "pi", col))
            i += 1
        elif c in "+-*/^_=":
            if c == "=":
                raise ParseError("'='{where} is not accepted: type the answer only, not an equation", col)
            out.append(Tok("op", c, col))
            i += 1
        elif c in _UNICODE_OPS:
            out.append(Tok("op", _UNICODE_OPS[c], col))
            i += 1
        elif c in "({[":
            out.append(Tok("open", c, col))
            i += 1
        elif c in ")}]":
            out.append(Tok("close", c, col))
            i += 1
        elif c == "|":
            out.append(Tok("bar", "|", col))
            i += 1
        elif c == ",":
            raise ParseError("','{where} is not accepted in an answer", col)
        elif ord(c) < 32 or ord(c) == 127:
            raise ParseError(f"control character U+{ord(c):04X}{{where}}: delete it", col)
        else:
            raise ParseError(f"character {c!r} (U+{ord(c):04X}){{where}} is not accepted in a LaTeX answer", col)
    out.append(Tok("end", "", n + 1))
    return out


class _Parser:
    def __init__(self, tokens):
        self.toks = tokens
        self.i = 0
        self.depth = 0
        self.indices = {}  # letter -> index symbol, for the sums we are inside
        self.bars = 0  # how many |…| we are inside
        self.names = []  # every variable read, so a name SymPy cancels (d/(d x)) is still seen

    # -- helpers
    def peek(self, k=0):
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def advance(self):
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def enter(self, col):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError(f"too deeply nested{{where}}: at most {MAX_DEPTH} levels", col)

    def leave(self):
        self.depth -= 1

    def is_op(self, *ops):
        tok = self.peek()
        return tok.kind == "op" and tok.text in ops

    def starts_factor(self):
        tok = self.peek()
        if tok.kind in ("num", "letter", "open"):
            return True
        if tok.kind == "bar":
            return self.bars == 0  # outside |…| a bar opens one; inside it closes it
        return tok.kind == "cmd"

    # -- grammar
    def parse(self):
        value = self.expression()
        tok = self.peek()
        if tok.kind != "end":
            if tok.kind == "close":
                raise ParseError(f"unmatched '{tok.text}'{{where}}", tok.col)
            raise ParseError(f"unexpected '{tok.text}'{{where}}", tok.col)
        return value

    def expression(self):
        terms = [self.term()]
        while self.is_op("+", "-"):
            op = self.advance()
            term = self.term()
            terms.append(term if op.text == "+" else _build(sympy.Mul, sympy.S.NegativeOne, term, col=op.col))
        return self.checked(_build(sympy.Add, *terms), self.peek().col) if len(terms) > 1 else terms[0]

    def term(self):
        start = self.peek()
        factors = [self.unary()]
        while True:
            tok = self.peek()
            if tok.kind == "op" and tok.text in "*/":
                self.advance()
                factor = self.unary()
                if tok.text == "/":
                    if factor.is_zero:
                        raise ParseError("division by zero{where}", tok.col)
                    factor = _build(sympy.Pow, factor, sympy.S.NegativeOne, col=tok.col)
            elif tok.kind == "cmd" and tok.text == "sum":
                factors.append(self.summation())
                break  # the sum takes the rest of the product
            elif self.starts_factor():
                if tok.kind == "num":
                    raise ParseError(f"number '{tok.text}' follows a value{{where}}: write \\cdot between them", tok.col)
                factor = self.power()
            else:
                break
            factors.append(factor)
        if len(factors) == 1:
            return factors[0]
        return self.checked(_build(sympy.Mul, *factors, col=start.col), start.col)

    def unary(self):
        negative = False
        while self.is_op("+", "-"):
            negative ^= self.advance().text == "-"
        if self.peek().kind == "cmd" and self.peek().text == "sum":
            value = self.summation()
        else:
            value = self.power()
        return _build(sympy.Mul, sympy.S.NegativeOne, value) if negative else value

    def power(self):
        base = self.primary()
        while self.is_op("^"):
            op = self.advance()
            self.enter(op.col)
            exponent = self.script(op)
            self.leave()
            base = _power(base, exponent, op.col)
        return base

    def script(self, op):
        """What follows ^: a braced group or one token (x^2, x^n, x^\\alpha, x^-1)."""
        tok = self.peek()
        if tok.kind == "open" and tok.text == "{":
            return self.group()
        if tok.kind == "op" and tok.text == "-":
            self.advance()
            return _build(sympy.Mul, sympy.S.NegativeOne, self.script(op))
        if tok.kind == "num":
            self.advance()
            if len(tok.text) > 1:
                raise ParseError(f"'^{tok.text}'{{where}} is ambiguous in LaTeX: write ^{{{tok.text}}}", op.col)
            return sympy.Integer(tok.text)
        if tok.kind in ("letter", "cmd", "open"):
            return self.primary()
        raise ParseError("'^'{where} needs an exponent, as in x^{2}", op.col)

    def group(self):
        """A braced group {…}, or (when not braced) one token, as \\frac and \\sqrt read them."""
        tok = self.peek()
        if tok.kind == "open" and tok.text == "{":
            self.advance()
            self.enter(tok.col)
            if self.peek().kind == "close":
                raise ParseError("empty braces{where}", tok.col)
            value = self.expression()
            self.close(tok, "}")
            self.leave()
            return value
        if tok.kind == "num" and len(tok.text) > 1 and tok.text[1] in _DIGITS:
            # \frac12 is 1/2: the group is the first digit, the rest stays for what follows
            self.toks[self.i] = Tok("num", tok.text[1:], tok.col + 1)
            return sympy.Integer(tok.text[0])
        return self.primary()

    def close(self, open_tok, want):
        tok = self.peek()
        if tok.kind == "close":
            if tok.text != want:
                raise ParseError(f"'{open_tok.text}' at column {open_tok.col} is closed by '{tok.text}'{{where}}; "
                                 f"expected '{want}'", tok.col)
            self.advance()
            return
        if tok.kind == "end":
            raise ParseError(f"unclosed '{open_tok.text}'{{where}}: add '{want}'", open_tok.col)
        raise ParseError(f"unexpected '{tok.text}'{{where}}", tok.col)

    def number(self, tok):
        if "." in tok.text:
            digits = sum(c in _DIGITS for c in tok.text)
            return sympy.Float(tok.text, max(15, digits))
        return sympy.Integer(tok.text)

    def primary(self):
        tok = self.peek()
        if tok.kind == "num":
            self.advance()
            return self.number(tok)
        if tok.kind == "letter":
            self.advance()
            return self.name(tok.text, tok)
        if tok.kind == "open":
            self.advance()
            self.enter(tok.col)
            if self.peek().kind == "close":
                raise ParseError("empty brackets{where}", tok.col)
            value = self.expression()
            self.close(tok, {"(": ")", "[": "]", "{": "}"}[tok.text])
            self.leave()
            return value
        if tok.kind == "cmd":
            self.advance()
            return self.command(tok)
        if tok.kind == "bar":
            self.advance()
            self.enter(tok.col)
            outer, self.bars = self.bars, self.bars + 1
            if self.peek().kind == "bar":
                raise ParseError("empty |…|{where}", tok.col)
            value = self.expression()
            self.bars = outer
            if self.peek().kind != "bar":
                raise ParseError("unclosed '|'{where}: add a matching '|'", tok.col)
            self.advance()
            self.leave()
            return _build(sympy.Abs, value, col=tok.col)
        if tok.kind == "end":
            prev = self.toks[self.i - 1] if self.i else None
            if prev is None:
                raise ParseError("empty answer")
            raise ParseError(f"missing value after '{prev.text}'{{where}}", prev.col)
        raise ParseError(f"expected a value{{where}}, found '{tok.text}'", tok.col)

    def subscript(self):
        """The text of a subscript after '_': x_1, x_i, w_{12}."""
        op = self.advance()
        tok = self.peek()
        if tok.kind in ("num", "letter"):
            self.advance()
            return tok.text[0] if tok.kind == "num" else tok.text, tok.col
        if tok.kind == "open" and tok.text == "{":
            self.advance()
            parts = []
            while self.peek().kind in ("num", "letter"):
                parts.append(self.advance().text)
            self.close(tok, "}")
            if not parts:
                raise ParseError("empty subscript{where}", op.col)
            return "".join(parts), tok.col
        raise ParseError("a subscript{where} must be letters or digits, as in x_{1} or x_i", op.col)

    def name(self, base, tok):
        sub = None
        if self.is_op("_"):
            sub, _ = self.subscript()
        if sub is None:
            if base == "e" and tok.kind == "letter":
                return sympy.E
            if base in self.indices:
                return self.indices[base]
            self.names.append(base)
            return symbol(base)
        if sub in self.indices:
            self.names.append(base)
            return indexed(base)[self.indices[sub]]
        name = f"{base}_{sub}"
        if len(name) > MAX_NAME_LENGTH:
            raise ParseError(f"name too long{{where}}: at most {MAX_NAME_LENGTH} characters", tok.col)
        self.names.append(name)
        return symbol(name)

    def command(self, tok):
        name = tok.text
        if name in ("frac", "dfrac", "tfrac"):
            self.enter(tok.col)
            top, bottom = self.group(), self.group()
            self.leave()
            if bottom.is_zero:
                raise ParseError("division by zero{where}", tok.col)
            return self.checked(_build(lambda a, b: a / b, top, bottom, col=tok.col), tok.col)
        if name == "sqrt":
            self.enter(tok.col)
            degree = None
            if self.peek().kind == "open" and self.peek().text == "[":
                open_tok = self.advance()
                degree = self.expression()
                self.close(open_tok, "]")
            radicand = self.group()
            self.leave()
            exponent = sympy.Rational(1, 2) if degree is None else _build(lambda d: 1 / d, degree, col=tok.col)
            return _power(radicand, exponent, tok.col)
        if name in _NAME_COMMANDS:
            return self.braced_name(tok)
        if name == "pi":
            return sympy.pi
        if name == "sigma" and self.peek().kind == "open" and self.peek().text == "(":
            return self.function(tok, sigmoid)
        if name in FUNCTIONS:
            return self.function(tok, FUNCTIONS[name])
        if name in GREEK_NAMES:
            return self.name(_VAR_GREEK.get(name, name), tok)
        if name == "sum":
            return self.summation()
        raise ParseError(f"unknown command '\\{name}'{{where}}", tok.col)

    def braced_name(self, tok):
        open_tok = self.peek()
        if not (open_tok.kind == "open" and open_tok.text == "{"):
            raise ParseError(f"\\{tok.text}{{where}} needs braces, as in \\{tok.text}{{name}}", tok.col)
        self.advance()
        parts = []
        while self.peek().kind in ("letter", "num") or self.is_op("_"):
            parts.append(self.advance().text)
        self.close(open_tok, "}")
        text = "".join(parts)
        if not text or not text[0].isalpha():
            raise ParseError(f"\\{tok.text}{{{{…}}}}{{where}} must hold a name such as weight", tok.col)
        if len(text) > MAX_NAME_LENGTH:
            raise ParseError(f"name too long{{where}}: at most {MAX_NAME_LENGTH} characters", tok.col)
        if text in FUNCTIONS or text in ("sigmoid", "abs"):
            func = {"sigmoid": sigmoid, "abs": sympy.Abs}.get(text) or FUNCTIONS[text]
            return self.function(tok, func)
        if text == "e":
            return sympy.E
        self.names.append(text)
        return symbol(text)

    def function(self, tok, func):
        func = FUNCTIONS.get(func, func) if isinstance(func, str) else func
        base = None
        if tok.text == "log" and self.is_op("_"):
            base_text, col = self.subscript()
            base = sympy.Integer(base_text) if base_text.isdigit() else symbol(base_text)
        exponent = None
        if self.is_op("^"):  # \sin^2 x
            op = self.advance()
            self.enter(op.col)
            exponent = self.script(op)
            self.leave()
        self.enter(tok.col)
        nxt = self.peek()
        if nxt.kind == "open":
            arg = self.primary()
        else:  # \sin x, \sin 2x, \ln x_i: the following numbers and names
            if not self.starts_factor():
                raise ParseError(f"\\{tok.text}{{where}} needs an argument, as in \\{tok.text}(x)", tok.col)
            factors = [self.power()]
            while self.peek().kind in ("letter", "num"):
                factors.append(self.power())
            arg = _build(sympy.Mul, *factors, col=tok.col)
        self.leave()
        value = _build(_log, arg, base, col=tok.col) if base is not None else _build(func, arg, col=tok.col)
        if _is_undefined(value):
            raise ParseError(f"\\{tok.text} is undefined here{{where}}", tok.col)
        if exponent is not None:
            if exponent.is_Number and exponent == -1 and func in INVERSES:
                return _build(INVERSES[func], arg, col=tok.col)
            if exponent.is_Number and exponent < 0:
                raise ParseError(f"\\{tok.text}^{{{exponent}}}{{where}} is ambiguous: write (\\{tok.text} x)^{{{exponent}}}", tok.col)
            value = _power(value, exponent, tok.col)
        return value

    def summation(self):
        tok = self.advance() if self.peek().kind == "cmd" else self.toks[self.i - 1]
        if not self.is_op("_"):
            raise ParseError("\\sum{where} needs its index, as in \\sum_{i=1}^{n} or \\sum_i", tok.col)
        self.advance()
        lower = sympy.S.One
        nxt = self.peek()
        if nxt.kind == "letter":
            index_name = self.advance().text
        elif nxt.kind == "open" and nxt.text == "{":
            self.advance()
            if self.peek().kind != "letter":
                raise ParseError("the index of \\sum{where} must be one letter, as in i", nxt.col)
            index_name = self.advance().text
            if self.peek().kind == "letter":
                raise ParseError("the index of \\sum{where} must be one letter, as in i", nxt.col)
            self.close(nxt, "}")
        else:
            raise ParseError("the index of \\sum{where} must be one letter, as in \\sum_i", nxt.col)
        upper = symbol("n")
        if self.is_op("^"):
            op = self.advance()
            self.enter(op.col)
            upper = self.script(op)
            self.leave()
        index = sympy.Symbol(index_name, integer=True, positive=True)
        saved = self.indices.get(index_name)
        self.indices[index_name] = index
        self.enter(tok.col)
        if not self.starts_factor() and not self.is_op("+", "-"):
            raise ParseError("\\sum{where} needs a body, as in \\sum_i x_i", tok.col)
        body = self.term()
        self.leave()
        if saved is None:
            del self.indices[index_name]
        else:
            self.indices[index_name] = saved
        return _build(sympy.Sum, body, (index, lower, upper), col=tok.col)

    def checked(self, value, col):
        if _largest_digits(value) > MAX_RESULT_DIGITS:
            raise ParseError(f"number too large{{where}}: at most {MAX_RESULT_DIGITS} digits", col)
        return value


def parse_latex(text, *, max_length=MAX_LENGTH, names=None):
    """Parse a LaTeX answer into SymPy, or raise a one-line ``ParseError`` with a column.
    ``names``, a list, receives every variable name read (in order)."""
    if not isinstance(text, str):
        raise ParseError(f"expected text, got {type(text).__name__}")
    if len(text) > max_length:
        raise ParseError(f"answer too long: {len(text)} characters, at most {max_length}")
    stripped = text.strip()
    offset = len(text) - len(text.lstrip())
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if stripped.startswith(left) and stripped.endswith(right) and len(stripped) >= len(left) + len(right):
            stripped = stripped[len(left):len(stripped) - len(right)]
            offset += len(left)
            break
    if "$" in stripped:
        raise ParseError("'$' is only accepted around the whole answer")
    # \sum_{i=1}^{n}: rewrite the lower bound "=1" away (only 1 is accepted) before tokenizing,
    # keeping every other column where it was (the removed characters become spaces).
    stripped = _blank_sum_lower_bounds(stripped)
    depth = 0
    for k, c in enumerate(stripped):
        if c in "({[":
            depth += 1
            if depth > MAX_DEPTH:
                raise ParseError(f"too deeply nested at column {k + 1 + offset}: at most {MAX_DEPTH} levels")
        elif c in ")}]":
            depth -= 1
    try:
        tokens = _tokens(stripped)
        if offset:
            for t in tokens:
                t.col += offset
        if tokens[0].kind == "end":
            raise ParseError("empty answer")
        parser = _Parser(tokens)
        value = parser.parse()
        if names is not None:
            names.extend(parser.names)
    except ParseError:
        raise
    except RecursionError:
        raise ParseError(f"too deeply nested: at most {MAX_DEPTH} levels") from None
    except Exception as exc:  # a bug here must still reach the user as a ParseError
        raise ParseError(f"could not read this answer (internal error: {type(exc).__name__})") from None
    if _is_undefined(value):
        raise ParseError("the answer is undefined: it divides by zero or leaves a function's domain")
    return value


def _blank_sum_lower_bounds(text):
    out = []
    i = 0
    key = "\\sum_{"
    while True:
        j = text.find(key, i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        k = j + len(key)
        out.append(text[i:k])
        end = text.find("}", k)
        inside = text[k:end] if end >= 0 else ""
        if "=" in inside:
            index, _, bound = inside.partition("=")
            if bound.strip() != "1":
                raise ParseError(f"sums must start at 1 (\\sum_{{i=1}}) at column {k + 1}")
            out.append(index + " " * (len(inside) - len(index)))
            i = end
        else:
            i = k
