"""The rule engine: differentiate an expression step by step, recording every step.

Each rule is a small method that states its formula in its docstring, computes the local
derivative right next to the operation it belongs to, and names its substeps. The
dispatcher in ``Engine.differentiate`` picks the first rule that applies; anything no
rule covers goes to the explicit ``known_derivative`` fallback (SymPy's own table), so an
unknown function is never a crash and never a silently wrong answer.

>>> import sympy
>>> x = sympy.Symbol("x", real=True)
>>> differentiate(sympy.sin(x**2), x).derivative
2*x*cos(x**2)
"""

import sympy
from sympy import (
    Abs, Add, Derivative, Max, Min, Mul, Piecewise, Pow, S, Sum, Symbol, UnevaluatedExpr,
    acos, acot, acosh, asin, asinh, atan, atanh, cos, cosh, cot, coth, csc, csch, exp, log,
    sec, sech, sign, sin, sinh, sqrt, tan, tanh,
)
from sympy.core.function import AppliedUndef

from derive.engine.steps import Step
from derive.functions import log_base, sigmoid
from derive.limits import TimeLimit, time_limit
from derive.symbols import evaluated

# Local derivatives, d/du F(u), each beside the function it belongs to.
TRIG = {
    sin: lambda u: cos(u),
    cos: lambda u: -sin(u),
    tan: lambda u: sec(u) ** 2,
    cot: lambda u: -csc(u) ** 2,
    sec: lambda u: sec(u) * tan(u),
    csc: lambda u: -csc(u) * cot(u),
}
INVERSE_TRIG = {
    asin: lambda u: 1 / sqrt(1 - u**2),
    acos: lambda u: -1 / sqrt(1 - u**2),
    atan: lambda u: 1 / (1 + u**2),
    acot: lambda u: -1 / (1 + u**2),
}
HYPERBOLIC = {
    sinh: lambda u: cosh(u),
    cosh: lambda u: sinh(u),
    tanh: lambda u: 1 - tanh(u) ** 2,
    coth: lambda u: 1 - coth(u) ** 2,
    sech: lambda u: -sech(u) * tanh(u),
    csch: lambda u: -csch(u) * coth(u),
    asinh: lambda u: 1 / sqrt(u**2 + 1),
    acosh: lambda u: 1 / sqrt(u**2 - 1),
    atanh: lambda u: 1 / (1 - u**2),
}

TIDY_SECONDS = 2.0


def differentiate(expr, wrt, definitions=None, folds=None, identities=None, per_example=None):
    """The step tree of d(expr)/d(wrt), its result tidied and shown as a last step.

    ``definitions`` maps named intermediates to what they stand for, e.g.
    ``{error_i: yhat_i - y[i], yhat_i: w*x[i] + b}``: the chain rule then passes through
    those names, and the result has them substituted back.
    """
    engine = Engine(expr, wrt, definitions)
    raw = engine.differentiate(expr, wrt)
    return engine.finish(raw, folds, identities, per_example)


