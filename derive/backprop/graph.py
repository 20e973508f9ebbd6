"""The computation graph of a loss: what backpropagation walks.

Nodes are the inputs, the parameters and the named intermediates; the loss is the last
node. Each edge carries the *local* derivative of the node it enters with respect to the
node it leaves, written in the graph's own names (∂ŷ/∂h = v, ∂h/∂z = h (1 − h)).

Where the names come from:

* a named problem (``mlp``): its own intermediates, z, h, ŷ, error, L;
* an expression with ``--let`` names: those names, and ``f`` for the expression;
* an expression with no names: derive's own decomposition into one operation per node,
  u₁, u₂, … (micrograd's graph, with the formulas).

A loss that is a mean over n examples is drawn for "example i" (nodes errorᵢ, ŷᵢ; an
edge from a shared parameter into example i is summed over the examples), or, at a
point with n concrete examples, unrolled into error₁, error₂, … so every number has a
node of its own.

>>> from derive.derivation import make_subject
>>> g = graph_of(make_subject("mlp"))
>>> [str(n.symbol) for n in g.nodes]
['w', 'b', 'v', 'c', 'x', 'y', 'z', 'h', 'yhat', 'error', 'L']
>>> g.edge("z", "h").local
h*(1 - h)
"""

from dataclasses import dataclass, field

import sympy
from sympy import Indexed, Sum, Symbol
from sympy.functions.elementary.piecewise import ExprCondPair

from derive.errors import DeriveError
from derive.symbols import symbol

MAX_NODES = 60  # a drawing with more is unreadable; name the parts you care about instead
MAX_EXAMPLES = 8  # examples unrolled into their own nodes
MAX_PATHS = 64  # paths listed from one node to the loss

# What the data of the catalog are, in the lesson's words.
DATA_WORDS = {"x": "input", "y": "target"}


@dataclass(eq=False)
class Node:
    """One value of the computation: an input, a parameter, an intermediate or the loss.

    ``definition`` is how it is computed from other nodes (None for an input);
    ``family`` is the per-example name it stands for (``errorᵢ`` for error₂), and
    ``example`` which example, when a mean loss is unrolled.
    """

    symbol: sympy.Expr
    role: str  # "parameter", "data", "constant", "variable", "intermediate", "loss"
    word: str | None = None
    definition: sympy.Expr | None = None
    example: int | None = None
    family: sympy.Expr | None = None
    per_example: bool = False  # one per example (errorᵢ, xᵢ), not shared (w)
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)

    @property
    def is_input(self):
        return self.definition is None

    @property
    def name(self):
        return str(self.symbol)

    def __repr__(self):
        return f"Node({self.symbol}, {self.role})"


@dataclass(eq=False)
class Edge:
    """``source`` feeds ``target``; ``local`` is ∂target/∂source in the graph's names.

    ``summed``: a shared node (a parameter) feeding a per-example node (ŷᵢ) of the
    symbolic mean graph, so its contributions add up over the examples, Σᵢ.
    """

    source: Node
    target: Node
    local: sympy.Expr
    summed: bool = False

    def __repr__(self):
        return f"Edge({self.source.symbol} -> {self.target.symbol}: {self.local})"


