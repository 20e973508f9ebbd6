"""The forward and backward passes with numbers, each number checked.

Forward: every node's value, in the graph's order. Backward: ∂L/∂L = 1, then for each
node, from the loss back, ∂L/∂node = Σ over the nodes it feeds of ∂L/∂(that node) times
the local derivative on the edge (one term per path out of it). Every ∂L/∂node is
checked against a central finite difference *of that node* (its value nudged, everything
computed from it recomputed), every parameter's against derive's own symbolic gradient
evaluated at the point, and, where PyTorch is installed, against ``torch.autograd``.

Arithmetic is derive's own evaluator (``derive.verify.numeric``) at 40 digits: nothing is
``lambdify``-ed and no user text is evaluated.

>>> p = passes("mlp", at="w=0.5,b=0.1,v=-1.2,c=0.3,x=1.5,y=2", torch=False)
>>> p.passed
True
>>> round(p.gradient["w"], 6)
1.918677
"""

import math
import re
from dataclasses import dataclass, field

import mpmath
import sympy

from derive.errors import DeriveError
from derive.render.document import Document

DPS = 40
STEP = mpmath.mpf("1e-12")
TOLERANCE = 1e-9  # relative to max(1, |value|), as derive's step check
TORCH_TOLERANCE = 1e-9  # float64 autograd against 40-digit arithmetic
MAX_AT_LENGTH = 2000
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?(/\d+)?\Z")


# -- the point ------------------------------------------------------------------------------
def read_point(at):
    """``"w=0.5,b=0.1,x=1.5;2.5"`` (or a dict) as ``{"w": [0.5], "b": [0.1], "x": [1.5, 2.5]}``.

    A data name may take one value per example, separated by ``;``. Numbers only:
    decimals, ``1e-3``, fractions ``1/2``; nothing is evaluated.
    """
    if isinstance(at, dict):
        items = [(str(k), v if isinstance(v, (list, tuple)) else [v]) for k, v in at.items()]
        return {name.strip(): [_number(name, value) for value in values] for name, values in items}
    text = str(at).strip()
    if not text:
        raise DeriveError("--at needs values, as in --at w=0.5,b=0.1,x=1.5,y=2")
    if len(text) > MAX_AT_LENGTH:
        raise DeriveError(f"--at is longer than {MAX_AT_LENGTH} characters")
    point = {}
    for part in text.split(","):
        name, equals, values = part.partition("=")
        name = name.strip()
        if not equals or not name:
            raise DeriveError(f"--at takes name=value pairs separated by commas, as in w=0.5,x=1.5; got {part.strip()!r}")
        if name in point:
            raise DeriveError(f"--at gives {name} twice")
        point[name] = [_number(name, v) for v in values.split(";")]
    return point


def _number(name, value):
    if isinstance(value, bool):
        raise DeriveError(f"--at {name}: a value must be a number")
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = str(value).strip().replace("−", "-")
        if not NUMBER.match(text):
            raise DeriveError(f"--at {name}={str(value).strip()!r}: a value must be a number such as 0.5, -1.2, 1e-3 or 1/2")
        top, _, bottom = text.partition("/")
        if bottom and float(bottom) == 0:
            raise DeriveError(f"--at {name}={text}: division by zero")
        number = float(top) / float(bottom) if bottom else float(top)
    if not math.isfinite(number):
        raise DeriveError(f"--at {name}: the value must be a finite number")
    return number


def examples_in(subject, point):
    """How many examples the point gives a mean loss (None for a loss of one example)."""
    problem = subject.problem
    if problem is None or not problem.mean:
        for name, values in point.items():
            if len(values) != 1:
                raise DeriveError(f"--at {name} has {len(values)} values; this loss takes one value per name")
        return None
    counts = {len(v) for v in point.values()}
    data = [k for k in point if _is_data_name(problem, k)]
    lengths = {len(point[k]) for k in data}
    if len(lengths) > 1:
        raise DeriveError("--at gives the data names different numbers of examples; give each the same number, "
                          "separated by ;")
    for name, values in point.items():
        if name not in data and len(values) != 1:
            raise DeriveError(f"--at {name} has {len(values)} values; only the data take one value per example")
    from derive.backprop.graph import MAX_EXAMPLES

    n = lengths.pop() if lengths else max(counts, default=1)
    if n > MAX_EXAMPLES:
        raise DeriveError(f"--at gives {n} examples; the passes are shown for at most {MAX_EXAMPLES}")
    return n


