"""The vector (matrix-calculus) forms of the catalog's losses, as the primers write them.

For mse, ridge, bce (logistic), softmax over K classes, a neuron with an input vector and
an mlp with a hidden layer of H units: the forward pass with the shape of every factor,
the local derivatives as Jacobians, and the vector chain rule as products of Jacobians in
the order the layout convention gives:

* numerator layout: ∂u/∂v is (size of u) × (size of v); ∂L/∂w is a row, and the chain
  rule grows to the right, ∂L/∂w = ∂L/∂r · ∂r/∂w;
* denominator layout: ∂u/∂v is (size of v) × (size of u); ∂L/∂w has the shape of w, and
  the chain rule grows to the left, ∂L/∂w = ∂r/∂w · ∂L/∂r.

Every line is checked with random matrices of two sizes: each Jacobian against central
differences of its own definition, each chain-rule line both as the product of its
Jacobians and against central differences of L, and at the index form's sizes (one
feature, one hidden unit, three classes) every gradient against derive's step-by-step
index-form result.

>>> v = explain_vector("mse")
>>> v.check.passed
True
>>> print(v.gradient_text("w"))
(2/n) Xᵀ (X w + b 𝟏 − y)
"""

import random
from dataclasses import dataclass, field

import numpy as np
import sympy

from derive.engine import matrix as mx
from derive.engine.matrix import Scalar, adjoint, diag, dims, hadamard, ones, scalar, vector
from derive.errors import DeriveError
from derive.render.document import Document

SUPPORTED = ("mse", "ridge", "bce", "softmax", "neuron", "mlp")
ALIASES = {"logistic": "bce"}
LAYOUTS = ("denominator", "numerator")
STEP = 1e-6
TOLERANCE = 1e-6  # relative to max(1, |value|): float64 central differences are good to ~1e-9


@dataclass
class Edge:
    """``of`` is computed from ``wrt``: the local Jacobian ∂of/∂wrt in numerator layout, or
    for a matrix parameter (z = W x + b) the vector ``outer`` with ∂zᵢ/∂Wᵢⱼ = xⱼ."""

    of: str
    wrt: str
    jacobian: object = None
    outer: object = None
    note: str = ""


@dataclass
class Spec:
    """One loss in vector form: its leaves, forward definitions, edges and results."""

    name: str
    half: bool
    leaves: dict  # name -> Leaf
    roles: dict  # name -> "data", "parameter", "hyper"
    parameters: list
    forward: list  # [(name, expression)], the loss last
    edges: list
    simplified: dict  # node -> ∂L/∂node in denominator layout, in forward values
    backprop: list  # [(node, ∂L/∂node from the adjoints of the nodes it feeds)], for code
    written: dict  # parameter -> ∂L/∂parameter with every intermediate written out
    sizes: list  # two sets of random sizes; the second is the index form's
    labels: str = "real"
    twin: object = None  # values -> (catalog name, {symbol: value}) at the index form's sizes
    notes: list = field(default_factory=list)  # facts a simplification uses (𝟏ᵀy = 1)

    def node(self, name):
        if name in self.leaves:
            return self.leaves[name]
        raise KeyError(name)

    @property
    def loss(self):
        return self.forward[-1][1]

    @property
    def intermediates(self):
        return [name for name, _ in self.forward]


def _k(half):
    return sympy.Rational(1, 2) if half else sympy.Integer(1)


