"""The matrix-calculus form of the squared-error gradient, as the primers write it.

    L = (1/n)‖Xw + b·1 − y‖²          ∇w L = (2/n) Xᵀ(Xw + b·1 − y)     ∂L/∂b = (2/n) 1ᵀ(Xw + b·1 − y)

with the shape of every factor stated, and a numeric check on a random X. The loss is a
quadratic, so a central difference is exact for it: the check runs in exact rational
arithmetic (``fractions``), and any difference at all would be a wrong formula.
"""

import random
from dataclasses import dataclass, field
from fractions import Fraction

import sympy

from derive.render.document import Document
from derive.errors import DeriveError
from derive.symbols import symbol

SUPPORTED = ("mse", "ridge")


@dataclass
class VectorCheck:
    """The exact check: every component of both gradients against a central difference."""

    passed: bool
    points: int
    max_error: float
    shape: tuple
    example: dict = field(default_factory=dict)

    def to_dict(self):
        return {"passed": self.passed, "points": self.points, "max_error": self.max_error,
                "method": "exact central differences (the loss is quadratic)",
                "shape": {"n": self.shape[0], "d": self.shape[1]}}


@dataclass
class VectorExplanation(Document):
    """Every line of the matrix-calculus derivation, each with its shape."""

    problem: str
    half: bool
    learning_rate: sympy.Symbol
    symbols: dict
    lines: list  # (key, right-hand side, shape) in the order they are explained
    gradient_w: sympy.Expr
    gradient_b: sympy.Expr
    check: VectorCheck

    def to_dict(self):
        return {
            "problem": self.problem,
            "form": "vector",
            "gradient_w": str(self.gradient_w),
            "gradient_b": str(self.gradient_b),
            "lines": [{"step": key, "expression": str(right), "shape": shape}
                      for key, right, shape in self.lines],
            "check": self.check.to_dict(),
        }



def explain_vector(name, *, half=False, learning_rate="alpha", seed=0, shape=(6, 3)):
    """The matrix-calculus explanation of ``mse`` or ``ridge``, checked on a random X."""
    key = str(name).strip().lower()
    if key not in SUPPORTED:
        raise DeriveError(f"--form vector is for {' and '.join(SUPPORTED)}; {name!r} has no vector form here")
    n, d = sympy.Symbol("n", integer=True, positive=True), sympy.Symbol("d", integer=True, positive=True)
    X = sympy.MatrixSymbol("X", n, d)
    w = sympy.MatrixSymbol("w", d, 1)
    y = sympy.MatrixSymbol("y", n, 1)
    r = sympy.MatrixSymbol("r", n, 1)
    one = sympy.OneMatrix(n, 1)
    b, lam, L = symbol("b"), symbol("lambda"), symbol("L")
    scale = sympy.Rational(1, 2) if half else sympy.Integer(1)
    two = 2 * scale  # the 2 of the power rule, cancelled by the ½ convention
    ridge = key == "ridge"

    residual = X * w + b * one - y
    loss = scale / n * (r.T * r)
    grad_w = two / n * X.T * r + (2 * lam * w if ridge else sympy.ZeroMatrix(d, 1))
    grad_b = two / n * (one.T * r)
    penalty = lam * (w.T * w) if ridge else None
    lines = [  # (what the line says, its right-hand side, the shape of that side)
        ("residual", residual, "n × 1"),
        ("loss", loss + penalty if ridge else loss, "1 × 1"),
        ("outer", two / n * r, "n × 1"),
        ("inner_w", X, "n × d"),
        ("inner_b", one, "n × 1"),
        ("chain_w", grad_w, "d × 1"),
        ("chain_b", grad_b, "1 × 1"),
        ("written_w", grad_w.subs(r, residual), "d × 1"),
        ("written_b", grad_b.subs(r, residual), "1 × 1"),
    ]
    check = _check(ridge, scale, seed, shape)
    return VectorExplanation(
        problem=key, half=half, learning_rate=symbol(learning_rate),
        symbols={"X": X, "w": w, "b": b, "y": y, "r": r, "one": one, "n": n, "d": d,
                 "lambda": lam, "L": L},
        lines=lines, gradient_w=grad_w.subs(r, residual), gradient_b=grad_b.subs(r, residual),
        check=check,
    )


def _check(ridge, scale, seed, shape):
    """Both gradients on a random X, y, w, b, λ against exact central differences."""
    rng = random.Random(seed)
    rows, cols = shape

    def rand():
        return Fraction(rng.randint(-40, 40), rng.randint(1, 9))

    X = [[rand() for _ in range(cols)] for _ in range(rows)]
    y = [rand() for _ in range(rows)]
    w = [rand() for _ in range(cols)]
    b, lam = rand(), abs(rand()) + 1

    def loss(w, b):
        residuals = [sum(X[i][j] * w[j] for j in range(cols)) + b - y[i] for i in range(rows)]
        value = scale_fraction(scale) * sum(r * r for r in residuals) / rows
        return value + (lam * sum(v * v for v in w) if ridge else 0)

    residuals = [sum(X[i][j] * w[j] for j in range(cols)) + b - y[i] for i in range(rows)]
    two = 2 * scale_fraction(scale)
    formula_w = [two / rows * sum(X[i][j] * residuals[i] for i in range(rows)) + (2 * lam * w[j] if ridge else 0)
                 for j in range(cols)]
    formula_b = two / rows * sum(residuals)

    h = Fraction(1, 1000)
    errors = []
    for j in range(cols):
        up, down = list(w), list(w)
        up[j] += h
        down[j] -= h
        errors.append(abs((loss(up, b) - loss(down, b)) / (2 * h) - formula_w[j]))
    errors.append(abs((loss(w, b + h) - loss(w, b - h)) / (2 * h) - formula_b))
    worst = max(errors)
    return VectorCheck(passed=worst == 0, points=len(errors), max_error=float(worst), shape=shape,
                       example={"grad_w": [float(v) for v in formula_w], "dL_db": float(formula_b)})


def scale_fraction(scale):
    return Fraction(int(scale.p), int(scale.q))
