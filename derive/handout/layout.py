"""The page around each problem: the paper size, and the room a student gets to work in.

    paper = "letter"          # or "a4" (the default), for the PDF and for printing the HTML
    space = "2cm per point"   # room under every problem (default: by points, see ``room``)
    working = "lines"         # the room as a box (default), ruled lines, or blank

    [[problems]]
    expression = "x^x"
    space = "9cm"             # this problem's own room
    working = "blank"

Every value is checked against a short grammar here and written back from numbers, so
nothing a problem set says reaches TeX or CSS as it was typed.
"""

import re
from dataclasses import dataclass

from derive.errors import DeriveError

PAPERS = ("a4", "letter")
DEFAULT_PAPER = "a4"
WORKING = ("box", "lines", "blank")
DEFAULT_WORKING = "box"
CM_PER = {"cm": 1.0, "mm": 0.1, "in": 2.54, "pt": 2.54 / 72.27}
LENGTH = re.compile(r"\s*(\d{1,3}(?:\.\d{1,3})?|\.\d{1,3})\s*(cm|mm|in|pt)(\s+per\s+point)?\s*\Z")
# A box must fit on one page together with its question, on A4 and on Letter alike.
MAX_ROOM_CM = 18.0
MAX_PER_POINT_CM = 10.0
# Without a `space`: this much, plus this much per point, within [MIN, MAX_ROOM].
BASE_CM, PER_POINT_CM, MIN_ROOM_CM, UNSCORED_POINTS = 1.5, 1.5, 3.0, 1.0


@dataclass(frozen=True)
class Space:
    """A length of room to work in, in centimetres; ``per_point`` scales it by the points."""

    cm: float
    per_point: bool = False


def read_space(value, where):
    """``"6cm"``, ``"25 mm"``, ``"2in"`` or ``"1.5cm per point"`` as a Space, or DeriveError."""
    match = LENGTH.match(value) if isinstance(value, str) else None
    if not match:
        raise DeriveError(f"{where}: the key 'space' must be a length such as \"6cm\", \"40mm\" or \"2in\", "
                          f"or a length per point such as \"2cm per point\"")
    cm = float(match.group(1)) * CM_PER[match.group(2)]
    per_point = bool(match.group(3))
    limit = MAX_PER_POINT_CM if per_point else MAX_ROOM_CM
    if cm > limit + 1e-9:
        raise DeriveError(f"{where}: the key 'space' is {value.strip()}, more than the {limit:g}cm"
                          f"{' per point' if per_point else ''} that fit on a page with the question")
    return Space(cm, per_point)


def read_paper(value, where):
    """``"a4"`` or ``"letter"`` (any case), or DeriveError."""
    paper = value.strip().lower() if isinstance(value, str) else None
    if paper not in PAPERS:
        raise DeriveError(f"{where}: the key 'paper' must be \"a4\" or \"letter\"")
    return paper


def read_working(value, where):
    """``"box"``, ``"lines"`` or ``"blank"``, or DeriveError."""
    working = value.strip().lower() if isinstance(value, str) else None
    if working not in WORKING:
        raise DeriveError(f"{where}: the key 'working' must be \"box\", \"lines\" or \"blank\" "
                          f"(how the room to work looks on the student version)")
    return working


def room(own, default, points):
    """The room to work under one problem, in cm: its own ``space``, else the set's, else
    sized by its points (a problem worth more asks for more work), never more than a page."""
    space = own or default
    worth = UNSCORED_POINTS if points is None else float(points)
    if space is None:
        cm = max(MIN_ROOM_CM, BASE_CM + PER_POINT_CM * worth)
    elif space.per_point:
        cm = space.cm * worth
    else:
        cm = space.cm
    return min(cm, MAX_ROOM_CM)


def length(cm):
    """A length TeX and CSS both read: ``6cm``, ``4.5cm``."""
    return f"{round(cm, 2):g}cm"


def css_string(text):
    """``text`` as the inside of a CSS string: every character but letters, digits and
    spaces escaped, so a title can never close the string or the <style>."""
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch == " ") else f"\\{ord(ch):x} " for ch in str(text))


def css_page_content(words):
    """``Page {page} of {pages}`` as a CSS ``content`` value, the numbers as page counters."""
    import re

    pieces = re.split(r"(\{page\}|\{pages\})", words)
    out = []
    for piece in pieces:
        if piece == "{page}":
            out.append("counter(page)")
        elif piece == "{pages}":
            out.append("counter(pages)")
        elif piece:
            out.append(f'"{css_string(piece)}"')
    return " ".join(out) or '""'