# -- the six losses ------------------------------------------------------------------------------
def _line_model(name, half, ridge=False):
    n, d = dims("n d")
    X, y, w, b, one = mx.matrix("X", n, d), vector("y", n), vector("w", d), scalar("b"), ones(n)
    r, L = vector("r", n), scalar("L")
    k, lam = _k(half), sympy.Symbol("lambda", positive=True)
    leaves = {"X": X, "y": y, "w": w, "b": b, "r": r, "L": L}
    roles = {"X": "data", "y": "data", "w": "parameter", "b": "parameter"}
    two = Scalar(2 * k / n)
    forward = [("r", X * w + b * one - y)]
    edges = [Edge("L", "r", two * r.T, note="power"), Edge("r", "w", X, note="linear"),
             Edge("r", "b", one, note="bias")]
    grad_w, grad_b = two * (X.T * r), two * (one.T * r)
    written_r = X * w + b * one - y
    written_w, written_b = two * (X.T * written_r), two * (one.T * written_r)
    backprop = [("r", two * r), ("w", X.T * adjoint("r", r.shape)), ("b", one.T * adjoint("r", r.shape))]
    if ridge:
        P = scalar("P")
        leaves["P"], roles["lambda"] = P, "hyper"
        forward += [("P", Scalar(lam) * (w.T * w)), ("L", Scalar(k / n) * (r.T * r) + P)]
        edges += [Edge("L", "P", Scalar(sympy.Integer(1)), note="sum"),
                  Edge("P", "w", Scalar(2 * lam) * w.T, note="power")]
        penalty = Scalar(2 * lam) * w
        grad_w, written_w = grad_w + penalty, written_w + penalty
        backprop[1] = ("w", X.T * adjoint("r", r.shape) + penalty)
    else:
        forward += [("L", Scalar(k / n) * (r.T * r))]
    simplified = {"r": two * r, "w": grad_w, "b": grad_b}
    if ridge:
        simplified["P"] = Scalar(sympy.Integer(1))

    def twin(env):
        values = _index_values(env)
        if ridge:
            from derive.symbols import symbol

            values[symbol("lambda")] = env["lambda"]
        return values

    return Spec(name, half, leaves, roles, ["w", "b"], forward, edges, simplified, backprop,
                {"w": written_w, "b": written_b}, sizes=[{n: 6, d: 3}, {n: 4, d: 1}], twin=twin)


def _mse(half):
    return _line_model("mse", half)


def _ridge(half):
    return _line_model("ridge", half, ridge=True)


def _bce(half):
    if half:
        raise DeriveError("the ½ convention is for squared errors; bce has none (drop --half)")
    n, d = dims("n d")
    X, y, w, b, one = mx.matrix("X", n, d), vector("y", n), vector("w", d), scalar("b"), ones(n)
    z, p, L = vector("z", n), vector("p", n), scalar("L")
    third = Scalar(1 / n)
    log = lambda a: mx.apply("log", a)  # noqa: E731
    forward = [("z", X * w + b * one), ("p", mx.apply("sigmoid", z)),
               ("L", -(third * (y.T * log(p) + (one - y).T * log(one - p))))]
    d_p = -(third * (mx.divide(y, p) - mx.divide(one - y, one - p)))
    edges = [Edge("L", "p", mx.Transpose(d_p), note="log"), Edge("p", "z", diag(hadamard(p, one - p)), note="diagonal"),
             Edge("z", "w", X, note="linear"), Edge("z", "b", one, note="bias")]
    written_p = mx.apply("sigmoid", X * w + b * one)
    simplified = {"p": d_p, "z": third * (p - y), "w": third * (X.T * (p - y)), "b": third * (one.T * (p - y))}
    backprop = [("z", third * (p - y)), ("w", X.T * adjoint("z", z.shape)), ("b", one.T * adjoint("z", z.shape))]

    twin = _index_values

    return Spec("bce", False, {"X": X, "y": y, "w": w, "b": b, "z": z, "p": p, "L": L},
                {"X": "data", "y": "data", "w": "parameter", "b": "parameter"}, ["w", "b"], forward, edges,
                simplified, backprop,
                {"w": third * (X.T * (written_p - y)), "b": third * (one.T * (written_p - y))},
                sizes=[{n: 6, d: 3}, {n: 4, d: 1}], labels="binary", twin=twin)


def _softmax(half):
    if half:
        raise DeriveError("the ½ convention is for squared errors; softmax has none (drop --half)")
    K = dims("K")
    o, y, s, L = vector("o", K), vector("y", K), vector("s", K), scalar("L")
    forward = [("s", mx.Softmax(o)), ("L", -(y.T * mx.apply("log", s)))]
    d_s = -mx.divide(y, s)
    edges = [Edge("L", "s", mx.Transpose(d_s), note="log"),
             Edge("s", "o", diag(s) - s * s.T, note="softmax")]
    simplified = {"s": d_s, "o": s - y}
    backprop = [("o", s - y)]

    def twin(env):
        from derive.symbols import symbol

        values = {}
        for j in range(3):
            values[symbol(f"o_{j + 1}")] = env["o"][j, 0]
            values[symbol(f"y_{j + 1}")] = env["y"][j, 0]
        return values

    return Spec("softmax", False, {"o": o, "y": y, "s": s, "L": L}, {"y": "data", "o": "parameter"}, ["o"],
                forward, edges, simplified, backprop, {"o": mx.Softmax(o) - y},
                sizes=[{K: 5}, {K: 3}], labels="onehot", twin=twin, notes=["labels"])


