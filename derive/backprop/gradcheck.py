"""Check a learner's own gradient code against derive's derivation.

The learner writes ``backward(params, example)`` returning a dict of gradients by name:
every parameter (``w``, ``b``, …) and, if they like, intermediates (``z``, ``h``, ``yhat``,
``error``, also spelled ``dz``, ``dL_dz``, ``dL/dz``). derive calls it at random points in
a child process (time, memory and CPU limited, output captured), compares each returned
value with its own symbolic result and a finite difference, and reports the first node in
backward order that disagrees, by how much, and the likely mistake: a sign, a missing
factor (σ′, the 2 of the power rule), a missing 1/n, the wrong activation in a local
derivative, a transposed or unsummed term, a wrong shape.

The reference is the same computation graph that ``derive graph`` draws (the index form of
any catalog problem; a mean loss over n examples gives one value per example), or with
``form="vector"`` the vector form of mse, ridge, bce, softmax, neuron or mlp (arrays).

>>> def backward(params, example):
...     w, b, v, c = params["w"], params["b"], params["v"], params["c"]
...     import math
...     h = 1 / (1 + math.exp(-(w * example["x"] + b)))
...     d_yhat = 2 * (v * h + c - example["y"])
...     d_z = d_yhat * v * h * (1 - h)
...     return {"w": d_z * example["x"], "b": d_z, "v": d_yhat * h, "c": d_yhat}
>>> gradcheck(backward, "mlp").passed
True
"""

import json
import os
import random
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

import numpy as np

from derive.errors import DeriveError
from derive.render.document import Document

TIME_LIMIT = 20.0  # seconds of wall clock for all the calls together
MEMORY_MB = 2048
POINTS = 3
EXAMPLES = 4  # a mean loss is checked on this many examples
TOLERANCE = 1e-6  # relative: float64 gradient code against 40-digit references
PREFIXES = ("dL/d", "dL_d", "dl_d", "grad_", "d_", "d")


# -- what derive knows at each point --------------------------------------------------------------
@dataclass
class Family:
    """One thing the learner may return: a parameter, or an intermediate (one value per
    example for a mean loss). ``key`` is its name in the learner's dict."""

    key: str
    label: object  # what prints as ∂L/∂(label)
    aliases: set
    required: bool
    nodes: list = field(default_factory=list)  # graph nodes (index form), by example
    shape: tuple = ()


@dataclass
class Hypothesis:
    """A likely mistake and the value the learner's code would then give."""

    kind: str  # sign, missing_factor, wrong_node, missing_1_over_n, extra_1_over_n, constant_factor, transposed, unsummed
    value: object
    detail: dict = field(default_factory=dict)


