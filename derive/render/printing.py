"""How math is written in each output format: one-line Unicode for the terminal, LaTeX for
Markdown, LaTeX documents and HTML.

The text printer writes what a teacher writes on the board: ``2 x cos(x²)``, ``e²ˣ``,
``(2/n) Σᵢ₌₁ⁿ (b + w xᵢ − yᵢ) xᵢ``, ``f′(g(x))``. One ``_print_<Class>`` method per kind of
node, as SymPy's own printers do.
"""

import functools
import re

import sympy
from sympy import Derivative, Mul, Pow, S, Sum
from sympy.core.function import AppliedUndef
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE, precedence
from sympy.printing.str import StrPrinter

GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "lambda": "λ", "lam": "λ", "mu": "μ", "xi": "ξ", "sigma": "σ",
    "tau": "τ", "phi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω", "Delta": "Δ", "Sigma": "Σ",
    "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
}
# Names that print with a hat: the prediction ŷ.
HATS = {"yhat": "ŷ", "y_hat": "ŷ"}

SUPERSCRIPT = dict(zip("0123456789+-−=()abcdefghijklmnoprstuvwxyzαβγδθ",
                       "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᵅᵝᵞᵟᶿ"))
SUBSCRIPT = dict(zip("0123456789+-−=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ"))


def _script(text, table):
    """``text`` in super- or subscript letters, or None when a character has none."""
    if not text or any(ch not in table for ch in text):
        return None
    return "".join(table[ch] for ch in text)


def superscript(text):
    return _script(text.replace(" ", ""), SUPERSCRIPT)


def subscript(text):
    return _script(text, SUBSCRIPT)


def split_name(name):
    """``error_i`` -> (``error``, ``i``); ``u_1`` -> (``u``, ``1``); ``w`` -> (``w``, None)."""
    if "_" in name and not name.startswith("_") and name not in HATS:
        base, _, sub = name.rpartition("_")
        if base and sub:  # y__ has no subscript to show
            return base, sub
    return name, None


def text_name(name):
    """A variable name as the terminal shows it: ``errorᵢ``, ``ŷᵢ``, ``u₁``, ``λ``."""
    base, sub = split_name(name)
    base = HATS.get(base, GREEK.get(base, base))
    if sub is None:
        return base
    return base + (subscript(sub) or f"[{sub}]")


