"""A teacher's own text (a prompt, the instructions) with maths between dollar signs.

    prompt = "For unspecified functions f and g, write the chain rule for $d/dx f(g(x))$."

Outside the dollars the text stays text, escaped for the format. Inside, it is maths as
derive reads it: expressions (``sin(x^2)``), joined by ``=``, where a side may also be a
derivative, ``d/dx EXPR`` (or ``∂/∂x EXPR``) or Leibniz's ``dy/dx``, ``d loss/d weight``,
``∂L/∂w``. The maths is parsed into SymPy and typeset by derive's own printers, so it is
set as maths in every format (and breaks or scrolls as maths does), and no character of
it reaches TeX or HTML as typed. ``\\$`` is a dollar sign.
"""

import re
from dataclasses import dataclass

from derive.errors import DeriveError

MAX_MATHS = 40  # maths spans in one text
NAME = r"[A-Za-z\u0370-\u03ff][A-Za-z0-9_\u0370-\u03ff]*"
MARK = r"(d|∂)"
# d/dx EXPR, ∂/∂w EXPR
OPERATOR = re.compile(rf"{MARK}\s*/\s*{MARK}\s*({NAME})(?:\s+|(?=[(\[]))(.+)\Z", re.S)
# dy/dx, d loss/d weight, ∂L/∂w, d(x^2)/dx
LEIBNIZ = re.compile(rf"{MARK}\s*(\(.+\)|{NAME})\s*/\s*{MARK}\s*({NAME})\Z", re.S)


@dataclass(frozen=True)
class Maths:
    """One maths span: its sides, joined by ``=``. A side is ``("expr", e)``,
    ``("dd", e, wrt, partial)`` (d/dx e) or ``("leibniz", top, wrt, partial)`` (dy/dx)."""

    sides: tuple
    typed: str


def split(text, where):
    """The text cut into plain pieces (str) and maths pieces (the typed maths, in a tuple)."""
    pieces, plain, maths, inside = [], [], [], False
    k = 0
    while k < len(text):
        ch = text[k]
        if ch == "\\" and text[k + 1:k + 2] == "$":
            (maths if inside else plain).append("$")
            k += 2
            continue
        if ch == "$":
            if inside:
                typed = "".join(maths).strip()
                if not typed:
                    raise DeriveError(f"{where}: '$$' holds no maths; write \\$ for a dollar sign")
                pieces.append((typed,))
                maths = []
            else:
                if plain:
                    pieces.append("".join(plain))
                plain = []
            inside = not inside
        else:
            (maths if inside else plain).append(ch)
        k += 1
    if inside:
        raise DeriveError(f"{where}: a '$' opens maths that is never closed; close it with another '$', "
                          f"or write \\$ for a dollar sign")
    if plain:
        pieces.append("".join(plain))
    if sum(isinstance(p, tuple) for p in pieces) > MAX_MATHS:
        raise DeriveError(f"{where}: more than {MAX_MATHS} maths spans ($…$) in one text")
    return pieces


def read(text, where):
    """``text`` as a tuple of plain strings and Maths; DeriveError (one line) on maths
    derive cannot read."""
    if not text:
        return ()
    parts = []
    for piece in split(text, where):
        parts.append(_maths(piece[0], where) if isinstance(piece, tuple) else piece)
    return tuple(parts)


def _maths(typed, where):
    from derive.errors import ParseError
    from derive.parsing.text import parse

    sides = []
    try:
        for side in _sides(typed):
            operator, leibniz = OPERATOR.match(side), LEIBNIZ.match(side)
            if operator and operator.group(1) == operator.group(2):
                sides.append(("dd", parse(operator.group(4)), parse(operator.group(3)), operator.group(1) == "∂"))
            elif leibniz and leibniz.group(1) == leibniz.group(3):
                sides.append(("leibniz", parse(leibniz.group(2)), parse(leibniz.group(4)), leibniz.group(1) == "∂"))
            else:
                sides.append(("expr", parse(side)))
    except (ParseError, DeriveError) as error:
        raise DeriveError(f"{where}: the maths ${typed}$ cannot be read ({error}); write expressions as "
                          f"derive reads them, as in $d/dx sin(x^2)$ or $dL/dw$, or \\$ for a dollar sign") from None
    return Maths(tuple(sides), typed)


def _sides(typed):
    """The sides of ``a = b = c``: split at each ``=`` outside brackets."""
    sides, depth, start = [], 0, 0
    for k, ch in enumerate(typed):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "=" and depth == 0:
            sides.append(typed[start:k])
            start = k + 1
    sides.append(typed[start:])
    if any(not side.strip() for side in sides):
        raise DeriveError("a side of '=' is empty")
    return [side.strip() for side in sides]


def write(parts, layout):
    """The parts as one format's text: plain text escaped, each maths span one formula."""
    from derive.render import escape as escapes

    if layout == "html":
        from derive.render.formats import HtmlFormat

        class Bare(HtmlFormat):  # MathML without its <math>, so one span holds every side
            def _math(self, inner):
                return f"<mrow>{inner}</mrow>"

        bare, escape = Bare(), escapes.html_text
        wrap, equals = '<math display="inline">{}</math>', "<mo>=</mo>"
    else:
        from derive.render import printing
        from derive.render.formats import LatexFormat

        class Bare(LatexFormat):  # dy/dx on one line, as typed; d/dx (…) a full-size fraction
            def leibniz(self, top, wrt, partial=False):
                if top.is_Atom and wrt.is_Atom:
                    mark = r"\partial " if partial else "d"
                    return f"{mark}{self.m(top)}/{mark}{self.m(wrt)}"
                return super().leibniz(top, wrt, partial)

        bare = Bare()
        if layout == "latex":
            escape, wrap = printing.latex_escape, r"$\displaystyle {}$"
        else:  # Markdown: no markup, no HTML, no new block, and a dollar never opens maths
            escape, wrap = escapes.markdown_text, "${}$"
        equals = " = "
    out = []
    for part in parts:
        if isinstance(part, Maths):
            out.append(wrap.format(equals.join(_side(bare, side) for side in part.sides)))
        else:
            out.append(escape(part))
    return "".join(out)


def _side(f, side):
    kind, expr = side[0], side[1]
    if kind == "dd":
        return f.dd(expr, side[2], side[3])
    if kind == "leibniz":
        return f.leibniz(expr, side[2], side[3])
    return f.m(expr)


def expressions(parts):
    """Every expression the maths spans show (for the notation they need)."""
    for part in parts:
        if isinstance(part, Maths):
            for side in part.sides:
                yield from (e for e in side[1:] if not isinstance(e, bool))
