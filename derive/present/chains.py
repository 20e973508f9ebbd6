"""From a checked step tree to a worked solution: chains of equalities, as a teacher writes.

A derivative is written ``d/dx [f] = … = … = result``, one line per stage, with the rules
used at that line named beside it. The rules of the engine's tree are grouped into lines:

* a *structural* line takes constant factors out and a derivative through a sum (the
  constant multiple, sum and Σ rules) and leaves the real work pending;
* a *substantive* line applies one rule (chain, product, quotient, a rewrite, …) to every
  pending derivative at once;
* a *leaf* (a constant, the variable, the power rule or a known derivative on the bare
  variable, and any sum of those) is never a line of its own: it is merged into the line
  that uses it, and its rules are listed there;
* a derivative of a name of the problem (``∂errorᵢ/∂w``) stays written in Leibniz form,
  and is resolved on the next line with its value beside it;
* an inner derivative that needs more than one line of its own, inside a larger line, is
  worked as a short chain of its own, once, under a name (``u₁ = x² + 1``), and the main
  chain uses the name. Side chains are listed flat, so nesting is never deeper than two.

Everything worked is remembered by ``(expression, variable)``: a derivative met again (σ′
in the binary cross-entropy, the same inner part of two partials, an earlier problem of a
handout) is not worked again; the line says where it was worked.
"""

from dataclasses import dataclass, field

import sympy
from sympy import Mul, S, Sum

from derive.present.conditions import corners, strict_cases
from derive.present.marks import Cases, Dot, Pending, Plus, resolved
from derive.symbols import evaluated

STRUCTURAL = {"constant_multiple", "sum", "summation"}
LEAVES = {"constant", "variable", "power", "exp", "log", "trig", "inverse_trig", "hyperbolic",
          "abs", "known_derivative"}
SIMPLE_SIZE = 12  # a linear combination of up to this many leaves is merged in one go
MAX_CHAINS = 40  # side chains of one explanation (a bound: nothing a user types can exceed it)
MAX_LINES = 30  # lines of one chain
EXTRACT_OPS = 4  # an inner derivative this large, needing lines of its own, is a side chain


@dataclass
class Note:
    """What stands beside a line besides its rules.

    ``kind`` is ``let`` (``u₁ = x² + 1``: a name introduced), ``value`` (``∂errorᵢ/∂w =
    xᵢ``, a name's derivative resolved here, with the working ``∂/∂w (w xᵢ + b − yᵢ)``),
    ``by`` (a side chain or earlier work used here: ``label`` says which), ``names`` (the
    names put back), ``where`` (a condition: for x ≠ 1)."""

    kind: str
    lhs: object = None
    rhs: object = None
    working: object = None
    label: str | None = None


@dataclass
class Line:
    rhs: object  # a SymPy expression that may hold Pending derivatives
    rules: tuple = ()
    notes: tuple = ()
    kind: str = "step"  # step, names (the names put back), simplify (the final form)
    boxed: bool = False

    @property
    def rule_names(self):
        return [r for r in self.rules if r]


@dataclass
class Chain:
    """One derivative worked as a chain of equalities."""

    lhs: object  # what is differentiated, as written at the left: a Pending
    lines: list = field(default_factory=list)
    variable: object = None
    label: str | None = None  # how other chains refer to it
    name: object = None  # the name it is worked under (u₁), if any
    definition: object = None  # what that name stands for
    earlier: str | None = None  # worked before, elsewhere (a handout's earlier problem)
    conditions: list = field(default_factory=list)  # Notes of kind "where"

    @property
    def result(self):
        return self.lines[-1].rhs if self.lines else self.lhs

    def depth(self):
        return len(self.lines)


@dataclass
class Worked:
    """A derivation as it is presented: side chains (each worked once), then the main chain."""

    main: Chain
    side: list = field(default_factory=list)
    functions: list = field(default_factory=list)  # catalog functions to define (σ, ReLU, …)

    @property
    def chains(self):
        return self.side + [self.main]

    def lines(self):
        return [line for chain in self.chains for line in chain.lines]


