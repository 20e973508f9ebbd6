"""Named problems: a loss, its model, its named intermediates and its parameters.

The first is the lesson's own: the mean squared error of a line, ``ŷᵢ = w·xᵢ + b`` and
``L = (1/n) Σ (ŷᵢ − yᵢ)²``, differentiated through the error ``errorᵢ = ŷᵢ − yᵢ``
exactly as ``shared/reference/calculating-the-gradient.md`` does it. More losses fit the
same shape: a loss written in its intermediates, and an ordered list of definitions.
"""

from dataclasses import dataclass, field

import sympy

from .errors import DeriveError
from .symbols import indexed, symbol


@dataclass(frozen=True)
class Parameter:
    """A parameter the loss is differentiated by: ``weight`` printed as ``w``."""

    name: str
    symbol: sympy.Symbol
    role: str


@dataclass(frozen=True)
class Intermediate:
    """A named part of the loss, e.g. the error ``errorᵢ = ŷᵢ − yᵢ``."""

    name: str  # the lesson's word: "error", "prediction"
    symbol: sympy.Symbol
    definition: sympy.Expr


@dataclass
class Problem:
    """A loss to differentiate, with everything needed to explain and check it."""

    name: str
    title: str
    loss: sympy.Expr  # written in the intermediates: (1/n) Σ errorᵢ²
    intermediates: list  # outermost first: error, then prediction
    parameters: list
    index: sympy.Symbol
    size: sympy.Symbol
    data: dict = field(default_factory=dict)  # "x": IndexedBase, "y": IndexedBase
    loss_symbol: sympy.Symbol = None
    learning_rate: sympy.Symbol = None

    @property
    def definitions(self):
        """``{symbol: definition}`` for the engine's named intermediates."""
        return {item.symbol: item.definition for item in self.intermediates}

    @property
    def written_out(self):
        """The loss with every intermediate replaced: what SymPy differentiates directly."""
        from .rules import substitute_definitions

        return substitute_definitions(self.loss, self.definitions)

    def parameter(self, text):
        """The parameter called ``text`` (its long name or its symbol)."""
        wanted = text.strip()
        for p in self.parameters:
            if wanted in (p.name, str(p.symbol)):
                return p
        valid = ", ".join(f"{p.name} ({p.symbol})" for p in self.parameters)
        raise DeriveError(f"'{text}' is not a parameter of {self.name}; use one of: {valid}")

    def sample_data(self, rng, count=4):
        """Random data for a numeric check: ``{x[1]: …, y[1]: …, …}`` and the size n."""
        values = {self.size: count}
        for base in self.data.values():
            for k in range(1, count + 1):
                values[base[k]] = rng.uniform(-2, 2)
        return values


def mean_squared_error():
    """The lesson's loss: L = (1/n) Σ (ŷᵢ − yᵢ)² with ŷᵢ = w·xᵢ + b."""
    w, b, n = symbol("w"), symbol("b"), symbol("n")
    i = sympy.Symbol("i", integer=True, positive=True)
    x, y = indexed("x"), indexed("y")
    prediction = symbol("yhat_i")
    error = symbol("error_i")
    return Problem(
        name="mse",
        title="Mean squared error of a line",
        loss=sympy.Sum(error**2, (i, 1, n)) / n,
        intermediates=[
            Intermediate("error", error, prediction - y[i]),
            Intermediate("prediction", prediction, w * x[i] + b),
        ],
        parameters=[
            Parameter("weight", w, "the slope of the line"),
            Parameter("bias", b, "where the line crosses the y-axis"),
        ],
        index=i,
        size=n,
        data={"x": x, "y": y},
        loss_symbol=symbol("L"),
        learning_rate=symbol("alpha"),
    )


CATALOG = {"mse": mean_squared_error}


def get_problem(name):
    """The named problem, or None when ``name`` is not in the catalog."""
    build = CATALOG.get(name.strip().lower())
    return build() if build else None
