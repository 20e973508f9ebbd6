"""The first step worked by hand, for small data: what a student writes on paper.

Each example's numbers go in a table (i, xᵢ, yᵢ, what the model computes, the error
eᵢ = ŷᵢ − yᵢ, and each product the partials sum, such as eᵢxᵢ), with the sums in a last
row Σ; each partial derivative is then the engine's result written in those sums,
∂L/∂w = (2/n) Σ eᵢxᵢ = (2/8)·(−30.32) = −7.579, and the update follows from it.

The columns come from the problem and the engine's partials, not from a list per loss:
the model's named quantities (zᵢ, hᵢ, ŷᵢ or pᵢ), the error, and each distinct term of
a sum over the examples, rewritten in those names. A term with branches (huber's clipped
error, relu's gate) gets a name of its own, gᵢ, defined under the table.
"""

from dataclasses import dataclass, field

import numpy as np
import sympy

from derive.descend.compile import Program
from derive.symbols import symbol

MAX_WORKED = 8  # the table is written for this many examples or fewer


@dataclass
class Column:
    """One column of the table: its heading (a SymPy expression such as eᵢxᵢ), what it
    stands for when that needs saying (ŷᵢ = b + w xᵢ), its values and, when a partial sums
    it, the sum."""

    symbol: sympy.Expr
    definition: sympy.Expr | None
    values: np.ndarray
    total: float | None = None
    kind: str = "data"  # "data", "model" (what the model computes), "error", "branch" (gᵢ), "term" (a product summed)
    name: str | None = None  # the lesson's word for it: "prediction", "error"


@dataclass
class WorkedPartial:
    """One partial derivative at the start: in the sums of the table, then with numbers."""

    parameter: object  # derive.engine.problems.Parameter
    in_sums: sympy.Expr  # (2/n) Σᵢ eᵢ xᵢ, with the named columns
    with_sums: sympy.Expr  # the same with each Σ replaced by a symbol whose value is its total
    totals: dict  # those symbols -> the totals
    value: float  # the partial derivative the run used


@dataclass
class FirstStep:
    """The table, the named branches (``where``: gᵢ = …) and each partial with numbers."""

    columns: list
    partials: list
    where: list = field(default_factory=list)  # [(symbol, definition)] of named branches
    index: sympy.Symbol | None = None
    size: sympy.Symbol | None = None
    n: int = 0

    @property
    def summed(self):
        return [c for c in self.columns if c.total is not None]


def first_step(run, limit=MAX_WORKED):
    """The first step of ``run`` worked example by example, or ``None`` above ``limit`` examples."""
    if run.data.n > limit:
        return None
    problem = run.problem
    i = problem.index
    x, y = (problem.data[k][i] for k in ("x", "y"))
    model = list(reversed(problem.model))  # innermost first: zᵢ before ŷᵢ
    prediction = problem.model[0].symbol
    error = symbol("e_i")
    # yᵢ = ŷᵢ − eᵢ, exactly: 2ŷᵢ − 2yᵢ (SymPy spreads the 2) becomes 2eᵢ like ŷᵢ − yᵢ becomes eᵢ
    renames = [(item.definition, item.symbol) for item in model] + [(y, prediction - error)]
    definitions = {item.symbol: item.definition for item in model}
    definitions[error] = prediction - y

    names = _Names(renames, {item.symbol for item in model} | {error})
    partials, terms = [], []
    for q, d in zip(problem.parameters, run.gradient.derivations):
        in_sums, pieces = sympy.S.Zero, []
        for term in sympy.Add.make_args(sympy.expand(d.result, deep=False)):
            outside, sums = sympy.S.One, []
            for factor in sympy.Mul.make_args(term):
                if isinstance(factor, sympy.Sum):
                    sums.append(factor)
                else:
                    outside *= factor
            if len(sums) != 1:
                in_sums += term
                pieces.append((term, None))
                continue
            body = names.rename(sums[0].function, i)
            constant, body = _split_constant(body, i, names.per_example)
            if body not in terms:
                terms.append(body)
            written = outside * constant * sympy.Sum(body, (i, 1, problem.size))
            in_sums += written
            pieces.append((outside * constant, body))
        partials.append((q, in_sums, pieces))
    for g_symbol, g_definition in names.branches:
        definitions[g_symbol] = g_definition

    columns = [Column(x, None, run.data.x, kind="data"), Column(y, None, run.data.y, kind="data")]
    for item in model:
        columns.append(Column(item.symbol, item.definition, None, kind="model", name=item.name))
    columns.append(Column(error, prediction - y, None, kind="error", name="error"))
    for g, _ in names.branches:
        columns.append(Column(g, None, None, kind="branch"))
    for body in sorted(terms, key=sympy.count_ops):
        if not any(c.symbol == body for c in columns):
            columns.append(Column(body, None, None, kind="term"))
    _evaluate(columns, definitions, run)

    by_symbol = {c.symbol: c for c in columns}
    worked = []
    h0 = run.history[0]
    for q, in_sums, pieces in partials:
        with_sums, totals = sympy.S.Zero, {}
        for coefficient, body in pieces:
            if body is None:
                with_sums += coefficient
                continue
            column = by_symbol[body]
            column.total = float(np.sum(column.values))
            total = sympy.Dummy(f"S{len(totals)}")
            totals[total] = column.total
            with_sums += coefficient * total
        worked.append(WorkedPartial(q, in_sums, with_sums, totals, h0[f"dL/d{q.name}"]))
    where = [(g, names.branch_definition(g)) for g, _ in names.branches]
    return FirstStep(columns, worked, where, i, problem.size, run.data.n)


