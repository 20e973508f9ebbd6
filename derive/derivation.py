"""``explain`` and ``gradient``: from user text (or a named problem) to checked,
renderable derivations.

>>> from derive import explain
>>> d = explain("sin(x**2)", wrt="x")
>>> d.result
2*x*cos(x**2)
>>> d.check.passed
True
"""

import random
import re
from dataclasses import dataclass, field

import sympy

from derive.render.document import Document
from derive.errors import VOICE, DeriveError, option, option_value
from derive.engine.problems import get_problem
from derive.symbols import symbol

NAME = re.compile(r"[A-Za-z\u0370-\u03ff][A-Za-z0-9_\u0370-\u03ff]*\Z")
MAX_LETS = 20
MAX_PATHS = 24
LEARNING_RATES = {"alpha": "alpha", "α": "alpha", "eta": "eta", "η": "eta"}


@dataclass
class Subject:
    """What is being differentiated: the expression, its names, and how to check it."""

    expression: sympy.Expr
    definitions: dict = field(default_factory=dict)
    problem: object = None
    source: str | None = None
    lets: list = field(default_factory=list)  # the user's own names, in the order given
    typed: sympy.Expr | None = None  # as typed, when --simplify-first rewrote it before step 1
    wrt_hint: str | None = None  # the variable the exercise names: d/dx …, f(x) = …
    learning_rate: sympy.Symbol = field(default_factory=lambda: symbol("alpha"))

    @property
    def folds(self):
        return self.problem.folds if self.problem else {}

    @property
    def identities(self):
        return self.problem.identities if self.problem else {}

    @property
    def per_example(self):
        return self.problem.per_example if self.problem else {}

    @property
    def written_out(self):
        from derive.engine.rules import substitute_definitions

        return substitute_definitions(self.expression, self.definitions)

    def sample(self, seed):
        """``(sizes, fixed)`` for the numeric check: random data for a problem, else none."""
        if self.problem is None:
            return {}, {}
        return self.problem.sample(random.Random(seed))

    def variable(self, wrt):
        """The symbol ``wrt`` names: a problem's parameter, or a variable of the expression."""
        if self.problem is not None:
            return self.problem.parameter(wrt).symbol
        return _variable(self.written_out, wrt, self.definitions)

    def parameters(self):
        """Every variable one could differentiate by (for ``--wrt all``)."""
        if self.problem is not None:
            return [p.symbol for p in self.problem.parameters]
        return sorted(self.written_out.free_symbols, key=str)


