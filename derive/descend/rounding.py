"""The one rounding rule of a document: how every number of a descent is written.

Every computed number is rounded to ``digits`` significant digits (trailing zeros dropped,
as ``%g`` does, except in a scientific mantissa, which shows them all: 2.000×10⁵). A number alone uses plain notation from 10⁻⁴ up to 10^digits and
scientific outside it; a column of numbers uses one notation for all its cells (scientific
as soon as one cell needs it), so ``0.000172`` and ``−1.748×10⁻⁵`` never share a column.
A column's cells come split at the decimal point (``whole``, ``tail``), so each format can
align them on it. Settings the user typed (the learning rate, the tolerance, λ) are not
rounded: they are written as given (``0.05``, ``10⁻¹⁰``).

>>> n = Numbers(4)
>>> n.one(-7.579160, "text"), n.one(1.7478e-5, "text"), n.setting(1e-10, "text")
('−7.579', '1.748×10⁻⁵', '10⁻¹⁰')
>>> [c.whole + c.tail for c in n.column([11.19, 0.0000171996], "text")]
['1.119×10¹', '1.720×10⁻⁵']
"""

import math
import re
from dataclasses import dataclass
from decimal import Decimal

DEFAULT_DIGITS = 4
MIN_DIGITS, MAX_DIGITS = 1, 15
STYLES = ("text", "latex", "html")

_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


@dataclass(frozen=True)
class Rounded:
    """A number rounded to its significant digits: ``−`` sign, digits of the mantissa and the
    power of ten of its first digit (``−1.748×10⁻⁵``: negative, "1748", −5)."""

    negative: bool
    digits: str  # the significant digits, trailing zeros dropped ("0" for zero)
    exponent: int  # the power of ten of the first digit
    special: str | None = None  # "inf" or "nan"


@dataclass(frozen=True)
class Cell:
    """A number of a column split at its decimal point: ``whole`` (sign and the digits before
    the point), ``frac`` (the point and the digits after it, or empty) and ``power`` (``×10⁻⁵``
    in a scientific column, else empty). The widths are the column's widest of each part,
    in characters a reader sees, for formats that pad."""

    whole: str
    frac: str
    power: str
    whole_width: int = 0
    frac_width: int = 0
    power_width: int = 0

    @property
    def tail(self):
        """Everything from the decimal point on."""
        return self.frac + self.power

    @property
    def tail_width(self):
        return self.frac_width + self.power_width

    @property
    def text(self):
        return self.whole + self.frac + self.power

    @property
    def phantom(self):
        """What is missing after ``frac`` and after ``power`` to be as wide as the column's
        widest, as digits: ``("00", "0")`` (a format that can typeset invisible digits pads with it)."""
        missing = self.frac_width - _visible(self.frac)
        frac = ("." + "0" * (missing - 1) if not self.frac else "0" * missing) if missing > 0 else ""
        return frac, "0" * max(0, self.power_width - _visible(self.power))


def check_digits(digits):
    """``digits`` as an int within the range a reader can use, or ValueError naming it."""
    if isinstance(digits, bool) or not isinstance(digits, int) or not MIN_DIGITS <= digits <= MAX_DIGITS:
        raise ValueError(f"the number of significant digits must be a whole number from {MIN_DIGITS} to "
                         f"{MAX_DIGITS}, not {digits!r}")
    return digits


def round_to(value, digits=None):
    """``value`` rounded to ``digits`` significant digits (``None``: the shortest digits that
    read back as the same float, as ``repr`` writes it), as a ``Rounded``."""
    value = float(value)
    if math.isnan(value):
        return Rounded(False, "", 0, "nan")
    if math.isinf(value):
        return Rounded(value < 0, "", 0, "inf")
    if value == 0:
        return Rounded(False, "0", 0)  # −0 is written 0
    if digits is None:
        sign, figures, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
        text = "".join(map(str, figures))
        return Rounded(value < 0, text, exponent + len(text) - 1)
    mantissa, _, exponent = f"{abs(value):.{digits - 1}e}".partition("e")
    return Rounded(value < 0, mantissa.replace(".", "").rstrip("0") or "0", int(exponent))


def _needs_scientific(r, digits):
    """``%g``'s rule: scientific below 10⁻⁴ and from 10^digits up."""
    return r.special is None and r.digits != "0" and (r.exponent < -4 or r.exponent >= max(digits, 1))


