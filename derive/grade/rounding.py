"""The ``rounded`` decimals policy: is each decimal the exact value correctly rounded?

Each decimal the answer typed becomes an unknown c, allowed to move by at most half a unit
of its last digit (0.3333 may be anything in [0.33325, 0.33335]). The unknowns are fitted
so that the answer equals the derivative at the problem's points (Gauss–Newton in units of
those half units, at 50 digits). The answer is right when the fit is exact (the residual is
rounding at every point) and every unknown stays inside its half unit; the fitted values
are then recognised as simple fractions where they are (1/3, 2, −1/2) and the answer with
those fractions is confirmed exactly, as any exact answer is. A value that is no simple
fraction (ln 2 = 0.693147…) is accepted on the fit alone, whose residual is checked at
every point at 50 digits.
"""

from fractions import Fraction

import mpmath
import sympy

from derive.grade.decimals import Literal, match_literal
from derive.grade.values import NotSupported, compile_expression

DIGITS = 50
ITERATIONS = 12
MAX_LITERALS = 8
DENOMINATOR = 10**6  # fitted values are recognised as fractions with denominators up to this


def _literal_for(f, typed):
    value = sympy.Rational(f)
    exact = Fraction(int(value.p), int(value.q))
    found = match_literal(exact, typed)
    if found is not None:
        return Literal(("-" if exact < 0 else "") + found.text, exact, found.half_unit)
    # A decimal SymPy made by combining typed ones (2.0*0.5 is 1.0): exact to its 15 digits.
    return Literal(str(f), Fraction(sympy.Rational(str(f))), Fraction(1, 2 * 10**15) * max(abs(exact), 1))


def solve_decimals(problem, expr, floats, typed, answer):
    """(outcome, note) under the rounded policy, for an answer with the Floats ``floats``."""
    from derive.grade.answer import _Outcome, _scale

    if len(floats) > MAX_LITERALS:
        return _Outcome("uncertain", reason=f"the answer has more than {MAX_LITERALS} decimals"), ""
    found = [_literal_for(f, typed) for f in floats]
    unknowns = [sympy.Dummy(f"c{k}") for k in range(len(floats))]
    fitted = expr.xreplace(dict(zip(floats, unknowns)))
    try:
        compiled = compile_expression(fitted)
        as_typed = compile_expression(expr)
    except NotSupported as error:
        return _Outcome("uncertain", reason=str(error)), ""
    indices = problem._indices(as_typed, answer)
    saved = mpmath.mp.prec
    try:
        mpmath.mp.dps = DIGITS + 10
        c = [mpmath.mpf(lit.value.numerator) / lit.value.denominator for lit in found]  # as typed
        h = [mpmath.mpf(lit.half_unit.numerator) / lit.half_unit.denominator for lit in found]
        rows = []
        for k in indices:
            d, d_trace = problem.derivative_mp(k, DIGITS)
            a, a_trace = as_typed.mp(problem.pool.points[k], DIGITS)
            if d is None:
                continue
            if a is None:
                return _Outcome("undefined", k, d, None), ""
            rows.append((k, d, _scale((a, a_trace), (d, d_trace))))
        if not rows:
            return _Outcome("uncertain", reason="no point to compare at"), ""

        def residuals(values):
            out = []
            for k, d, scale in rows:
                point = dict(problem.pool.points[k])
                point.update(zip(unknowns, values))
                a, _ = compiled.mp(point, DIGITS)
                if a is None:
                    return None
                out.append((a - d) / scale)
            return out

        r = residuals(c)
        for _ in range(ITERATIONS):
            if r is None or max(abs(v) for v in r) <= mpmath.mpf(10) ** -(DIGITS - 15):
                break
            jacobian = []
            for i in range(len(c)):
                step = h[i] * mpmath.mpf(10) ** -12
                up, down = list(c), list(c)
                up[i] += step
                down[i] -= step
                r_up, r_down = residuals(up), residuals(down)
                if r_up is None or r_down is None:
                    r = None
                    break
                jacobian.append([(p - q) / (2 * step) * h[i] for p, q in zip(r_up, r_down)])
            if r is None:
                break
            n = len(c)
            normal = mpmath.matrix(n, n)
            right = mpmath.matrix(n, 1)
            for i in range(n):
                for j in range(n):
                    normal[i, j] = mpmath.fsum(a * b for a, b in zip(jacobian[i], jacobian[j]))
                right[i] = -mpmath.fsum(a * b for a, b in zip(jacobian[i], r))
            damping = max(mpmath.mpf(10) ** -40, max(abs(normal[i, i]) for i in range(n)) * mpmath.mpf(10) ** -30)
            for i in range(n):
                normal[i, i] += damping
            try:
                delta = mpmath.lu_solve(normal, right)
            except ZeroDivisionError:
                break
            c = [c[i] + delta[i] * h[i] for i in range(n)]
            r = residuals(c)
        exact_fit = r is not None and max(abs(v) for v in r) <= mpmath.mpf(10) ** -(DIGITS - 20)
        inside = exact_fit and all(abs(c[i] - found[i].value.numerator / mpmath.mpf(found[i].value.denominator))
                                   <= h[i] * (1 + mpmath.mpf(10) ** -12) for i in range(len(c)))
        exact_values = [_recognise(v) for v in c] if exact_fit else []
    finally:
        mpmath.mp.prec = saved
    if not exact_fit:
        return _difference(problem, as_typed, rows), _note_no_fit(found)
    if not inside:
        return _difference(problem, as_typed, rows), _note_outside(found, c, exact_values)
    note = _note_inside(found, c, exact_values)
    if all(v is not None for v in exact_values):
        exact = expr.xreplace({f: sympy.Rational(v.numerator, v.denominator) for f, v in zip(floats, exact_values)})
        try:
            exact_compiled = compile_expression(exact)
        except NotSupported as error:
            return _Outcome("uncertain", reason=str(error)), note
        return problem._compare(exact, exact_compiled, answer), note
    return _Outcome("equal"), note