class GraphReference:
    """derive's computation graph of a catalog problem (index form) as the reference."""

    form = "index"

    def __init__(self, name, *, mean=None, half=None):
        from derive.backprop.graph import graph_of
        from derive.derivation import _derive, make_subject

        self.subject = make_subject(name, mean=mean, half=half)
        self.problem = self.subject.problem
        if self.problem is None:
            raise DeriveError(f"gradcheck needs a named problem (see derive list), not {name!r}")
        self.name = self.problem.name
        self.examples = EXAMPLES if self.problem.mean else None
        self.graph = graph_of(self.subject, examples=self.examples)
        self.engine = {p.symbol: _derive(self.subject, p.symbol, False, 0).result for p in self.problem.parameters}
        self.families = self._families()

    def _families(self):
        from derive.render.printing import split_name

        groups = {}
        for node in self.graph.nodes:
            if node is self.graph.top or node.role in ("data", "constant"):
                continue
            family = node.family if node.family is not None else node.symbol
            key = split_name(str(family))[0] if node.per_example else str(node.symbol)
            if key not in groups:
                aliases = {key, key.replace("_", "")}
                if node.word:
                    aliases |= {node.word, node.word.replace(" ", "_"), node.word.replace("-", "_")}
                groups[key] = Family(key, family if not node.per_example else _symbol(key), aliases,
                                     node.role == "parameter")
            groups[key].nodes.append(node)
        for fam in groups.values():
            fam.shape = (len(fam.nodes),) if fam.nodes[0].per_example and self.examples else ()
        # backpropagation's own order: a family where its first node is reached from the
        # loss; a parameter right after the first node it feeds
        computed = list(reversed(self.graph.computed))
        first = {}
        for k, node in enumerate(computed):
            first.setdefault(node.family if node.family is not None else node.symbol, k)

        def reached(node):
            return first[node.family if node.family is not None else node.symbol]

        def position(fam):
            node = fam.nodes[0]
            if not node.is_input:
                return reached(node)
            return min((reached(e.target) for e in node.outputs), default=len(computed)) + 0.5

        return sorted(groups.values(), key=position)

    def sample(self, rng):
        """(params, example, values) for one random point: what the learner gets, what derive uses."""
        from derive.backprop.passes import leaf_values

        params = {p.symbol.name: rng.uniform(-1.5, 1.5) for p in self.problem.parameters}
        count = self.examples or 1
        example = {}
        for key, base in self.problem.data.items():
            label = str(base)
            if self.problem.labels == "binary":
                values = [float(k % 2) if k < 2 else float(rng.random() < 0.5) for k in range(count)]
            else:
                values = [rng.uniform(-2, 2) for _ in range(count)]
            example[label] = values
        if self.problem.labels == "onehot":
            weights = [rng.uniform(0.1, 1) for _ in self.problem.data]
            for (key, base), wgt in zip(sorted(self.problem.data.items()), weights):
                example[str(base)] = [wgt / sum(weights)]
        for key in self.problem.hyper:
            example[key] = rng.uniform(0.3, 1.2)
        point = {k: [v] for k, v in params.items()}
        point.update({k: v if isinstance(v, list) else [v] for k, v in example.items()})
        values = leaf_values(self.graph, point)
        if not self.examples:  # one example: plain numbers, as a learner writes them
            example = {k: (v[0] if isinstance(v, list) else v) for k, v in example.items()}
        return params, example, values

    def reference(self, values):
        """derive's ∂L/∂node (path products, equal to its symbolic gradient) and the finite
        differences, for every family, at one point."""
        from derive.backprop.passes import run_passes

        passes = run_passes(self.graph, values, engine=self.engine, torch=False)
        if not passes.passed:
            raise DeriveError("derive's own reference failed its check at a random point; please report it")
        out, fd = {}, {}
        for fam in self.families:
            out[fam.key] = _stack([passes.rows[n].gradient for n in fam.nodes], fam.shape)
            fd[fam.key] = _stack([passes.rows[n].finite_difference for n in fam.nodes], fam.shape)
        return passes, out, fd

    def hypotheses(self, fam, passes):
        """What the learner's code would give under each single slip, for this family."""
        from derive.verify.numeric import evaluate

        graph = self.graph
        env = {n.symbol: passes.rows[n].value for n in graph.nodes}
        per_node = []
        for node in fam.nodes:
            paths = graph.paths(node)
            local = {}
            for path in paths:
                for e in path:
                    local[id(e)] = next(t.local for t in passes.rows[e.source].terms if t.edge is e)
            edges = {id(e): e for path in paths for e in path}
            options = []
            for e in edges.values():
                value = sum(_product([local[id(x)] for x in path if x is not e]) if e in path
                            else _product([local[id(x)] for x in path]) for path in paths)
                options.append(("missing_factor", {"edge": e}, value))
                for q in sorted(e.local.free_symbols, key=str):
                    node_q = _node(graph, q)
                    if node_q is None:
                        continue
                    for r in graph.nodes:
                        if r is node_q or r is graph.top or r.example != node_q.example or r.role == "constant":
                            continue
                        swapped = float(evaluate(e.local.xreplace({q: r.symbol}), env))
                        value = sum(_product([local[id(x)] for x in path if x is not e]) * swapped if e in path
                                    else _product([local[id(x)] for x in path]) for path in paths)
                        options.append(("wrong_node", {"edge": e, "used": r, "instead": node_q}, value))
            per_node.append(options)
        found = []
        for k in range(len(per_node[0]) if per_node else 0):
            kind, detail, _ = per_node[0][k]
            found.append(Hypothesis(kind, _stack([opts[k][2] for opts in per_node], fam.shape), detail))
        return found