class Numbers:
    """Writes numbers by one rule (``digits`` significant digits) in a style: ``"text"``
    (Unicode: −, ×10⁻⁵), ``"latex"`` (math mode, no ``$``) or ``"html"`` (−, ×10<sup>−5</sup>)."""

    def __init__(self, digits=DEFAULT_DIGITS):
        self.digits = check_digits(digits)

    # -- one number ------------------------------------------------------------------------
    def one(self, value, style="text"):
        """A computed number in a sentence: rounded, plain or scientific by its size."""
        if value is None:
            return "—"
        r = round_to(value, self.digits)
        return "".join(self._split(r, _needs_scientific(r, self.digits), style))

    def setting(self, value, style="text"):
        """A number the user set (learning rate, tolerance, λ): as given (the shortest digits
        that mean the same float), and a power of ten as ``10⁻¹⁰`` rather than ``1×10⁻¹⁰``."""
        if isinstance(value, int) and not isinstance(value, bool):
            return self._minus(str(value), style)
        r = round_to(value)
        scientific = _needs_scientific(r, 6)
        if scientific and r.digits == "1":
            return self._power(r.negative, r.exponent, style, bare=True)
        return "".join(self._split(r, scientific, style, pad=False))

    # -- a column ----------------------------------------------------------------------------
    def column(self, values, style="text"):
        """The numbers of one table column: one notation for all, split at the decimal point."""
        rounded = [round_to(v, self.digits) for v in values]
        scientific = any(_needs_scientific(r, self.digits) for r in rounded)
        parts = [self._split(r, scientific, style) for r in rounded]
        widths = [max((_visible(part[k]) for part in parts), default=0) for k in range(3)]
        return [Cell(*part, *widths) for part in parts]

    # -- the pieces ------------------------------------------------------------------------
    def _split(self, r, scientific, style, pad=True):
        """``(whole, frac, power)``: ``("−1", ".748", "×10⁻⁵")``."""
        if r.special == "nan":
            return "NaN", "", ""
        if r.special == "inf":
            return self._minus("-" if r.negative else "", style) + (r"\infty" if style == "latex" else "∞"), "", ""
        sign = "-" if r.negative else ""
        digits, exponent = r.digits, r.exponent
        if digits == "0":
            return "0", "", ""
        if scientific and pad:  # the mantissa keeps its zeros, so a column's ×10ᵏ line up: 2.000×10⁵
            digits = digits.ljust(self.digits, "0")
        if scientific:
            frac = ("." + digits[1:]) if len(digits) > 1 else ""
            return self._minus(sign + digits[0], style), frac, self._power(False, exponent, style)
        if exponent >= len(digits) - 1:  # a whole number: 1250
            return self._minus(sign + digits + "0" * (exponent - len(digits) + 1), style), "", ""
        if exponent >= 0:
            return self._minus(sign + digits[:exponent + 1], style), "." + digits[exponent + 1:], ""
        return self._minus(sign + "0", style), "." + "0" * (-exponent - 1) + digits, ""

    def _power(self, negative, exponent, style, bare=False):
        """``×10⁻⁵`` (or ``10⁻⁵`` alone when ``bare``)."""
        lead = "" if bare else {"latex": r"\times ", "text": "×", "html": "×"}[style]
        sign = "−" if negative else ""
        if style == "latex":
            return ("-" if negative else "") + lead + "10^{%d}" % exponent
        if style == "html":
            return sign + lead + "10<sup>" + str(exponent).replace("-", "−") + "</sup>"
        return sign + lead + "10" + str(exponent).translate(_SUPERSCRIPT)

    @staticmethod
    def _minus(text, style):
        return text if style == "latex" else text.replace("-", "−")


def _visible(text):
    """How many characters a reader sees (the markup of HTML and LaTeX not counted)."""
    text = re.sub(r"<[^>]+>", "", text)
    text = text.replace(r"\times ", "×").replace(r"\infty", "∞")
    return len(re.sub(r"[{}^]", "", text))


def fmt_number(v, digits=6, latex=False):
    """One number to ``digits`` significant figures: a Unicode minus and ×10⁻⁵ in text,
    ``\\times 10^{-5}`` in LaTeX. (``Numbers`` is the rule a document uses.)"""
    return Numbers(digits).one(v, "latex" if latex else "text")