class Derivation(Document):
    """A derivative worked out step by step and checked against numbers.

    ``result`` is the SymPy derivative (equal to ``sympy.diff``), ``steps`` the tree of
    steps (a ``Step``), ``check`` the numeric check. ``to_text()``, ``to_markdown()``,
    ``to_latex()`` and ``to_dict()`` render it; in Jupyter it displays itself.
    """

    def __init__(self, subject, wrt, steps, check, first=None):
        self.subject = subject
        self.wrt = wrt
        self.steps = steps
        self.check = check
        self.first = first  # for a second derivative: the derivation of the first
        self._worked = None
        self._notation = None
        self.memory = None  # shared with the other derivations of one document
        self.label = None  # how a later problem of a handout cites this one

    @property
    def notation(self):
        """How this explanation writes maths: sums and products in its author's order."""
        if self._notation is None:
            self._notation = notation_of(self.subject)
        return self._notation

    @property
    def worked(self):
        """The worked solution: chains of equalities, from :mod:`derive.present`."""
        if self._worked is None:
            from derive.present import present

            if self.first is not None and self.memory is not None:
                self.first.memory = self.memory
            self._worked = present(self, memory=self.memory, label=self.label)
        return self._worked

    # -- what it is ----------------------------------------------------------------------
    expression = property(lambda self: self.subject.expression)
    exercise = property(lambda self: self.subject.typed if self.subject.typed is not None else self.subject.expression)
    problem = property(lambda self: self.subject.problem)
    source = property(lambda self: self.subject.source)
    definitions = property(lambda self: self.subject.definitions)
    lets = property(lambda self: self.subject.lets)
    learning_rate = property(lambda self: self.subject.learning_rate)
    order = property(lambda self: 1 if self.first is None else 2)

    @property
    def result(self):
        """The derivative, a SymPy expression equal to ``sympy.diff`` (an unspecified
        function's derivative written with a prime, g′(sin(x)))."""
        from derive.symbols import readable

        return readable(self.steps.derivative)

    @property
    def result_in_names(self):
        """The result written in the named intermediates (``(1/n) Σ (pᵢ − yᵢ) xᵢ``), if any."""
        if self.steps.rule == "simplify":
            return self.steps.detail.get("in_names")
        return None

    @property
    def parameter(self):
        if self.problem is None:
            return None
        return next(p for p in self.problem.parameters if p.symbol == self.wrt)

    @property
    def constants(self):
        """The other symbols, held constant in a partial derivative."""
        if self.problem is not None:
            p = self.problem
            others = [q.symbol for q in p.parameters if q.symbol != self.wrt]
            data = [base[p.index] if p.mean else base for base in p.data.values()]
            sizes = [p.size] if p.mean else []
            return others + sizes + data + list(p.hyper.values())
        symbols = set(self.subject.written_out.free_symbols)
        symbols.discard(self.wrt)
        return sorted(symbols, key=str)

    @property
    def partial(self):
        """Whether other symbols are around, so ∂ is the right mark."""
        return bool(self.constants)

    @property
    def absent(self):
        """True when the variable does not occur at all (the derivative is 0)."""
        return self.wrt not in self.subject.written_out.free_symbols

    @property
    def top(self):
        """What the derivative is of, as the explanation names it: L for a loss."""
        return self.problem.loss_symbol if self.problem is not None else self.expression

    @property
    def update(self):
        """The gradient-descent update ``w − α·∂L/∂w`` (for a problem's parameter)."""
        return self.wrt - self.learning_rate * self.result

    @property
    def chain_paths(self):
        """The ways the variable reaches the top through named intermediates:
        ``[[L, errorᵢ, ŷᵢ, w]]``; several paths mean a sum over them (backpropagation)."""
        if not self.definitions or self.absent:
            return []
        return _paths(self.top, self.expression, self.definitions, self.wrt)

    @property
    def mark(self):
        """What the derivative is written as on the left: ∂L/∂w, d/dx sin(x²), d²/dx² (…)."""
        from derive.present.marks import Pending

        if self.problem is not None or self.definitions:
            return Pending(self.top, self.wrt, self.partial)
        if self.first is not None:
            return Pending(Pending(self.first.expression, self.wrt, self.first.partial), self.wrt, self.partial)
        return Pending(self.expression, self.wrt, self.partial)

    @property
    def update_rule(self):
        """w ← w − α · ∂L/∂w."""
        from derive.present.marks import Dot, Pending, Relation

        step = Dot(self.learning_rate, Pending(self.top, self.wrt, True))
        return Relation(self.wrt, sympy.Add(self.wrt, sympy.Mul(-1, step, evaluate=False), evaluate=False))

    @property
    def update_value(self):
        """w ← w − α · (the result)."""
        from derive.present.marks import Dot, Relation

        step = Dot(self.learning_rate, self.shown_result)
        return Relation(self.wrt, sympy.Add(self.wrt, sympy.Mul(-1, step, evaluate=False), evaluate=False))

    @property
    def shown_result(self):
        """The result as the worked solution's last line writes it (the author's order)."""
        last = self.worked.main.result
        return last if not hasattr(last, "pieces") else self.result

    @property
    def functions_used(self):
        """The catalog's functions a reader may need defined: sigmoid, sign."""
        from derive.functions import sigmoid

        exprs = [self.subject.expression, *self.definitions.values(), self.result]
        found = []
        if any(e.has(sigmoid) for e in exprs):
            found.append("sigmoid")
        if any(e.has(sympy.sign) for e in exprs):
            found.append("sign")
        return found

    @property
    def chain_formula(self):
        """``∂L/∂w = Σᵢ ∂L/∂errorᵢ · ∂errorᵢ/∂ŷᵢ · ∂ŷᵢ/∂w``: the chain rule along the names,
        summed over the examples when the loss is a mean over them."""
        from derive.present.marks import Dot, Pending, Plus

        paths = self.chain_paths
        if not paths:
            return None
        terms = [Dot(*[Pending(a, b, self.partial) for a, b in zip(path, path[1:])]) for path in paths]
        rhs = terms[0] if len(terms) == 1 else Plus(*terms)
        problem = self.problem
        if problem is not None and problem.mean and problem.index is not None:
            rhs = sympy.Sum(rhs, (problem.index, 1, problem.size))
        return sympy.Eq(Pending(self.top, self.wrt, self.partial), rhs, evaluate=False)

    # -- output ----------------------------------------------------------------------------
    def to_dict(self, seen=None):
        """The derivation as JSON-ready data: SymPy strings for machines, and the worked
        solution line by line with each line's LaTeX and text, its rules and notes."""
        from derive.present.serialize import solution_dict
        from derive.render.printing import to_latex

        seen = {} if seen is None else seen
        out = {
            "expression": str(self.expression),
            "wrt": str(self.wrt),
            "order": self.order,
            "derivative": str(self.result),
            "derivative_latex": to_latex(self.result),
            "solution": solution_dict(self),
            "steps": self.steps.to_dict(seen),
            "check": self.check.to_dict() if self.check else None,
        }
        if self.first is not None:
            out["first"] = self.first.to_dict(seen)
        if self.definitions:
            out["definitions"] = {str(k): str(v) for k, v in self.definitions.items()}
            out["written_out"] = str(self.subject.written_out)
        if self.result_in_names is not None:
            out["derivative_in_names"] = str(self.result_in_names)
        if self.problem is not None:
            out["problem"] = self.problem.name
            out["parameter"] = self.parameter.name
            out["update"] = f"{self.wrt} <- {self.update}"
        return out

    def _repr_latex_(self):
        from derive.render.printing import to_latex

        return "$$%s = %s$$" % (to_latex(sympy.Derivative(self.expression, self.wrt)), to_latex(self.result))

    def __repr__(self):
        return f"<Derivation d/d{self.wrt} {self.expression} = {self.result}>"