def _neuron(half):
    d = dims("d")
    x, w, b, y = vector("x", d), vector("w", d), scalar("b"), scalar("y")
    z, yhat, error, L = scalar("z"), scalar("yhat"), scalar("error"), scalar("L")
    k = _k(half)
    one = Scalar(sympy.Integer(1))
    forward = [("z", w.T * x + b), ("yhat", mx.apply("sigmoid", z)), ("error", yhat - y),
               ("L", Scalar(k) * mx.apply("square", error) if half else mx.apply("square", error))]
    slope = yhat * (one - yhat)
    two = Scalar(2 * k)
    edges = [Edge("L", "error", two * error, note="power"), Edge("error", "yhat", one, note="sum"),
             Edge("yhat", "z", slope, note="sigmoid"), Edge("z", "w", x.T, note="linear"),
             Edge("z", "b", one, note="bias")]
    delta = two * error * slope
    simplified = {"error": two * error, "yhat": two * error, "z": delta, "w": delta * x, "b": delta}
    backprop = [("error", two * error), ("z", adjoint("error", (1, 1)) * slope),
                ("w", adjoint("z", (1, 1)) * x), ("b", adjoint("z", (1, 1)))]
    out = mx.apply("sigmoid", w.T * x + b)
    written = two * (out - y) * out * (one - out)

    def twin(env):
        from derive.symbols import symbol

        values = {symbol("b"): env["b"][0, 0], symbol("y"): env["y"][0, 0]}
        for j in range(2):
            values[symbol(f"w_{j + 1}")] = env["w"][j, 0]
            values[symbol(f"x_{j + 1}")] = env["x"][j, 0]
        return values

    return Spec("neuron", half, {"x": x, "w": w, "b": b, "y": y, "z": z, "yhat": yhat, "error": error, "L": L},
                {"x": "data", "y": "data", "w": "parameter", "b": "parameter"}, ["w", "b"], forward, edges,
                simplified, backprop, {"w": written * x, "b": written}, sizes=[{d: 4}, {d: 2}], twin=twin)


def _mlp(half):
    d, H = dims("d H")
    x, W, b, v, c, y = vector("x", d), mx.matrix("W", H, d), vector("b", H), vector("v", H), scalar("c"), scalar("y")
    z, h, yhat, error, L = vector("z", H), vector("h", H), scalar("yhat"), scalar("error"), scalar("L")
    one, unit = ones(H), Scalar(sympy.Integer(1))
    k = _k(half)
    two = Scalar(2 * k)
    forward = [("z", W * x + b), ("h", mx.apply("sigmoid", z)), ("yhat", v.T * h + c), ("error", yhat - y),
               ("L", Scalar(k) * mx.apply("square", error) if half else mx.apply("square", error))]
    slope = hadamard(h, one - h)
    edges = [Edge("L", "error", two * error, note="power"), Edge("error", "yhat", unit, note="sum"),
             Edge("yhat", "h", v.T, note="linear"), Edge("yhat", "v", h.T, note="linear"),
             Edge("yhat", "c", unit, note="bias"), Edge("h", "z", diag(slope), note="diagonal"),
             Edge("z", "W", outer=x, note="outer"), Edge("z", "b", mx.identity(H), note="identity")]
    delta = two * error * hadamard(v, h, one - h)
    simplified = {"error": two * error, "yhat": two * error, "h": two * error * v, "v": two * error * h,
                  "c": two * error, "z": delta, "W": delta * x.T, "b": delta}
    backprop = [("error", two * error), ("v", adjoint("error", (1, 1)) * h), ("c", adjoint("error", (1, 1))),
                ("h", adjoint("error", (1, 1)) * v), ("z", hadamard(adjoint("h", h.shape), h, one - h)),
                ("W", adjoint("z", z.shape) * x.T), ("b", adjoint("z", z.shape))]
    a = mx.apply("sigmoid", W * x + b)
    err = v.T * a + c - y
    written_delta = two * err * hadamard(v, a, one - a)

    def twin(env):
        from derive.symbols import symbol

        return {symbol("w"): env["W"][0, 0], symbol("b"): env["b"][0, 0], symbol("v"): env["v"][0, 0],
                symbol("c"): env["c"][0, 0], symbol("x"): env["x"][0, 0], symbol("y"): env["y"][0, 0]}

    return Spec("mlp", half, {"x": x, "W": W, "b": b, "v": v, "c": c, "y": y, "z": z, "h": h, "yhat": yhat,
                              "error": error, "L": L},
                {"x": "data", "y": "data", "W": "parameter", "b": "parameter", "v": "parameter", "c": "parameter"},
                ["W", "b", "v", "c"], forward, edges, simplified, backprop,
                {"W": written_delta * x.T, "b": written_delta, "v": two * err * a, "c": two * err},
                sizes=[{H: 4, d: 3}, {H: 1, d: 1}], twin=twin)