def _recognise(value):
    """value as a simple fraction when it is one (to 30 digits), else None."""
    guess = Fraction(mpmath.nstr(value, 45)).limit_denominator(DENOMINATOR)
    if abs(value - mpmath.mpf(guess.numerator) / guess.denominator) <= mpmath.mpf(10) ** -30 * max(1, abs(value)):
        return guess
    return None


def _difference(problem, as_typed, rows):
    """The point where the answer as typed is furthest from the derivative."""
    from derive.grade.answer import _Outcome

    best = None
    for k, d, scale in rows:
        a, _ = as_typed.mp(problem.pool.points[k], DIGITS)
        gap = abs(a - d) / scale
        if best is None or gap > best[0]:
            best = (gap, k, d, a)
    _, k, d, a = best
    return _Outcome("different", k, d, a)


def _shown(value, exact):
    if exact is not None:
        return str(exact.numerator) if exact.denominator == 1 else f"{exact.numerator}/{exact.denominator}"
    return mpmath.nstr(value, 12)


def _note_inside(found, values, exact):
    parts = [f"{lit.text} is {_shown(v, e)} correctly rounded" for lit, v, e in zip(found, values, exact)]
    return "; ".join(parts)


def _note_outside(found, values, exact):
    parts = []
    for lit, v, e in zip(found, values, exact):
        if abs(v - mpmath.mpf(lit.value.numerator) / lit.value.denominator) > mpmath.mpf(lit.half_unit.numerator) / lit.half_unit.denominator:
            parts.append(f"{lit.text} would have to stand for {_shown(v, e)}, which does not round to {lit.text}")
    return "; ".join(parts)


def _note_no_fit(found):
    shown = ", ".join(lit.text for lit in found)
    return f"no exact values for {shown} make the answer equal to the derivative"
