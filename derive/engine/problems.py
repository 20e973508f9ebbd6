"""Named problems: the losses of deep learning, each with its model, its named
intermediates and its parameters.

The first is the lesson's own: the mean squared error of a line, ``ŷᵢ = w·xᵢ + b`` and
``L = (1/n) Σ (ŷᵢ − yᵢ)²``, differentiated through the error ``errorᵢ = ŷᵢ − yᵢ``
exactly as ``shared/reference/calculating-the-gradient.md`` does it. Every other loss has
the same shape: a loss written in its intermediates, and an ordered list of definitions
(outermost first), so each is explained the same way: name the intermediates,
differentiate each, multiply along the chain, substitute back, then the update.

Conventions learners meet are options of every builder: ``half`` puts ½ in front of a
squared error, ``mean=False`` gives the loss of one example instead of the mean over n.
"""

from dataclasses import dataclass, field

import sympy
from sympy import Abs, Max, Piecewise, Rational, Sum, exp, log

from derive.errors import DeriveError
from derive.functions import sigmoid
from derive.symbols import indexed, symbol


@dataclass(frozen=True)
class Parameter:
    """A parameter the loss is differentiated by: ``weight`` printed as ``w``."""

    name: str  # what --wrt takes
    symbol: sympy.Symbol
    role: str
    spoken: str | None = None  # how prose says it, where the name is a programmer's (out_weight)

    @property
    def words(self):
        return self.spoken or self.name.replace("_", " ")


@dataclass(frozen=True)
class Intermediate:
    """A named part of the loss, e.g. the error ``errorᵢ = ŷᵢ − yᵢ``.

    ``role`` is ``"model"`` for what the model computes (shown with the model) and
    ``"named"`` for a name the explanation introduces (the error).
    """

    name: str
    symbol: sympy.Symbol
    definition: sympy.Expr
    role: str = "named"


@dataclass
class Problem:
    """A loss to differentiate, with everything needed to explain and check it."""

    name: str
    title: str
    loss: sympy.Expr  # written in the intermediates: (1/n) Σ errorᵢ²
    intermediates: list  # outermost first
    parameters: list
    display_loss: sympy.Expr  # the loss as the textbook writes it
    kind: str  # which words of templates/problems.j2 describe it
    index: sympy.Symbol | None = None
    size: sympy.Symbol | None = None
    data: dict = field(default_factory=dict)  # name -> IndexedBase (mean) or Symbol (one example)
    hyper: dict = field(default_factory=dict)  # λ, δ: constants the user chooses, kept positive
    loss_symbol: sympy.Symbol = field(default_factory=lambda: symbol("L"))
    learning_rate: sympy.Symbol = field(default_factory=lambda: symbol("alpha"))
    folds: dict = field(default_factory=dict)  # extra ways to write a result in the names
    identities: dict = field(default_factory=dict)  # facts of the data, e.g. y₃ = 1 − y₁ − y₂
    labels: str = "real"  # "real", "binary" (0 or 1) or "onehot" (sums to 1)
    half: bool = False
    mean: bool = True

    @property
    def definitions(self):
        """``{symbol: definition}`` for the engine's named intermediates."""
        return {item.symbol: item.definition for item in self.intermediates}

    @property
    def written_out(self):
        """The loss with every intermediate replaced: what SymPy differentiates directly."""
        from derive.engine.rules import substitute_definitions

        return substitute_definitions(self.loss, self.definitions)

    @property
    def per_example(self):
        """``{errorᵢ: i, …}``: the names that vary from example to example."""
        if not self.mean:
            return {}
        return {item.symbol: self.index for item in self.intermediates}

    @property
    def model(self):
        return [item for item in self.intermediates if item.role == "model"]

    @property
    def named(self):
        return [item for item in self.intermediates if item.role == "named"]

    def parameter(self, text):
        """The parameter called ``text`` (its long name or its symbol)."""
        wanted = str(text).strip()
        for p in self.parameters:
            if wanted in (p.name, str(p.symbol), p.symbol.name.replace("_", "")):
                return p
        from derive.render.printing import to_text

        valid = ", ".join(f"{p.name} ({to_text(p.symbol)})" for p in self.parameters)
        raise DeriveError(f"'{text}' is not a parameter of {self.name}; use one of: {valid}")

    def sample(self, rng, count=4):
        """Random values for a numeric check: data, hyperparameters, and the size n.

        Returns ``(sizes, fixed)``: ``{n: 4}`` and ``{x[1]: …, y[1]: …, λ: …}``.
        """
        sizes = {self.size: count} if self.mean and self.size is not None else {}
        fixed = {}
        for key, base in self.data.items():
            cells = [base[k] for k in range(1, count + 1)] if self.mean else [base]
            for cell in cells:
                fixed[cell] = self._sample_value(key, rng)
            if self.labels == "binary" and key.startswith("y") and self.mean:
                fixed[cells[0]], fixed[cells[1]] = 0.0, 1.0  # both classes, always
        if self.labels == "onehot":
            labels = [self.data[k] for k in sorted(self.data) if k.startswith("y")]
            weights = [rng.uniform(0.1, 1) for _ in labels]
            for cell, w in zip(labels, weights):
                fixed[cell] = w / sum(weights)  # a probability vector: the labels sum to 1
        for h in self.hyper.values():
            fixed[h] = rng.uniform(0.2, 1.5)
        return sizes, fixed

    def _sample_value(self, key, rng):
        if key.startswith("y") and self.labels == "binary":
            return float(rng.random() < 0.5)
        return rng.uniform(-2, 2)