class TextPrinter(StrPrinter):
    """One-line Unicode math, readable in a terminal."""

    printmethod = "_derive_text"

    def _print_Symbol(self, expr):
        return text_name(expr.name)

    _print_Dummy = _print_Symbol

    def _print_Indexed(self, expr):
        base = text_name(str(expr.base))
        index = "".join(self._print(i) for i in expr.indices)
        return base + (subscript(index) or f"[{index}]")

    def _print_IndexedBase(self, expr):
        return text_name(str(expr.label))

    def _print_Exp1(self, expr):
        return "e"

    def _print_Pi(self, expr):
        return "π"

    def _print_Float(self, expr):
        text = sympy.Float(expr, 12).__str__()
        if "." in text and "e" not in text:
            text = text.rstrip("0").rstrip(".")
        return text

    def _print_Rational(self, expr):
        text = f"{expr.p}/{expr.q}"
        return text.replace("-", "−")

    def _print_Integer(self, expr):
        return str(expr.p).replace("-", "−")

    def _print_Add(self, expr, order=None):
        terms = list(self._as_ordered_terms(expr, order=order))
        # Lead with a positive term where there is one: 2 cos(x) − sin(x), not −sin(x) + 2 cos(x).
        if terms and terms[0].could_extract_minus_sign():
            lead = next((t for t in terms if not t.could_extract_minus_sign()), None)
            if lead is not None:
                terms.remove(lead)
                terms.insert(0, lead)
        return self._join_terms(terms)

    def _factor(self, factor, prec):
        """A factor of a product, bracketed when it would otherwise read wrongly."""
        text = self._print(factor)
        if precedence(factor) < prec or (factor.is_Number and factor.is_negative):
            return f"({text})"
        return text

    def _print_Mul(self, expr):
        coeff, rest = expr.as_coeff_Mul()
        sign = ""
        if coeff.is_negative:
            sign, coeff = "−", -coeff
        numer, denom = [], []
        if coeff != 1:
            if coeff.is_Rational:
                numer.append(sympy.Integer(coeff.p)) if coeff.p != 1 else None
                if coeff.q != 1:
                    denom.append(sympy.Integer(coeff.q))
            else:
                numer.append(coeff)
        sums = []
        for factor in Mul.make_args(rest):
            if factor.is_Pow and factor.exp.is_number and factor.exp.is_negative:
                denom.append(Pow(factor.base, -factor.exp))
            elif isinstance(factor, Sum):
                sums.append(factor)  # a sum reads last: (2/n) Σ …, as in the textbook
            else:
                numer.append(factor)
        prec = PRECEDENCE["Mul"]
        head = self._product(numer, prec)
        if denom:
            below = self._product(denom, prec)
            if len(denom) > 1 or denom[0].is_Mul:
                below = f"({below})"
            if len(numer) > 1:
                head = f"({head})"
            head = f"{head or '1'}/{below}"
            if sums:
                head = f"({head})"
        if sums:
            tail = " ".join(self._print(s) for s in sums)
            head = f"{head} {tail}" if head else tail
        return sign + (head or "1")

    def _product(self, factors, prec):
        """Factors side by side, with a space, as on the board: ``2 x cos(x²)``."""
        parts = [self._factor(f, prec) for f in factors]
        return " ".join(parts)

    def _print_Pow(self, expr):
        base, exp = expr.base, expr.exp
        if isinstance(exp, sympy.UnevaluatedExpr):
            exp = exp.args[0]
        elif exp == S.Half:
            return f"√{self._bracket_root(base)}"
        elif exp == -S.Half:
            return f"1/√{self._bracket_root(base)}"
        elif exp.is_number and exp.is_negative and not isinstance(expr.exp, sympy.UnevaluatedExpr):
            return f"1/{self._factor(Pow(base, -exp), PRECEDENCE['Pow'])}"
        if base is S.Exp1:
            return self._power_text("e", exp)
        base_text = self._print(base)
        if precedence(base) <= PRECEDENCE["Pow"] and not base.is_Atom or (
            base.is_Number and (base.is_negative or not base.is_Integer)
        ):
            base_text = f"({base_text})"
        return self._power_text(base_text, exp)

    def _bracket_root(self, base):
        text = self._print(base)
        return text if base.is_Atom or isinstance(base, sympy.Indexed) else f"({text})"

    def _power_text(self, base_text, exp):
        exp_text = self._print(exp)
        raised = superscript(exp_text.replace("−", "-")) if len(exp_text) <= 6 else None
        if raised:
            return base_text + raised
        if exp.is_Atom:
            return f"{base_text}^{exp_text}"
        return f"{base_text}^({exp_text})"

    def _print_exp(self, expr):
        return self._power_text("e", expr.args[0])

    def _print_log(self, expr):
        return f"ln({self._print(expr.args[0])})"

    def _print_Abs(self, expr):
        return f"|{self._print(expr.args[0])}|"

    def _print_sigmoid(self, expr):
        return f"σ({self._print(expr.args[0])})"

    def _print_Max(self, expr):
        return "max(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Min(self, expr):
        return "min(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Function(self, expr):
        name = expr.func.__name__
        args = ", ".join(self._print(a) for a in expr.args)
        return f"{name}({args})"

    def _print_Relational(self, expr):
        ops = {"<": "<", ">": ">", "<=": "≤", ">=": "≥", "==": "=", "!=": "≠"}
        return f"{self._print(expr.lhs)} {ops.get(expr.rel_op, expr.rel_op)} {self._print(expr.rhs)}"

    def _print_Piecewise(self, expr):
        pieces = []
        for value, cond in expr.args:
            where = "otherwise" if cond is S.true else f"where {self._print(cond)}"
            pieces.append(f"{self._print(value)} {where}")
        return "{" + "; ".join(pieces) + "}"

    def _print_Sum(self, expr):
        (index, low, high), *more = expr.limits
        sub = subscript(f"{self._print(index)}={self._print(low)}")
        sup = superscript(self._print(high))
        sigma = "Σ" + (sub or f"_({index}={low})") + (sup or f"^({self._print(high)})")
        body = expr.function
        text = self._print(body)
        if body.is_Add:
            text = f"({text})"
        return f"{sigma} {text}"

    def _print_Derivative(self, expr):
        return self._prime(expr.expr, expr.variable_count)

    def _prime(self, function, variable_count):
        order = sum(count for _, count in variable_count)
        primes = "′" * order if order <= 3 else f"⁽{order}⁾"
        if isinstance(function, AppliedUndef) and len(function.args) == 1:
            return f"{function.func.__name__}{primes}({self._print(function.args[0])})"
        variables = "".join(self._print(v) for v, _ in variable_count)
        return f"d/d{variables} [{self._print(function)}]"

    def _print_Subs(self, expr):
        inner = expr.expr
        if isinstance(inner, Derivative) and isinstance(inner.expr, AppliedUndef):
            at = inner.expr.func(*[expr.point[0]]) if len(expr.point) == 1 else inner.expr
            return self._prime(at, inner.variable_count)
        return StrPrinter._print_Subs(self, expr)

    # -- matrix calculus: Xᵀ(Xw + b 1 − y) ---------------------------------------------------
    def _print_MatrixSymbol(self, expr):
        return text_name(expr.name)

    def _print_MatAdd(self, expr):
        # X w + b 1 − y: products of more matrices first, subtracted terms last
        def order(term):
            return (term.could_extract_minus_sign(), -len(term.atoms(sympy.MatrixSymbol)), str(term))

        return self._join_terms(sorted(expr.args, key=order))

    def _join_terms(self, terms):
        out = ""
        for i, term in enumerate(terms):
            text = self._print(term)
            negative = text.startswith("−")
            if negative:
                text = text[1:]
            out = (("−" if negative else "") + text) if i == 0 else out + (" − " if negative else " + ") + text
        return out

    def _print_MatMul(self, expr):
        coeff, factors = expr.as_coeff_matrices()
        sign = ""
        if coeff.could_extract_minus_sign():
            sign, coeff = "−", -coeff
        parts = []
        if coeff != 1:
            text = self._print(coeff)
            parts.append(f"({text})" if any(op in text for op in ("/", " + ", " − ")) else text)
        for factor in factors:
            text = self._print(factor)
            parts.append(f"({text})" if factor.is_MatAdd else text)
        return sign + " ".join(parts)

    def _print_Transpose(self, expr):
        text = self._print(expr.arg)
        return (text if expr.arg.is_symbol or isinstance(expr.arg, sympy.OneMatrix) else f"({text})") + "ᵀ"

    def _print_OneMatrix(self, expr):
        return "1ᵀ" if expr.shape[0] == 1 and expr.shape[1] != 1 else "1"

    def _print_UnevaluatedExpr(self, expr):
        return self._print(expr.args[0])

    def _print_BooleanTrue(self, expr):
        return "always"