class Gradient(Document):
    """Every partial derivative of one loss, the gradient vector and the simultaneous update."""

    def __init__(self, subject, derivations, hessian=None):
        self.subject = subject
        self.derivations = derivations
        self.hessian = hessian
        memory = {}  # each derivative worked once across all the partials
        for d in derivations:
            d.memory = memory
            d.label = f"∂{d.top}/∂{d.wrt}"

    @property
    def notation(self):
        return self.derivations[0].notation

    @property
    def backward(self):
        """The gradient worked as backpropagation (each ∂L/∂name once, from the loss back),
        when the loss is written in named intermediates; else None."""
        if not hasattr(self, "_backward"):
            from derive.present.backprop import backward

            self._backward = backward(self)
        return self._backward

    @property
    def vector_formula(self):
        """∇L = (∂L/∂w, ∂L/∂b)."""
        from derive.present.marks import Gradient as Nabla, Pending

        top = self.derivations[0].top
        return sympy.Eq(Nabla(top), sympy.Tuple(*[Pending(top, d.wrt, True) for d in self.derivations]),
                        evaluate=False)

    def __repr__(self):
        wrt = ", ".join(str(w) for w in self.wrt)
        return f"<Gradient of {self.subject.source or self.subject.expression} with respect to {wrt}>"

    problem = property(lambda self: self.subject.problem)
    learning_rate = property(lambda self: self.subject.learning_rate)

    @property
    def wrt(self):
        return [d.wrt for d in self.derivations]

    @property
    def vector(self):
        return [d.result for d in self.derivations]

    @property
    def check(self):
        """One check for the whole: passed only if every partial's passed."""
        from derive.verify.check import combine

        checks = [d.check for d in self.derivations if d.check is not None]
        if self.hessian is not None and self.hessian.check is not None:
            checks.append(self.hessian.check)
        return combine(checks) if checks else None

    def to_dict(self):
        seen = {}  # one tree of steps across the partials: a shared part is written once
        out = {
            "wrt": [str(w) for w in self.wrt],
            "gradient": [str(v) for v in self.vector],
            "update": {str(d.wrt): str(d.update) for d in self.derivations},
            "derivations": [d.to_dict(seen) for d in self.derivations],
            "check": self.check.to_dict() if self.check else None,
        }
        if self.hessian is not None:
            out["hessian"] = self.hessian.to_dict()
        return out