SPECS = {"mse": _mse, "ridge": _ridge, "bce": _bce, "softmax": _softmax, "neuron": _neuron, "mlp": _mlp}
TWIN_PARAMETERS = {  # the index form's name of each vector parameter, at the index form's sizes
    "mse": {"w": ["w"], "b": ["b"]}, "ridge": {"w": ["w"], "b": ["b"]}, "bce": {"w": ["w"], "b": ["b"]},
    "softmax": {"o": ["o_1", "o_2", "o_3"]}, "neuron": {"w": ["w_1", "w_2"], "b": ["b"]},
    "mlp": {"W": ["w"], "b": ["b"], "v": ["v"], "c": ["c"]},
}


def spec(name, half=False):
    """The vector-form specification of a catalog loss (``mse``, …, ``logistic``)."""
    key = ALIASES.get(str(name).strip().lower(), str(name).strip().lower())
    if key not in SPECS:
        raise DeriveError(f"--form vector and --form numpy are for {', '.join(SUPPORTED)} (and logistic); "
                          f"{name!r} has no vector form here")
    return SPECS[key](bool(half))


# -- the lines of the derivation ---------------------------------------------------------------
def _index_values(env):
    """The index form's values for a point of the vector form: w, b, n and each xᵢ, yᵢ (one
    feature), so both forms can be evaluated at the same point."""
    from derive.symbols import indexed, symbol

    x_, y_ = indexed("x"), indexed("y")
    count = env["X"].shape[0]
    values = {symbol("w"): env["w"][0, 0], symbol("b"): env["b"][0, 0], symbol("n"): count}
    for i in range(count):
        values[x_[i + 1]] = env["X"][i, 0]
        values[y_[i + 1]] = env["y"][i, 0]
    return values


@dataclass
class Line:
    """One line: what it says (``kind``), its two sides, and the shape of every factor.

    ``kind``: "define", "loss", "local" (a Jacobian), "entrywise" (the gradient of a
    matrix parameter, entry by entry), "chain" (∂L/∂node from the nodes it feeds),
    "written" (a parameter's gradient with every intermediate written out).
    """

    kind: str
    node: str
    wrt: str | None = None
    product: object = None  # the chain rule's product of Jacobians, in the layout's order
    terms: list = field(default_factory=list)  # per node fed: [(∂L/∂that node or its ∂, ∂/∂node)] in order
    rhs: object = None
    note: str = ""
    passed: bool = True
    error: float = 0.0
    method: str = ""

    @property
    def shape(self):
        return self.rhs.shape

    def factors(self):
        """[(factor, its shape)] of the product of Jacobians and of the right-hand side, each once."""
        found = mx.factors(self.product) if self.product is not None else []
        found += mx.factors(self.rhs)
        out, seen = [], set()
        for f in found:
            key = mx.text(f)
            if key not in seen:
                seen.add(key)
                out.append((f, f.shape))
        return out


@dataclass
class VectorCheck:
    passed: bool
    lines: int
    max_error: float
    sizes: list
    twin: bool  # the index form's gradient was compared at its sizes
    twin_error: float = 0.0

    def to_dict(self):
        return {"passed": self.passed, "lines": self.lines, "max_error": self.max_error,
                "sizes": [{str(k): v for k, v in s.items()} for s in self.sizes],
                "index_form_compared": self.twin, "index_form_max_error": self.twin_error,
                "method": "central differences with random matrices"}