class Graph:
    """The nodes in an order where each comes after the nodes it is computed from; the
    loss (``top``) last. ``wrt`` are the parameters whose paths are highlighted."""

    def __init__(self, nodes, top, wrt, *, problem=None, index=None, size=None, examples=None,
                 subject=None, decomposed=False):
        self.nodes = nodes
        self.top = top
        self.wrt = wrt
        self.problem = problem
        self.index = index  # the example index i of a symbolic mean graph
        self.size = size  # n
        self.examples = examples  # how many examples are unrolled (None: symbolic)
        self.subject = subject
        self.decomposed = decomposed  # derive named the parts u₁, u₂, …
        self._by_name = {n.name: n for n in nodes}

    @property
    def edges(self):
        return [e for n in self.nodes for e in n.inputs]

    @property
    def inputs(self):
        return [n for n in self.nodes if n.is_input]

    @property
    def computed(self):
        """Every node with a definition, the loss last."""
        return [n for n in self.nodes if not n.is_input]

    @property
    def parameters(self):
        return [n for n in self.nodes if n.role == "parameter"]

    @property
    def symbolic_mean(self):
        """A mean loss drawn for example i, with no concrete examples."""
        return self.index is not None and self.examples is None

    def node(self, key):
        """The node whose symbol is ``key`` (a SymPy symbol, or its name)."""
        found = self._by_name.get(str(key))
        if found is None:
            raise KeyError(key)
        return found

    def edge(self, source, target):
        """The edge from ``source`` into ``target`` (nodes or names)."""
        source = source if isinstance(source, Node) else self.node(source)
        target = target if isinstance(target, Node) else self.node(target)
        for e in target.inputs:
            if e.source is source:
                return e
        raise KeyError((source, target))

    def paths(self, node, limit=MAX_PATHS):
        """Every path from ``node`` to the loss, each a list of edges (node first)."""
        found = []

        def walk(current, trail):
            if len(found) >= limit:
                return
            if current is self.top:
                found.append(trail)
                return
            for e in current.outputs:
                walk(e.target, trail + [e])

        walk(node, [])
        return found

    def descendants(self, node):
        """The nodes computed from ``node``, directly or not, in the graph's order."""
        reached = {id(node)}
        out = []
        for n in self.nodes:
            if any(id(e.source) in reached for e in n.inputs):
                reached.add(id(n))
                out.append(n)
        return out

    def backward_order(self):
        """The order of the backward pass: the loss, the computed nodes from the loss back
        (each after every node it feeds), then the inputs: parameters, data, constants."""
        ordered, group = [], []
        for node in reversed(self.computed):  # one family (error₁, error₂, …) in example order
            if group and node.family is not None and node.family == group[0].family:
                group.append(node)
                continue
            ordered += sorted(group, key=lambda n: n.example or 0)
            group = [node]
        ordered += sorted(group, key=lambda n: n.example or 0)
        return ordered + self.inputs


# -- building -------------------------------------------------------------------------------
def graph_of(subject, *, wrt=None, examples=None):
    """The computation graph of a ``Subject`` (from ``derive.derivation.make_subject``).

    ``wrt`` names the parameters to highlight (text such as ``"weight,bias"``, ``"all"``,
    or None for all of them). ``examples`` unrolls a mean loss over that many examples.
    """
    if subject.problem is not None:
        graph = _problem_graph(subject.problem, examples)
    elif subject.definitions:
        graph = _named_graph(subject.expression, subject.definitions, subject.lets)
    else:
        graph = _decomposed_graph(subject.expression)
    graph.subject = subject
    graph.wrt = _highlighted(graph, subject, wrt)
    if graph.problem is None:
        for n in graph.wrt:
            n.role = "parameter"
    if len(graph.nodes) > MAX_NODES:
        raise DeriveError(f"the graph has {len(graph.nodes)} nodes, more than the {MAX_NODES} a drawing can show; "
                          "name the parts you care about with --let, or draw a smaller expression")
    return graph


def _highlighted(graph, subject, wrt):
    if wrt is None or (isinstance(wrt, str) and wrt.strip() == "all"):
        if graph.problem is not None:
            return graph.parameters
        return [n for n in graph.inputs]
    names = [w.strip() for w in wrt.split(",")] if isinstance(wrt, str) else list(wrt)
    if not all(names):
        raise DeriveError("--wrt has an empty name; write names separated by commas, as in --wrt weight,bias")
    chosen = []
    for name in names:
        wanted = subject.variable(name)
        try:
            node = graph.node(wanted)
        except KeyError:
            raise DeriveError(f"'{name}' is not in the expression, so the graph has no node for it") from None
        if node not in chosen:
            chosen.append(node)
    return chosen