# -- building blocks -----------------------------------------------------------------------
class _Data:
    """The data of a problem: indexed series over n examples, or one example's values."""

    def __init__(self, mean, names=("x", "y")):
        self.mean = mean
        self.index = sympy.Symbol("i", integer=True, positive=True) if mean else None
        self.size = symbol("n") if mean else None
        self.bases = {name: indexed(name) if mean else symbol(name) for name in names}

    def __getitem__(self, name):
        base = self.bases[name]
        return base[self.index] if self.mean else base

    def name(self, word):
        """A per-example name: ``error_i`` over a data set, ``error`` for one example."""
        return symbol(f"{word}_i" if self.mean else word)

    def average(self, term):
        """(1/n) Σᵢ term over a data set, or the term itself for one example."""
        if not self.mean:
            return term
        return Sum(term, (self.index, 1, self.size)) / self.size

    def problem(self, **kwargs):
        return Problem(index=self.index, size=self.size, data=dict(self.bases), mean=self.mean, **kwargs)


def _line_parameters():
    return [Parameter("weight", symbol("w"), "the slope of the line"),
            Parameter("bias", symbol("b"), "where the line crosses the y-axis")]


def _plus(*terms):
    """A sum in the order the lesson writes it (w xᵢ + b, not SymPy's b + w xᵢ)."""
    return sympy.Add(*terms, evaluate=False)


def _times(*factors):
    return sympy.Mul(*factors, evaluate=False)


def _minus(a, b):
    """a − b, in that order."""
    return _plus(a, _times(sympy.S.NegativeOne, b))


def _linear(w, x, b):
    """w x + b, as the lesson writes the model."""
    return _plus(_times(w, x), b)


def _line_error(d, prediction, error):
    """The lesson's names for a line: the error errorᵢ = ŷᵢ − yᵢ, the prediction ŷᵢ = w xᵢ + b."""
    return [
        Intermediate("error", error, _minus(prediction, d["y"])),
        Intermediate("prediction", prediction, _linear(symbol("w"), d["x"], symbol("b")), "model"),
    ]


def _squared(error, half):
    return Rational(1, 2) * error**2 if half else error**2


# -- the catalog ------------------------------------------------------------------------------
def mse(half=False, mean=True):
    """The lesson's loss: L = (1/n) Σ (ŷᵢ − yᵢ)² with ŷᵢ = w·xᵢ + b."""
    d = _Data(mean)
    prediction, error = d.name("yhat"), d.name("error")
    loss = d.average(_squared(error, half))
    return d.problem(
        name="mse", title="Mean squared error of a line", kind="mse", half=half,
        loss=loss,
        display_loss=d.average(_squared(prediction - d["y"], half)),
        intermediates=_line_error(d, prediction, error),
        parameters=_line_parameters(),
    )