class VectorExplanation(Document):
    """The vector form of one loss under one layout convention, every line checked."""

    def __init__(self, spec_, layout, lines, check, learning_rate):
        self.spec = spec_
        self.layout = layout
        self.lines = lines
        self.check = check
        self.learning_rate = learning_rate

    problem = property(lambda self: self.spec.name)
    half = property(lambda self: self.spec.half)

    def gradient_text(self, parameter):
        """The written-out gradient of ``parameter`` as one line of Unicode."""
        return mx.text(self.spec.written[parameter])

    def to_dict(self):
        return {
            "problem": self.spec.name, "form": "vector", "layout": self.layout,
            "lines": [{"kind": ln.kind, "node": ln.node, "wrt": ln.wrt,
                       "product": mx.text(ln.product) if ln.product is not None else None,
                       "expression": mx.text(ln.rhs), "shape": [str(s) for s in ln.shape],
                       "factors": [{"factor": mx.text(f), "shape": [str(s) for s in shp]} for f, shp in ln.factors()],
                       "passed": ln.passed, "max_error": ln.error}
                      for ln in self.lines],
            "gradient": {p: mx.text(self.spec.written[p]) for p in self.spec.parameters},
            "check": self.check.to_dict(),
        }

    def render(self, fmt="text", *, color=False, standalone=False, directory=None):
        if fmt == "json":
            return self.to_json() + "\n"
        return _render(self, fmt, color=color, standalone=standalone, directory=directory)


def explain_vector(name, *, half=False, layout="denominator", learning_rate="alpha", seed=0):
    """The matrix-calculus explanation of a catalog loss, every line checked numerically."""
    if layout not in LAYOUTS:
        raise DeriveError(f"--layout is denominator or numerator, not {layout!r}")
    s = spec(name, half)
    lines = derivation_lines(s, layout)
    check = check_lines(s, lines, layout, seed)
    from derive.symbols import symbol

    return VectorExplanation(s, layout, lines, check, symbol(learning_rate))


def jacobian(edge, layout):
    """The local Jacobian in the layout's orientation."""
    return edge.jacobian if layout == "numerator" else mx.transpose(edge.jacobian)


def _adjoint_shape(s, node, layout):
    shape = s.node(node).shape
    return shape if layout == "denominator" else (shape[1], shape[0])


def contribution(s, edge, layout):
    """∂L/∂(edge.of) times the edge's Jacobian, in the layout's order (∂L/∂L = 1 is left
    out): the factors in that order, each a pair (what it is, its value)."""
    upstream = None if edge.of == "L" else adjoint(edge.of, _adjoint_shape(s, edge.of, layout))
    if edge.outer is not None:  # ∂L/∂Wᵢⱼ = (∂L/∂z)ᵢ xⱼ
        if layout == "denominator":
            return [(("L", edge.of), upstream), (None, edge.outer.T)]
        return [(None, edge.outer), (("L", edge.of), upstream)]
    J = (("jacobian", edge.of, edge.wrt), jacobian(edge, layout))
    if upstream is None:
        return [J]
    return [(("L", edge.of), upstream), J] if layout == "numerator" else [J, (("L", edge.of), upstream)]


def derivation_lines(s, layout):
    """Forward definitions, local Jacobians, the chain rule from the loss back, written out."""
    lines = [Line("loss" if name == "L" else "define", name, rhs=expr) for name, expr in s.forward]
    for edge in s.edges:
        if edge.outer is not None:
            lines.append(Line("entrywise", edge.of, edge.wrt, rhs=edge.outer, note=edge.note))
        else:
            lines.append(Line("local", edge.of, edge.wrt, rhs=jacobian(edge, layout), note=edge.note))
    backward = [name for name, _ in reversed(s.forward[:-1])] + s.parameters
    for node in backward:
        feeding = [e for e in s.edges if e.wrt == node]
        if not feeding or node not in s.simplified:
            continue
        if len(feeding) == 1 and feeding[0].of == "L":
            continue  # ∂L/∂r is its own local derivative, already a line above
        terms = [contribution(s, e, layout) for e in feeding]
        product = mx.add(*[mx.product(*[value for _, value in term]) for term in terms])
        rhs = s.simplified[node] if layout == "denominator" else mx.transpose(s.simplified[node])
        lines.append(Line("chain", node, product=product, rhs=rhs, terms=terms))
    for p in s.parameters:
        rhs = s.written[p] if layout == "denominator" else mx.transpose(s.written[p])
        lines.append(Line("written", p, rhs=rhs))
    return lines