class DeriveLatexPrinter(LatexPrinter):
    """SymPy's LaTeX, with the names of the lesson (error, ŷ) and f′(g(x)) written plainly."""

    printmethod = "_derive_latex"

    def __init__(self, settings=None):
        defaults = {"ln_notation": True, "mul_symbol": None}
        defaults.update(settings or {})
        super().__init__(defaults)

    def _print_Symbol(self, expr, style="plain"):
        base, sub = split_name(expr.name)
        if base in HATS:
            head = r"\hat{y}"
        elif base in GREEK:
            head = "\\" + ("lambda" if base == "lam" else base)
        elif len(base) > 1:
            head = r"\mathrm{%s}" % base.replace("_", r"\_")  # x_1_2_3: one subscript, the rest of the name
        else:
            head = base
        return head if sub is None else f"{head}_{{{sub}}}"

    _print_Dummy = _print_Symbol

    def _print_Indexed(self, expr):
        base = self._print_Symbol(sympy.Symbol(str(expr.base)))
        return base + "_{" + ",".join(self._print(i) for i in expr.indices) + "}"

    def _print_Derivative(self, expr):
        function = expr.expr
        if isinstance(function, AppliedUndef) and len(function.args) == 1:
            order = sum(count for _, count in expr.variable_count)
            return r"%s%s\left(%s\right)" % (
                function.func.__name__, "'" * order, self._print(function.args[0]))
        return super()._print_Derivative(expr)

    def _print_Subs(self, expr):
        inner = expr.expr
        if isinstance(inner, Derivative) and isinstance(inner.expr, AppliedUndef) and len(expr.point) == 1:
            order = sum(count for _, count in inner.variable_count)
            return r"%s%s\left(%s\right)" % (
                inner.expr.func.__name__, "'" * order, self._print(expr.point[0]))
        return super()._print_Subs(expr)

    def _print_OneMatrix(self, expr):
        row = expr.shape[0] == 1 and expr.shape[1] != 1
        return r"\mathbf{1}^{T}" if row else r"\mathbf{1}"

    def _print_MatrixSymbol(self, expr):
        return self._print_Symbol(sympy.Symbol(expr.name))

    def _print_sigmoid(self, expr, exp=None):
        base = r"\sigma\left(%s\right)" % self._print(expr.args[0])
        return base if exp is None else f"{base}^{{{exp}}}"