class Presenter:
    """Groups one or more step trees into chains. ``memory`` is shared by every derivation
    of one document (the partials of a gradient, the problems of a handout): it maps
    ``(expression, variable)`` to the label of the chain that worked it."""

    def __init__(self, definitions=None, partial=False, memory=None, label=None, notation=None):
        self.notation = notation  # how the document prints: two lines that print alike are one
        self.definitions = dict(definitions or {})
        self.partial = partial
        self.memory = memory if memory is not None else {}
        self.label = label  # how this document's work is cited later ("problem 2")
        self.values = {}
        self.side = []
        self._names = {}  # shared with the side chains' presenters: u₁, u₂, … are one series

    # -- the whole ------------------------------------------------------------------------
    def present(self, root, final=None, in_names=None, substituted=None):
        """The worked solution of ``root`` (the engine's tree, its tidy step included)."""
        raw = root.substeps[0] if root.rule == "simplify" else root
        self._remember(raw)
        main = self.chain(raw)
        found = corners(root, self.definitions)
        self._finish(main, root, raw, final, in_names, substituted, found)
        main.conditions = [Note("where", c.relation) for c in found if c.points or c.equation is not None]
        return Worked(main, list(self.side))

    def _remember(self, step):
        for s in step.walk():
            self.values[(s.expression, s.wrt)] = s.derivative

    # -- one chain ---------------------------------------------------------------------------
    def chain(self, step, label=None, name=None, definition=None):
        lhs = Pending(step.expression, step.wrt, self.partial)
        chain = Chain(lhs, variable=step.wrt, label=label, name=name, definition=definition)
        rhs = lhs
        steps = {(step.expression, step.wrt): step}
        for _ in range(MAX_LINES):
            marks = [m for m in _marks(rhs) if (m.expression, m.variable) in steps]
            if not marks:
                break
            line = self.line(rhs, marks, steps)
            if line is None:
                break
            chain.lines.append(line)
            rhs = line.rhs
        return chain

    def line(self, rhs, marks, steps):
        """The next line: every pending derivative taken one stage further."""
        structural = [m for m in marks if steps[_key(m)].rule in STRUCTURAL and not self.simple(steps[_key(m)])]
        rules, notes, replace = [], [], {}
        for mark in marks:
            step = steps[_key(mark)]
            if structural and mark not in structural and not self.simple(step):
                continue  # a structural line moves only the linear wrappers
            earlier = self.memory.get(_key(mark))
            if earlier is not None and mark is not rhs:
                replace[mark] = step.derivative
                notes.append(Note("by", mark, step.derivative, label=self._cite(earlier)))
                continue
            value, used, more = self.stage(step, steps, structural=bool(structural))
            replace[mark] = value
            rules += used
            notes += more
        if not replace:
            return None
        new = _substitute(rhs, replace)
        new, extracted = self.extract(new, steps)
        notes += extracted
        return Line(new, tuple(_unique(rules)), tuple(notes))

    def stage(self, step, steps, structural=False):
        """``(expression, rules, notes)``: one stage of ``step``, its children pending or,
        when they are leaves, merged."""
        rule = step.rule
        if self.simple(step) and rule != "definition":
            return step.derivative, _rules_of(step), []
        if rule == "definition":
            return self.definition(step, steps)
        if rule == "constant_multiple":
            (sub,) = step.substeps
            inner, rules, notes = self.child(sub, steps, structural)
            c = step.detail["constant"]
            value = _times(c, inner) if c == -1 or inner == 0 else Mul(c, inner, evaluate=False)
            return value, ["constant_multiple"] + rules, notes
        if rule == "sum":
            parts, rules, notes = [], ["sum"], []
            for sub in step.substeps:
                inner, used, more = self.child(sub, steps, structural)
                parts.append(inner)
                rules += used
                notes += more
            parts = [p for p in parts if p != 0] or [S.Zero]
            return (Plus(*parts) if len(parts) > 1 else parts[0]), rules, notes
        if rule == "summation":
            (sub,) = step.substeps
            inner, rules, notes = self.child(sub, steps, structural)
            return Sum(inner, *step.expression.limits), ["summation"] + rules, notes
        if rule == "chain":
            return self.chain_rule(step, steps)
        if rule == "product":
            du, dv = step.substeps
            u, v = step.detail["u"], step.detail["v"]
            a, ra, na = self.child(du, steps)
            b, rb, nb = self.child(dv, steps)
            return Plus(_times(a, v), _times(u, b)), ["product"] + ra + rb, na + nb
        if rule == "quotient":
            du, dv = step.substeps
            u, v = step.detail["u"], step.detail["v"]
            a, ra, na = self.child(du, steps)
            b, rb, nb = self.child(dv, steps)
            top = Plus(_times(a, v), _negative(_times(u, b)))
            return Mul(top, sympy.Pow(sympy.Pow(v, 2, evaluate=False), -1, evaluate=False), evaluate=False), \
                ["quotient"] + ra + rb, na + nb
        if rule == "rewrite":
            (sub,) = step.substeps
            inner, rules, notes = self.child(sub, steps)
            written = step.detail.get("as")
            if _same_power(step.expression, written):  # x^(5/3) is already a power: nothing to say
                return inner, rules, notes
            note = [Note("let", step.expression, written)] if written is not None else []
            return inner, ["rewrite:" + step.detail.get("identity", "power")] + rules, note + notes
        if rule == "general_power":
            (sub,) = step.substeps
            inner, rules, notes = self.child(sub, steps)
            return _times(step.expression, inner), ["general_power"] + rules, notes
        if rule == "piecewise":
            return self.piecewise(step, steps)
        return step.derivative, _rules_of(step), []

    def child(self, sub, steps, structural=False):
        """A substep inside a stage: merged when it is a leaf, else left pending."""
        if self.simple(sub) and sub.rule != "definition":
            return sub.derivative, _rules_of(sub), []
        if structural and sub.rule in STRUCTURAL:
            return self.stage(sub, steps, structural=True)
        mark = Pending(sub.expression, sub.wrt, self.partial)
        steps[_key(mark)] = sub
        return mark, [], []

    def chain_rule(self, step, steps):
        outer, inner_step = step.substeps
        u, inner = step.intermediate
        outer_value = step.detail["outer_at_inner"]
        if not step.detail.get("named") and not outer.derivative.has(sympy.Derivative):
            # f′(u) with u put back as written: 2(w x + b − y), not 2b + 2wx − 2y
            outer_value = _substitute(outer.derivative, {u: inner})
        rules = ["chain"] + _rules_of(outer)  # the outer derivative is a known one (uⁿ, sin u, …)
        notes = []
        if step.detail.get("named"):
            mark = Pending(u, step.wrt, self.partial)
            steps[_key(mark)] = inner_step
            return _times(outer_value, mark), rules, notes
        value, used, more = self.child(inner_step, steps)
        return _times(outer_value, value), rules + used, notes + more

    def definition(self, step, steps):
        """∂errorᵢ/∂w: worked on this line when it is short, beside the line as its value."""
        name, meaning = step.intermediate
        (sub,) = step.substeps
        if self.simple(sub) or _depth(sub, self) <= 1:
            value, used, more = self._work_inline(sub, steps)
            working = Pending(meaning, step.wrt, self.partial)
            return value, [], [Note("value", Pending(name, step.wrt, self.partial), value, working=working)] + more
        chain = self.side_chain(sub, name=name, definition=meaning,
                                lhs=Pending(name, step.wrt, self.partial))
        return chain.result, [], [Note("by", Pending(name, step.wrt, self.partial), chain.result, label=chain.label)]

    def _work_inline(self, step, steps):
        if self.simple(step):
            return step.derivative, _rules_of(step), []
        value, used, more = self.stage(step, steps)
        value = resolved(value, self.values)
        return value, used, more

    def piecewise(self, step, steps):
        kind = step.detail.get("kind")
        pieces, rules, notes = [], ["piecewise"], []
        if kind in ("max", "min"):
            first, rest = step.detail["first"], step.detail["rest"]
            d_first, d_rest = step.substeps
            a, ra, na = self.child(d_first, steps)
            b, rb, nb = self.child(d_rest, steps)
            bigger = first > rest if kind == "max" else first < rest
            smaller = first < rest if kind == "max" else first > rest
            # where the two sides meet, the last line says whether a derivative exists
            return Cases([(a, bigger), (b, smaller)]), rules + ra + rb, na + nb
        for sub, (_, cond) in zip(step.substeps, step.expression.args):
            value, used, more = self.child(sub, steps)
            pieces.append((value, cond))  # True prints as "otherwise"
            rules += used
            notes += more
        return Cases(pieces), rules, notes

    # -- side chains --------------------------------------------------------------------------
    def extract(self, rhs, steps):
        """Work as side chains the pending derivatives that need lines of their own inside a
        larger line; the line keeps each one's name, and the next line its value."""
        notes = []
        marks = _marks(rhs)
        if len(marks) == 1 and _alone(rhs, marks[0], marks[0].variable):
            return rhs, notes
        replace = {}
        for mark in marks:
            step = steps.get(_key(mark))
            if step is None or step.rule in ("definition", "piecewise") or _depth(step, self) < 2:
                continue
            if sympy.count_ops(step.expression) < EXTRACT_OPS:
                continue  # a short inner part is worked in the line itself: ln pᵢ, not cos⁴(tan³x²)
            if len(self.side) >= MAX_CHAINS:
                break
            name = self._name_for(step)
            self.side_chain(step, name=name)
            leibniz = Pending(name, step.wrt, self.partial) if name is not None else mark
            if name is not None:
                self.values[(name, step.wrt)] = step.derivative
                steps[_key(leibniz)] = _Resolved(step, leibniz)
                notes.append(Note("let", name, step.expression))
            replace[mark] = leibniz
        if replace:
            rhs = _substitute(rhs, replace)
        return rhs, notes

    def _cite(self, label):
        """How a line cites earlier work: by the chain's name in this document, by the
        problem in another ("problem 1")."""
        document, chain = label if isinstance(label, tuple) else (None, label)
        return document if document is not None and document != self.label else chain

    def side_chain(self, step, name=None, definition=None, lhs=None):
        key = (step.expression, step.wrt)
        remembered = self.memory.get(key)  # (document, chain label), or a bare label
        if isinstance(remembered, tuple):
            label = remembered[1] if remembered[0] == self.label else self._cite(remembered)
        else:
            label = remembered
        if label is None:
            label = self._label(step, name)
            sub = Presenter(self.definitions, self.partial, self.memory, self.label, notation=self.notation)
            sub.values, sub.side, sub._names = self.values, self.side, self._names
            chain = sub.chain(step, label=label, name=name, definition=definition)
            if lhs is not None:
                chain.lhs = lhs
            elif name is not None:
                chain.lhs = Pending(name, step.wrt, self.partial)  # du₁/dx = …
                chain.definition = step.expression
            _close(chain, sub)
            self.side.append(chain)
            self.memory[key] = (self.label, label)
            return chain
        for chain in self.side:
            if chain.label == label:
                return chain
        # worked in an earlier document (a handout's earlier problem): cite it
        chain = Chain(Pending(step.expression, step.wrt, self.partial), variable=step.wrt, label=label,
                      name=name, definition=definition, earlier=label)
        chain.lines.append(Line(step.derivative, (), (Note("by", label=label),)))
        return chain

    def _name_for(self, step):
        """u₁, u₂, … for an inner part worked on its own."""
        if step.expression.is_Atom:
            return None
        key = step.expression
        if key not in self._names:
            taken = {str(s) for s in self.definitions} | {str(s) for s in step.expression.free_symbols}
            k = len(self._names) + 1
            while f"u_{k}" in taken:
                k += 1
            self._names[key] = sympy.Symbol(f"u_{k}", real=True)
        return self._names[key]

    def _label(self, step, name):
        from derive.render.printing import to_text

        if name is not None:
            return f"d{to_text(name)}/d{to_text(step.wrt)}"
        return f"d/d{to_text(step.wrt)} [{to_text(step.expression)}]"

    # -- what is a leaf -----------------------------------------------------------------------
    def simple(self, step):
        """Whether ``step`` is worked in one go: only leaves and linear wrappers, small."""
        count = 0
        for s in step.walk():
            count += 1
            if count > SIMPLE_SIZE or s.rule not in LEAVES | STRUCTURAL:
                return False
            if s.rule == "summation":
                return False  # a sum over the examples is always shown
        return True

    # -- the end of the main chain ------------------------------------------------------------
    def _finish(self, chain, root, raw, final, in_names, substituted, found=()):
        """The last lines: the result tidied in the names, the names put back, the final
        form boxed (stated truly where it is piecewise)."""
        _close(chain, self)
        detail = root.detail if root.rule == "simplify" else {}
        result = root.derivative if final is None else final
        if detail.get("in_names") is not None:
            named = detail["in_names"]
            if not _same(chain.result, named, self.notation):
                chain.lines.append(Line(named, ("simplify",), kind="simplify"))
            written = substituted if substituted is not None else detail["substituted"]
            chain.lines.append(Line(written, ("names",), (Note("names"),), kind="names"))
            if not _same(written, result, self.notation) and sympy.count_ops(result) < sympy.count_ops(evaluated(written)):
                chain.lines.append(Line(result, ("simplify",), kind="simplify"))
        elif not chain.lines or not _same(chain.result, result, self.notation):
            chain.lines.append(Line(result, ("simplify",) if chain.lines else tuple(_rules_of(raw)), kind="simplify"))
        last = chain.lines[-1]
        last.rhs = strict_cases(last.rhs, found)
        last.boxed = True


