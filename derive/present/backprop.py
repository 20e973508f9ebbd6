"""A gradient through named intermediates, worked as backpropagation: each ∂L/∂name once,
from the loss back, then every parameter from the name it feeds.

    ∂L/∂ŷ = ∂L/∂error · ∂error/∂ŷ = 2 error · 1
    ∂L/∂h = ∂L/∂ŷ · ∂ŷ/∂h = 2 error · v
    ∂L/∂z = ∂L/∂h · ∂h/∂z = 2 error v · h(1 − h)
    ∂L/∂w = ∂L/∂z · ∂z/∂w = 2 error v h(1 − h) · x

The factors nearest the loss are shared by every parameter behind them, so each is worked
once and passed back: that is what backpropagation is. For a loss that is a mean over the
examples, each name is per example and a parameter's partial sums over them.

Every result is compared with the engine's own partial (which was checked against finite
differences) at random points before it is shown; if one differs, the gradient is
presented partial by partial instead, never wrongly.
"""

import random

import sympy
from sympy import S, Sum

from derive.engine.rules import Engine, tidy
from derive.present.chains import Chain, Line, Note
from derive.present.marks import Dot, Pending, Plus

TRIES = 4


def backward(gradient):
    """The backward pass of ``gradient`` (a :class:`~derive.derivation.Gradient`), or None
    when it has no names to pass back through or a result would not match the engine's."""
    subject = gradient.subject
    definitions = subject.definitions
    if not definitions or len(gradient.derivations) < 2:
        return None
    try:
        return _backward(gradient, subject, definitions)
    except (TypeError, ValueError, KeyError, RecursionError, NotImplementedError):
        return None


def _backward(gradient, subject, definitions):
    problem = subject.problem
    top = gradient.derivations[0].top
    loss = subject.expression
    index = problem.index if problem is not None and problem.mean else None
    per_example = _strip_sums(loss, index)
    folds = {meaning: name for name, meaning in definitions.items()
             if not (meaning.is_Atom or meaning.is_Add or meaning.is_Mul)}
    uses = {name: [] for name in definitions}
    for name in definitions:
        if name in per_example.free_symbols:
            uses[name].append(top)
        for other, meaning in definitions.items():
            if name in meaning.free_symbols:
                uses[name].append(other)
    order = _top_down(definitions, uses, top)
    deltas, chains = {top: S.One}, []
    local = _Local(definitions)
    for name in order:
        terms_written, terms_value = [], []
        for parent in uses[name]:
            factor = local(per_example if parent is top else definitions[parent], name)
            if factor == 0:
                continue
            terms_written.append(Dot(Pending(top, parent, True), Pending(parent, name, True)) if parent is not top
                                 else Pending(top, name, True))
            terms_value.append(_dot(deltas[parent], factor) if parent is not top else factor)
        value = sympy.Add(*[_mul(t) for t in terms_value]).xreplace(folds)
        tidied = tidy(value)
        value = tidied if sympy.count_ops(tidied) < sympy.count_ops(value) else value
        deltas[name] = value
        chain = Chain(Pending(top, name, True), variable=name)
        if any(parent is not top for parent in uses[name]):
            chain.lines.append(Line(_plus(terms_written), ("chain",)))
            chain.lines.append(Line(_plus(terms_value), ()))
            if _mul_all(terms_value) != value:
                chain.lines.append(Line(value, ("simplify",)))
        else:
            chain.lines.append(Line(value, ("power",) if value.has(name) else ()))
        chains.append(chain)
    partials = []
    for derivation in gradient.derivations:
        theta = derivation.wrt
        feeds = [name for name, meaning in definitions.items() if theta in meaning.free_symbols]
        written, values = [], []
        for name in feeds:
            factor = local(definitions[name], theta)
            written.append(Dot(Pending(top, name, True), Pending(name, theta, True)))
            values.append(_dot(deltas[name], factor))
        direct = local(per_example, theta) if theta in per_example.free_symbols else S.Zero
        in_names = sympy.Add(*[_mul(v) for v in values])
        if index is not None:
            total = Sum(in_names, (index, 1, problem.size))
            shown_written = Sum(_plus(written), (index, 1, problem.size))
            shown_values = Sum(_plus(values), (index, 1, problem.size))
        else:
            total, shown_written, shown_values = in_names, _plus(written), _plus(values)
        if direct != 0:  # a penalty on the parameter itself (ridge): its own term
            total = total + _outside(loss, index, theta, local)
            shown_written = Plus(shown_written, Pending(_penalty(loss, index), theta, True))
            shown_values = Plus(shown_values, _outside(loss, index, theta, local))
        result = derivation.result
        if not _agrees(total, result, definitions, subject, derivation):
            return None
        chain = Chain(Pending(top, theta, True), variable=theta)
        chain.lines.append(Line(shown_written, ("chain",)))
        chain.lines.append(Line(shown_values, ()))
        final = derivation.shown_result
        chain.lines.append(Line(final, ("names",), (Note("names"),), kind="names", boxed=True))
        partials.append(chain)
    return Backward(chains, partials)