class Hessian:
    """The matrix of second partial derivatives over a problem's parameters."""

    WIDE = 16  # characters: an entry longer than this is written below the matrix

    def __init__(self, variables, matrix, check, top=None):
        self.variables = variables
        self.matrix = matrix  # a SymPy Matrix
        self.check = check
        self.top = top if top is not None else symbol("L")

    @property
    def wide(self):
        """Whether the entries are too long to stand in a matrix on a page."""
        from derive.render.printing import to_text

        return any(len(to_text(e)) > self.WIDE for e in self.matrix)

    @property
    def names(self):
        """The matrix written with each entry's name, ∂²L/∂w∂b."""
        from derive.present.marks import Second

        v = self.variables
        return sympy.ImmutableMatrix([[Second(self.top, v[r], v[c]) for c in range(len(v))] for r in range(len(v))])

    @property
    def entries(self):
        """``(name, value)`` of each entry on and above the diagonal (the matrix is symmetric)."""
        from derive.present.marks import Second

        v = self.variables
        return [(Second(self.top, v[r], v[c]), self.matrix[r, c]) for r in range(len(v)) for c in range(r, len(v))]

    def to_dict(self):
        return {
            "variables": [str(v) for v in self.variables],
            "matrix": [[str(self.matrix[r, c]) for c in range(self.matrix.cols)] for r in range(self.matrix.rows)],
            "check": self.check.to_dict() if self.check else None,
        }


# -- the entry points ------------------------------------------------------------------------
def explain(expression, wrt=None, *, let=None, half=None, mean=None, learning_rate=None,
            order=1, check=True, seed=0, simplify_first=False):
    """Differentiate ``expression`` step by step and check the result against numbers.

    ``expression`` is user text (``"sin(x^2)"``, read by derive's own parser, never by
    ``eval`` or ``sympify``), a named problem (``"mse"``), or a SymPy expression. ``wrt``
    is a variable name (or a problem's parameter, such as ``"weight"`` or ``"w"``).
    ``let`` names intermediates, ``{"error": "yhat - y", "yhat": "weight*x + bias"}``,
    and the chain rule then passes through those names. ``half``, ``mean`` and
    ``learning_rate`` (``"alpha"`` or ``"eta"``) choose a problem's conventions;
    ``order=2`` differentiates the first derivative again.
    Raises ``DeriveError`` for bad input, with a one-line message.
    """
    subject = make_subject(expression, let=let, half=half, mean=mean, learning_rate=learning_rate, wrt=wrt,
                           simplify_first=simplify_first)
    if wrt is None and subject.problem is not None:
        names = ", ".join(p.name for p in subject.problem.parameters)
        raise DeriveError(f"say which parameter to differentiate {subject.problem.name} by: {option('wrt')} one of {names}, or all")
    if wrt is None and subject.wrt_hint is not None:
        wrt = subject.wrt_hint
    if isinstance(wrt, str) and ("," in wrt or wrt.strip() == "all"):
        raise DeriveError("several variables give a gradient: use derive.gradient(...)" if VOICE.get() == "python" else "several variables give a gradient: --wrt a,b")
    variable = subject.variable(wrt)
    if order not in (1, 2):
        raise DeriveError(f"{option('order')} must be 1 or 2, not {order}")
    first = _derive(subject, variable, check, seed)
    if order == 1:
        return first
    return _second(subject, first, check, seed)