_TEXT = TextPrinter()
_LATEX = DeriveLatexPrinter()


@functools.lru_cache(maxsize=4096)
def to_text(expr):
    """``expr`` as one line of Unicode math: ``2 x cos(x²)``."""
    if isinstance(expr, int):
        expr = sympy.Integer(expr)
    return _TEXT.doprint(expr)


@functools.lru_cache(maxsize=4096)
def to_latex(expr):
    """``expr`` as LaTeX math (no delimiters)."""
    return _LATEX.doprint(expr)


def text_derivative_operator(wrt, partial=False):
    """``d/dx`` or ``∂/∂w`` for a variable."""
    mark = "∂" if partial else "d"
    return f"{mark}/{mark}{to_text(wrt)}"


# What each printable ASCII character that TeX would read as markup becomes in text. The
# rest of ASCII is itself; < > | would print as ¡ ¿ — without the T1 encoding, and [ ] could
# be read as an optional argument after a command such as \\.
_LATEX_ASCII = {
    "\\": r"\textbackslash{}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", "[": "{[}", "]": "{]}",
}


def latex_escape(text):
    """Plain text (a title, a prompt, a file name: anyone's) made safe inside a LaTeX document.

    The one path for such text: cleaned (no control characters), white space collapsed
    (a blank line would end a paragraph inside a ``\\title``), and then character by
    character: ASCII markup escaped, other ASCII kept, and every other character through
    :func:`_latex_char`, which folds it to ASCII *before* escaping that. So ``＼input｛…｝``
    (fullwidth) prints as typed and no sequence of characters can become a TeX command.
    The result is ASCII.
    """
    from derive.render.escape import clean

    text = clean(text)
    # (a space at either end stays one space: a piece of text between formulas keeps it)
    text = re.sub(r"\s*\n\s*", "\n", re.sub(r"[^\S\n]+", " ", text))
    out = []
    for ch in text:
        if ch.isascii():
            out.append(_LATEX_ASCII.get(ch, ch))
        else:
            out.append(UNICODE_TO_LATEX.get(ch) or _latex_char(ch))
    return "".join(out)


# Unicode the shared words use in sentences, and what pdflatex needs instead.
UNICODE_TO_LATEX = {
    "·": r"\ensuremath{\cdot}", "−": r"\ensuremath{-}", "′": r"\ensuremath{'}",
    "←": r"\ensuremath{\leftarrow}", "σ": r"\ensuremath{\sigma}", "²": r"\ensuremath{^2}",
    "∇": r"\ensuremath{\nabla}", "⁻¹": r"\ensuremath{^{-1}}", "ᵢ": r"\ensuremath{_i}",
    "½": r"\ensuremath{\tfrac12}", "₁": r"\ensuremath{_1}", "₂": r"\ensuremath{_2}",
    "₃": r"\ensuremath{_3}", "ⱼ": r"\ensuremath{_j}", "ŷ": r"\ensuremath{\hat y}",
    "δ": r"\ensuremath{\delta}", "λ": r"\ensuremath{\lambda}", "α": r"\ensuremath{\alpha}",
    "η": r"\ensuremath{\eta}", "ᵀ": r"\ensuremath{^{\mathsf T}}", "‖": r"\ensuremath{\|}",
    "×": r"\ensuremath{\times}", "…": r"\ldots{}", "’": "'", "“": "``", "”": "''",
    "—": "---", "–": "--",
}


