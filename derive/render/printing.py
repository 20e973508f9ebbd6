"""How math is written in each output format: one-line Unicode for the terminal, LaTeX for
Markdown and LaTeX documents, MathML for HTML.

All three spell the same layout tree (:mod:`derive.render.notation`), so one convention
holds in every format: ``2x cos(x²)``, ``(2/n) Σᵢ₌₁ⁿ (w xᵢ + b − yᵢ) xᵢ``, ``f′(g(x))``,
``arcsin x``, ``sin²x``. This module keeps the plain entry points (no author's order to
follow); an explanation writes through a :class:`~derive.render.notation.Notation` built
from what its author typed.
"""

import functools
import re

import sympy

from derive.render import notation
from derive.render.notation import (  # noqa: F401  (the names other modules take from here)
    GREEK, HATS, SUBSCRIPT, SUPERSCRIPT, split_name, subscript, superscript,
)


@functools.lru_cache(maxsize=4096)
def to_text(expr):
    """``expr`` as one line of Unicode math: ``2x cos(x²)``."""
    if isinstance(expr, int):
        expr = sympy.Integer(expr)
    return notation.to_text(notation.layout(expr))


@functools.lru_cache(maxsize=4096)
def to_latex(expr):
    """``expr`` as LaTeX math (no delimiters)."""
    return notation.to_latex(notation.layout(expr))


@functools.lru_cache(maxsize=4096)
def to_mathml(expr):
    """``expr`` as the inside of a MathML ``<math>`` element."""
    return notation.to_mathml(notation.layout(expr))


def text_derivative_operator(wrt, partial=False):
    """``d/dx`` or ``∂/∂w`` for a variable."""
    mark = "∂" if partial else "d"
    return f"{mark}/{mark}{to_text(wrt)}"


def text_name(name):
    """A variable name as the terminal shows it: ``errorᵢ``, ``ŷᵢ``, ``u₁``, ``λ``."""
    return to_text(sympy.Symbol(name))


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
    "—": "---", "–": "--", "✓": r"\ensuremath{\checkmark}",
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
