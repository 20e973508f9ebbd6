"""How an answer with decimals is judged: the policy, and the decimals an answer typed.

Three policies, chosen with ``--decimals`` (and per problem in a problem set):

* ``rounded`` (the default): a decimal is right only when it is the exact value correctly
  rounded to the digits typed. ``0.3333`` is right for 1/3 (1/3 rounded to four places is
  0.3333); ``2.000000001`` is not right for 2, nor ``0.99999999`` for 1, nor ``x + 1E-8``
  for x (1E-8 rounds no exact value of the answer's, 0, to one digit). The answer is
  right when one exact value for each decimal, each within half a unit of its last digit,
  makes the answer equal to the derivative.
* ``exact``: a decimal is the exact number it spells (0.3333 is 3333/10000), and the answer
  is compared exactly.
* ``tolerance=R``: the answer is right when its value is within a relative R of the
  derivative's at every point (R from 1e-15 to 0.1).
"""

import re
from dataclasses import dataclass
from fractions import Fraction

from derive.errors import DeriveError

POLICIES = ("exact", "rounded", "tolerance")
DEFAULT = "rounded"
# A decimal as typed: 0.5, .5, 2., 1e-8, 5.1E-2 (not the 2 of 2e, which is 2·e).
_LITERAL = re.compile(r"(?<![A-Za-z_0-9.])((\d*)\.(\d*)|(\d+))(?:[eE]([-+]?\d{1,4}))?(?![0-9])")


@dataclass(frozen=True)
class Decimals:
    """A decimals policy: ``Decimals.parse("tolerance=1e-6")``."""

    policy: str = DEFAULT
    tolerance: float | None = None

    @classmethod
    def parse(cls, text):
        if isinstance(text, Decimals):
            return text
        if text is None:
            return cls()
        word = str(text).strip().lower().replace(" ", "")
        if word in ("exact", "rounded"):
            return cls(word)
        if word.startswith("tolerance="):
            try:
                value = float(word.partition("=")[2])
            except ValueError:
                value = None
            if value is None or not 1e-15 <= value <= 0.1:
                raise DeriveError(f"--decimals tolerance must be a number from 1e-15 to 0.1, as in "
                                  f"tolerance=1e-6, not {str(text)[:40]!r}")
            return cls("tolerance", value)
        raise DeriveError(f"--decimals is exact, rounded or tolerance=R (such as tolerance=1e-6), "
                          f"not {str(text)[:40]!r}")

    def __str__(self):
        return f"tolerance={self.tolerance:g}" if self.policy == "tolerance" else self.policy


@dataclass(frozen=True)
class Literal:
    """One decimal as typed: its text, its exact value and half a unit of its last digit."""

    text: str
    value: Fraction
    half_unit: Fraction


def literals(text):
    """The decimals typed in ``text`` (numbers with a point or an exponent), in order."""
    return [literal for literal, _, _ in literal_spans(text)]


def literal_spans(text):
    """(Literal, start, end) for each decimal typed in ``text``."""
    if not isinstance(text, str):
        return []
    found = []
    for match in _LITERAL.finditer(text):
        whole, places, integer, exponent = match.group(2), match.group(3), match.group(4), match.group(5)
        if integer is not None and exponent is None:
            continue  # a whole number is exact
        if integer is not None:
            digits, fraction = integer, ""
        else:
            digits, fraction = (whole or "0"), places or ""
        shift = int(exponent) if exponent else 0
        mantissa = Fraction(int(digits + fraction or "0"), 10 ** len(fraction))
        scale = Fraction(10) ** shift
        literal = Literal(match.group(0), mantissa * scale, Fraction(1, 2) * Fraction(1, 10 ** len(fraction)) * scale)
        found.append((literal, match.start(), match.end()))
    return found


def match_literal(value, typed):
    """The typed literal an answer's Float stands for (the closest one), or None."""
    best, gap = None, None
    for literal in typed:
        g = abs(abs(Fraction(value)) - literal.value)  # typed literals carry no sign
        if gap is None or g < gap:
            best, gap = literal, g
    if best is None or gap > abs(best.value) * Fraction(1, 10**12) + Fraction(1, 10**300):
        return None
    return best