def _same(written, value, notation=None):
    """Whether a line as written already shows ``value`` (no tidying line is needed): the
    two print alike. −(−1)·5/x² is the same number as 5/x², but not the same line."""
    from derive.render.notation import Notation, to_text

    if written.has(Pending, Dot, Plus):
        return False
    if written == value:
        return True
    notation = notation or Notation()
    return to_text(notation.build(written)) == to_text(notation.build(value))


class _Resolved:
    """A stand-in step for a name whose derivative a side chain worked: the next line puts
    the value in, citing the side chain."""

    rule = "resolved"

    def __init__(self, step, mark):
        self.step = step
        self.expression = mark.expression
        self.wrt = mark.variable
        self.derivative = step.derivative
        self.substeps = []

    def walk(self):
        yield self


def _close(chain, presenter):
    """Resolve what a chain still has pending (names worked by side chains) in one line."""
    for _ in range(3):
        marks = _marks(chain.result) if chain.lines else []
        if not marks:
            return
        replace, notes = {}, []
        for mark in marks:
            value = presenter.values.get(_key(mark))
            if value is None:
                return
            replace[mark] = value
            label = presenter.memory.get(_key(mark))
            notes.append(Note("by", mark, value, label=presenter._cite(label) if label else None))
        chain.lines.append(Line(_substitute(chain.result, replace), (), tuple(notes)))


