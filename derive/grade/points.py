"""Where a problem is checked: points inside its own domain, on both sides of every sign
and every kink, at the scales that reach it.

A problem's domain is found by trying points, not by solving inequalities: each try draws
every variable at a scale from a ladder (1/8 up to 10,000), with either sign, as a rational
that is never a whole number (whole numbers hit special values such as log 1 = 0), plus
points on both sides of, and close to, the places where a kink or a domain boundary of a
one-variable argument changes sign (found by scanning the argument). A try is kept when the
expression and its derivative are both defined (real and finite) there. From the kept pool
the problem's own points are chosen to cover, in turn, each sign of each variable, each
piece of each kink (|u|, max, min, sign, Piecewise) and each scale; an answer adds a few
more from the pool, chosen by a seed of its own, and one point on each piece of its own
kinks, so that answers do not share one set of blind spots.
"""

import random
from fractions import Fraction

import sympy

POOL = 24  # defined points kept per problem
TRIES = 600  # draws tried to fill the pool
BASE = 8  # points every answer is compared at
EXTRA = 3  # points an answer adds, by its own seed
SCALES = (Fraction(1, 8), Fraction(1, 2), Fraction(1), Fraction(2), Fraction(5), Fraction(20), Fraction(100),
          Fraction(1000), Fraction(10000))
_PRIMES = (7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97)
_SCAN = 160  # values scanned per one-variable argument when looking for its sign changes
_KINK_TYPES = (sympy.Abs, sympy.sign, sympy.Heaviside, sympy.Max, sympy.Min, sympy.Piecewise)


def _rational(rng, magnitude):
    """A random rational of about ``magnitude`` that is not a whole number."""
    q = rng.choice(_PRIMES)
    while True:
        p = max(1, round(float(magnitude) * q * rng.uniform(0.15, 1.0)))
        if p % q:
            return Fraction(p, q)
        p += 1
        if p % q:
            return Fraction(p, q)


def boundaries(expr):
    """Arguments whose sign changes mark a kink or the edge of the domain, as expressions
    that change sign there: the u of |u|, log u, √u; u − 1 and u + 1 of asin u; …"""
    found = []
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, (sympy.Abs, sympy.sign, sympy.Heaviside, sympy.log, sympy.acosh, sympy.asinh)):
            found.append(node.args[0] - (1 if isinstance(node, sympy.acosh) else 0))
        elif isinstance(node, (sympy.asin, sympy.acos, sympy.atanh, sympy.asec, sympy.acsc, sympy.acoth)):
            found.extend((node.args[0] - 1, node.args[0] + 1))
        elif isinstance(node, (sympy.Max, sympy.Min)):
            args = node.args
            found.extend(a - b for i, a in enumerate(args) for b in args[i + 1:])
        elif isinstance(node, sympy.core.relational.Relational):
            found.append(node.lhs - node.rhs)
        elif node.is_Pow and node.exp.is_number and (node.exp.is_negative or not node.exp.is_integer):
            found.append(node.base)
    return found


def has_kinks(expr):
    return any(isinstance(n, _KINK_TYPES) for n in sympy.preorder_traversal(expr))


def anchors(expr, symbols):
    """{symbol: [values near which an argument of one variable changes sign]}."""
    from derive.grade.values import NotSupported, compile_expression

    out = {}
    ladder = sorted({float(s) * f for s in SCALES for f in (0.2, 0.35, 0.5, 0.7, 1.0)})
    grid = [-v for v in reversed(ladder)] + [0.0] + ladder
    for argument in boundaries(expr):
        free = argument.free_symbols
        if len(free) != 1:
            continue
        (s,) = free
        if s not in symbols:
            continue
        try:
            compiled = compile_expression(argument)
        except NotSupported:
            continue
        previous = None
        for value in grid[: _SCAN]:
            v, _ = compiled.floats({s: value})
            if v is None:
                previous = None
                continue
            if previous is not None and (previous[1] < 0) != (v < 0):
                low, high = previous[0], value
                for _ in range(40):  # bisection to the sign change
                    middle = (low + high) / 2
                    m, _ = compiled.floats({s: middle})
                    if m is None:
                        break
                    if (m < 0) == (previous[1] < 0):
                        low = middle
                    else:
                        high = middle
                out.setdefault(s, []).append((low + high) / 2)
            previous = (value, v)
    return out


class Pool:
    """The defined points of one problem, and the choice of points for each answer."""

    def __init__(self, symbols, defined, seed, kinked=(), near=None):
        """``defined(point) -> (ok, pieces)`` says whether the problem is defined there and
        which pieces of its kinks the point is on."""
        self.symbols = list(symbols)
        rng = random.Random(seed)
        near = near or {}
        self.points, self.pieces = [], []
        seen = set()
        for attempt in range(TRIES):
            point = {}
            for s in self.symbols:
                if near.get(s) and rng.random() < 0.35:
                    centre = Fraction(near[s][rng.randrange(len(near[s]))]).limit_denominator(10**6)
                    width = max(abs(centre), Fraction(1)) * rng.choice((Fraction(1, 1000), Fraction(1, 50),
                                                                        Fraction(1, 5)))
                    value = centre + rng.choice((-1, 1)) * _rational(rng, width)
                else:
                    scale = SCALES[attempt % len(SCALES)] if rng.random() < 0.5 else rng.choice(SCALES)
                    value = _rational(rng, scale) * rng.choice((-1, 1))
                point[s] = value
            key = tuple(point[s] for s in self.symbols)
            if key in seen:
                continue
            seen.add(key)
            ok, pieces = defined(point)
            if not ok:
                continue
            self.points.append(point)
            self.pieces.append(pieces)
            if len(self.points) >= POOL:
                break
        self.base = self._cover(range(len(self.points)), BASE, rng)

    def _signature(self, k):
        point = self.points[k]
        return tuple(point[s] > 0 for s in self.symbols)

    def _cover(self, candidates, count, rng):
        """Indices covering each sign of each variable and each piece, then the rest."""
        order = list(candidates)
        rng.shuffle(order)
        chosen = []
        signs, pieces = set(), set()
        for k in order:  # first: every sign of every variable, every piece
            new_signs = {(i, v) for i, v in enumerate(self._signature(k))} - signs
            new_piece = self.pieces[k] not in pieces
            if new_signs or new_piece:
                chosen.append(k)
                signs |= new_signs
                pieces.add(self.pieces[k])
        for k in order:  # then: fill up, preferring points of other scales
            if len(chosen) >= count:
                break
            if k not in chosen:
                chosen.append(k)
        return chosen

    def for_answer(self, seed, extra_pieces=None):
        """The base points plus EXTRA drawn by the answer's own seed, plus one point per
        piece of the answer's own kinks (``extra_pieces(k)`` gives them, when it has any)."""
        rng = random.Random(seed)
        chosen = list(self.base)
        rest = [k for k in range(len(self.points)) if k not in chosen]
        rng.shuffle(rest)
        chosen.extend(rest[:EXTRA])
        if extra_pieces is not None:
            seen = {extra_pieces(k) for k in chosen}
            for k in rest[EXTRA:]:
                signature = extra_pieces(k)
                if signature not in seen:
                    seen.add(signature)
                    chosen.append(k)
        return chosen