def _symbol(name):
    from derive.symbols import symbol

    return symbol(name)


def _node(graph, symbol):
    try:
        return graph.node(symbol)
    except KeyError:
        return None


def _product(values):
    out = 1.0
    for v in values:
        out *= v
    return out


def _stack(values, shape):
    return np.array(values, dtype=float).reshape(shape) if shape else np.array(float(values[0]))


class VectorReference:
    """The vector form (mse, ridge, bce, softmax, neuron, mlp) as the reference: arrays."""

    form = "vector"
    SIZES = {"mse": {"n": 5, "d": 3}, "ridge": {"n": 5, "d": 3}, "bce": {"n": 5, "d": 3}, "softmax": {"K": 4},
             "neuron": {"d": 3}, "mlp": {"H": 3, "d": 2}}

    def __init__(self, name, *, mean=None, half=None):
        import sympy

        from derive.engine.vector import spec

        if mean is not None:
            raise DeriveError("--form vector checks each vector loss in its own scope; drop --mean/--per-example")
        self.spec = spec(name, half)
        self.name = self.spec.name
        self.sizes = {sympy.Symbol(k, integer=True, positive=True): v for k, v in self.SIZES[self.name].items()}
        self.examples = self.sizes.get(sympy.Symbol("n", integer=True, positive=True))
        s = self.spec
        # backpropagation's order: each node from the loss back, a parameter right after the
        # node it feeds
        nodes = [name for name, _ in reversed(s.forward[:-1])]
        consumer = {e.wrt: e.of for e in s.edges}
        place = {name: k for k, name in enumerate(nodes)}
        backward = sorted(nodes + s.parameters,
                          key=lambda key: place[key] if key in place else place.get(consumer.get(key), len(nodes)) + 0.5)
        self.families = []
        for key in backward:
            if key not in s.simplified:
                continue
            leaf = s.leaves[key]
            shape = tuple(int(x) for x in _concrete(leaf.shape, self.sizes))
            shape = shape[:1] if shape[1:] == (1,) else shape
            shape = () if shape in ((1,), (1, 1)) else shape
            self.families.append(Family(key, _symbol(key), {key, key.replace("_", "")}, key in s.parameters,
                                        shape=shape))

    def sample(self, rng):
        from derive.backprop.numpy_form import _arrays

        names = {str(k): v for k, v in self.sizes.items()}
        args, env, symbols = _arrays(self.spec, names, rng)
        params = {p: _listed(args[p]) for p in self.spec.parameters}
        example = {k: _listed(args[k]) for k, r in self.spec.roles.items() if r != "parameter"}
        return params, example, env

    def reference(self, env):
        from derive.engine import matrix as mx
        from derive.engine.vector import _fd, forward

        s = self.spec
        values = forward(s, env, self.sizes)
        out, fd = {}, {}
        for fam in self.families:
            value = mx.evaluate(s.simplified[fam.key], values, self.sizes)
            out[fam.key] = value.reshape(fam.shape)

            def loss_with(v, key=fam.key):
                if key in env:
                    return np.array([[forward(s, {**env, key: v}, self.sizes)["L"][0, 0]]])
                return np.array([[forward(s, env, self.sizes, fixed={key: v})["L"][0, 0]]])

            fd[fam.key] = _fd(loss_with, values[fam.key]).reshape(fam.shape)
        return values, out, fd

    def hypotheses(self, fam, values):
        """Slips in the backward formula of this node: a factor left out, a leaf used in
        place of another of the same shape."""
        from derive.engine import matrix as mx

        s = self.spec
        formula = dict(s.backprop).get(fam.key)
        if formula is None:
            return []
        bound = dict(values)
        for name, expr in s.simplified.items():
            bound[mx.ADJOINT + name] = mx.evaluate(expr, values, self.sizes)
        import itertools

        found = []
        factors = list(formula.factors) if isinstance(formula, (mx.Product, mx.Hadamard)) else []
        join = mx.product if isinstance(formula, mx.Product) else mx.hadamard
        for size in range(1, min(len(factors), 4)):
            for left_out in itertools.combinations(range(len(factors)), size):
                rest = [f for k, f in enumerate(factors) if k not in left_out]
                gone = [factors[k] for k in left_out]
                try:
                    value = mx.evaluate(join(*rest) if len(rest) > 1 else rest[0], bound, self.sizes)
                    shown = join(*gone) if len(gone) > 1 else gone[0]
                except (mx.ShapeError, ValueError):
                    continue
                if value.size == int(np.prod(fam.shape or (1,))):
                    found.append(Hypothesis("missing_factor", value.reshape(fam.shape), {"factor": mx.text(shown)}))
        for leaf in mx.leaves(formula):
            if leaf.kind not in ("vector", "matrix", "scalar"):
                continue
            for other in s.leaves.values():
                if other is leaf or other.shape != leaf.shape or other.name == "L":
                    continue
                swapped = _swap(formula, leaf, other)
                value = mx.evaluate(swapped, bound, self.sizes)
                found.append(Hypothesis("wrong_node", value.reshape(fam.shape), {"used": other.name,
                                                                                 "instead": leaf.name}))
        return found