def _depth(step, presenter):
    """How many lines ``step`` needs on its own."""
    if presenter.simple(step) or isinstance(step, _Resolved):
        return 0
    if step.rule in STRUCTURAL or step.rule == "definition":
        return max((_depth(s, presenter) for s in step.substeps), default=0)
    return 1 + max((_depth(s, presenter) for s in step.substeps), default=0)


def _same_power(expression, written):
    """Whether a rewrite "as a power" would write the expression as itself (x^(5/3))."""
    if written is None or not expression.is_Pow or not written.is_Pow:
        return False
    exp = written.exp.args[0] if isinstance(written.exp, sympy.UnevaluatedExpr) else written.exp
    return expression.base == written.base and expression.exp == exp and exp != S.Half and not exp.is_negative


def _rules_of(step):
    """The rules a merged subtree used, in the order a reader meets them: the function's
    name with its rule (trig:sin), the trivial ones (d/dx x = 1) left unsaid."""
    out = []
    hidden = set()
    for s in step.walk():
        if id(s) in hidden:
            continue
        if s.rule == "rewrite" and s.detail.get("identity") == "sigmoid":
            hidden |= {id(t) for t in s.walk()}  # σ′ = σ(1 − σ) is quoted, not re-derived
            out.append("rewrite:sigmoid")
            continue
        if s.rule in ("variable",) and step.rule != "variable":
            continue
        if s.rule == "constant" and step.rule not in ("constant",):
            continue
        if s.rule in ("trig", "inverse_trig", "hyperbolic"):
            out.append(f"{s.rule}:{s.detail.get('function', '')}")
        elif s.rule == "exp":
            out.append("exp:e" if s.detail.get("base") == sympy.E else "exp:a")
        elif s.rule == "rewrite":
            if not _same_power(s.expression, s.detail.get("as")):
                out.append("rewrite:" + s.detail.get("identity", "power"))
        else:
            out.append(s.rule)
    return _unique(out)