# -- the numeric check -------------------------------------------------------------------------
def random_values(s, sizes, rng):
    """Random leaves at concrete sizes: binary labels for bce, a probability vector for softmax."""
    env = {}
    for name, role in s.roles.items():
        if role == "hyper":
            env[name] = rng.uniform(0.3, 1.2)
            continue
        shape = mx.concrete_shape(s.leaves[name], sizes)
        values = np.array([[rng.uniform(-1.5, 1.5) for _ in range(shape[1])] for _ in range(shape[0])])
        if role == "data" and name == "y" and s.labels == "binary":
            values = np.array([[float(rng.random() < 0.5)] for _ in range(shape[0])])
        if role == "data" and name == "y" and s.labels == "onehot":
            weights = np.array([[rng.uniform(0.1, 1)] for _ in range(shape[0])])
            values = weights / weights.sum()
        env[name] = values
    return env


def forward(s, env, sizes, fixed=None):
    """Every intermediate from the leaves; a node in ``fixed`` keeps the value given."""
    values = dict(env)
    for name, expr in s.forward:
        values[name] = fixed[name] if fixed and name in fixed else mx.evaluate(expr, values, sizes)
    return values


def _fd(function, at):
    """Central differences of ``function`` (array -> array) at ``at``: the numerator-layout
    Jacobian, one column per entry of ``at`` (entries in row-major order)."""
    flat = at.reshape(-1)
    columns = []
    for k in range(flat.size):
        step = STEP * max(1.0, abs(flat[k]))
        up, down = flat.copy(), flat.copy()
        up[k] += step
        down[k] -= step
        diff = (function(up.reshape(at.shape)) - function(down.reshape(at.shape))) / (2 * step)
        columns.append(diff.reshape(-1))
    return np.array(columns).T