def _swap(expr, leaf, other):
    from dataclasses import fields, is_dataclass, replace

    from derive.engine import matrix as mx

    if expr is leaf:
        return other
    if not is_dataclass(expr) or isinstance(expr, mx.Leaf):
        return expr
    changes = {}
    for f in fields(expr):
        value = getattr(expr, f.name)
        if isinstance(value, tuple):
            changes[f.name] = tuple(_swap(v, leaf, other) if isinstance(v, mx.M) else v for v in value)
        elif isinstance(value, mx.M):
            changes[f.name] = _swap(value, leaf, other)
    return replace(expr, **changes)


def _concrete(shape, sizes):
    import sympy

    return tuple(int(sympy.sympify(x).subs(sizes)) for x in shape)


def _listed(value):
    return value.tolist() if isinstance(value, np.ndarray) else value


# -- the verdict ----------------------------------------------------------------------------------
@dataclass
class NodeResult:
    """One family at the first point: yours, derive's, the finite difference, and agreement."""

    family: Family
    returned: bool
    yours: object = None
    derive: object = None
    finite_difference: object = None
    agrees: bool | None = None
    error: float = 0.0


class GradcheckReport(Document):
    """The verdict: ``passed``, or the first node that disagrees and the likely mistake, or
    a crash, a hang, a wrong shape, a missing gradient (``outcome`` says which)."""

    def __init__(self, reference, function, outcome, rows=None, first=None, diagnosis=None, detail=None,
                 points=0, output="", ignored=()):
        self.reference = reference
        self.function = function
        self.outcome = outcome  # passed, disagrees, crash, import, timeout, memory, type, missing, shape, absent, nonnumeric
        self.rows = rows or []
        self.first = first
        self.diagnosis = diagnosis
        self.detail = detail or {}
        self.points = points
        self.output = output
        self.ignored = list(ignored)

    @property
    def passed(self):
        return self.outcome == "passed"

    def to_dict(self):
        out = {"problem": self.reference.name, "form": self.reference.form, "function": self.function,
               "outcome": self.outcome, "passed": self.passed, "points": self.points,
               "nodes": [{"node": r.family.key, "returned": r.returned, "yours": _json(r.yours),
                          "derive": _json(r.derive), "finite_difference": _json(r.finite_difference),
                          "agrees": r.agrees, "relative_error": r.error} for r in self.rows]}
        if self.first is not None:
            out["first_disagreement"] = {"node": self.first.family.key, "relative_error": self.first.error}
        if self.diagnosis is not None:
            out["likely_mistake"] = {"kind": self.diagnosis.kind, **{k: _describe(v) for k, v in self.diagnosis.detail.items()}}
        if self.detail:
            out["detail"] = {k: _describe(v) for k, v in self.detail.items()}
        if self.ignored:
            out["ignored_keys"] = self.ignored
        return out

    def render(self, fmt="text", *, color=False, standalone=False, directory=None):
        from derive.render import formats as r

        if fmt == "json":
            return self.to_json() + "\n"
        if fmt not in ("text", "markdown"):
            raise DeriveError("derive gradcheck writes text, markdown or json")
        f = r.TextFormat(color) if fmt == "text" else r.InlineLatexFormat()
        search = r._search_path(directory)
        env = r._environment(False, search)
        say = env.get_template("gradcheck_words.j2").make_module({"f": f, "num": _number_text, "inf": float("inf"),
                                                                  "memory": MEMORY_MB, "Lsym": _symbol("L")})
        from derive.backprop.passes import columns

        return env.get_template(f"gradcheck_{fmt}.j2").render(rep=self, say=say, f=f, num=_number_text,
                                                            table=columns)

    def to_text(self, color=False):
        return self.render("text", color=color)

    def to_markdown(self):
        return self.render("markdown")


