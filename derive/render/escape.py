"""Text that someone else wrote, made safe for each place it goes.

A problem set's title, author, course, date, instructions and prompts, a data file's
path and column names: none of it is trusted. Each format has one function that every
such text goes through (the formats' ``t`` method calls it), and each one first cleans
the text, then escapes it:

* :func:`clean`: control characters (NUL, ESC, DEL, C1) and the invisible bidirectional
  overrides are dropped; line and paragraph separators become newlines.
* LaTeX: :func:`derive.render.printing.latex_escape` (Unicode folded to ASCII first,
  TeX's specials escaped after, so no character can turn into one).
* Markdown: :func:`markdown_text` (Markdown and HTML both inert; one line, so a newline
  can never start a heading, a list or a table).
* HTML: :func:`html_text`.
* The terminal: :func:`shown` for a user's value quoted in a message.
"""

import html
import re
import urllib.parse

from derive.errors import DeriveError

# C0 and C1 controls but tab and newline; DEL; the bidirectional embeddings, overrides and
# isolates, and the marks, which reorder what a reader sees without being seen.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NEWLINES = re.compile("\r\n?|[\u2028\u2029\x85]")


def clean(text):
    """``text`` without control characters and invisible reordering marks; newlines as ``\\n``."""
    text = _NEWLINES.sub("\n", str(text))
    return _INVISIBLE.sub("", text)


def one_line(text):
    """Cleaned, and every run of white space (newlines included) one space, at the ends
    too (a piece of text between two formulas keeps its spaces)."""
    text = clean(text)
    core = " ".join(text.split())
    if not core:
        return " " if text[:1].isspace() else ""
    return (" " if text[:1].isspace() else "") + core + (" " if text[-1:].isspace() else "")


# -- Markdown ------------------------------------------------------------------------------------
_MARKDOWN_ALWAYS = {c: "\\" + c for c in "\\`*_[]{}$~^|@"}
_MARKDOWN_ALWAYS.update({"<": "&lt;", ">": "&gt;", "&": "&amp;"})
_MARKDOWN_LINE_START = re.compile(r"^(?:([#=+:%!-])|(\d{1,9})([.)]))")


def markdown_text(text):
    """Plain text for Markdown (CommonMark, GitHub, pandoc): one line, shown as typed.

    Every character that Markdown or pandoc could read as markup (emphasis, links and
    images, code, math, footnotes, citations, tables) is backslash-escaped, and ``< > &``
    are written as entities so no HTML tag or entity gets through. White space, newlines
    included, becomes one space, and a text that would start a block where it stands at
    the start of a line (a heading, a list, a quote) has that first sign escaped.
    """
    text = "".join(_MARKDOWN_ALWAYS.get(c, c) for c in one_line(text))
    lead = " " if text.startswith(" ") else ""
    return lead + _MARKDOWN_LINE_START.sub(
        lambda m: "\\" + m.group(1) if m.group(1) else m.group(2) + "\\" + m.group(3), text[len(lead):], count=1)


def markdown_url(path):
    """A path as the destination of a Markdown link or image: percent-encoded, so it can
    neither end the link nor become a ``javascript:`` or other scheme."""
    return urllib.parse.quote(clean(path).replace("\\", "/"), safe="/")


# -- HTML ----------------------------------------------------------------------------------------
def html_text(text):
    """Plain text for HTML, in an element or an attribute: cleaned, then escaped."""
    return html.escape(clean(text), quote=True)


# -- LaTeX paths -----------------------------------------------------------------------------------
_TEX_PATH = re.compile(r"[A-Za-z0-9._/+-]+")


def tex_path(path):
    """A file path for ``\\includegraphics``: only letters, digits and ``. _ / + -``, which
    TeX reads as they are; anything else (a space, ``%``, ``{``, ``\\``) is refused, not mangled."""
    text = str(path)
    if not _TEX_PATH.fullmatch(text):
        raise DeriveError(f"the path {shown(text)} cannot be written into LaTeX: use a path of letters, "
                          "digits and . _ - / + only")
    return text


# -- the terminal ---------------------------------------------------------------------------------
_UNSEEN = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069]")


def terminal_text(text):
    """A message for the terminal: every control character or invisible mark shown as an
    escape (``\\x1b``, ``\\n``, ``\\u202e``), so none reaches the terminal to act."""
    def visible(match):
        code = ord(match.group(0))
        return {10: "\\n", 13: "\\r", 9: "\\t"}.get(code, f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")

    return _UNSEEN.sub(visible, str(text))


def shown(text, limit=60):
    """A user's value quoted in a message: terminal-safe, and cut at ``limit`` characters."""
    text = str(text)
    if len(text) > limit:
        text = text[:limit] + "…"
    return terminal_text(text)