def _is_data_name(problem, name):
    return name in problem.data or name.replace("_", "") in {k.replace("_", "") for k in problem.data}


def leaf_values(graph, point):
    """``{input symbol: mpf}`` from the point; every input must have a value, and only inputs."""
    aliases = {}
    for node in graph.inputs:
        for alias in _aliases(graph, node):
            aliases.setdefault(alias, []).append(node)
    values, used = {}, set()
    for name, numbers in point.items():
        nodes = aliases.get(name) or aliases.get(name.replace("_", ""))
        if not nodes:
            raise DeriveError(f"--at names {name}, which is not an input of this graph; it needs {_needed(graph)}")
        used.add(name)
        for node in nodes:
            k = (node.example or 1) - 1 if len(numbers) > 1 or node.example else 0
            values[node.symbol] = mpmath.mpf(numbers[min(k, len(numbers) - 1)])
    missing = [n for n in graph.inputs if n.symbol not in values]
    if missing:
        names = ", ".join(dict.fromkeys(_short(n) for n in missing))
        raise DeriveError(f"--at gives no value for {names}; it needs {_needed(graph)}")
    return values


def _aliases(graph, node):
    from derive.render.printing import GREEK, HATS

    base = node.symbol.base if isinstance(node.symbol, sympy.Indexed) else node.symbol
    name = str(base)
    found = {name, name.replace("_", "")}
    found |= {v for k, v in GREEK.items() if k == name}
    found |= {v for k, v in HATS.items() if k == name}
    problem = graph.problem
    if problem is not None:
        found |= {p.name for p in problem.parameters if p.symbol == base}
        found |= {k for k, h in problem.hyper.items() if h == base}
    return found


def _short(node):
    base = node.symbol.base if isinstance(node.symbol, sympy.Indexed) else node.symbol
    return str(base)


def _needed(graph):
    return "values for " + ", ".join(dict.fromkeys(_short(n) for n in graph.inputs))


# -- the passes -----------------------------------------------------------------------------
@dataclass
class Term:
    """One path out of a node: ∂L/∂(target) · (local derivative), with their numbers."""

    edge: object
    upstream: float  # ∂L/∂target
    local: float  # the local derivative's value
    value: float  # their product


@dataclass
class Row:
    """One node of the passes: its value, its ∂L/∂node and how that was checked."""

    node: object
    value: float
    gradient: float
    terms: list = field(default_factory=list)
    finite_difference: float | None = None
    symbolic: float | None = None  # derive's gradient evaluated here (parameters)
    torch: float | None = None
    error: float = 0.0
    passed: bool = True

    @property
    def symbol(self):
        return self.node.symbol


