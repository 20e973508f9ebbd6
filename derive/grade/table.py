"""Class files in and out: CSV read as a stream, every cell bounded, written so that a
spreadsheet shows what a student typed instead of running it.

Reading (:func:`read_table`)
  * The file is decoded as UTF-8 (a BOM is dropped); a file that is not UTF-8 is refused with
    the line where it stops being UTF-8 (a cp1252 class list would otherwise turn José into
    Jos�), unless ``encoding`` names its codec.
  * Records are split by a small scanner of our own (RFC 4180: commas, double quotes with
    "" inside, records ending in CRLF, LF or a bare CR outside quotes), one record at a
    time, so memory does not grow with the file.
  * A cell over ``MAX_CELL`` (4 MiB) is not kept: its row comes back marked invalid, and the
    rows after it are read as usual. A row with more cells than the header is invalid (its
    cells would land under the wrong columns); a shorter one is padded with empty cells.

Writing (:class:`TableWriter`)
  * Every record ends in CRLF and any cell holding a CR, an LF, a comma or a quote is quoted,
    so a bare CR can never split a row in two when the file is read back.
  * Formula guard (on unless turned off): a cell that starts with ``= + - @``, a tab or a CR is
    written with a leading ``'``, the way spreadsheets expect, so ``=HYPERLINK(…)`` typed as
    an answer is shown, not run. ``--no-formula-guard`` turns it off for machine consumers.
"""

import codecs
import csv
import re
from dataclasses import dataclass

from derive.errors import DeriveError

MAX_CELL = 4 << 20  # characters in one cell
MAX_HEADER_CELLS = 200
_CHUNK = 1 << 16
_SPECIAL = re.compile(r'[",\r\n]')
_QUOTE_OR_END = re.compile(r'"')
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Record:
    """One data row: its 0-based index among the data rows, the first physical line it
    starts on, its cells (padded to the header's width), and why it is invalid, if it is."""

    index: int
    line: int
    cells: list
    problem: str | None = None


def _decoder(path, encoding):
    name = encoding or "utf-8"
    try:
        codecs.lookup(name)
    except LookupError:
        raise DeriveError(f"--encoding {name[:40]!r} is not a text encoding Python knows; try utf-8, cp1252 or "
                          "latin-1") from None
    return codecs.getincrementaldecoder(name)(errors="strict"), name


def _chunks(path, encoding):
    """Decoded text of the file, chunk by chunk; a clear error where it stops decoding."""
    decoder, name = _decoder(path, encoding)
    line = 1
    first = True
    try:
        handle = open(path, "rb")
    except OSError as error:
        raise DeriveError(f"cannot read {path}: {error.strerror}") from None
    with handle:
        while True:
            raw = handle.read(_CHUNK)
            final = not raw
            try:
                text = decoder.decode(raw, final=final)
            except UnicodeDecodeError as error:
                bad = raw[error.start:error.start + 1].hex().upper()
                line += raw[: error.start].count(b"\n")
                hint = ("; if it was saved by Excel on Windows, give --encoding cp1252"
                        if encoding is None else "")
                raise DeriveError(f"{path} is not {name} text: byte 0x{bad} on line {line} cannot be read as "
                                  f"{name}{hint}") from None
            if first and text.startswith("\ufeff"):
                text = text[1:]
            first = False
            line += raw.count(b"\n")
            if text:
                yield text
            if final:
                return