class Engine:
    """One derivation's state: the named intermediates, the chain-rule names in use, and
    every derivative already worked (one engine can serve all the partials of a gradient,
    so a shared factor such as σ′ or ∂L/∂ŷ is worked once and the same step is reused)."""

    def __init__(self, expr, wrt=None, definitions=None):
        self.wrt = wrt
        self.definitions = dict(definitions or {})
        self._depends_memo = {}
        self._worked = {}  # (expression, variable) -> the step that worked it
        self._counter = 0
        taken = set(expr.free_symbols) | set(self.definitions)
        for value in self.definitions.values():
            taken |= value.free_symbols
        self._taken = {str(s) for s in taken}

    # -- helpers -------------------------------------------------------------------------
    def depends(self, expr, var):
        """Whether expr changes with var, directly or through a named intermediate."""
        symbols = expr.free_symbols
        if var in symbols:
            return True
        return any(s in self.definitions and self._name_depends(s, var) for s in symbols)

    def _name_depends(self, name, var):
        key = (name, var)
        if key not in self._depends_memo:
            self._depends_memo[key] = False  # a cycle cannot make a name depend on itself
            self._depends_memo[key] = self.depends(self.definitions[name], var)
        return self._depends_memo[key]

    def new_name(self):
        """A fresh chain-rule intermediate u₁, u₂, …, never one already in use."""
        while True:
            self._counter += 1
            name = f"u_{self._counter}"
            if name not in self._taken:
                self._taken.add(name)
                return Symbol(name, real=True)

    # -- dispatch ------------------------------------------------------------------------
    def differentiate(self, expr, x):
        """The step for d(expr)/dx, choosing the first rule that applies; a derivative already
        worked in this engine is the same step again, never worked twice."""
        key = (expr, x)
        step = self._worked.get(key)
        if step is None:
            step = self._worked[key] = self._differentiate(expr, x)
        return step

    def _differentiate(self, expr, x):
        if not self.depends(expr, x):
            return self.constant(expr, x)
        if expr == x:
            return Step("variable", expr, x, S.One)
        if expr in self.definitions:
            return self.definition(expr, x)
        if expr.is_Add:
            return self.sum_rule(expr, x)
        if expr.is_Mul:
            return self.product_like(expr, x)
        if expr.is_Pow:
            return self.power_like(expr, x)
        if isinstance(expr, Sum) and not any(
            x in sympy.Tuple(*limit[1:]).free_symbols for limit in expr.limits
        ):
            return self.summation(expr, x)
        if isinstance(expr, (Max, Min)):
            return self.max_min(expr, x)
        if isinstance(expr, Piecewise):
            return self.piecewise(expr, x)
        if isinstance(expr, log_base):
            return self.change_of_base(expr, x)
        if isinstance(expr, sympy.Function) and len(expr.args) == 1:
            (arg,) = expr.args
            if arg == x:
                return self.function(expr, x)
            return self.chain(expr, x, arg, lambda u: expr.func(u))
        return self.known_derivative(expr, x)

    # -- the rules -----------------------------------------------------------------------
    def constant(self, expr, x):
        """d/dx c = 0: nothing in c changes with x."""
        return Step("constant", expr, x, S.Zero)

    def definition(self, name, x):
        """d/dx name = d/dx (what the name stands for)."""
        meaning = self.definitions[name]
        sub = self.differentiate(meaning, x)
        return Step("definition", name, x, sub.derivative, [sub], intermediate=(name, meaning))

    def sum_rule(self, expr, x):
        """d/dx (f + g) = f′ + g′: term by term."""
        subs = [self.differentiate(term, x) for term in expr.args]
        return Step("sum", expr, x, Add(*[s.derivative for s in subs]), subs)

    def product_like(self, expr, x):
        """Constant multiple, quotient or product, by what the factors are.

        A product the author typed keeps its grouping: 2x²(5x³) is the product of 2x² and
        5x³ (the product rule the exercise is about), and only a typed division a/b is a
        quotient, never x^(-1/2)(x + 1)."""
        factors = expr.args
        typed = _typed_product(expr)
        varying = [f for f in factors if self.depends(f, x)]
        constants = [f for f in factors if not self.depends(f, x)]
        if typed and len(varying) >= 2 and len(constants) == 1 and factors[0] is constants[0] \
                and constants[0].is_Number and constants[0] != -1:
            constants, varying = [], [_product(factors[0], factors[1])] + list(factors[2:])
            factors = tuple(varying)
        if constants:
            c = _product(*constants)
            rest = _product(*varying)
            sub = self.differentiate(rest, x)
            return Step(
                "constant_multiple", expr, x, c * sub.derivative, [sub],
                detail={"constant": c, "factor": rest},
            )
        # Only a reciprocal is a denominator: x^(-1/2)(x + 1) is a product, 1/x² a quotient.
        denominators = [f for f in factors if f.is_Pow and f.exp.is_Integer and f.exp.is_negative
                        and (f.exp == -1 or not typed)]
        numerators = [f for f in factors if f not in denominators]
        if denominators:
            u = _product(*numerators) if numerators else S.One
            v = _product(*[_power(f.base, -f.exp) for f in denominators])
            if numerators or not typed or len(denominators) > 1:
                return self.quotient(expr, x, u, v)
        return self.product(expr, x, factors[0], _product(*factors[1:]))

    def product(self, expr, x, u, v):
        """d/dx (u·v) = u′·v + u·v′."""
        du, dv = self.differentiate(u, x), self.differentiate(v, x)
        result = du.derivative * v + u * dv.derivative
        return Step("product", expr, x, result, [du, dv], detail={"u": u, "v": v})

    def quotient(self, expr, x, u, v):
        """d/dx (u/v) = (u′·v − u·v′)/v²."""
        du, dv = self.differentiate(u, x), self.differentiate(v, x)
        result = (du.derivative * v - u * dv.derivative) / v**2
        return Step("quotient", expr, x, result, [du, dv], detail={"u": u, "v": v})

    def power_like(self, expr, x):
        """Power, exponential or general power, by which of base and exponent vary."""
        base, n = expr.base, expr.exp
        base_varies, exponent_varies = self.depends(base, x), self.depends(n, x)
        if base_varies and exponent_varies:
            return self.general_power(expr, x)
        if base_varies:
            if base == x:
                return self.power(expr, x)
            if base.is_Pow and base.base == x and base.exp.is_number and n.is_number:
                return self.power_of_power(expr, x)
            return self.chain(expr, x, base, lambda u: Pow(u, n))
        if n == x:
            return self.exponential(expr, x)
        return self.chain(expr, x, n, lambda u: Pow(base, u))

    def power(self, expr, x):
        """d/dx xⁿ = n·xⁿ⁻¹ (n a constant); √x and 1/x are first written as powers."""
        n = expr.exp
        step = Step("power", expr, x, n * x ** (n - 1), detail={"n": n})
        if n.is_Integer and n.is_positive:
            return step
        written = Pow(x, UnevaluatedExpr(n))
        return Step("rewrite", expr, x, step.derivative, [step], detail={"as": written})

    def power_of_power(self, expr, x):
        """(xᵃ)ᵇ = xᵃᵇ, so 1/x³ is x⁻³ and the power rule applies."""
        written = Pow(x, expr.base.exp * expr.exp, evaluate=False)
        sub = self.power(written, x)
        if sub.rule == "rewrite":
            sub = sub.substeps[0]
        return Step("rewrite", expr, x, sub.derivative, [sub], detail={"as": written})

    def exponential(self, expr, x):
        """d/dx aˣ = aˣ·ln a (and eˣ is its own derivative)."""
        return Step("exp", expr, x, expr * log(expr.base), detail={"base": expr.base})

    def general_power(self, expr, x):
        """d/dx f^g = f^g·(g′·ln f + g·f′/f), by differentiating ln y = g·ln f."""
        log_form = expr.exp * log(expr.base)
        sub = self.differentiate(log_form, x)
        return Step(
            "general_power", expr, x, expr * sub.derivative, [sub], detail={"log_form": log_form}
        )

    def change_of_base(self, expr, x):
        """log_b u = ln u / ln b: the change of base, then the rules for ln."""
        u, base = expr.args
        written = Mul(log(u), Pow(log(base), -1, evaluate=False), evaluate=False)
        sub = self.differentiate(written, x)
        return Step("rewrite", expr, x, sub.derivative, [sub], detail={"as": written, "identity": "change_of_base"})

    def summation(self, expr, x):
        """d/dx Σ fᵢ = Σ d/dx fᵢ: a derivative passes through a sum term by term."""
        sub = self.differentiate(expr.function, x)
        return Step("summation", expr, x, Sum(sub.derivative, *expr.limits), [sub])

    def max_min(self, expr, x):
        """d/dx max(f, g) = f′ where f > g, g′ where g > f (undefined where they meet)."""
        first, rest = expr.args[0], expr.func(*expr.args[1:])
        d_first, d_rest = self.differentiate(first, x), self.differentiate(rest, x)
        wins = first > rest if isinstance(expr, Max) else first < rest
        result = _piecewise((d_first.derivative, wins), (d_rest.derivative, True))
        return Step(
            "piecewise", expr, x, result, [d_first, d_rest],
            detail={"kind": "max" if isinstance(expr, Max) else "min", "first": first, "rest": rest},
        )

    def piecewise(self, expr, x):
        """d/dx of a piecewise function: each piece differentiated where it holds."""
        subs = [self.differentiate(piece, x) for piece, _ in expr.args]
        result = _piecewise(*[(s.derivative, cond) for s, (_, cond) in zip(subs, expr.args)])
        return Step("piecewise", expr, x, result, subs, detail={"kind": "pieces"})

    def chain(self, expr, x, inner, outer_of):
        """d/dx f(u) = f′(u)·du/dx, naming the inner part u (or using the problem's name)."""
        named = inner in self.definitions  # the problem already has a name for it
        u = inner if named else self.new_name()
        outer = self.differentiate(outer_of(u), u)
        inner_step = self.differentiate(inner, x)
        outer_at_inner = outer.derivative if named else outer.derivative.subs(u, inner)
        result = outer_at_inner * inner_step.derivative
        return Step(
            "chain", expr, x, result, [outer, inner_step],
            intermediate=(u, self.definitions[u] if named else inner),
            detail={"outer": outer_of(u), "outer_at_inner": outer_at_inner, "named": named},
        )

    def function(self, expr, x):
        """The derivative of a named function of x itself: exp, ln, trig, hyperbolic, |x|, σ."""
        f = expr.func
        if f is exp:
            return Step("exp", expr, x, expr, detail={"base": sympy.E})
        if f is log:
            return Step("log", expr, x, 1 / x)
        for rule, table in (("trig", TRIG), ("inverse_trig", INVERSE_TRIG), ("hyperbolic", HYPERBOLIC)):
            if f in table:
                return Step(rule, expr, x, table[f](x), detail={"function": f.__name__})
        if f is Abs:
            return Step("abs", expr, x, sign(x))
        if f in (sign, sympy.Heaviside):  # a step: flat on each side, no derivative at the step
            return Step("known_derivative", expr, x, S.Zero, detail={"abstract": False, "step": f.__name__})
        if f is sigmoid:
            return self.sigmoid(expr, x)
        return self.known_derivative(expr, x)

    def sigmoid(self, expr, x):
        """σ(x) = 1/(1 + e^(−x)), whose derivative tidies to σ(x)·(1 − σ(x))."""
        written = 1 / (1 + exp(-x))
        sub = self.differentiate(written, x)
        result = expr * (1 - expr)
        complement = exp(-x) / (1 + exp(-x))  # 1 − σ(x), the other factor of the identity
        return Step("rewrite", expr, x, result, [sub],
                    detail={"as": written, "identity": "sigmoid", "complement": complement})

    def known_derivative(self, expr, x):
        """A derivative from SymPy's own table, for what no rule of ours covers."""
        abstract = isinstance(expr, AppliedUndef)
        return Step("known_derivative", expr, x, sympy.diff(expr, x), detail={"abstract": abstract})

    # -- the last step -------------------------------------------------------------------
    def finish(self, raw, folds=None, identities=None, per_example=None):
        """Tidy the result in the names, substitute them back, and show it as one step.

        ``folds`` are extra ways to write parts of the result in the names (sⱼ·Z for
        e^(oⱼ)); each definition also folds back into its name, so σ(zᵢ) reads pᵢ.
        ``identities`` are facts of the data (y₁ + y₂ + y₃ = 1 when the labels sum to 1).
        ``per_example`` maps names such as errorᵢ to the index they vary with, so that
        tidying never takes them out of the sum over the examples.
        """
        result = raw.derivative
        in_names = substituted = None
        if self.definitions:
            back = {meaning: name for name, meaning in self.definitions.items() if not meaning.is_Atom}
            named = result.xreplace(back).subs(folds) if folds else result.xreplace(back)
            if identities:
                named = sympy.collect(sympy.expand(named), list(self.definitions)).xreplace(identities)
            in_names = tidy(named, per_example, thorough=True)
            substituted = evaluated(substitute_definitions(in_names, self.definitions))
            result = substituted  # SymPy's own form: the names' typed order is the printer's business
        tidied = tidy(result)
        if tidied == raw.derivative:
            return raw
        return Step(
            "simplify", raw.expression, raw.wrt, tidied, [raw],
            detail={"raw": raw.derivative, "in_names": in_names, "substituted": substituted},
        )