def _problem_graph(problem, examples):
    words = {item.symbol: item.name for item in problem.intermediates}
    roles = {p.symbol: ("parameter", p.name) for p in problem.parameters}
    for key, base in problem.data.items():
        word = DATA_WORDS.get(key.split("_")[0], "input")
        if problem.labels == "onehot":
            word = "label"
        roles[base] = ("data", word)
    for key, h in problem.hyper.items():
        roles[h] = ("constant", key)
    top = problem.loss_symbol
    if not problem.mean:
        return _assemble(top, problem.loss, problem.definitions, roles, words, problem=problem,
                         order=_family_order(problem))
    if examples is None:
        return _assemble(top, problem.loss, problem.definitions, roles, words, problem=problem,
                         index=problem.index, size=problem.size, order=_family_order(problem))
    if not 1 <= examples <= MAX_EXAMPLES:
        raise DeriveError(f"a graph unrolls 1 to {MAX_EXAMPLES} examples, not {examples}")
    definitions, families = {}, {}
    index, size = problem.index, problem.size
    names = [item.symbol for item in problem.intermediates]

    def at(expr, k):
        return expr.xreplace({index: sympy.Integer(k), **{s: _numbered(s, k) for s in names}})

    for item in problem.intermediates:
        for k in range(1, examples + 1):
            name = _numbered(item.symbol, k)
            definitions[name] = at(item.definition, k)
            families[name] = (item.symbol, k)
            words[name] = item.name

    def unroll(total):
        (i, low, high), = total.limits
        return sympy.Add(*[at(total.function, k) for k in range(int(low), int(high) + 1)])

    loss = problem.loss.xreplace({size: sympy.Integer(examples)})
    loss = loss.replace(lambda e: isinstance(e, Sum), unroll)
    return _assemble(top, loss, definitions, roles, words, problem=problem, size=size, examples=examples,
                     families=families, order=_family_order(problem))


def _family_order(problem):
    """Innermost intermediates first (z before h before ŷ), as the forward pass meets them."""
    return {item.symbol: k for k, item in enumerate(reversed(problem.intermediates))}


def _numbered(name, k):
    base, _, _ = name.name.rpartition("_")
    return symbol(f"{base}_{k}")


def _named_graph(expression, definitions, lets):
    top = _fresh_top(expression, definitions)
    order = {name: k for k, (name, _) in enumerate(reversed(lets))} if lets else {}
    return _assemble(top, expression, definitions, {}, {}, order=order)


def _decomposed_graph(expression):
    """One node per operation: u₁ = x², u₂ = sin(u₁), …; a shared part is one node used twice."""
    if expression.has(sympy.Integral, sympy.Derivative):
        raise DeriveError("derive graph draws expressions without integrals or unevaluated derivatives")
    taken = {str(s) for s in expression.free_symbols}
    definitions, names, counter = {}, {}, [0]

    def fresh():
        while True:
            counter[0] += 1
            name = f"u_{counter[0]}"
            if name not in taken:
                return symbol(name)

    def visit(e):
        if not e.free_symbols or e.is_Symbol or isinstance(e, Indexed):
            return e
        if isinstance(e, (sympy.logic.boolalg.Boolean, ExprCondPair)):
            return e.func(*[visit(a) for a in e.args])  # conditions are parts of a node, not nodes
        if _absorbed(e):
            return e
        if e in names:
            return names[e]
        if isinstance(e, Sum):
            rebuilt = e  # a sum over an index is one node: its inside belongs to the index
        else:
            rebuilt = e.func(*[visit(a) for a in e.args])
        if len(definitions) >= MAX_NODES:
            raise DeriveError(f"the expression has more than {MAX_NODES} operations to draw; "
                              "name its parts with --let, or draw a smaller expression")
        u = fresh()
        definitions[u] = rebuilt
        names[e] = u
        return u

    last = visit(expression)
    top = _fresh_top(expression, {})
    if last in definitions:
        top_definition = definitions.pop(last)
    else:
        top_definition = last  # the expression is one variable, or a constant multiple of one
    order = {name: k for k, name in enumerate(definitions)}
    graph = _assemble(top, top_definition, definitions, {}, {}, order=order)
    graph.decomposed = True
    return graph


def _absorbed(e):
    """A constant times one variable (2x, −y, x/2) stays inside the node that uses it."""
    if e.is_Mul:
        coefficient, rest = e.as_coeff_Mul()
        return coefficient.is_Number and (rest.is_Symbol or isinstance(rest, Indexed))
    return False


def _fresh_top(expression, definitions):
    taken = {str(s) for s in expression.free_symbols} | {str(s) for s in definitions}
    for value in definitions.values():
        taken |= {str(s) for s in value.free_symbols}
    for name in ("f", "F", "out", "result"):
        if name not in taken:
            return symbol(name)
    raise DeriveError("the expression uses the names f, F, out and result; rename one so the graph can name its output")


