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
from derive.render.notation import SUBSCRIPT, SUPERSCRIPT, split_name, subscript, superscript  # noqa: F401


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


_LATEX_SPECIALS = re.compile(r"([&%$#_{}~^\\])")


def latex_escape(text):
    """Plain text made safe to put inside a LaTeX document."""
    replace = {"\\": r"\textbackslash{}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
    return _LATEX_SPECIALS.sub(lambda m: replace.get(m.group(1), "\\" + m.group(1)), str(text))


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
    result is plain ASCII that pdflatex reads without any input-encoding package."""
    for char, command in UNICODE_TO_LATEX.items():
        text = text.replace(char, command)
    if text.isascii():
        return text
    return "".join(ch if ch.isascii() else _latex_char(ch) for ch in text)


@functools.lru_cache(maxsize=None)
def _latex_char(ch):
    """One remaining non-ASCII character: Greek by name, scripts as ^ and _, accents folded."""
    import unicodedata

    name = unicodedata.name(ch, "")
    if name.startswith("GREEK SMALL LETTER ") or name.startswith("GREEK CAPITAL LETTER "):
        word = name.rsplit(" ", 1)[-1].lower()
        word = {"lamda": "lambda"}.get(word, word)
        if name.startswith("GREEK CAPITAL"):
            word = word.capitalize()
        return r"\ensuremath{\%s}" % word
    if ch in SUPERSCRIPT.values():
        plain = next(k for k, v in SUPERSCRIPT.items() if v == ch)
        return r"\ensuremath{^{%s}}" % plain.replace("−", "-")
    if ch in SUBSCRIPT.values():
        plain = next(k for k, v in SUBSCRIPT.items() if v == ch)
        return r"\ensuremath{_{%s}}" % plain.replace("−", "-")
    symbols = {"Σ": r"\Sigma", "∂": r"\partial", "≤": r"\leq", "≥": r"\geq", "≠": r"\neq",
               "√": r"\surd", "∞": r"\infty", "±": r"\pm", "→": r"\to", "⋅": r"\cdot"}
    if ch in symbols:
        return r"\ensuremath{%s}" % symbols[ch]
    folded = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
    return folded or "?"