def _typed_product(expr):
    """Whether a product stands as the author typed it (SymPy would have merged or ordered it)."""
    if any(a.is_Mul for a in expr.args):
        return True
    try:
        return Mul(*expr.args).args != expr.args
    except Exception:  # noqa: BLE001
        return True


def _product(*factors):
    """A product of parts of a typed expression, kept as typed (one factor is itself)."""
    if len(factors) == 1:
        return factors[0]
    if all(f.is_Number for f in factors):
        return Mul(*factors)
    return Mul(*factors, evaluate=False)


def _power(base, exp):
    if exp == 1:
        return base
    return Pow(base, exp, evaluate=False) if not base.is_Number else Pow(base, exp)


def _piecewise(*pieces):
    """A Piecewise, simplified by SymPy where it can be; SymPy's own simplification recurses
    without end on some conditions (sigmoid against a Min), and then the pieces stay as given."""
    try:
        return Piecewise(*pieces)
    except RecursionError:
        return Piecewise(*pieces, evaluate=False)


def substitute_definitions(expr, definitions, max_rounds=50):
    """Replace named intermediates by their definitions until none is left."""
    for _ in range(max_rounds):
        if not expr.free_symbols & definitions.keys():
            return expr
        expr = expr.xreplace(definitions)
    return expr