def mae(half=False, mean=True):
    """Mean absolute error: L = (1/n) Σ |ŷᵢ − yᵢ|."""
    _no_half("mae", half)
    d = _Data(mean)
    prediction, error = d.name("yhat"), d.name("error")
    return d.problem(
        name="mae", title="Mean absolute error of a line", kind="mae",
        loss=d.average(Abs(error)),
        display_loss=d.average(Abs(prediction - d["y"])),
        intermediates=_line_error(d, prediction, error),
        parameters=_line_parameters(),
    )


def bce(half=False, mean=True):
    """Binary cross-entropy of logistic regression: pᵢ = σ(w xᵢ + b)."""
    _no_half("bce", half)
    d = _Data(mean)
    w, b = symbol("w"), symbol("b")
    p, z = d.name("p"), d.name("z")
    y = d["y"]
    likelihood = y * log(p) + (1 - y) * log(1 - p)
    # −(1/n) Σ [yᵢ ln pᵢ + (1 − yᵢ) ln(1 − pᵢ)]: the minus stays outside, as textbooks write it
    loss = -d.average(likelihood) if mean else sympy.Mul(-1, likelihood, evaluate=False)
    return d.problem(
        name="bce", title="Binary cross-entropy of logistic regression", kind="bce",
        labels="binary",
        loss=loss,
        display_loss=loss,
        intermediates=[
            Intermediate("probability", p, sigmoid(z), "model"),
            Intermediate("logit", z, _linear(w, d["x"], b), "model"),
        ],
        parameters=_line_parameters(),
    )


def ridge(half=False, mean=True):
    """Ridge regression: the mean squared error plus the penalty λ w²."""
    d = _Data(mean)
    w, lam = symbol("w"), symbol("lambda")
    prediction, error = d.name("yhat"), d.name("error")
    return d.problem(
        name="ridge", title="Ridge regression: mean squared error plus λ w²", kind="ridge", half=half,
        loss=d.average(_squared(error, half)) + lam * w**2,
        display_loss=d.average(_squared(prediction - d["y"], half)) + lam * w**2,
        intermediates=_line_error(d, prediction, error),
        parameters=_line_parameters(),
        hyper={"lambda": lam},
    )


def huber(half=False, mean=True):
    """Huber loss: ½e² near zero, δ(|e| − ½δ) beyond the threshold δ."""
    _no_half("huber", half)
    d = _Data(mean)
    delta = symbol("delta")
    prediction, error = d.name("yhat"), d.name("error")

    def huber_of(e):
        return Piecewise((e**2 / 2, Abs(e) <= delta), (delta * (Abs(e) - delta / 2), True))

    return d.problem(
        name="huber", title="Huber loss of a line", kind="huber",
        loss=d.average(huber_of(error)),
        display_loss=d.average(huber_of(prediction - d["y"])),
        intermediates=_line_error(d, prediction, error),
        parameters=_line_parameters(),
        hyper={"delta": delta},
    )


def relu(half=False, mean=True):
    """A ReLU unit with squared error: ŷᵢ = max(0, w xᵢ + b)."""
    d = _Data(mean)
    w, b = symbol("w"), symbol("b")
    prediction, error, z = d.name("yhat"), d.name("error"), d.name("z")
    return d.problem(
        name="relu", title="A ReLU unit with squared error", kind="relu", half=half,
        loss=d.average(_squared(error, half)),
        display_loss=d.average(_squared(Max(0, w * d["x"] + b) - d["y"], half)),
        intermediates=[
            Intermediate("error", error, _minus(prediction, d["y"])),
            Intermediate("activation", prediction, Max(0, z), "model"),
            Intermediate("pre-activation", z, _linear(w, d["x"], b), "model"),
        ],
        parameters=_line_parameters(),
    )


