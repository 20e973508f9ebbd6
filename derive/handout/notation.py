"""The notation a handout's reader needs, found in what its problems show.

A student meeting σ(x), sech(x) or Σᵢ for the first time needs it defined on the page.
The list is read off the expressions themselves (the prompts, and in the answer key the
worked solutions too), never written per problem: each SymPy node type that is not
school notation maps to one entry, and each catalog problem (mse, bce, …) contributes its
own symbols (L, ŷᵢ, w, b, α, …). ``templates/handout_words.j2`` says each entry in words.
"""

from dataclasses import dataclass

import sympy
from sympy.core.function import AppliedUndef

from derive.functions import sigmoid
from derive.symbols import symbol

Z = symbol("z")


def _formula(lhs, rhs):
    return sympy.Eq(lhs, rhs, evaluate=False)


def _half(total):
    """``(a ± b)/2`` as a textbook writes it, not SymPy's ``a/2 ± b/2``."""
    return sympy.Mul(total, sympy.Pow(2, -1, evaluate=False), evaluate=False)


# (key, the node types that need it, a defining formula in z or None): in the order they
# are listed. The words for each key are in handout_words.j2.
FUNCTIONS = (
    ("sigmoid", (sigmoid,), _formula(sigmoid(Z), 1 / (1 + sympy.exp(-Z)))),
    ("relu", (), _formula(sympy.Function("ReLU")(Z), sympy.Max(0, Z))),
    ("max", (sympy.Max,), None),
    ("min", (sympy.Min,), None),
    ("sign", (sympy.sign,), None),
    ("heaviside", (sympy.Heaviside,), None),
    ("ln", (sympy.log,), None),
    ("sec", (sympy.sec,), _formula(sympy.sec(Z), 1 / sympy.cos(Z))),
    ("csc", (sympy.csc,), _formula(sympy.csc(Z), 1 / sympy.sin(Z))),
    ("cot", (sympy.cot,), _formula(sympy.cot(Z), sympy.cos(Z) / sympy.sin(Z))),
    ("arcsin", (sympy.asin,), None),
    ("arccos", (sympy.acos,), None),
    ("arctan", (sympy.atan,), None),
    ("sinh", (sympy.sinh,), _formula(sympy.sinh(Z), _half(sympy.exp(Z) - sympy.exp(-Z)))),
    ("cosh", (sympy.cosh,), _formula(sympy.cosh(Z), _half(sympy.exp(Z) + sympy.exp(-Z)))),
    ("tanh", (sympy.tanh,), _formula(sympy.tanh(Z), sympy.sinh(Z) / sympy.cosh(Z))),
    ("coth", (sympy.coth,), _formula(sympy.coth(Z), sympy.cosh(Z) / sympy.sinh(Z))),
    ("sech", (sympy.sech,), _formula(sympy.sech(Z), 1 / sympy.cosh(Z))),
    ("csch", (sympy.csch,), _formula(sympy.csch(Z), 1 / sympy.sinh(Z))),
    ("arsinh", (sympy.asinh,), None),
    ("arcosh", (sympy.acosh,), None),
    ("artanh", (sympy.atanh,), None),
)
MAX_NODES = 200_000  # a walk over every shown expression stops here (they are bounded well below)


@dataclass(frozen=True)
class Row:
    """One line of the Notation box: ``maths`` (an expression, an Eq, or ``(top, wrt)`` for
    a partial derivative) beside the words ``key`` names; ``name`` is what the words need
    besides (a problem's title, a parameter's name)."""

    key: str
    maths: object = None
    name: str = ""
    more: tuple = ()  # further symbols the words name (the index i and the count n of the examples)