def unicode_to_latex(text):
    """Unicode math signs (the words', or a teacher's own text) as LaTeX commands, so the
    result is plain ASCII that pdflatex reads without any input-encoding package.

    Used on whole documents that derive wrote: it never turns a character into TeX markup
    (see :func:`_latex_char`), so text escaped before stays escaped."""
    for char, command in UNICODE_TO_LATEX.items():
        text = text.replace(char, command)
    if text.isascii():
        return text
    return "".join(ch if ch.isascii() else _latex_char(ch) for ch in text)


# Greek letters that LaTeX has as commands; a capital it lacks (Alpha) is the Latin letter.
_GREEK_SMALL = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
                "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi",
                "omega"}
_GREEK_CAPITAL = {"Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega"}
_GREEK_LATIN = {"Alpha": "A", "Beta": "B", "Epsilon": "E", "Zeta": "Z", "Eta": "H", "Iota": "I",
                "Kappa": "K", "Mu": "M", "Nu": "N", "Omicron": "O", "Rho": "P", "Tau": "T", "Chi": "X",
                "omicron": "o"}
_LATEX_SYMBOLS = {"Σ": r"\Sigma", "∂": r"\partial", "≤": r"\leq", "≥": r"\geq", "≠": r"\neq",
                  "√": r"\surd", "∞": r"\infty", "±": r"\pm", "→": r"\to", "⋅": r"\cdot", "°": r"^\circ",
                  "≈": r"\approx", "÷": r"\div", "∑": r"\Sigma"}


@functools.lru_cache(maxsize=None)
def _latex_char(ch):
    """One non-ASCII character as safe LaTeX: Greek by name, scripts as ^ and _, a few math
    signs, anything else folded (NFKD) to its ASCII letters and then escaped; "?" if none.

    Whatever comes out is made of derive's own commands and escaped ASCII, never a TeX
    special of the character's own: ``＼`` (U+FF3C) becomes ``\textbackslash{}``."""
    import unicodedata

    if ch in UNICODE_TO_LATEX:
        return UNICODE_TO_LATEX[ch]
    name = unicodedata.name(ch, "")
    for prefix, capital in (("GREEK SMALL LETTER ", False), ("GREEK CAPITAL LETTER ", True)):
        if name.startswith(prefix) and " " not in name[len(prefix):]:
            word = name[len(prefix):].lower()
            word = {"lamda": "lambda"}.get(word, word)
            word = word.capitalize() if capital else word
            if word in _GREEK_SMALL or word in _GREEK_CAPITAL:
                return r"\ensuremath{\%s}" % word
            if word in _GREEK_LATIN:
                return _GREEK_LATIN[word]
    for table, mark in ((SUPERSCRIPT, "^"), (SUBSCRIPT, "_")):
        if ch in table.values():
            plain = next(k for k, v in table.items() if v == ch).replace("−", "-")
            inner = plain if plain.isascii() else _latex_char(plain)
            return r"\ensuremath{%s{%s}}" % (mark, inner)
    if ch in _LATEX_SYMBOLS:
        return r"\ensuremath{%s}" % _LATEX_SYMBOLS[ch]
    if unicodedata.category(ch) in ("Zs", "Zl", "Zp") or ch in "\t\n":
        return " "
    folded = unicodedata.normalize("NFKD", ch)
    if folded != ch:  # its compatibility form, each part made safe in turn (marks dropped)
        parts = []
        for part in folded:
            if part.isascii():
                parts.append(" " if part.isspace() else _LATEX_ASCII.get(part, part) if part.isprintable() else "")
            elif not unicodedata.combining(part):
                parts.append(_latex_char(part))
        text = "".join(parts).replace("?", "")
        return text or "?"
    return "?"


