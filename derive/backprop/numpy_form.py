"""A short, runnable NumPy function for the loss and its gradient, generated from the same
vector derivation that ``--form vector`` shows (never from user text), and tested before it
is shown: run on random data of several shapes, every gradient has its parameter's shape and
equals central differences of the function's own loss and derive's vector result.

>>> code = numpy_form("mlp")
>>> code.check.passed
True
>>> "d_z = d_h * h * (1.0 - h)" in code.source
True
"""

import random
from dataclasses import dataclass

import numpy as np
import sympy

from derive.engine import matrix as mx
from derive.errors import DeriveError
from derive.render.document import Document

SAFE_NAMES = {"lambda": "lam"}  # a Python keyword
SHAPES = {  # the sizes the generated code is run at
    "mse": [{"n": 5, "d": 3}, {"n": 1, "d": 1}, {"n": 8, "d": 2}],
    "ridge": [{"n": 5, "d": 3}, {"n": 1, "d": 1}, {"n": 8, "d": 2}],
    "bce": [{"n": 5, "d": 3}, {"n": 1, "d": 1}, {"n": 8, "d": 2}],
    "softmax": [{"K": 3}, {"K": 2}, {"K": 7}],
    "neuron": [{"d": 2}, {"d": 1}, {"d": 6}],
    "mlp": [{"H": 3, "d": 2}, {"H": 1, "d": 1}, {"H": 5, "d": 4}],
}
TOLERANCE = 1e-6
STEP = 1e-6


@dataclass
class CodeCheck:
    passed: bool
    runs: int
    max_error: float
    shapes: list
    failure: str | None = None

    def to_dict(self):
        return {"passed": self.passed, "runs": self.runs, "max_error": self.max_error, "shapes": self.shapes,
                "failure": self.failure, "method": "the generated code run on random data, against central "
                                                   "differences of its own loss and derive's vector result"}


class NumpyCode(Document):
    """The generated function's source, its name and signature, and its check."""

    def __init__(self, spec, source, function, arguments, check):
        self.spec = spec
        self.source = source
        self.function = function
        self.arguments = arguments
        self.check = check

    def to_dict(self):
        return {"problem": self.spec.name, "form": "numpy", "function": self.function,
                "arguments": self.arguments, "code": self.source, "check": self.check.to_dict()}

    def render(self, fmt="text", *, color=False, standalone=False, directory=None):
        from derive.render import formats as r

        if fmt == "json":
            return self.to_json() + "\n"
        templates = {"text": "numpy_text.j2", "markdown": "numpy_markdown.j2", "latex": "numpy_latex.j2",
                     "html": "numpy_html.j2"}
        if fmt not in templates:
            raise DeriveError(f"unknown format {fmt!r}; use one of text, markdown, latex, html, json")
        latex = fmt == "latex"
        env = r._environment(latex, r._search_path(directory))
        text = env.get_template(templates[fmt]).render(code=self, c=self.check, standalone=standalone)
        return text

    def run(self):
        """The generated function, ready to call (our own code, from our own derivation)."""
        return _load(self.source, self.function)


def numpy_form(name, *, half=False, seed=0):
    """The NumPy loss-and-gradient function of a catalog loss, generated and tested."""
    from derive.engine.vector import spec as vector_spec

    s = vector_spec(name, half)
    source, function, arguments = generate(s)
    check = check_code(s, source, function, arguments, seed)
    return NumpyCode(s, source, function, arguments, check)


def _safe(name):
    return SAFE_NAMES.get(name, name)


def generate(s):
    """``(source, function name, argument names)`` from the vector spec's forward pass and
    its backward formulas (denominator layout: each gradient has its parameter's shape)."""
    printer = mx.NumpyPrinter({k: _safe(k) for k in list(s.leaves) + list(s.roles)})
    arguments = s.parameters + [k for k, r in s.roles.items() if r == "data"] + \
        [k for k, r in s.roles.items() if r == "hyper"]
    function = f"{s.name}_loss_and_gradient"
    uses = _used_helpers(s)
    body = []
    for dim, (leaf, axis) in _dimensions(s).items():
        body.append(f"{dim} = {_safe(leaf)}.shape[{axis}]")
    for name, expr in s.forward:
        body.append(f"{_safe(name)} = {_scalars(printer(expr))}")
    for node, expr in s.backprop:
        body.append(f"d_{_safe(node)} = {_scalars(printer(expr))}")
    returned = ", ".join(f'"{p}": d_{_safe(p)}' for p in s.parameters)
    body.append(f"return L, {{{returned}}}")
    shapes = ", ".join(_shape_words(s, k) for k in arguments)
    lines = ["import numpy as np", ""]
    if "sigmoid" in uses:
        lines += ["", "def sigmoid(z):", "    return 1.0 / (1.0 + np.exp(-z))", ""]
    if "softmax" in uses:
        lines += ["", "def softmax(o):", "    e = np.exp(o - np.max(o))", "    return e / np.sum(e)", ""]
    lines += ["", f"def {function}({', '.join(_safe(a) for a in arguments)}):",
              f'    """The loss and its gradient ({s.name}), as derive derives them in vector form.',
              "",
              f"    Shapes: {shapes}.",
              "    Returns (loss, {parameter name: gradient}), each gradient the shape of its parameter.",
              '    """']
    lines += ["    " + line for line in body]
    return "\n".join(lines) + "\n", function, [_safe(a) for a in arguments]