class Passes(Document):
    """The forward and backward passes of a graph at one point, every number checked.

    ``forward`` and ``backward`` are rows (the backward ones from the loss back);
    ``gradient`` maps each parameter's name to ∂L/∂parameter; ``passed`` is False if any
    number disagrees with its finite difference, the symbolic gradient or PyTorch.
    """

    def __init__(self, graph, values, rows, torch_note, torch_error):
        self.graph = graph
        self.values = values
        self.rows = rows  # node -> Row, in the graph's order
        self.torch_note = torch_note  # None when compared; else why not
        self.torch_error = torch_error

    @property
    def forward(self):
        return [self.rows[n] for n in self.graph.nodes]

    @property
    def backward(self):
        return [self.rows[n] for n in self.graph.backward_order()]

    @property
    def computed(self):
        return [self.rows[n] for n in self.graph.computed]

    @property
    def gradient(self):
        named = {}
        for n in self.graph.wrt:
            named[n.name] = self.rows[n].gradient
        return named

    @property
    def passed(self):
        return all(r.passed for r in self.rows.values())

    @property
    def failures(self):
        return [r for r in self.backward if not r.passed]

    @property
    def max_error(self):
        return max((r.error for r in self.rows.values()), default=0.0)

    @property
    def torch_compared(self):
        return self.torch_error is not None

    def row(self, name):
        return self.rows[self.graph.node(name)]

    def to_dict(self):
        def node_dict(r):
            out = {"node": r.node.name, "role": r.node.role, "value": r.value, "gradient": r.gradient,
                   "finite_difference": r.finite_difference, "passed": r.passed}
            if r.node.definition is not None:
                out["definition"] = str(r.node.definition)
            if r.symbolic is not None:
                out["symbolic"] = r.symbolic
            if r.torch is not None:
                out["torch"] = r.torch
            if r.terms:
                out["terms"] = [{"through": t.edge.target.name, "local": str(t.edge.local),
                                 "upstream": t.upstream, "local_value": t.local, "value": t.value}
                                for t in r.terms]
            return out

        return {
            "point": {str(k): float(v) for k, v in self.values.items()},
            "examples": self.graph.examples,
            "forward": [{"node": r.node.name, "value": r.value} for r in self.forward],
            "backward": [node_dict(r) for r in self.backward],
            "gradient": self.gradient,
            "check": {"passed": self.passed, "max_error": self.max_error,
                      "torch": "compared" if self.torch_compared else (self.torch_note or "not asked for"),
                      "torch_max_error": self.torch_error},
        }

    def render(self, fmt="text", *, color=False, standalone=False, directory=None):
        return render(self, fmt, color=color, standalone=standalone, directory=directory)


def run_passes(graph, values, *, engine=None, torch=None):
    """Forward and backward through ``graph`` at ``values`` ({input symbol: number}).

    ``engine`` maps parameter nodes' symbols to derive's symbolic ∂L/∂parameter (written
    out), evaluated here and compared. ``torch``: True to require the PyTorch comparison,
    False to skip it, None to run it when ``import torch`` works.
    """
    from derive.verify.numeric import evaluate, is_finite_real

    env = {k: mpmath.mpf(v) for k, v in values.items()}
    with mpmath.workdps(DPS):
        for node in graph.computed:
            env[node.symbol] = _real(evaluate(node.definition, env, dps=DPS), node, graph, env)
        adjoint = {graph.top: mpmath.mpf(1)}
        terms = {n: [] for n in graph.nodes}
        for node in graph.backward_order():
            upstream = adjoint.get(node, mpmath.mpf(0))
            adjoint[node] = upstream
            for edge in node.inputs:
                local = evaluate(edge.local, env, dps=DPS)
                if not is_finite_real(local):
                    raise DeriveError(f"at this point the local derivative ∂{edge.target.name}/∂{edge.source.name} "
                                      f"= {edge.local} has no real value; choose another point")
                local = mpmath.re(local)
                contribution = upstream * local
                adjoint[edge.source] = adjoint.get(edge.source, mpmath.mpf(0)) + contribution
                terms[edge.source].append(Term(edge, float(upstream), float(local), float(contribution)))
        rows = {}
        for node in graph.nodes:
            rows[node] = Row(node, float(env[node.symbol]), float(adjoint.get(node, 0)),
                             list(reversed(terms[node])))
        _finite_differences(graph, env, adjoint, rows)
        if engine:
            _symbolic(graph, env, adjoint, rows, engine)
    note, error = _torch(graph, env, rows, torch)
    return Passes(graph, values, rows, note, error)


def _real(value, node, graph, env):
    from derive.verify.numeric import is_finite_real

    if not is_finite_real(value):
        from derive.render.printing import to_text

        raise DeriveError(f"at this point {to_text(node.symbol)} = {to_text(node.definition)} is not a real number; "
                          "choose a point inside its domain")
    return mpmath.re(value)