def gradient(expression, wrt="all", *, let=None, half=None, mean=None, learning_rate=None,
             hessian=False, check=True, seed=0, simplify_first=False):
    """Each partial derivative of ``expression``, the gradient vector and the update.

    ``wrt`` is ``"all"`` (every parameter of a named problem, every variable of an
    expression), a comma-separated string ``"weight,bias"``, or a list of names.
    ``hessian=True`` adds the matrix of second partials.
    """
    subject = make_subject(expression, let=let, half=half, mean=mean, learning_rate=learning_rate,
                           wrt=None if wrt == "all" else wrt, simplify_first=simplify_first)
    if wrt is None or (isinstance(wrt, str) and wrt.strip() == "all"):
        variables = subject.parameters()
        if not variables:
            raise DeriveError("the expression has no variable to differentiate by")
    else:
        names = [w.strip() for w in wrt.split(",")] if isinstance(wrt, str) else list(wrt)
        if not all(names):
            raise DeriveError(f"{option('wrt')} has an empty name; write names separated by commas, as in weight,bias")
        variables = [subject.variable(n) for n in names]
        if len(set(variables)) != len(variables):
            raise DeriveError(f"{option('wrt')} names the same variable twice")
    from derive.engine.rules import Engine

    engine = Engine(subject.expression, None, subject.definitions)  # shared: each part worked once
    derivations = [_derive(subject, v, check, seed, engine) for v in variables]
    matrix = _hessian(subject, derivations, check, seed) if hessian else None
    return Gradient(subject, derivations, matrix)


def notation_of(subject):
    """The notation of an explanation: its author's order, and ⅆ for Leibniz's d when a
    variable is called d."""
    from derive.render.notation import Notation

    from derive.present import substitute_typed

    sources = [substitute_typed(subject.expression, subject.definitions), subject.expression,
               *subject.definitions.values()]
    names = set()
    for source in sources:
        names |= {getattr(s, "name", "") for s in source.free_symbols}
    return Notation.of(*sources, leibniz_d="ⅆ" if "d" in names else "d")


def _derive(subject, variable, check, seed, engine=None):
    from derive.engine.rules import Engine
    from derive.verify.check import check_derivation

    engine = engine or Engine(subject.expression, variable, subject.definitions)
    raw = engine.differentiate(subject.expression, variable)
    steps = engine.finish(raw, subject.folds, subject.identities, subject.per_example)
    result = None
    if check:
        sizes, fixed = subject.sample(seed)
        result = check_derivation(steps, subject.definitions, sizes=sizes, fixed=fixed, seed=seed)
    return Derivation(subject, variable, steps, result)


def _second(subject, first, check, seed):
    """The second derivative: the first derivative, differentiated again (both shown)."""
    from derive.engine.rules import differentiate
    from derive.verify.check import check_derivation

    stage = Subject(first.result, problem=subject.problem, source=subject.source, lets=subject.lets,
                    learning_rate=subject.learning_rate)
    steps = differentiate(first.result, first.wrt, identities=subject.identities)
    result = None
    if check:
        from derive.verify.check import combine

        sizes, fixed = subject.sample(seed)
        second = check_derivation(steps, sizes=sizes, fixed=fixed, seed=seed)
        result = combine([second, first.check]) if first.check else second
    return Derivation(stage, first.wrt, steps, result, first=first)


def _hessian(subject, derivations, check, seed):
    """Second partials ∂²L/∂θⱼ∂θₖ, each checked against a finite difference of ∂L/∂θⱼ."""
    from derive.engine.rules import differentiate, tidy
    from derive.engine.steps import Step
    from derive.verify.check import check_derivation, combine

    variables = [d.wrt for d in derivations]
    rows, checks = [], []
    for d in derivations:
        row = []
        for v in variables:
            steps = differentiate(d.result, v, identities=subject.identities)
            row.append(tidy(steps.derivative))
            if check:
                sizes, fixed = subject.sample(seed)
                only = Step(steps.rule, steps.expression, v, steps.derivative)  # the entry itself
                checks.append(check_derivation(only, sizes=sizes, fixed=fixed, seed=seed))
        rows.append(row)
    return Hessian(variables, sympy.ImmutableMatrix(rows), combine(checks) if checks else None,
                   derivations[0].top)