def _assemble(top_symbol, top_definition, definitions, roles, words, *, problem=None, index=None, size=None,
              examples=None, families=None, order=None):
    """Nodes and edges for a top expression and its named parts; inputs are what is left."""
    families = families or {}
    order = order or {}
    per_example_names = set(definitions) if index is not None else set()
    skip = {index, size} - {None}
    nodes = {top_symbol: Node(top_symbol, "loss" if problem is not None else "output",
                              word="loss" if problem is not None else None, definition=top_definition)}
    for name, meaning in definitions.items():
        family, k = families.get(name, (name, None))
        nodes[name] = Node(name, "intermediate", words.get(name), meaning, example=k, family=family,
                           per_example=name in per_example_names or k is not None)
    if top_symbol in definitions:
        raise DeriveError(f"the name {top_symbol} is defined with --let and also names the output")
    # every input that a definition uses
    for node in list(nodes.values()):
        for leaf in _inputs(node.definition, skip):
            if leaf in nodes:
                continue
            role, word = roles.get(_base(leaf), ("variable", None))
            if role == "data" and isinstance(leaf, Indexed):
                example = _example_of(leaf)
                nodes[leaf] = Node(leaf, role, word, example=example, family=leaf.base[index] if index else leaf,
                                   per_example=True)
            else:
                nodes[leaf] = Node(leaf, role, word)
    for node in nodes.values():
        if node.definition is None:
            continue
        for source_symbol in _inputs(node.definition, skip):
            source = nodes[source_symbol]
            local = _local(node, source, index, problem.folds if problem is not None else None,
                           {name: index for name in per_example_names} if per_example_names else None)
            summed = node.per_example and not source.per_example and examples is None and index is not None
            edge = Edge(source, node, local, summed=summed)
            node.inputs.append(edge)
            source.outputs.append(edge)
    ordered = _topological(nodes, top_symbol, roles, order, problem)
    return Graph(ordered, nodes[top_symbol], [], problem=problem, index=index if examples is None else None,
                 size=size, examples=examples)


def _base(leaf):
    return leaf.base if isinstance(leaf, Indexed) else leaf


def _example_of(leaf):
    k = leaf.indices[0]
    return int(k) if k.is_Integer else None


def _inputs(expr, skip):
    """The symbols and data cells (xᵢ, x₂) an expression is computed from, in a stable order."""
    cells = expr.atoms(Indexed)
    labels = {c.base.label for c in cells}
    symbols = {s for s in expr.free_symbols if isinstance(s, Symbol)} - labels - skip
    return sorted(cells | symbols, key=sympy.default_sort_key)


def _local(node, source, index, folds=None, per_example=None):
    """∂node/∂source, in the graph's names (σ′(z) written h (1 − h) when h = σ(z))."""
    definition = node.definition
    if source.per_example and index is not None and definition.has(Sum):
        # Only example i's term of Σᵢ depends on errorᵢ (to SymPy a plain symbol, which it
        # would count n times).
        definition = definition.replace(lambda e: isinstance(e, Sum) and e.limits[0][0] == index,
                                        lambda e: e.function)
    local = sympy.diff(definition, source.symbol)
    if not node.definition.is_Atom:
        local = local.xreplace({node.definition: node.symbol})
    return _readable(local, folds, per_example)


def _readable(local, folds, per_example):
    """The shortest of a few equal forms: as differentiated, tidied, and with the problem's
    folds (e^{o₁} = s₁ Z) where they make it shorter."""
    from derive.engine.rules import readability, tidy

    candidates = [local, tidy(local, per_example)]
    if folds:
        candidates.append(tidy(sympy.cancel(local.xreplace(folds)), per_example))
    return min(candidates, key=readability)


def _topological(nodes, top_symbol, roles, order, problem):
    """Inputs first (parameters, then data by example, then constants), then each computed
    node by its depth from the inputs; the loss last."""
    depth = {}

    def depth_of(node):
        if id(node) not in depth:
            depth[id(node)] = 1 + max((depth_of(e.source) for e in node.inputs), default=-1)
        return depth[id(node)]

    parameter_order = {p.symbol: k for k, p in enumerate(problem.parameters)} if problem else {}
    role_rank = {"parameter": 0, "variable": 0, "data": 1, "constant": 2}

    def input_key(node):
        return (role_rank.get(node.role, 3), node.example or 0, parameter_order.get(node.symbol, 99),
                sympy.default_sort_key(_base(node.symbol)))

    inputs = sorted((n for n in nodes.values() if n.is_input), key=input_key)
    top = nodes[top_symbol]
    computed = [n for n in nodes.values() if not n.is_input and n is not top]
    computed.sort(key=lambda n: (depth_of(n), order.get(n.family if n.family is not None else n.symbol, 99),
                                 n.example or 0, sympy.default_sort_key(n.symbol)))
    return inputs + computed + [top]