def _relative(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


def _orient(value, layout, node_shape):
    """A gradient in the layout's orientation (numerator: transposed)."""
    return value if layout == "denominator" else value.T


def check_lines(s, lines, layout, seed=0):
    """Every line at random values of two sizes; the index form's gradient at its sizes."""
    rng = random.Random(seed)
    worst, twin_error, compared = 0.0, 0.0, False
    for sizes in s.sizes:
        env = random_values(s, sizes, rng)
        values = forward(s, env, sizes)
        adjoints = {}
        for name in list(s.simplified):
            den = mx.evaluate(s.simplified[name], values, sizes)
            adjoints[name] = den if layout == "denominator" else den.T
        bound = dict(values)  # ∂L/∂p stands for its (checked) value in a product
        bound.update({mx.ADJOINT + name: value for name, value in adjoints.items()})

        def loss_with(node, value):
            if node in env:
                return forward(s, {**env, node: value}, sizes)["L"]
            return forward(s, env, sizes, fixed={node: value})["L"]

        for line in lines:
            error = 0.0
            if line.kind == "local":
                definition = dict(s.forward)[line.node]

                def image(value, line=line, definition=definition):
                    return mx.evaluate(definition, {**values, line.wrt: value}, sizes)

                J = _fd(image, values[line.wrt])
                error = _relative(mx.evaluate(line.rhs, values, sizes), J if layout == "numerator" else J.T)
                line.method = "central differences of its definition"
            elif line.kind == "entrywise":
                definition = dict(s.forward)[line.node]
                W = values[line.wrt]
                J = _fd(lambda value: mx.evaluate(definition, {**values, line.wrt: value}, sizes), W)
                outer = mx.evaluate(line.rhs, values, sizes)[:, 0]
                rows, cols = W.shape
                expected = np.zeros((rows, rows * cols))
                for i in range(rows):
                    expected[i, i * cols:(i + 1) * cols] = outer
                error = _relative(expected, J)
                line.method = "central differences of its definition"
            elif line.kind in ("chain", "written"):
                value = mx.evaluate(line.rhs, values, sizes)
                fd = _fd(lambda v, node=line.node: np.array([[loss_with(node, v)[0, 0]]]), values[line.node])
                fd = fd.reshape(values[line.node].shape)
                error = _relative(value, _orient(fd, layout, None))
                if line.product is not None:
                    error = max(error, _relative(mx.evaluate(line.product, bound, sizes), value))
                line.method = "central differences of L" + (" and the product of its Jacobians" if line.product else "")
            line.error = max(line.error, error)
            line.passed = line.passed and error <= TOLERANCE
            worst = max(worst, error)
        if sizes is s.sizes[-1] and s.twin is not None:
            twin_error = _compare_index_form(s, env, values, sizes)
            compared = True
    passed = all(line.passed for line in lines) and twin_error <= TOLERANCE
    return VectorCheck(passed, len(lines), worst, s.sizes, compared, twin_error)


def _compare_index_form(s, env, values, sizes):
    """At the index form's sizes the loss and every gradient equal derive's step-by-step
    index-form result (``derive explain NAME --wrt all``) evaluated at the same numbers."""
    from derive.derivation import gradient
    from derive.verify.numeric import evaluate

    point = s.twin({**env, **values})
    g = gradient(s.name, half=s.half or None, check=False)
    worst = _relative(np.array(float(evaluate(g.problem.written_out, point))), np.array(values["L"][0, 0]))
    by_name = {str(d.wrt): d.result for d in g.derivations}
    for vector_name, names in TWIN_PARAMETERS[s.name].items():
        ours = mx.evaluate(s.simplified[vector_name], values, sizes).reshape(-1)
        theirs = np.array([float(evaluate(by_name[n], point)) for n in names])
        worst = max(worst, _relative(ours, theirs))
    return worst


# -- rendering --------------------------------------------------------------------------------
TEMPLATES = {"text": "vector_text.j2", "markdown": "vector_markdown.j2", "latex": "vector_latex.j2",
             "html": "vector_html.j2"}


class _Math:
    """How one format writes the vector form's math: expressions, ∂u/∂v, shapes."""

    def __init__(self, fmt):
        self.fmt = fmt
        self.printer = {"text": mx.text, "markdown": mx.latex, "latex": mx.latex, "html": mx.mathml}[fmt]

    def wrap(self, inner):
        if self.fmt == "markdown":
            return f"${inner}$"
        if self.fmt == "html":
            return f'<math display="inline">{inner}</math>'
        return inner

    def m(self, expr):
        return self.wrap(self.printer(expr))

    def name(self, name):
        return self.m(mx.Leaf(name))

    def d(self, top, below):
        """∂top/∂below with a slash: one line high."""
        t, b = mx.Leaf(top), mx.Leaf(below)
        if self.fmt == "text":
            return f"∂{mx.text(t)}/∂{mx.text(b)}"
        if self.fmt == "html":
            slash = '<mo lspace="0" rspace="0">/</mo>'
            return self.wrap(f"<mo>∂</mo>{mx.mathml(t)}{slash}<mo>∂</mo>{mx.mathml(b)}")
        return self.wrap(r"\partial %s/\partial %s" % (mx.latex(t), mx.latex(b)))

    def grad(self, below):
        b = mx.Leaf(below)
        if self.fmt == "text":
            from derive.render.printing import subscript

            return f"∇{subscript(mx.text(b)) or '_' + mx.text(b)} L"
        if self.fmt == "html":
            return self.wrap(f"<msub><mo>∇</mo>{mx.mathml(b)}</msub><mi>L</mi>")
        return self.wrap(r"\nabla_{%s} L" % mx.latex(b))

    def shape(self, shape):
        rows, cols = shape
        if self.fmt == "text" or self.fmt == "html":
            from derive.render.printing import to_text

            return f"{to_text(rows)} × {to_text(cols)}"
        from derive.render.printing import to_latex

        return self.wrap(r"%s \times %s" % (to_latex(rows), to_latex(cols)))


def _render(doc, fmt, *, color=False, standalone=False, directory=None):
    from derive.render import formats as r

    if fmt not in TEMPLATES:
        raise DeriveError(f"unknown format {fmt!r}; use one of text, markdown, latex, html, json")
    latex = fmt == "latex"
    math = _Math(fmt)
    words_math = _Math("markdown") if latex else math
    f = r.TextFormat(color) if fmt == "text" else (r.LatexWordsFormat() if latex else
                                                    r.InlineLatexFormat() if fmt == "markdown" else r.HtmlFormat())
    search = r._search_path(directory)
    say = r._environment(False, search).get_template("vector_words.j2").make_module(
        {"f": f, "v": words_math, "doc": doc})
    env = r._environment(latex, search)
    text = env.get_template(TEMPLATES[fmt]).render(doc=doc, s=doc.spec, v=math, say=say, f=f,
                                                   standalone=standalone)
    return r.printing.unicode_to_latex(text) if latex else text