def tidy(expr, per_example=None, thorough=False):
    """The textbook form of a result: the shortest of a bounded set of equivalent forms.

    ``simplify`` is too slow for the hot path (50–150 ms for the simplest derivative), so
    the candidates are ones that cost about as much as the derivative itself: constants
    taken out (``factor_terms``), one fraction (``together``), cancelled (``cancel``),
    ``factor`` and ``expand`` when small, and ``trigsimp`` where trigonometric or
    hyperbolic functions could collapse (sec²x/(tan²x + 1) is 1). Every candidate is tried
    under one time bound; the shortest by operation count wins (then fewer minus signs,
    then shorter text). A sum over the examples is tidied inside (Σ (pᵢ − yᵢ) xᵢ), then
    constants are taken out of it. ``thorough`` is kept for callers that tidy a result
    written in named intermediates (the 1/pᵢ of a logarithm against the pᵢ of σ′).
    """
    if per_example:
        # errorᵢ is a plain symbol to SymPy, which would take it out of Σᵢ as a constant:
        # stand it in for a function of i while tidying.
        masks = {name: sympy.Function(f"_{name.name}")(index) for name, index in per_example.items()}
        unmask = {mask: name for name, mask in masks.items()}
        return tidy(expr.xreplace(masks), thorough=thorough).xreplace(unmask)
    # On a tie the earlier wins: the form the rules gave (h(1 − h) stays h(1 − h)), then the
    # more factored; a sum over the examples has its constants in front first: (2/n) Σ …
    candidates = [] if expr.has(Sum) else [expr]
    termwise = None
    try:
        with time_limit(TIDY_SECONDS):
            inside = expr
            if expr.has(Sum):
                inside = expr.replace(lambda e: isinstance(e, Sum), lambda e: _tidy_sum(e, thorough))
                if inside.is_Add:  # (2/n) Σ … + 2λw: each term tidied, no factor pulled across them
                    termwise = Add(*[sympy.factor_terms(term) for term in inside.args])
                    candidates.append(termwise)
            candidates.append(sympy.factor_terms(inside))
            if inside != expr:
                candidates.append(inside)
            if expr.has(Sum):
                candidates += [_sign_into_sum(c) for c in list(candidates)]
            elif not expr.has(Piecewise, Derivative, sympy.Subs):
                candidates += _rational_forms(expr)
                candidates += [_flip(c) for c in list(candidates) if c.is_Mul]
                if any(not a.free_symbols for a in expr.atoms(log)):
                    candidates += [_number_logs(c) for c in list(candidates)]
                if len(expr.atoms(exp)) >= 2 and any(p.exp.is_negative for p in expr.atoms(Pow)):
                    candidates.append(_hyperbolic(expr))
                best = min(dict.fromkeys(candidates + [expr]), key=readability)
                if _identity_possible(best):
                    candidates.append(_trigsimp(best))
    except (TimeLimit, RecursionError, TypeError, ValueError, AttributeError, sympy.PolynomialError,
            sympy.polys.polyerrors.PolificationFailed, NotImplementedError):
        pass
    candidates.append(expr)
    unique = list(dict.fromkeys(c for c in candidates if c is not None))
    best = unique[0] if len(unique) == 1 else min(unique, key=readability)
    if termwise is not None and best is not termwise and \
            sympy.count_ops(termwise) <= sympy.count_ops(best) + 1 and best.is_Mul:
        return termwise  # a textbook keeps a sum over the examples apart from the other terms
    return best


