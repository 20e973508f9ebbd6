"""The step: one node of a derivation, the way a teacher writes one line on the board.

A derivation is a tree of steps. Each step records the rule it applied (one word from
``RULES``), what it differentiated and with respect to what, what it got, the steps it
needed first, and for the chain rule the intermediate it named (``u₁ = x²``, or a
problem's own name such as ``errorᵢ``).
"""

from dataclasses import dataclass, field
from typing import Any

# The fixed vocabulary, each with the one-line formula it stands for.
RULES = {
    "constant": "d/dx c = 0",
    "variable": "d/dx x = 1",
    "constant_multiple": "d/dx c·f = c·f′",
    "sum": "d/dx (f + g) = f′ + g′",
    "power": "d/dx xⁿ = n·xⁿ⁻¹",
    "product": "d/dx (u·v) = u′·v + u·v′",
    "quotient": "d/dx (u/v) = (u′·v − u·v′)/v²",
    "chain": "d/dx f(u) = f′(u)·u′",
    "exp": "d/dx eˣ = eˣ,  d/dx aˣ = aˣ·ln a",
    "log": "d/dx ln x = 1/x",
    "trig": "d/dx sin x = cos x, …",
    "inverse_trig": "d/dx atan x = 1/(1 + x²), …",
    "hyperbolic": "d/dx sinh x = cosh x, …",
    "abs": "d/dx |x| = sign(x) for x ≠ 0",
    "piecewise": "d/dx max(f, g) = f′ where f > g, g′ where g > f",
    "general_power": "d/dx f^g = f^g·(g′·ln f + g·f′/f)",
    "summation": "d/dx Σ fᵢ = Σ fᵢ′",
    "definition": "d/dx name = d/dx (its definition)",
    "rewrite": "write the expression in a form a rule applies to",
    "simplify": "tidy the result",
    "known_derivative": "a derivative from SymPy's table, for a function with no rule of its own",
}

LINEAR = {"sum", "constant", "variable", "constant_multiple"}


@dataclass
class Step:
    """One rule applied to one expression.

    ``derivative`` is d(expression)/d(wrt). ``substeps`` are the derivatives the rule
    needed first. ``intermediate`` is ``(name, definition)`` when the step names a part of
    the expression (chain rule, definition). ``detail`` holds what a template needs to say
    the rule in words (the exponent of the power rule, the function of the trig rule, …).
    """

    rule: str
    expression: Any
    wrt: Any
    derivative: Any
    substeps: list = field(default_factory=list)
    intermediate: tuple | None = None
    detail: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.rule not in RULES:
            raise ValueError(f"unknown rule {self.rule!r}")

    def walk(self):
        """This step and every step below it, parents first."""
        yield self
        for sub in self.substeps:
            yield from sub.walk()

    def rules_used(self):
        """The set of rule names anywhere in this tree."""
        return {step.rule for step in self.walk()}

    def is_linear(self):
        """Whether this is only sums of constants and constant multiples of the variable."""
        return bool(self.substeps) and self.rules_used() <= LINEAR

    def contains_known_derivative(self):
        """Whether any step fell back to SymPy's table instead of a rule of our own."""
        return "known_derivative" in self.rules_used()

    def to_dict(self, seen=None):
        """A JSON-ready dict: id, rule, expression, wrt, derivative, substeps, intermediate.

        A derivative met again (the same expression and variable, in this tree or in
        ``seen``, shared by the trees of one document) is not written twice: it is
        ``{"rule", "derivative", "same_as": id}``, pointing to where it was worked."""
        seen = {} if seen is None else seen
        key = (self.expression, self.wrt)
        if key in seen:
            from derive.symbols import readable

            return {"rule": self.rule, "derivative": str(readable(self.derivative)), "same_as": seen[key]}
        from derive.symbols import readable

        seen[key] = f"s{len(seen) + 1}"
        out = {
            "id": seen[key],
            "rule": self.rule,
            "expression": str(self.expression),
            "wrt": str(self.wrt),
            "derivative": str(readable(self.derivative)),
            "substeps": [sub.to_dict(seen) for sub in self.substeps],
        }
        if self.intermediate is not None:
            name, definition = self.intermediate
            out["intermediate"] = {"name": str(name), "definition": str(definition)}
        return out

    def __repr__(self):
        return f"Step({self.rule}: d/d{self.wrt} {self.expression} = {self.derivative})"