def _json(value):
    if value is None:
        return None
    return np.asarray(value, dtype=float).tolist()


def _describe(value):
    from derive.backprop.graph import Edge, Node

    if isinstance(value, Edge):
        return {"of": value.target.name, "wrt": value.source.name, "local": str(value.local)}
    if isinstance(value, Node):
        return value.name
    if hasattr(value, "shape") and not isinstance(value, np.ndarray):
        from derive.engine import matrix as mx

        return mx.text(value)
    return value if isinstance(value, (str, int, float, bool, list, dict)) or value is None else str(value)


def _number_text(value, digits=6):
    from derive.backprop.passes import fmt_number

    if value is None:
        return "—"
    array = np.asarray(value, dtype=float)
    if array.shape == ():
        return fmt_number(float(array), digits)
    flat = [fmt_number(v, 4) for v in array.reshape(-1)[:3]]
    if array.size > 3:
        return "[" + ", ".join(flat) + ", … " + "×".join(str(k) for k in array.shape) + "]"
    return "[" + ", ".join(flat) + "]"


# -- running the learner's code --------------------------------------------------------------------
def run_learner(target, calls, *, timeout=TIME_LIMIT, memory_mb=MEMORY_MB):
    """Call the learner's function on every (params, example) in a child process.

    ``target`` is ``"FILE.py:FUNCTION"`` (a fresh ``python -I``) or a callable (a forked
    child, where the platform forks). Returns the child's answer: ``results``, ``error``
    and ``output`` (what the code printed); a hang is ``{"kind": "timeout"}``.
    """
    if callable(target):
        return _run_forked(target, calls, timeout, memory_mb)
    return Launched(target, timeout, memory_mb).finish(calls)