def _finite_differences(graph, env, adjoint, rows):
    """Nudge each node's value and recompute what is computed from it: the slope of L."""
    from derive.verify.numeric import evaluate

    top = graph.top
    for node in graph.nodes:
        if node is top:
            rows[node].finite_difference = 1.0
            continue
        after = graph.descendants(node)
        if top not in after:
            rows[node].finite_difference = 0.0
            continue
        estimates = []
        for sign in (1, -1):
            trial = dict(env)
            trial[node.symbol] = env[node.symbol] + sign * STEP
            for d in after:
                trial[d.symbol] = mpmath.re(evaluate(d.definition, trial, dps=DPS))
            estimates.append(trial[top.symbol])
        estimate = (estimates[0] - estimates[1]) / (2 * STEP)
        row = rows[node]
        row.finite_difference = float(estimate)
        _compare(row, adjoint[node], estimate)


def _symbolic(graph, env, adjoint, rows, engine):
    """derive's own ∂L/∂parameter (from the step-by-step derivation) at the same point."""
    from derive.verify.numeric import evaluate

    values = {k: v for k, v in env.items() if not isinstance(k, sympy.Symbol) or graph.node(k).is_input}
    if graph.examples is not None and graph.size is not None:
        values[graph.size] = graph.examples
    for node in graph.inputs:
        result = engine.get(node.symbol)
        if result is None:
            continue
        value = evaluate(result, values, dps=DPS)
        row = rows[node]
        row.symbolic = float(mpmath.re(value))
        _compare(row, adjoint[node], mpmath.re(value))


def _compare(row, exact, other):
    error = float(abs(exact - other) / max(1, abs(exact)))
    row.error = max(row.error, error)
    if not error <= TOLERANCE:
        row.passed = False


# -- PyTorch, where it is installed ----------------------------------------------------------
def torch_available():
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def _torch(graph, env, rows, wanted):
    """Compare every ∂L/∂node with torch.autograd on the same graph, built from our own
    formulas (never from user text). Returns (note, max error): note None when compared."""
    if wanted is False:
        return None, None
    if not torch_available():
        if wanted:
            raise DeriveError("the PyTorch comparison needs torch: pip install 'derive[torch]'")
        return "PyTorch is not installed; pip install 'derive[torch]' adds the comparison with torch.autograd", None
    try:
        import torch
    except Exception as error:  # a broken install is a note, not a crash
        return f"PyTorch did not import ({type(error).__name__})", None
    from derive.backprop.torch_form import Unsupported, to_torch

    tensors = {}
    try:
        for node in graph.nodes:
            if node.is_input:
                t = torch.tensor(float(env[node.symbol]), dtype=torch.float64, requires_grad=True)
            else:
                t = to_torch(node.definition, tensors)
                t.retain_grad()
            tensors[node.symbol] = t
    except Unsupported as error:
        return f"PyTorch has no counterpart here for {error}", None
    top = tensors[graph.top.symbol]
    top.backward()
    worst = 0.0
    for node in graph.nodes:
        if node is graph.top:
            rows[node].torch = 1.0
            continue
        grad = tensors[node.symbol].grad
        value = 0.0 if grad is None else float(grad.item())
        row = rows[node]
        row.torch = value
        error = abs(value - row.gradient) / max(1.0, abs(row.gradient))
        worst = max(worst, error)
        if not error <= TORCH_TOLERANCE:
            row.passed = False
    return None, worst


# -- from the user's words -------------------------------------------------------------------
def passes(expression, *, at, wrt=None, let=None, half=None, mean=None, torch=None, engine=True):
    """The checked forward and backward passes of a problem or expression at a point.

    >>> p = passes("mse", at={"w": 0.5, "b": 0.1, "x": [1.5, 2.5], "y": [2, 3]}, torch=False)
    >>> [r.node.name for r in p.backward][:3]
    ['L', 'error_1', 'error_2']
    """
    from derive.derivation import make_subject

    subject = make_subject(expression, let=let, half=half, mean=mean, wrt=None)
    return passes_for(subject, at, wrt=wrt, torch=torch, engine=engine)