class Backward:
    """The deltas (∂L/∂name, from the loss back) and the partials built from them."""

    def __init__(self, deltas, partials):
        self.deltas = deltas
        self.partials = partials

    @property
    def chains(self):
        return self.deltas + self.partials


class _Local:
    """Local derivatives ∂(definition)/∂(name), the other names held as plain symbols."""

    def __init__(self, definitions):
        self.engine = Engine(S.Zero, None, {})
        self.memo = {}
        # σ(z) is h: a local derivative is written in the names, h(1 − h)
        self.folds = {meaning: name for name, meaning in definitions.items()
                      if not (meaning.is_Atom or meaning.is_Add or meaning.is_Mul)}

    def __call__(self, expr, variable):
        key = (expr, variable)
        if key not in self.memo:
            self.memo[key] = self.engine.differentiate(expr, variable).derivative.xreplace(self.folds)
        return self.memo[key]


def _strip_sums(loss, index):
    """The loss of one example: Σᵢ f(namesᵢ) is f(namesᵢ) for a name of example i."""
    if index is None:
        return loss
    return loss.replace(lambda e: isinstance(e, Sum) and e.limits[0][0] == index, lambda e: e.function)


def _outside(loss, index, theta, local):
    """The part of the loss outside the sum over the examples, differentiated (λ w²)."""
    rest = loss.replace(lambda e: isinstance(e, Sum), lambda e: S.Zero)
    return local(rest, theta) if theta in rest.free_symbols else S.Zero


def _penalty(loss, index):
    return loss.replace(lambda e: isinstance(e, Sum), lambda e: S.Zero)


def _top_down(definitions, uses, top):
    """Names in an order where every name comes after all the names that use it."""
    done, order = {top}, []
    pending = list(definitions)
    for _ in range(len(pending) ** 2 + 1):
        if not pending:
            break
        for name in list(pending):
            if all(p in done for p in uses[name]):
                order.append(name)
                done.add(name)
                pending.remove(name)
    if pending:
        raise ValueError("the names go round in a circle")
    return order


def _dot(a, b):
    """a · b as a line of working writes it (a · 1 is a)."""
    if b == 1:
        return a
    if a == 1:
        return b
    return Dot(a, b)


def _plus(terms):
    return terms[0] if len(terms) == 1 else Plus(*terms)


def _mul(term):
    return sympy.Mul(*term.args) if isinstance(term, Dot) else term


def _mul_all(terms):
    return sympy.Add(*[_mul(t) for t in terms])


def _agrees(total, result, definitions, subject, derivation):
    """Whether the backward pass gives the engine's (checked) partial, at random points."""
    from derive.engine.rules import substitute_definitions
    from derive.verify.numeric import NotNumeric, evaluate

    a = substitute_definitions(total, definitions)
    b = result
    sizes, fixed = subject.sample(0)
    a, b = a.xreplace(sizes), b.xreplace(sizes)
    a, b = a.doit(), b.doit()
    rng = random.Random(7)
    symbols = sorted((a.free_symbols | b.free_symbols) - set(fixed), key=str)
    agreed = 0
    for _ in range(TRIES * 3):
        values = dict(fixed)
        values.update({s: rng.uniform(-1.5, 1.5) for s in symbols})
        try:
            x, y = complex(evaluate(a, values)), complex(evaluate(b, values))
        except (NotNumeric, TypeError, ValueError, ZeroDivisionError):
            continue
        if abs(x - y) > 1e-9 * max(1.0, abs(y)):
            return False
        agreed += 1
        if agreed >= TRIES:
            return True
    return agreed > 0