class _Names:
    """Rewrites a term of a sum in the table's names: b + w xᵢ -> zᵢ, σ(zᵢ) -> pᵢ,
    pᵢ − yᵢ -> eᵢ; a term with branches becomes (common factors) · gᵢ."""

    def __init__(self, renames, per_example):
        self.renames = renames
        self.per_example = set(per_example)  # the names that change from example to example
        self.branches = []  # [(gᵢ, its Piecewise in the table's names)]

    def rename(self, expr, index):
        for old, new in self.renames:
            expr = expr.subs(old, new)
        pieces = list(expr.atoms(sympy.Piecewise))
        for piecewise in pieces:
            common, named = self._branch(piecewise)
            expr = expr.xreplace({piecewise: common * named})
        return expr

    def _branch(self, piecewise):
        """Factors every non-zero branch shares, and a name gᵢ for what is left."""
        bodies = [p.expr for p in piecewise.args if p.expr != 0]
        shared = None
        for body in bodies:
            factors = _factor_counts(body)
            shared = factors if shared is None else {f: min(k, factors.get(f, 0)) for f, k in shared.items()}
        shared = {f: k for f, k in (shared or {}).items() if k > 0}
        common = sympy.Mul(*(f ** k for f, k in shared.items()))
        rest = sympy.Piecewise(*[(sympy.cancel(p.expr / common) if p.expr != 0 else 0, p.cond)
                                 for p in piecewise.args])
        for g, known in self.branches:
            if known == rest:
                return common, g
        g = symbol("g_i") if not self.branches else symbol(f"g{len(self.branches) + 1}_i")
        self.branches.append((g, rest))
        self.per_example.add(g)
        return common, g

    def branch_definition(self, g):
        return dict(self.branches)[g]


def _factor_counts(expr):
    counts = {}
    for factor in sympy.Mul.make_args(expr):
        base, power = factor.as_base_exp()
        if power.is_Integer and power > 0:
            counts[base] = counts.get(base, 0) + int(power)
        else:
            counts[factor] = counts.get(factor, 0) + 1
    return counts


def _split_constant(body, index, per_example):
    """``body`` as (what does not change from example to example) · (what does)."""
    constant, varying = sympy.S.One, sympy.S.One
    for factor in sympy.Mul.make_args(body):
        if factor.has(index) or factor.free_symbols & per_example:
            varying *= factor
        else:
            constant *= factor
    return constant, varying


def _evaluate(columns, definitions, run):
    """Every column's values from its expression written out in xᵢ, yᵢ and the start."""
    from derive.engine.rules import substitute_definitions

    problem = run.problem
    wanted = [c for c in columns if c.values is None]
    exprs = [substitute_definitions(c.symbol, definitions) for c in wanted]
    scalars = {p.symbol: p.name for p in problem.parameters}
    for key, sym in problem.hyper.items():
        scalars[sym] = key
    arrays = {base: name for name, base in problem.data.items()}
    program = Program(exprs, scalars, arrays, problem.index, None, elementwise=True)
    values = program.bind({"x": run.data.x, "y": run.data.y}, dict(run.hyper))
    start = {p.name: run.history[0][p.name] for p in problem.parameters}
    for column, value in zip(wanted, values(start)):
        column.values = np.broadcast_to(np.asarray(value, dtype=np.float64), run.data.x.shape).copy()