def _scalars(code):
    return code


def _used_helpers(s):
    found = set()
    for _, expr in s.forward + s.backprop:
        text = mx.text(expr)
        if "σ(" in text:
            found.add("sigmoid")
        if "softmax(" in text:
            found.add("softmax")
    return found


def _dimensions(s):
    """Each size a formula uses (n in 2/n), read off the shape of an argument."""
    wanted = set()
    for _, expr in s.forward + s.backprop:
        for scalar in _scalar_nodes(expr):
            wanted |= {str(sym) for sym in scalar.value.free_symbols if sym.is_integer}
    found = {}
    for dim in sorted(wanted):
        for name, role in s.roles.items():
            leaf = s.leaves.get(name)
            if leaf is None:
                continue
            for axis, size in enumerate(leaf.shape):
                if str(size) == dim and dim not in found:
                    found[dim] = (name, axis)
    return found


def _scalar_nodes(expr):
    if isinstance(expr, mx.Scalar):
        return [expr]
    return [s for child in mx._children(expr) for s in _scalar_nodes(child)]


def _shape_words(s, name):
    leaf = s.leaves.get(name)
    if leaf is None or leaf.is_scalar:
        return f"{_safe(name)} a number"
    rows, cols = leaf.shape
    if cols == 1:
        return f"{name} ({rows},)"
    return f"{name} ({rows}, {cols})"


def _load(source, function):
    namespace = {"__name__": "derive_numpy_form"}
    exec(compile(source, "<derive numpy form>", "exec"), namespace)  # noqa: S102 — generated by derive, not user text
    return namespace[function]


def _arrays(s, sizes, rng):
    """Random arguments as NumPy users pass them: vectors 1-D, numbers as floats."""
    from derive.engine.vector import random_values

    symbols = {sympy.Symbol(k, integer=True, positive=True): v for k, v in sizes.items()}
    env = random_values(s, symbols, rng)
    out = {}
    for name, value in env.items():
        leaf = s.leaves.get(name)
        if leaf is None:  # a constant such as λ
            out[name] = float(value)
        elif leaf.is_scalar:
            out[name] = float(value[0, 0])
        elif leaf.shape[1] == 1:
            out[name] = value[:, 0].copy()
        else:
            out[name] = value.copy()
    return out, env, symbols


def check_code(s, source, function, arguments, seed=0):
    """Run the code on random data of several shapes: shapes, finite differences, and the
    vector derivation's own numbers."""
    from derive.engine.vector import forward

    rng = random.Random(seed)
    try:
        fn = _load(source, function)
    except Exception as error:  # our generator's bug: never shown as if it worked
        return CodeCheck(False, 0, float("inf"), [], f"the generated code does not run: {error}")
    worst, runs, shapes = 0.0, 0, []
    for sizes in SHAPES[s.name]:
        args, env, symbols = _arrays(s, sizes, rng)
        shapes.append(sizes)
        call = [args[a] for a in s.parameters + [k for k, r in s.roles.items() if r != "parameter"]]
        try:
            loss, grads = fn(*call)
        except Exception as error:
            return CodeCheck(False, runs, float("inf"), shapes, f"the generated code failed at {sizes}: {error}")
        runs += 1
        values = forward(s, env, symbols)
        worst = max(worst, _rel(loss, values["L"][0, 0]))
        for k, p in enumerate(s.parameters):
            got = np.asarray(grads[p], dtype=float)
            want_shape = np.shape(args[p])
            if got.shape != want_shape:
                return CodeCheck(False, runs, float("inf"), shapes,
                                 f"the gradient of {p} has shape {got.shape}, not {want_shape}")
            expected = mx.evaluate(s.simplified[p], values, symbols).reshape(want_shape)
            worst = max(worst, _rel(got, expected))

            def loss_at(value, p=p):
                trial = list(call)
                trial[k] = value
                return fn(*trial)[0]

            worst = max(worst, _rel(got, _fd(loss_at, args[p])))
    passed = worst <= TOLERANCE
    return CodeCheck(passed, runs, worst, shapes, None if passed else f"off by {worst:.1e}")


def _fd(loss_at, at):
    at = np.asarray(at, dtype=float)
    flat = at.reshape(-1)
    out = np.zeros_like(flat)
    for k in range(flat.size):
        step = STEP * max(1.0, abs(flat[k]))
        up, down = flat.copy(), flat.copy()
        up[k] += step
        down[k] -= step
        shape = at.shape
        up_arg = float(up[0]) if shape == () else up.reshape(shape)
        down_arg = float(down[0]) if shape == () else down.reshape(shape)
        out[k] = (loss_at(up_arg) - loss_at(down_arg)) / (2 * step)
    return out.reshape(at.shape) if at.shape else float(out[0])


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b))))) if a.size else 0.0