class Launched:
    """A child started at once on the learner's file (its interpreter, NumPy and the module
    load while derive derives); ``finish(calls)`` sends the calls and waits, time-limited."""

    def __init__(self, target, timeout=TIME_LIMIT, memory_mb=MEMORY_MB):
        path, function = _split_target(target)
        self.timeout = timeout
        self.work = tempfile.TemporaryDirectory(prefix="derive-gradcheck-")
        self.answer = os.path.join(self.work.name, "answer.json")
        child = os.path.join(os.path.dirname(os.path.abspath(__file__)), "child.py")
        request = {"file": path, "function": function, "answer": self.answer, "memory_mb": memory_mb,
                   "cpu_seconds": int(timeout) + 5}
        self.process = subprocess.Popen([sys.executable, "-I", child, json.dumps(request)], cwd=os.path.dirname(path),
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)

    def finish(self, calls):
        try:
            try:
                output, _ = self.process.communicate(json.dumps(calls), timeout=self.timeout)
            except BrokenPipeError:  # it stopped before reading (its file did not load)
                output, _ = self.process.communicate(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.communicate()
                return {"results": [], "error": {"kind": "timeout", "message": f"{self.timeout:g} s"}, "output": ""}
            return _read_answer(self.answer, self.process.returncode, output or "")
        finally:
            self.work.cleanup()

    def cancel(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()
        self.work.cleanup()


def _read_answer(answer_path, returncode, output):
    try:
        with open(answer_path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        import signal

        if returncode in (-signal.SIGXCPU, -signal.SIGKILL, 152, 137):
            return {"results": [], "error": {"kind": "timeout", "message": "its CPU time limit"}, "output": output}
        kind = "memory" if "MemoryError" in output else "crash"
        return {"results": [], "error": {"kind": kind, "message": f"the process ended with code {returncode}"},
                "output": output[-2000:]}


def _split_target(target):
    text = str(target)
    path, colon, function = text.rpartition(":")
    if not colon or not path or not function.isidentifier():
        raise DeriveError(f"give the function as FILE.py:FUNCTION, as in examples/mlp_backward.py:backward; got {text!r}")
    path = os.path.abspath(path)
    if not path.endswith(".py"):
        raise DeriveError(f"{path} is not a Python file (.py)")
    if not os.path.isfile(path):
        raise DeriveError(f"no such file: {path}")
    return path, function


def _run_forked(function, calls, timeout, memory_mb):
    """A callable from a notebook: run it in a forked child, with the same limits."""
    if not hasattr(os, "fork"):
        raise DeriveError("gradcheck of a Python function needs a platform that forks; give FILE.py:FUNCTION instead")
    from derive.backprop import child

    with tempfile.TemporaryDirectory(prefix="derive-gradcheck-") as work:
        answer_path = os.path.join(work, "answer.json")
        output_path = os.path.join(work, "output.txt")
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 0
            try:
                fd = os.open(output_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                child._limit(memory_mb, int(timeout) + 1)
                answer = {"results": [], "error": None}
                child.call(function, calls, answer)
                with open(answer_path, "w", encoding="utf-8") as handle:
                    json.dump(answer, handle)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        returncode = _wait(pid, timeout)
        if returncode is None:
            return {"results": [], "error": {"kind": "timeout", "message": f"{timeout:g} s"}, "output": ""}
        try:
            with open(output_path, encoding="utf-8", errors="replace") as handle:
                output = handle.read()[-2000:]
        except OSError:
            output = ""
        answer = _read_answer(answer_path, returncode, output)
        answer.setdefault("output", output)
        if not answer.get("output"):
            answer["output"] = output
        return answer


def _wait(pid, timeout):
    """The child's exit code, or None after killing it at the time limit."""
    import signal
    import time

    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(0.005)


# -- comparing ------------------------------------------------------------------------------------
def gradcheck(target, problem, *, form="index", mean=None, half=None, points=POINTS, seed=0,
              timeout=TIME_LIMIT, memory_mb=MEMORY_MB):
    """Check the learner's gradient function ``target`` (a callable, or "FILE.py:FUNCTION")
    against derive's own derivation of ``problem`` (a catalog name). Returns a
    ``GradcheckReport``; ``.passed`` is True when every returned gradient agrees."""
    if form not in ("index", "scalar", "vector"):
        raise DeriveError(f"gradcheck's form is index or vector, not {form!r}")
    if not 1 <= points <= 20:
        raise DeriveError("gradcheck takes 1 to 20 random points")
    name = target if isinstance(target, str) else getattr(target, "__name__", "the function")
    launched = None if callable(target) else Launched(target, timeout, memory_mb)
    try:
        reference = (VectorReference if form == "vector" else GraphReference)(problem, mean=mean, half=half)
        rng = random.Random(seed)
        samples = [reference.sample(rng) for _ in range(points)]
        refs = [reference.reference(values) for _, _, values in samples]
    except BaseException:
        if launched is not None:
            launched.cancel()
        raise
    calls = [[p, e] for p, e, _ in samples]
    if launched is None:
        answer = run_learner(target, calls, timeout=timeout, memory_mb=memory_mb)
    else:
        answer = launched.finish(calls)
    output = answer.get("output", "")
    if answer.get("error"):
        error = answer["error"]
        return GradcheckReport(reference, name, error["kind"], detail=error, output=output)
    return compare(reference, name, answer["results"], refs, output)


def _match(fam, returned):
    """The learner's key for a family, if it returned one."""
    for key in returned:
        for prefix in ("",) + PREFIXES:
            if key.startswith(prefix) and key[len(prefix):] in fam.aliases:
                return key
    return None


def compare(reference, name, results, refs, output=""):
    returned = results[0].keys() if results else []
    absent = [fam.key for fam in reference.families if fam.required and _match(fam, returned) is None]
    if absent:
        return GradcheckReport(reference, name, "absent", detail={"node": ", ".join(absent)}, points=len(results),
                               output=output)
    used, rows = set(), []
    first = diagnosis = None
    for fam in reference.families:
        key = _match(fam, returned)
        if key is None:
            continue
        used.add(key)
        yours = []
        for result in results:
            entry = result.get(key, {})
            if "error" in entry:
                return GradcheckReport(reference, name, "nonnumeric", rows,
                                       detail={"node": fam.key, "key": key, "message": entry["error"]},
                                       points=len(results), output=output)
            yours.append(np.array(entry["values"], dtype=float).reshape(entry["shape"]))
        derive_values = [ref[1][fam.key] for ref in refs]
        fd_values = [ref[2][fam.key] for ref in refs]
        row = NodeResult(fam, True, yours[0], derive_values[0], fd_values[0])
        rows.append(row)
        if any(y.shape != d.shape for y, d in zip(yours, derive_values)):
            row.agrees = False
            if first is None:
                first = row
                row.error = float("inf")
                diagnosis = _shape_mistake(reference, fam, yours, derive_values)
            continue
        error = max(_relative(y, d) for y, d in zip(yours, derive_values))
        row.error, row.agrees = error, error <= TOLERANCE
        if not row.agrees and first is None:
            first = row
            diagnosis = _diagnose(reference, fam, yours, derive_values, refs)
    ignored = sorted(set(returned) - used)
    if first is None:
        return GradcheckReport(reference, name, "passed", rows, points=len(results), output=output, ignored=ignored)
    outcome = "shape" if first.error == float("inf") and diagnosis.kind == "wrong_shape" else "disagrees"
    return GradcheckReport(reference, name, outcome, rows, first, diagnosis, points=len(results), output=output,
                           ignored=ignored)


def _relative(a, b):
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b))))) if np.size(b) else 0.0


