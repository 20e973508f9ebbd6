"""The mistakes a student is likely to have made, from the step engine run with one rule
broken at one place (:class:`BrokenEngine`): the chain rule without its inner factor at the
k-th chain node, the power rule without its n or without lowering the exponent, the product
rule as a product of derivatives, the quotient rule with + or with its terms swapped, a sign
flipped, a mean's 1/n dropped; and, without the engine, the derivative by another variable
and the expression itself. An answer's values are compared with each candidate's; all that
match are named, most likely first, with where the break was.
"""

import sympy

from derive.engine.rules import Engine
from derive.engine.steps import Step

# Mistake codes, most likely first when several match the same answer.
CODES = (
    "missing_chain_factor",
    "missing_power_coefficient",
    "exponent_not_reduced",
    "product_of_derivatives",
    "quotient_rule_sign",
    "sign_error",
    "missing_mean_factor",
    "wrong_variable",
    "not_differentiated",
    "integrated_instead",
)
PRIORITY = {code: k for k, code in enumerate(CODES)}
_ENGINE_CODES = ("missing_chain_factor", "missing_power_coefficient", "exponent_not_reduced",
                 "product_of_derivatives", "quotient_plus", "quotient_swapped", "sign_error",
                 "missing_mean_factor")

# --------------------------------------------------------------------------- broken engine


class BrokenEngine(Engine):
    """The step engine with one rule broken at its ``target``-th use (1-based).

    With ``target == 0`` nothing is broken: the run counts the places the rule could break
    (``self.seen``). ``self.where`` says, in words, where the break was made.
    """

    def __init__(self, expr, wrt, mistake, target=0):
        super().__init__(expr, wrt)
        self.mistake = mistake
        self.target = target
        self.seen = 0
        self.where = None

    def _hit(self):
        self.seen += 1
        return self.seen == self.target

    @staticmethod
    def _t(expr):
        from derive.render.printing import to_text

        return to_text(expr)

    def chain(self, expr, x, inner, outer_of):
        step = super().chain(expr, x, inner, outer_of)
        if self.mistake == "missing_chain_factor" and step.substeps[1].derivative != 1 and self._hit():
            u, meaning = step.intermediate
            self.where = f"in the chain rule at {self._t(u)} = {self._t(meaning)}"
            return Step("chain", expr, x, step.detail["outer_at_inner"], step.substeps,
                        intermediate=step.intermediate, detail=step.detail)
        return step

    def power(self, expr, x):
        if self.mistake in ("missing_power_coefficient", "exponent_not_reduced") and self._hit():
            n = expr.exp
            if self.mistake == "missing_power_coefficient":
                result, said = x ** (n - 1), "dropping the factor n"
            else:
                result, said = n * x**n, "keeping the exponent n instead of n − 1"
            self.where = f"in the power rule for {self._t(expr)} ({said})"
            return Step("power", expr, x, result, detail={"n": n})
        return super().power(expr, x)

    def product(self, expr, x, u, v):
        if self.mistake == "product_of_derivatives":
            du, dv = self.differentiate(u, x), self.differentiate(v, x)
            if self._hit():
                self.where = f"in the product rule for ({self._t(u)})·({self._t(v)})"
                return Step("product", expr, x, du.derivative * dv.derivative, [du, dv], detail={"u": u, "v": v})
            return Step("product", expr, x, du.derivative * v + u * dv.derivative, [du, dv], detail={"u": u, "v": v})
        return super().product(expr, x, u, v)

    def quotient(self, expr, x, u, v):
        if self.mistake in ("quotient_plus", "quotient_swapped"):
            du, dv = self.differentiate(u, x), self.differentiate(v, x)
            if self._hit():
                where = f"in the quotient rule for ({self._t(u)})/({self._t(v)})"
                if self.mistake == "quotient_plus":
                    result = (du.derivative * v + u * dv.derivative) / v**2
                    self.where = where + ", with + instead of −"
                else:
                    result = (u * dv.derivative - du.derivative * v) / v**2
                    self.where = where + ", with the terms of the numerator swapped"
            else:
                result = (du.derivative * v - u * dv.derivative) / v**2
            return Step("quotient", expr, x, result, [du, dv], detail={"u": u, "v": v})
        return super().quotient(expr, x, u, v)

    def sum_rule(self, expr, x):
        if self.mistake != "sign_error":
            return super().sum_rule(expr, x)
        subs = [self.differentiate(term, x) for term in expr.args]
        parts = []
        for term, sub in zip(expr.args, subs):
            d = sub.derivative
            if d != 0 and self._hit():
                self.where = f"in the sign of the derivative of the term {self._t(term)}"
                d = -d
            parts.append(d)
        return Step("sum", expr, x, sympy.Add(*parts), subs)

    def function(self, expr, x):
        step = super().function(expr, x)
        if (self.mistake == "sign_error" and step.rule in ("trig", "inverse_trig", "hyperbolic")
                and step.derivative.could_extract_minus_sign() and self._hit()):
            self.where = f"in the derivative of {expr.func.__name__}, whose sign is negative"
            return Step(step.rule, expr, x, -step.derivative, detail=step.detail)
        return step

    def product_like(self, expr, x):
        if self.mistake == "missing_mean_factor":
            constants = [f for f in expr.args if not self.depends(f, x)]
            reciprocal = [f for f in constants if (f.is_Pow and f.exp.is_negative)
                          or (f.is_Rational and f.q != 1)]
            if reciprocal:
                rest = sympy.Mul(*[f for f in expr.args if self.depends(f, x)])
                sub = self.differentiate(rest, x)
                c = sympy.Mul(*constants)
                if self._hit():
                    kept = sympy.Mul(*[f for f in constants if f not in reciprocal])
                    for f in reciprocal:
                        if f.is_Rational:
                            kept *= f.p
                    dropped = sympy.Mul(*[f for f in reciprocal])
                    self.where = f"dropping the constant factor {self._t(dropped)}"
                    c = kept
                return Step("constant_multiple", expr, x, c * sub.derivative, [sub],
                            detail={"constant": c, "factor": rest})
        return super().product_like(expr, x)


def enumerate_mistakes(expr, wrt, derivative):
    """Yield ``(code, where, wrong derivative)`` for each single broken rule."""
    code_of = {"quotient_plus": "quotient_rule_sign", "quotient_swapped": "quotient_rule_sign"}
    for mistake in _ENGINE_CODES:
        counter = BrokenEngine(expr, wrt, mistake)
        counter.differentiate(expr, wrt)
        for k in range(1, counter.seen + 1):
            engine = BrokenEngine(expr, wrt, mistake, k)
            wrong = engine.differentiate(expr, wrt).derivative
            yield code_of.get(mistake, mistake), engine.where or "", wrong
        if mistake == "sign_error":
            yield "sign_error", "in the sign of the whole derivative", -derivative
    from derive.render.printing import to_text

    for other in sorted(expr.free_symbols - {wrt}, key=str):
        wrong = Engine(expr, other).differentiate(expr, other).derivative
        yield "wrong_variable", f"with respect to {to_text(other)} instead of {to_text(wrt)}", wrong
    yield "not_differentiated", "the expression itself, not its derivative", expr
    # integrated_instead is decided per answer, by differentiating the answer back
    # (Problem._is_antiderivative): no sympy.integrate here.