MAX_EXPAND_OPS = 60  # expanding a bigger result only makes it longer (20x(x² + 1)⁹)


MAX_EXPANDED_POWER = 12  # (x + 1)⁹⁹⁹ is never multiplied out, nor cancelled term by term


def _rational_forms(expr):
    """One fraction, cancelled, factored, expanded: the forms a textbook key might print,
    each tried only where it can help (a cancellation needs a fraction; multiplying out
    needs a bracket)."""
    out = []
    if any(p.exp.is_Integer and abs(p.exp) > MAX_EXPANDED_POWER and p.base.is_Add for p in expr.atoms(Pow)):
        return out
    small = sympy.count_ops(expr) <= MAX_EXPAND_OPS
    if any(p.exp.is_negative for p in expr.atoms(Pow)):
        together = sympy.together(expr)
        out.append(sympy.factor_terms(together))
        cancelled = sympy.cancel(together)
        out.append(cancelled)
        numer, denom = sympy.fraction(cancelled)
        if denom != 1:
            out.append(sympy.factor_terms(cancelled))
            if small:
                out.append(sympy.factor(numer) / sympy.factor(denom))
                out.append(sympy.expand(numer) / sympy.factor(denom))
        elif small:
            out.append(sympy.factor(cancelled))
    if small and any(f.is_Add or (f.is_Pow and f.base.is_Add and f.exp.is_Integer and 1 < f.exp <= 3)
                     for f in Mul.make_args(expr)):
        expanded = sympy.expand(expr)
        out.append(expanded)
        out.append(sympy.factor_terms(expanded))
    return out