def _all_close(candidates, yours):
    return all(c.shape == y.shape and _relative(y, c) <= TOLERANCE for c, y in zip(candidates, yours))


def _shape_mistake(reference, fam, yours, derive_values):
    """A wrong shape: transposed? one value per example not summed? else just the shapes."""
    if all(y.shape == d.T.shape and y.ndim == 2 for y, d in zip(yours, derive_values)) and \
            _all_close([d.T for d in derive_values], yours):
        return Hypothesis("transposed", None)
    if all(y.ndim >= 1 and y.shape[0] == (reference.examples or -1) for y in yours):
        summed = [y.sum(axis=0).reshape(d.shape) if y.sum(axis=0).size == d.size else None
                  for y, d in zip(yours, derive_values)]
        if all(s is not None for s in summed) and _all_close(derive_values, summed):
            return Hypothesis("unsummed", None)
    return Hypothesis("wrong_shape", None, {"yours": list(yours[0].shape), "expected": list(derive_values[0].shape)})


def _diagnose(reference, fam, yours, derive_values, refs):
    """The likely mistake: the simplest single slip that reproduces the learner's numbers
    at every point."""
    n = reference.examples
    simple = [Hypothesis("sign", [-d for d in derive_values])]
    if n:
        simple += [Hypothesis("missing_1_over_n", [n * d for d in derive_values]),
                   Hypothesis("extra_1_over_n", [d / n for d in derive_values])]
    for h in simple:
        if _all_close(h.value, yours):
            return h
    per_point = [reference.hypotheses(fam, ref[0]) for ref in refs]
    for k in range(len(per_point[0]) if per_point else 0):
        candidate = [hyps[k].value for hyps in per_point]
        if _all_close(candidate, yours):
            return per_point[0][k]
        if _all_close([-c for c in candidate], yours):
            h = per_point[0][k]
            return Hypothesis(h.kind, None, {**h.detail, "and_sign": True})
    ratios = [y / d for y, d in zip(yours, derive_values) if np.all(np.abs(d) > 1e-9)]
    if ratios:
        flat = np.concatenate([np.atleast_1d(r).reshape(-1) for r in ratios])
        if np.allclose(flat, flat[0], rtol=1e-6) and abs(flat[0] - 1) > 1e-6:
            return Hypothesis("constant_factor", None, {"factor": float(flat[0])})
    return Hypothesis("unknown", None)