def _unique(items):
    return list(dict.fromkeys(items))


def _key(mark):
    return (mark.expression, mark.variable)


def _marks(expr):
    found = []
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, Pending) and node not in found:
            found.append(node)
    return found


def _alone(rhs, mark, variable):
    """Whether the line is only this derivative, with constant factors or a Σ around it."""
    if rhs == mark:
        return True
    if isinstance(rhs, Sum):
        return _alone(rhs.function, mark, variable)
    if rhs.is_Mul or isinstance(rhs, Dot):
        inside = [a for a in rhs.args if a.has(Pending)]
        others = [a for a in rhs.args if not a.has(Pending)]
        return len(inside) == 1 and all(variable not in a.free_symbols for a in others) \
            and _alone(inside[0], mark, variable)
    return False


def _index_symbols(expr):
    return {s for s in expr.free_symbols if s.is_integer}


def _substitute(expr, replace):
    """``expr`` with marks replaced, rebuilt without evaluation (the line as written)."""
    if expr in replace:
        return replace[expr]
    if expr.is_Atom or not expr.args or isinstance(expr, Pending):
        return expr
    args = [_substitute(a, replace) for a in expr.args]
    if isinstance(expr, Sum):
        return Sum(args[0], *expr.limits)
    try:
        return expr.func(*args, evaluate=False)
    except TypeError:
        return expr.func(*args)
    except ValueError:  # a derivative with respect to what is no longer a symbol
        return expr.xreplace(replace)


def _times(a, b):
    """a · b as written: 1 · b is b, 0 · b is 0, and the factors keep the rule's order."""
    if a == 1:
        return b
    if b == 1:
        return a
    if a == 0 or b == 0:
        return S.Zero
    if a == -1:
        return _negative(b)
    if a.is_Number and not b.has(Pending) and not isinstance(b, Dot):
        return Mul(a, b, evaluate=False)  # 2 · x² is written 2x²
    if b.is_Number and not a.has(Pending) and not _has_coefficient(a):
        return Mul(b, a, evaluate=False)  # e²ˣ · 2 is written 2e²ˣ (but 2(2 − 3x) · (−3) stays)
    return Dot(a, b)


def _has_coefficient(a):
    return a.is_Number or (a.is_Mul and a.args and a.args[0].is_Number)


def _negative(a):
    if a.is_Number:
        return -a
    return Mul(-1, a, evaluate=False)