def _records(path, encoding):
    """(first line, cells, oversized) for each record of the file, one at a time."""
    cells, cell, size = [], [], 0
    oversized = False
    quoted = False  # inside a quoted cell
    after_quote = False  # a quote inside a quoted cell: the end, or the first of ""
    started = False  # the record has any content
    line = start_line = 1
    pending_cr = False

    def add(text):
        nonlocal size, oversized
        if oversized:
            return
        size += len(text)
        if size > MAX_CELL:
            oversized = True
            cell.clear()
        else:
            cell.append(text)

    def end_cell():
        nonlocal size
        cells.append(None if oversized and size > MAX_CELL else "".join(cell))
        cell.clear()
        size = 0

    for text in _chunks(path, encoding):
        i, n = 0, len(text)
        while i < n:
            if pending_cr:  # a CR outside quotes ended the record; swallow the LF of CRLF
                pending_cr = False
                if text[i] == "\n":
                    i += 1
                    continue
            if quoted:
                if after_quote:
                    after_quote = False
                    if text[i] == '"':
                        add('"')
                        i += 1
                        continue
                    quoted = False  # the quote closed the cell; fall through to what follows
                    continue
                match = _QUOTE_OR_END.search(text, i)
                if match is None:
                    add(text[i:])
                    line += text.count("\n", i)
                    i = n
                    continue
                add(text[i:match.start()])
                line += text.count("\n", i, match.start())
                after_quote = True
                i = match.end()
                continue
            match = _SPECIAL.search(text, i)
            if match is None:
                add(text[i:])
                started = True
                i = n
                continue
            if match.start() > i:
                add(text[i:match.start()])
                started = True
            c = match.group(0)
            i = match.end()
            if c == '"':
                if not cell and not size:
                    quoted = True  # a quote opens a cell only at its start
                else:
                    add('"')
                started = True
            elif c == ",":
                end_cell()
                started = True
            else:  # CR or LF outside quotes: the record ends
                if started or cells:
                    end_cell()
                    yield start_line, cells, oversized
                cells, started, oversized = [], False, False
                line += c == "\n"
                if c == "\r":
                    line += 1
                    pending_cr = True
                start_line = line
    if quoted and after_quote:
        quoted = False
    if started or cells or cell:
        end_cell()
        yield start_line, cells, oversized


def read_table(path, required, *, encoding=None):
    """The header (names as written, names lowered) and a generator of :class:`Record`.

    ``required`` are the column names that must be there (any case, any order)."""
    records = _records(path, encoding)
    first = next(records, None)
    if first is None:
        raise DeriveError(f"{path} is empty: it needs a header row with {', '.join(required)}")
    _, header, oversized = first
    if oversized or len(header) > MAX_HEADER_CELLS:
        raise DeriveError(f"{path}: the header row is too long (at most {MAX_HEADER_CELLS} columns)")
    names = [(h or "").strip().lower() for h in header]
    missing = [c for c in required if c not in names]
    if missing:
        raise DeriveError(f"{path} has no column {', '.join(missing)}: the header needs {', '.join(required)}")

    def rows():
        index = 0
        width = len(header)
        for line, cells, oversized in records:
            if not any((c or "").strip() for c in cells) and not oversized:
                continue  # a blank line
            problem = None
            if oversized:
                problem = f"a cell on line {line} is larger than {MAX_CELL >> 20} MiB"
                cells = ["" if c is None else c for c in cells]
            elif len(cells) > width:
                problem = (f"line {line} has {len(cells)} cells but the header has {width}: a comma too many "
                           "would put its answer under the wrong column")
            cells = (cells + [""] * width)[:width] if len(cells) != width else cells
            yield Record(index, line, cells, problem)
            index += 1

    return list(header), names, rows()


def guard(cell):
    """A cell a spreadsheet would run as a formula, written with a leading ' instead."""
    if cell and cell[0] in FORMULA_STARTS:
        return "'" + cell
    return cell


class TableWriter:
    """CSV records with CRLF endings, quoting every cell that needs it; optionally guarded."""

    def __init__(self, handle, formula_guard=True):
        self.handle = handle
        self.formula_guard = formula_guard
        self._writer = csv.writer(handle, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)

    def write(self, cells):
        if self.formula_guard:
            cells = [guard(str(c)) for c in cells]
        self._writer.writerow(cells)


def windows(rows, size):
    """The rows in lists of ``size`` (the last may be shorter): what is checked together."""
    batch = []
    for record in rows:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
