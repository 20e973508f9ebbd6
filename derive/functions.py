"""Functions learners meet that SymPy has no class for (the logistic sigmoid)."""

import sympy


class sigmoid(sympy.Function):
    """The logistic function σ(x) = 1/(1 + e^(−x)), with σ′(x) = σ(x)(1 − σ(x))."""

    @classmethod
    def eval(cls, arg):
        if arg.is_zero:
            return sympy.Rational(1, 2)
        return None

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, arg, **kwargs):
        return 1 / (1 + sympy.exp(-arg))

    def _eval_evalf(self, prec):
        return (1 / (1 + sympy.exp(-self.args[0])))._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_positive(self):
        return self.args[0].is_real

    def _latex(self, printer, exp=None):
        inner = printer._print(self.args[0])
        base = r"\sigma\left(%s\right)" % inner
        return base if exp is None else r"%s^{%s}" % (base, exp)

    def _sympystr(self, printer):
        return "sigmoid(%s)" % printer._print(self.args[0])


class log_base(sympy.Function):
    """The logarithm to base b, log_b(x) = ln x / ln b, kept as the author wrote it.

    SymPy's ``log(x, b)`` becomes the quotient at once; a worked solution shows that change
    of base as a step of its own, so the typed form needs a class that stays put.
    """

    nargs = 2

    @classmethod
    def eval(cls, x, base):
        return None  # never rewritten on its own: the explanation does it, visibly

    def fdiff(self, argindex=1):
        x, base = self.args
        if argindex == 1:
            return 1 / (x * sympy.log(base))
        return -sympy.log(x) / (base * sympy.log(base) ** 2)

    def _eval_rewrite_as_log(self, x, base, **kwargs):
        return sympy.log(x) / sympy.log(base)

    def _eval_evalf(self, prec):
        x, base = self.args
        return (sympy.log(x) / sympy.log(base))._eval_evalf(prec)

    def _eval_is_real(self):
        x, base = self.args
        if x.is_positive and base.is_positive:
            return True
        return None

    def _sympystr(self, printer):
        return "log(%s, %s)" % (printer._print(self.args[0]), printer._print(self.args[1]))