# -- MathML, for HTML that browsers render natively ----------------------------------------
def _mathml_printer_class():
    """SymPy's presentation MathML printer, with the fixes derive needs (built lazily: the
    MathML module is only imported when HTML is written)."""
    from sympy.printing.mathml import MathMLPresentationPrinter

    class DeriveMathMLPrinter(MathMLPresentationPrinter):
        """Names as the lesson writes them (ŷᵢ, errorᵢ, λ), σ for the sigmoid, f′(g(x)),
        cases for piecewise results, and comparison signs that stay valid XML."""

        def _mi(self, text):
            node = self.dom.createElement("mi")
            node.appendChild(self.dom.createTextNode(text))
            return node

        def _mo(self, text):
            node = self.dom.createElement("mo")
            node.appendChild(self.dom.createTextNode(text))
            return node

        def _mtext(self, text):
            node = self.dom.createElement("mtext")
            node.appendChild(self.dom.createTextNode(text))
            return node

        def _row(self, *children):
            row = self.dom.createElement("mrow")
            for child in children:
                row.appendChild(child)
            return row

        def _named(self, name):
            base, sub = split_name(name)
            head = self._mi(HATS.get(base, GREEK.get(base, base)))
            if sub is None:
                return head
            node = self.dom.createElement("msub")
            node.appendChild(head)
            node.appendChild(self._mi(sub))
            return node

        def _print_Symbol(self, sym, style="plain"):
            return self._named(sym.name)

        _print_Dummy = _print_Symbol

        def _print_MatrixSymbol(self, sym):
            return self._named(sym.name)

        def _print_Indexed(self, expr):
            node = self.dom.createElement("msub")
            node.appendChild(self._named(str(expr.base)))
            node.appendChild(self._row(*[self._print(i) for i in expr.indices]))
            return node

        def _print_Relational(self, expr):
            signs = {"<": "&lt;", ">": "&gt;", "<=": "≤", ">=": "≥", "==": "=", "!=": "≠"}
            return self._row(self._print(expr.lhs), self._mo(signs.get(expr.rel_op, expr.rel_op)),
                             self._print(expr.rhs))

        def _print_Piecewise(self, expr):
            table = self.dom.createElement("mtable")
            for value, cond in expr.args:
                tr = self.dom.createElement("mtr")
                for cell in (self._print(value),
                             self._mtext("otherwise") if cond is sympy.true
                             else self._row(self._mtext("where "), self._print(cond))):
                    td = self.dom.createElement("mtd")
                    td.appendChild(cell)
                    tr.appendChild(td)
                table.appendChild(tr)
            return self._row(self._mo("{"), table)

        def _function(self, name, args):
            inner = self._row(*sum(([self._print(a), self._mo(",")] for a in args), [])[:-1])
            return self._row(self._mi(name), self._mo("("), inner, self._mo(")"))

        def _print_sigmoid(self, expr):
            return self._function("σ", expr.args)

        def _print_log(self, expr):
            return self._function("ln", expr.args)

        def _print_Max(self, expr):
            return self._function("max", expr.args)

        def _print_Min(self, expr):
            return self._function("min", expr.args)

        def _print_sign(self, expr):
            return self._function("sign", expr.args)

        def _prime(self, name, order, arg):
            return self._row(self._mi(name + "′" * order), self._mo("("), self._print(arg), self._mo(")"))

        def _print_Derivative(self, expr):
            function = expr.expr
            if isinstance(function, AppliedUndef) and len(function.args) == 1:
                order = sum(count for _, count in expr.variable_count)
                return self._prime(function.func.__name__, order, function.args[0])
            return super()._print_Derivative(expr)

        def _print_Subs(self, expr):
            inner = expr.expr
            if isinstance(inner, Derivative) and isinstance(inner.expr, AppliedUndef) and len(expr.point) == 1:
                order = sum(count for _, count in inner.variable_count)
                return self._prime(inner.expr.func.__name__, order, expr.point[0])
            return super()._print_Subs(expr)

        def _print_OneMatrix(self, expr):
            node = self.dom.createElement("mn")
            node.setAttribute("mathvariant", "bold")
            node.appendChild(self.dom.createTextNode("1"))
            return node

        def _print_BooleanTrue(self, expr):
            return self._mtext("otherwise")

    return DeriveMathMLPrinter


@functools.lru_cache(maxsize=1)
def _mathml():
    return _mathml_printer_class()()


@functools.lru_cache(maxsize=4096)
def to_mathml(expr):
    """``expr`` as the inside of a MathML ``<math>`` element."""
    return _mathml().doprint(expr)