# -- reading the user's input --------------------------------------------------------------
def make_subject(expression, *, let=None, half=None, mean=None, learning_rate=None, wrt=None,
                 simplify_first=False):
    """The expression (parsed, or a named problem) with its names and conventions."""
    rate = symbol(_learning_rate(learning_rate))
    if isinstance(expression, str):
        problem = get_problem(expression, half=half, mean=mean) if expression.strip() else None
        if problem is not None:
            if let:
                raise DeriveError(f"{problem.name} names its own intermediates; {option('let')} is for your own expressions")
            problem.learning_rate = rate
            return Subject(problem.loss, problem.definitions, problem, problem.name, learning_rate=rate)
        from derive.parsing.text import parse
        from derive.engine.problems import ALIASES, CATALOG

        word = expression.strip()
        if _looks_like_a_problem_name(word, wrt, let):
            names = ", ".join(list(CATALOG) + list(ALIASES))
            raise DeriveError(f"no problem is called '{word}'; the named problems are {names} "
                              f"(see derive list), or write an expression such as 'sin(x^2)'")
        text, wrt_hint = read_exercise(expression)
        if wrt_hint is not None:
            if wrt is not None and str(wrt).strip() not in (wrt_hint, "all") and "," not in str(wrt):
                raise DeriveError(f"the exercise says d/d{wrt_hint} but {option('wrt')} says {wrt}; "
                                  "give one variable")
        expr, source = parse(text), expression
    elif isinstance(expression, sympy.Basic):
        expr, source = expression, None
    else:
        raise DeriveError(f"cannot explain a {type(expression).__name__}; give text such as 'sin(x^2)' or a SymPy expression")
    if half or mean is not None:
        raise DeriveError(f"{option('half')} and {option('mean')} are conventions of the named losses (see derive list)")
    lets = read_lets(let)
    definitions = {name: meaning for name, meaning in lets}
    _check_names(expr, definitions)
    subject = Subject(expr, definitions, None, source, lets=lets, learning_rate=rate)
    if isinstance(expression, str):
        subject.wrt_hint = read_exercise(expression)[1]
    if simplify_first:
        from derive.engine.rules import tidy
        from derive.symbols import evaluated

        simpler = tidy(evaluated(expr))
        if simpler != expr:
            subject.typed, subject.expression = expr, simpler  # the rewrite is the first line
    return subject


EXERCISE = re.compile(r"^\s*(?:d|∂)\s*/\s*(?:d|∂)\s*([A-Za-z]\w{0,31})\b\s*(.+)$", re.S)
DEFINED = re.compile(r"^\s*([A-Za-z]\w{0,31})\s*(?:\(\s*([A-Za-z]\w{0,31})\s*\))?\s*=(?!=)(.+)$", re.S)


def read_exercise(text):
    """``(expression, variable or None)`` from an exercise as a textbook writes it:
    ``d/dx sin(x)`` is sin(x) with respect to x; ``y = 3x^2`` and ``f(x) = x^2`` are their
    right-hand sides (``f(x)`` naming its variable). Anything else is the text itself."""
    found = EXERCISE.match(text)
    if found:
        return found.group(2), found.group(1)
    found = DEFINED.match(text)
    if found and "=" not in found.group(3):
        return found.group(3), found.group(2)
    return text, None


def _looks_like_a_problem_name(word, wrt, let):
    """A bare word that is no constant, differentiated by something else (msq --wrt w), or
    one letter away from a problem's name (mes): a mistyped name, not an expression."""
    import difflib

    from derive.parsing.text import CONSTANTS
    from derive.engine.problems import ALIASES, CATALOG

    if let or not NAME.match(word) or len(word) < 2 or word in CONSTANTS:
        return False
    names = list(CATALOG) + list(ALIASES)
    if difflib.get_close_matches(word.lower(), names, n=1, cutoff=0.6):
        return True
    wanted = [w.strip() for w in str(wrt).split(",")] if wrt is not None else []
    return bool(wanted) and word not in wanted