def _number_logs(expr):
    """ln 3 + 3 ln 2 written ln 24: a sum of logarithms of numbers is one logarithm."""
    def numeric_log_sum(e):
        return e.is_Add and not e.free_symbols and e.has(log) and len(e.args) > 1

    return expr.replace(numeric_log_sum, lambda e: sympy.logcombine(e, force=True))


def _identity_possible(expr):
    """Whether a trigonometric identity could shorten ``expr`` (trigsimp costs tens of ms):
    a power of a trigonometric or hyperbolic function (sec²x, 1 − tanh²x), one applied to
    an inverse (tan(arctan x)), or such functions above and below a fraction line."""
    functions = tuple(TRIG) + tuple(HYPERBOLIC)
    inverses = tuple(INVERSE_TRIG) + (asinh, acosh, atanh)
    for node in sympy.preorder_traversal(expr):
        if node.is_Pow and isinstance(node.base, functions) and node.exp.is_Integer and abs(node.exp) >= 2:
            return True
        if isinstance(node, functions) and isinstance(node.args[0], inverses):
            return True
        if isinstance(node, inverses) and isinstance(node.args[0], functions):
            return True
    by_argument = {}
    for node in expr.atoms(*TRIG):  # (sinh and cosh side by side rarely shorten)
        by_argument.setdefault(node.args[0], set()).add(type(node))
    for kinds in by_argument.values():
        if len(kinds) > 1:  # sin u and cos u (2 sin u cos u = sin 2u), csc u beside sin u, …
            return True
    numer, denom = sympy.fraction(sympy.together(expr)) if expr.is_Add else sympy.fraction(expr)
    return numer.has(*functions) and denom.has(*functions)


HYPERBOLIC_SECONDS = 0.5


def _hyperbolic(expr):
    """A quotient of exponentials seen as a hyperbolic function: (eᵘ − e⁻ᵘ)/(eᵘ + e⁻ᵘ) is tanh u.
    Bounded on its own; the expression itself if the time runs out."""
    with time_limit(HYPERBOLIC_SECONDS, quiet=True) as bound:
        found = sympy.simplify(expr.rewrite(cosh))
    return expr if bound.expired or found.has(sympy.I) else found


def _trigsimp(expr):
    """trigsimp, where it can only make a result shorter; never a form with new functions."""
    simpler = sympy.trigsimp(expr)
    return simpler if simpler.atoms(sympy.Function) <= expr.atoms(sympy.Function) | {S.One} or \
        sympy.count_ops(simpler) < sympy.count_ops(expr) else expr


def _tidy_sum(total, thorough=False):
    """A sum tidied inside; a term that does not change with the index is counted out."""
    (index, low, high), *more = total.limits
    if not more and index not in total.function.free_symbols:
        return total.function * (high - low + 1)  # Σᵢ₌₁ⁿ 1 = n
    return Sum(tidy(total.function, thorough=thorough), *total.limits)


def _sign_into_sum(expr):
    """−(1/n) Σ (yᵢ − pᵢ) xᵢ written (1/n) Σ (pᵢ − yᵢ) xᵢ: the minus taken into the sum."""
    if expr.is_Mul and expr.could_extract_minus_sign():
        sums = [f for f in expr.args if isinstance(f, Sum)]
        if len(sums) == 1:
            total = sums[0]
            rest = Mul(*[f for f in expr.args if f is not total])
            return (-rest) * Sum(_flip(-total.function), *total.limits)
    return expr


def _flip(expr):
    """−a·(u − v) written a·(v − u): the textbook keeps the sign inside the bracket."""
    if expr.is_Mul and expr.could_extract_minus_sign():
        brackets = [f for f in expr.args if f.is_Add]
        if brackets:
            first = brackets[0]
            rest = [f for f in expr.args if f is not first]
            return (-Mul(*rest)) * (-first)
    return expr


def readability(expr):
    """Smaller reads better: operations first, then minus signs, then printed length."""
    text = str(expr)
    return (sympy.count_ops(expr), text.count("-"), len(text))