def passes_for(subject, at, *, wrt=None, torch=None, engine=True, gradient=None):
    """The passes for a ``Subject``; ``gradient`` (a Gradient or Derivation already worked
    out) supplies the symbolic results, else they are derived here (unchecked: this check
    is the finite difference at the point)."""
    from derive.backprop.graph import graph_of

    point = read_point(at)
    examples = examples_in(subject, point)
    graph = graph_of(subject, wrt=wrt, examples=examples)
    values = leaf_values(graph, point)
    results = {}
    if gradient is not None:
        derivations = getattr(gradient, "derivations", None) or [gradient]
        results = {d.wrt: d.result for d in derivations}
    elif engine and graph.wrt:
        from derive.derivation import _derive

        results = {n.symbol: _derive(subject, n.symbol, False, 0).result for n in graph.wrt
                   if isinstance(n.symbol, sympy.Symbol)}
    return run_passes(graph, values, engine=results, torch=torch)


# -- rendering ------------------------------------------------------------------------------
TEMPLATES = {"text": "passes_text.j2", "markdown": "passes_markdown.j2", "latex": "passes_latex.j2",
             "html": "passes_html.j2"}


def fmt_number(v, digits=6, latex=False):
    """A number to ``digits`` significant figures; a Unicode minus in text, 10^k in LaTeX."""
    if v is None:
        return "—"
    v = float(v)
    if not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("−∞" if v < 0 else "∞")
    if v == 0:
        return "0"
    text = f"{v:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        power = int(exponent)
        if latex:
            return r"%s \times 10^{%d}" % (mantissa, power)
        from derive.render.printing import superscript

        text = f"{mantissa}×10{superscript(str(power))}"
    return text if latex else text.replace("-", "−")


def render(doc, fmt="text", *, color=False, standalone=False, directory=None):
    """The passes as text, Markdown, LaTeX or HTML through ``templates/passes_*.j2``, or JSON."""
    from derive.render import formats as r

    if fmt == "json":
        return doc.to_json() + "\n"
    if fmt not in TEMPLATES:
        raise DeriveError(f"unknown format {fmt!r}; use one of text, markdown, latex, html, json")
    latex = fmt == "latex"
    f = {"text": lambda: r.TextFormat(color), "markdown": _slashed(r.InlineLatexFormat, True),
         "latex": _slashed(r.LatexFormat, False), "html": r.HtmlFormat}[fmt]()
    words_f = _slashed(r.LatexWordsFormat, True)() if latex else f
    search = r._search_path(directory)
    env = r._environment(latex, search)
    say = r._environment(False, search).get_template("passes_words.j2").make_module(
        {"f": words_f, "num": lambda v, digits=6: _sentence_number(fmt, v, digits)})

    def num(v, digits=6):
        return fmt_number(v, digits, latex=fmt in ("latex", "markdown"))

    text = env.get_template(TEMPLATES[fmt]).render(
        doc=doc, g=doc.graph, f=f, say=say, num=num, standalone=standalone, L=doc.graph.top.symbol,
        table=columns, has_symbolic=any(r.symbolic is not None for r in doc.rows.values()),
        has_torch=doc.torch_compared)
    return r.printing.unicode_to_latex(text) if latex else text


def _slashed(base, dollars):
    """A LaTeX format writing ∂L/∂w with a slash: a table row is one line high."""
    class Slashed(base):
        def leibniz(self, top, wrt, partial=False):
            mark = r"\partial " if partial else "d"
            text = r"%s%s/%s%s" % (mark, self.spell(self.node(top)), mark, self.spell(self.node(wrt)))
            return f"${text}$" if dollars else text

    return Slashed


def columns(rows, drop_empty=False):
    """Rows of cells as lines of aligned columns (the first row is the header); with
    ``drop_empty``, a column empty in every row below the header is left out."""
    rows = [[str(c) for c in row] for row in rows]
    keep = range(len(rows[0]))
    if drop_empty:
        keep = [k for k in keep if any(row[k] for row in rows[1:])]
    widths = {k: max(len(row[k]) for row in rows) for k in keep}
    return ["  ".join(row[k].ljust(widths[k]) for k in keep).rstrip() for row in rows]


def _sentence_number(fmt, v, digits):
    if fmt in ("text", "html"):
        return fmt_number(v, digits)
    return "$" + fmt_number(v, digits, latex=True) + "$"