def softmax(half=False, mean=False):
    """Softmax cross-entropy over three classes, for one example: ∂L/∂oⱼ = sⱼ − yⱼ."""
    _no_half("softmax", half)
    if mean:
        raise DeriveError("softmax is the loss of one example here; drop --mean")
    logits = [symbol(f"o_{j}") for j in (1, 2, 3)]
    labels = [symbol(f"y_{j}") for j in (1, 2, 3)]
    probs = [symbol(f"s_{j}") for j in (1, 2, 3)]
    total = symbol("Z")
    loss = -sum((y * log(s) for y, s in zip(labels, probs)), sympy.S.Zero)
    return Problem(
        name="softmax", title="Softmax cross-entropy over three classes", kind="softmax",
        labels="onehot", mean=False,
        loss=loss,
        display_loss=loss,
        # outermost first: the model is then shown innermost first, Z before s₁, s₂, s₃
        intermediates=[Intermediate("softmax", s, exp(o) / total, "model")
                       for s, o in reversed(list(zip(probs, logits)))]
        + [Intermediate("normaliser", total, sum((exp(o) for o in logits), sympy.S.Zero), "model")],
        parameters=[Parameter(f"logit{j}", o, f"the score of class {j}", "logit") for j, o in zip((1, 2, 3), logits)],
        data={f"y{j}": y for j, y in zip((1, 2, 3), labels)},
        folds={exp(o): s * total for s, o in zip(probs, logits)},
        identities={labels[0] + labels[1] + labels[2]: 1},
    )


def neuron(half=False, mean=False):
    """One sigmoid neuron with two inputs and squared error."""
    d = _Data(mean, names=("x_1", "x_2", "y"))
    w1, w2, b = symbol("w_1"), symbol("w_2"), symbol("b")
    prediction, error, z = d.name("yhat"), d.name("error"), d.name("z")
    return d.problem(
        name="neuron", title="One sigmoid neuron, two inputs, squared error", kind="neuron", half=half,
        loss=d.average(_squared(error, half)),
        display_loss=d.average(_squared(sigmoid(w1 * d["x_1"] + w2 * d["x_2"] + b) - d["y"], half)),
        intermediates=[
            Intermediate("error", error, _minus(prediction, d["y"])),
            Intermediate("output", prediction, sigmoid(z), "model"),
            Intermediate("pre-activation", z, _plus(_times(w1, d["x_1"]), _times(w2, d["x_2"]), b), "model"),
        ],
        parameters=[Parameter("weight1", w1, "the weight of the first input"),
                    Parameter("weight2", w2, "the weight of the second input"),
                    Parameter("bias", b, "the bias")],
    )


def mlp(half=False, mean=False):
    """A network with one hidden unit, ŷ = v·σ(w x + b) + c: backpropagation as chain rule."""
    d = _Data(mean)
    w, b, v, c = symbol("w"), symbol("b"), symbol("v"), symbol("c")
    prediction, error, z, h = d.name("yhat"), d.name("error"), d.name("z"), d.name("h")
    return d.problem(
        name="mlp", title="A network with one hidden unit", kind="mlp", half=half,
        loss=d.average(_squared(error, half)),
        display_loss=d.average(_squared(v * sigmoid(w * d["x"] + b) + c - d["y"], half)),
        intermediates=[
            Intermediate("error", error, _minus(prediction, d["y"])),
            Intermediate("output", prediction, _linear(v, h, c), "model"),
            Intermediate("hidden activation", h, sigmoid(z), "model"),
            Intermediate("pre-activation", z, _linear(w, d["x"], b), "model"),
        ],
        parameters=[Parameter("weight", w, "the hidden unit's weight"),
                    Parameter("bias", b, "the hidden unit's bias"),
                    Parameter("out_weight", v, "the output weight", "output weight"),
                    Parameter("out_bias", c, "the output bias", "output bias")],
    )


def _no_half(name, half):
    if half:
        raise DeriveError(f"the ½ convention is for squared errors; {name} has none (drop --half)")


CATALOG = {
    "mse": mse, "mae": mae, "bce": bce, "ridge": ridge, "huber": huber, "relu": relu,
    "softmax": softmax, "neuron": neuron, "mlp": mlp,
}
ALIASES = {"logistic": "bce"}


def get_problem(name, **conventions):
    """The named problem (with ``half``/``mean`` conventions), or None if there is none."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    build = CATALOG.get(key)
    if build is None:
        return None
    return build(**{k: v for k, v in conventions.items() if v is not None})


# kept for callers of the first version
mean_squared_error = mse