def notation(handout, answers):
    """The Notation rows for ``handout`` (a build.Handout): each catalog problem's symbols,
    then Σ and ∂, then the functions, each once. The answer key also counts what its worked
    solutions show."""
    problems, shown, partial = {}, [], None
    for item in handout.items:
        shown.extend(_prompt_expressions(item.spec))
        if hasattr(item, "run"):  # the [descent] problem
            _add_problem(problems, item.run.problem)
            derivations = list(item.run.gradient.derivations)
        else:
            document = item.document
            derivations = list(getattr(document, "derivations", [document]))
            first = derivations[0]
            if first.problem is not None:
                _add_problem(problems, first.problem)
            else:
                shown.append(first.subject.written_out)
                shown.extend(meaning for _, meaning in first.lets)
        for d in derivations:
            if partial is None and d.partial:  # ∂L/∂w as the set writes it; ∂f/∂x for a formula
                partial = (d.top if d.top.is_Atom else symbol("f"), d.wrt)
        if answers:
            for d in derivations:
                shown.extend(_solution_expressions(d))
    for problem in problems.values():
        shown.append(problem.display_loss)
        shown.extend(item.definition for item in problem.intermediates)
    types, undefined, relu, sums = _scan(shown)
    rows = []
    for problem in problems.values():
        rows.extend(_problem_rows(problem))
    if sums:
        rows.append(Row("sum", _sum_of(problems)))
    if partial is not None:
        rows.append(Row("partial", partial))
    if undefined:
        rows.append(Row("unspecified", tuple(sympy.Symbol(name) for name in sorted(undefined))))
    for key, kinds, formula in FUNCTIONS:
        if (key == "relu" and relu) or any(kind in types for kind in kinds):
            rows.append(Row(key, formula if formula is not None else _shown_as(kinds[0])))
    unique, seen = [], set()
    for row in rows:
        mark = (row.key, str(row.maths))
        if mark not in seen:
            seen.add(mark)
            unique.append(row)
    return unique


def _problem_rows(problem):
    """A catalog problem's symbols: the loss, what the model computes, the parameters, the
    examples, its constants and the learning rate."""
    yield Row("loss", _formula(problem.loss_symbol, problem.display_loss), problem.title)
    for item in problem.model:
        yield Row("model", _formula(item.symbol, item.definition), item.name)
    for parameter in problem.parameters:
        yield Row("parameter", parameter.symbol, parameter.name)
    if problem.data:
        names = [base[problem.index] if problem.mean else base for base in problem.data.values()]
        if problem.mean:
            yield Row("examples", sympy.Tuple(*names), more=(problem.index, problem.size))
        else:
            yield Row("example", sympy.Tuple(*names))
    for key, value in problem.hyper.items():
        yield Row(f"hyper_{key}", value)
    yield Row("learning_rate", problem.learning_rate)


def _sum_of(problems):
    """Σ as the set writes it: over the examples i = 1 … n of a catalog problem, else of tᵢ."""
    for problem in problems.values():
        if problem.index is not None and problem.size is not None:
            return sympy.Sum(sympy.IndexedBase(symbol("t"))[problem.index], (problem.index, 1, problem.size))
    i, n = symbol("i"), symbol("n")
    return sympy.Sum(sympy.IndexedBase(symbol("t"))[i], (i, 1, n))


def _shown_as(kind):
    """How a function without a defining formula is written: ``max(a, b)``, ``ln(z)``."""
    if kind in (sympy.Max, sympy.Min):
        return kind(symbol("a"), symbol("b"))
    return kind(Z, evaluate=False)


def _add_problem(problems, problem):
    key = (problem.name, problem.title, problem.mean, problem.half, str(problem.learning_rate))
    problems.setdefault(key, problem)


def _prompt_expressions(spec):
    from derive.handout import prompts

    return list(prompts.expressions(getattr(spec, "prompt_parts", ()) or ()))


def _solution_expressions(d):
    """What a worked solution shows: every step's expression and derivative, the result."""
    stages = [d] + ([d.first] if getattr(d, "first", None) is not None else [])
    for stage in stages:
        yield stage.result
        for step in stage.steps.walk():
            yield step.expression
            yield step.derivative


def _scan(expressions):
    """The node types in ``expressions``, the names of unspecified functions, whether a
    max(0, ·) (a ReLU) and a Σ occur."""
    types, undefined, relu, sums, seen = set(), set(), False, False, 0
    for expr in expressions:
        if not isinstance(expr, sympy.Basic):
            continue
        for node in sympy.preorder_traversal(expr):
            seen += 1
            if seen > MAX_NODES:
                return types, undefined, relu, sums
            kind = type(node)
            types.add(kind)
            if isinstance(node, AppliedUndef):
                undefined.add(node.func.__name__)
            elif kind is sympy.Max and sympy.S.Zero in node.args:
                relu = True
            elif kind is sympy.Sum:
                sums = True
    return types, undefined, relu, sums