def read_lets(let):
    """``[(name, meaning), …]`` from ``{"error": "yhat - y"}`` or ``["error = yhat - y"]``."""
    if not let:
        return []
    from derive.parsing.text import parse

    items = list(let.items()) if isinstance(let, dict) else [_split_let(text) for text in let]
    if len(items) > MAX_LETS:
        raise DeriveError(f"at most {MAX_LETS} {option('let')} definitions")
    lets, seen = [], set()
    for name, meaning in items:
        name = str(name).strip()
        if not NAME.match(name) or len(name) > 32:
            raise DeriveError(f"{option('let')} needs a variable name before '=', such as error; got {name!r}")
        if name in seen:
            raise DeriveError(f"{option('let')} defines '{name}' twice; give each name one definition")
        seen.add(name)
        value = meaning if isinstance(meaning, sympy.Basic) else _parse_let(parse, name, meaning)
        lets.append((symbol(name), value))
    return lets


def _split_let(text):
    if not isinstance(text, str) or "=" not in text:
        raise DeriveError(f"{option('let')} needs the form name = expression, as in \"error = yhat - y\"; got {text!r}")
    name, _, meaning = text.partition("=")
    if not meaning.strip():
        raise DeriveError(f"{option('let')} '{name.strip()}' has nothing after '='; write what it stands for")
    return name, meaning


def _parse_let(parse, name, meaning):
    from derive.errors import ParseError

    try:
        return parse(str(meaning))
    except ParseError as error:
        raise DeriveError(f"in {option('let')} {name}: {error}") from None


def _check_names(expr, definitions):
    """Names must form an acyclic graph, and every name must be used."""
    if not definitions:
        return
    state = {}

    def visit(name, trail):
        if state.get(name) == "done":
            return
        if state.get(name) == "open":
            cycle = " → ".join(str(s) for s in trail[trail.index(name):] + [name])
            raise DeriveError(f"{option('let')} definitions go round in a circle ({cycle}); a name cannot depend on itself")
        state[name] = "open"
        for used in sorted(definitions[name].free_symbols & definitions.keys(), key=str):
            visit(used, trail + [name])
        state[name] = "done"

    for name in definitions:
        visit(name, [])
    reached, frontier = set(), set(expr.free_symbols) & definitions.keys()
    while frontier:
        name = frontier.pop()
        reached.add(name)
        frontier |= (definitions[name].free_symbols & definitions.keys()) - reached
    unused = [str(n) for n in definitions if n not in reached]
    if unused:
        raise DeriveError(f"{option('let')} defines {', '.join(unused)} but the expression never uses {'it' if len(unused) == 1 else 'them'}")


def _learning_rate(name):
    if name is None:
        return "alpha"
    key = LEARNING_RATES.get(str(name).strip())
    if key is None:
        raise DeriveError(f"the learning rate is written alpha (α) or eta (η), not {name!r}")
    return key


def _variable(expr, wrt, definitions=None):
    """The symbol to differentiate by: the one named, or the only one there is."""
    present = sorted(expr.free_symbols, key=str)
    if wrt is None:
        if len(present) == 1:
            return present[0]
        if not present:
            raise DeriveError(f"the expression has no variable; name one with {option_value('wrt', 'x')}")
        names = ", ".join(str(s) for s in present)
        raise DeriveError(f"the expression has several variables ({names}); choose one with {option('wrt')}, e.g. {option_value('wrt', present[0])}")
    if isinstance(wrt, sympy.Symbol):
        return wrt
    text = str(wrt).strip()
    if not NAME.match(text) or len(text) > 32:
        raise DeriveError(f"{option('wrt')} must be a variable name such as x or weight, not {text!r}")
    if definitions and any(s.name == text for s in definitions):
        raise DeriveError(f"'{text}' is a name defined with {option('let')}; differentiate by one of the variables it is made of")
    for s in present:
        if s.name == text:
            return s
    return symbol(text)  # not in the expression: the derivative is 0, and the output says why


def _paths(top, expr, definitions, wrt):
    """Every path from the top of the expression to ``wrt`` through named intermediates."""
    found = []

    def walk(node_expr, trail):
        if len(found) >= MAX_PATHS:
            return
        symbols = node_expr.free_symbols
        if wrt in symbols:
            found.append(trail + [wrt])
        for name in sorted(symbols & definitions.keys(), key=str):
            walk(definitions[name], trail + [name])

    walk(expr, [top])
    return found
