"""The translator: a SymPy tree compiled once into a NumPy program (no lambdify, eval or exec)."""

import math
import operator

import numpy as np
import sympy

from derive.errors import DeriveError





# -- the translator: SymPy tree -> NumPy program --------------------------------------------
class _Slot:
    __slots__ = ("index", "array", "temp", "dtype")

    def __init__(self, index, array, temp, dtype="f"):
        self.index, self.array, self.temp, self.dtype = index, array, temp, dtype


_UFUNC = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide,
          "max": np.maximum, "min": np.minimum, "pow": np.power,
          "lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
          "eq": np.equal, "ne": np.not_equal, "and": np.logical_and, "or": np.logical_or}
_PY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": lambda a, b: _pydiv(a, b),
       "max": max, "min": min, "pow": lambda a, b: _pypow(a, b),
       "lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge,
       "eq": operator.eq, "ne": operator.ne, "and": lambda a, b: bool(a and b), "or": lambda a, b: bool(a or b)}
_BOOL = {"lt", "le", "gt", "ge", "eq", "ne", "and", "or", "not"}
_RELATIONS = {sympy.StrictLessThan: "lt", sympy.LessThan: "le", sympy.StrictGreaterThan: "gt",
              sympy.GreaterThan: "ge", sympy.Equality: "eq", sympy.Unequality: "ne"}
_FOLDS = {sympy.Max: "max", sympy.Min: "min", sympy.And: "and", sympy.Or: "or"}


def _pydiv(a, b):
    return a / b if b != 0 else (math.copysign(math.inf, a) if a != 0 else math.nan)


def _pypow(a, b):
    try:
        result = a ** b
    except (OverflowError, ZeroDivisionError):
        return math.inf
    return result if not isinstance(result, complex) else math.nan


def _sigmoid_array(z, out=None):
    """σ(z) without overflow: e^(−|z|) is at most 1."""
    negative = z < 0
    e = np.exp(-np.abs(z))
    result = np.divide(1.0, 1.0 + e, out=out)
    result[negative] *= e[negative]
    return result


def _sigmoid_scalar(z):
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _softplus_array(z, out=None):
    return np.logaddexp(0.0, z, out=out)


def _softplus_scalar(z):
    return float(np.logaddexp(0.0, z))


def _scalar_fn(fn):
    def apply(a):
        try:
            return fn(a)
        except (ValueError, OverflowError):
            return math.nan if fn is not math.exp else math.inf
    return apply


# name: (array function taking out=, scalar function)
_FUNCS = {
    "exp": (np.exp, _scalar_fn(math.exp)),
    "log": (np.log, _scalar_fn(math.log)),
    "abs": (np.abs, abs),
    "sign": (np.sign, lambda a: float(np.sign(a))),
    "neg": (np.negative, operator.neg),
    "sqrt": (np.sqrt, _scalar_fn(math.sqrt)),
    "square": (np.square, lambda a: a * a),
    "recip": (lambda a, out=None: np.divide(1.0, a, out=out), lambda a: _pydiv(1.0, a)),
    "sigmoid": (_sigmoid_array, _sigmoid_scalar),
    "softplus": (_softplus_array, _softplus_scalar),  # ln(1 + e^z)
    "not": (np.logical_not, operator.not_),
}


class Program:
    """Several SymPy expressions compiled together into one list of NumPy operations.

    ``Program(exprs, scalars, arrays, index, size)``: ``scalars`` maps each scalar symbol
    (parameters, hyperparameters) to its name; ``arrays`` maps each ``IndexedBase`` to the
    name of its column; ``index`` and ``size`` are the ``i`` and ``n`` of the sums.
    ``bind(columns, constants)`` returns ``run(values) -> [float or array, …]``.

    Equal subexpressions (anywhere in any of the expressions) are compiled once; each
    operation is a closure over register numbers, and an array that is not needed again
    is overwritten in place by the next operation (``out=``), so a step allocates little.
    """

    def __init__(self, exprs, scalars, arrays, index=None, size=None, elementwise=False):
        self.scalars = dict(scalars)
        self.arrays = dict(arrays)
        self.index, self.size = index, size
        self._slots = []
        self._memo = {}
        self._code = []  # (kind, name, argument slots, result slot)
        self._constants = {}
        self.inputs = {}  # name -> slot index (scalars, columns, n)
        self._symbols = {}  # scalar Symbol -> its input slot
        for symbol_, name in self.scalars.items():
            self.inputs[name] = self._new(False, False).index
            self._symbols[symbol_] = self._slots[self.inputs[name]]
        if size is not None:
            self.inputs["n"] = self._new(False, False).index
            self._symbols[size] = self._slots[self.inputs["n"]]
        # elementwise: the outputs are per-example expressions in x[i] (arrays), not sums
        self.outputs = [self._compile(sympy.sympify(e), index if elementwise else None).index for e in exprs]

    # -- building ------------------------------------------------------------------------
    def _new(self, array, temp, dtype="f"):
        slot = _Slot(len(self._slots), array, temp, dtype)
        self._slots.append(slot)
        return slot

    def _const(self, value):
        value = float(value)
        if value not in self._constants:
            slot = self._new(False, False)
            self._constants[value] = slot
        return self._constants[value]

    def _emit(self, kind, name, args, dtype="f"):
        array = any(a.array for a in args)
        out = self._new(array, array, dtype)
        self._code.append((kind, name, [a.index for a in args], out.index))
        return out

    def _binary(self, name, a, b):
        return self._emit("binary", name, [a, b], "b" if name in _BOOL else "f")

    def _func(self, name, a):
        return self._emit("func", name, [a], "b" if name in _BOOL else "f")

    def _compile(self, expr, index):
        if expr in self._symbols:
            return self._symbols[expr]
        key = (expr, index)
        if key in self._memo:
            return self._memo[key]
        slot = self._translate(expr, index)
        self._memo[key] = slot
        return slot

    def _translate(self, e, index):
        if e.is_Number or isinstance(e, sympy.NumberSymbol):
            return self._const(e)
        if e is sympy.true or e is sympy.false:
            return self._const(1.0 if e is sympy.true else 0.0)
        if isinstance(e, sympy.Indexed):
            if e.base not in self.arrays or len(e.indices) != 1 or index is None or e.indices[0] != index:
                raise DeriveError(f"cannot compile {e}: data must be indexed by the sum's index")
            name = self.arrays[e.base]
            if name not in self.inputs:
                self.inputs[name] = self._new(True, False).index
            return self._slots[self.inputs[name]]
        if e.is_Symbol:
            raise DeriveError(f"cannot compile the gradient: '{e}' has no value")
        if isinstance(e, sympy.Sum):
            return self._sum(e)
        if e.is_Add:
            return self._add(e, index)
        if e.is_Mul:
            return self._mul(e, index)
        if e.is_Pow:
            return self._pow(e, index)
        if isinstance(e, sympy.Piecewise):
            return self._piecewise(e, index)
        if type(e) in _FOLDS:  # max, min, and, or of any number of arguments: folded pairwise
            args = [self._compile(a, index) for a in e.args]
            result = args[0]
            for a in args[1:]:
                result = self._binary(_FOLDS[type(e)], result, a)
            return result
        if isinstance(e, sympy.log):
            return self._log(e, index)
        if type(e).__name__ == "sigmoid":
            return self._func("sigmoid", self._compile(e.args[0], index))
        simple = {sympy.exp: "exp", sympy.Abs: "abs", sympy.sign: "sign"}
        for cls, name in simple.items():
            if isinstance(e, cls):
                return self._func(name, self._compile(e.args[0], index))
        if type(e) in _RELATIONS:
            return self._binary(_RELATIONS[type(e)], self._compile(e.lhs, index), self._compile(e.rhs, index))
        if isinstance(e, sympy.Not):
            return self._func("not", self._compile(e.args[0], index))
        raise DeriveError(f"derive descend cannot compile {type(e).__name__} ({e}) to array code")

    def _sum(self, e):
        if len(e.limits) != 1:
            raise DeriveError(f"cannot compile a sum over several indices: {e}")
        i, low, high = e.limits[0]
        if low != 1 or high != self.size or i != self.index:
            raise DeriveError(f"cannot compile {e}: only sums over all the data, i = 1 … n, are supported")
        body = e.function
        # Pull the factors that do not vary with i out of the sum: c · Σ (…)
        coeff, factors = sympy.S.One, [body]
        if body.is_Mul:
            factors = []
            for factor in body.args:
                if factor.has(i):
                    factors.append(factor)
                else:
                    coeff *= factor
        outside = self._compile(coeff, None) if coeff != 1 else None
        if not factors:
            total = self._binary("mul", self._compile(self.size, None), self._compile(coeff, None))
            return total
        inner = sympy.Mul(*factors)
        # Σ aᵢ bᵢ and Σ aᵢ² are dot products: one pass, no temporary.
        pair = None
        if inner.is_Mul and len(inner.args) == 2 and not any(f.is_Pow and f.exp.is_negative for f in inner.args):
            pair = inner.args
        elif inner.is_Pow and inner.exp == 2:
            pair = (inner.base, inner.base)
        if pair is not None:
            a, b = (self._compile(p, i) for p in pair)
            if a.array and b.array:
                total = self._emit("dot", "dot", [a, b])
            else:
                total = self._emit("reduce", "sum", [self._binary("mul", a, b)])
        else:
            term = self._compile(inner, i)
            if not term.array:
                total = self._binary("mul", self._compile(self.size, None), term)
            else:
                total = self._emit("reduce", "sum", [term])
        self._slots[total.index].array = False
        self._slots[total.index].temp = False
        return total if outside is None else self._binary("mul", outside, total)

    def _add(self, e, index):
        plus, minus = [], []
        for term in e.args:
            coeff, _ = term.as_coeff_Mul()
            if coeff.is_Number and coeff.is_negative:
                minus.append(self._compile(-term, index))
            else:
                plus.append(self._compile(term, index))
        # arrays first (so the first array operation allocates and the rest reuse it), scalars last
        plus.sort(key=lambda s: not s.array)
        minus.sort(key=lambda s: not s.array)
        scalar_plus = [s for s in plus if not s.array]
        scalar_minus = [s for s in minus if not s.array]
        arrays_plus = [s for s in plus if s.array]
        arrays_minus = [s for s in minus if s.array]
        scalar = None
        for s in scalar_plus:
            scalar = s if scalar is None else self._binary("add", scalar, s)
        for s in scalar_minus:
            scalar = self._func("neg", s) if scalar is None else self._binary("sub", scalar, s)
        if not arrays_plus and not arrays_minus:
            return scalar
        if arrays_plus:
            result = arrays_plus[0]
            for s in arrays_plus[1:]:
                result = self._binary("add", result, s)
        else:
            result = self._func("neg", arrays_minus.pop(0))
        for s in arrays_minus:
            result = self._binary("sub", result, s)
        if scalar is not None:
            result = self._binary("add", result, scalar)
        return result

    def _mul(self, e, index):
        coeff, rest = e.as_coeff_Mul()
        factors = list(sympy.Mul.make_args(rest))
        num, den = [], []
        for f in factors:
            if f.is_Pow and f.exp.is_Number and f.exp.is_negative:
                base = f.base if f.exp == -1 else sympy.Pow(f.base, -f.exp)
                den.append(self._compile(base, index))
            else:
                num.append(self._compile(f, index))
        scalar = self._const(coeff) if coeff != 1 else None
        for s in [s for s in num if not s.array]:
            scalar = s if scalar is None else self._binary("mul", scalar, s)
        for s in [s for s in den if not s.array]:
            scalar = self._binary("div", scalar if scalar is not None else self._const(1), s)
        arrays = [s for s in num if s.array]
        adens = [s for s in den if s.array]
        if not arrays and not adens:
            return scalar if scalar is not None else self._const(1)
        if arrays:
            result = arrays[0]
            for s in arrays[1:]:
                result = self._binary("mul", result, s)
            if scalar is not None:
                result = self._binary("mul", result, scalar)
        else:
            result = scalar if scalar is not None else self._const(1)
        for s in adens:
            result = self._binary("div", result, s)
        return result

    def _pow(self, e, index):
        base, exp = e.base, e.exp
        if exp == 2:
            return self._func("square", self._compile(base, index))
        if exp == -1:
            return self._func("recip", self._compile(base, index))
        if exp == sympy.Rational(1, 2):
            return self._func("sqrt", self._compile(base, index))
        if base is sympy.E:
            return self._func("exp", self._compile(exp, index))
        return self._binary("pow", self._compile(base, index), self._compile(exp, index))

    def _log(self, e, index):
        arg = e.args[0]
        # ln σ(z) = −softplus(−z) and ln(1 − σ(z)) = −softplus(z): finite where σ rounds to 0 or 1
        if type(arg).__name__ == "sigmoid":
            return self._func("neg", self._func("softplus", self._compile(-arg.args[0], index)))
        if arg.is_Add and len(arg.args) == 2:
            rest = sympy.expand(1 - arg)
            if type(rest).__name__ == "sigmoid":
                return self._func("neg", self._func("softplus", self._compile(rest.args[0], index)))
        return self._func("log", self._compile(arg, index))

    def _piecewise(self, e, index):
        pieces = list(e.args)
        if pieces[-1].cond is not sympy.true:
            raise DeriveError(f"cannot compile {e}: a piecewise expression needs an 'otherwise' branch")
        result = self._compile(pieces[-1].expr, index)
        for piece in reversed(pieces[:-1]):
            cond = self._compile(piece.cond, index)
            value = self._compile(piece.expr, index)
            result = self._emit("where", "where", [cond, value, result])
        return result

    # -- linking -------------------------------------------------------------------------
    def bind(self, columns, constants):
        """``run(values)`` for these columns (name -> array) and constants (name -> float)."""
        length = None
        template = [None] * len(self._slots)
        for name, k in self.inputs.items():
            if name in columns:
                template[k] = np.asarray(columns[name], dtype=np.float64)
                length = template[k].shape[0]
        if length is None:
            length = len(next(iter(columns.values()))) if columns else 0
        if "n" in self.inputs:
            template[self.inputs["n"]] = float(length)
        for name, k in self.inputs.items():
            if name in constants:
                template[k] = float(constants[name])
        for value, slot in self._constants.items():
            template[slot.index] = value
        last_use = {}
        for step, (_, _, args, _) in enumerate(self._code):
            for a in args:
                last_use[a] = step
        outputs = set(self.outputs)
        ops = []
        for step, (kind, name, args, out) in enumerate(self._code):
            dead = [a for a in set(args) if last_use.get(a) == step and self._slots[a].temp and a not in outputs]
            ops.append(self._link(kind, name, args, out, dead))
        scalar_inputs = [(self.inputs[name], name) for name in self.scalars.values() if name not in constants]
        result_slots = list(self.outputs)
        slots = self._slots

        def run(values):
            r = list(template)
            for k, name in scalar_inputs:
                r[k] = float(values[name])
            with np.errstate(all="ignore"):
                for op in ops:
                    op(r)
            return [r[k] if slots[k].array else float(r[k]) for k in result_slots]

        return run

    def _link(self, kind, name, args, out, dead):
        slots = self._slots
        result = slots[out]
        # an argument that is an array temporary of floats, not needed again, can hold the result
        reuse = next((a for a in args if a in dead and slots[a].array and slots[a].dtype == "f"), None)
        if not result.array or result.dtype != "f":
            reuse = None
        free = list(dead)  # cleared after the result is stored (the reused buffer lives on in it)
        if kind == "binary":
            a, b = args
            if result.array:
                fn = _UFUNC[name]
                if reuse is not None:
                    def op(r, fn=fn, a=a, b=b, o=out, t=reuse, free=free):
                        r[o] = fn(r[a], r[b], out=r[t])
                        for k in free:
                            r[k] = None
                else:
                    def op(r, fn=fn, a=a, b=b, o=out, free=free):
                        r[o] = fn(r[a], r[b])
                        for k in free:
                            r[k] = None
            else:
                fn = _PY[name]

                def op(r, fn=fn, a=a, b=b, o=out):
                    r[o] = fn(r[a], r[b])
            return op
        if kind == "func":
            (a,) = args
            array_fn, scalar_fn = _FUNCS[name]
            if result.array:
                if reuse is not None:
                    def op(r, fn=array_fn, a=a, o=out, free=free):  # in place: a is not needed again
                        r[o] = fn(r[a], out=r[a])
                        for k in free:
                            r[k] = None
                else:
                    def op(r, fn=array_fn, a=a, o=out, free=free):
                        r[o] = fn(r[a])
                        for k in free:
                            r[k] = None
            else:
                def op(r, fn=scalar_fn, a=a, o=out):
                    r[o] = fn(r[a])
            return op
        if kind == "dot":
            a, b = args

            def op(r, a=a, b=b, o=out, free=free):
                r[o] = float(np.einsum("i,i->", r[a], r[b]))  # one pass, no temporary, no BLAS threads
                for k in free:
                    r[k] = None
            return op
        if kind == "reduce":
            (a,) = args

            def op(r, a=a, o=out, free=free):
                r[o] = float(r[a].sum())
                for k in free:
                    r[k] = None
            return op
        if kind == "where":
            c, a, b = args
            if result.array:
                def op(r, c=c, a=a, b=b, o=out, free=free):
                    r[o] = np.where(r[c], r[a], r[b])
                    for k in free:
                        r[k] = None
            else:
                def op(r, c=c, a=a, b=b, o=out):
                    r[o] = r[a] if r[c] else r[b]
            return op
        raise AssertionError(kind)


# -- the problem, compiled ---------------------------------------------------------------------
class Compiled:
    """A problem's loss and gradient as NumPy code over one data set.

    ``value_and_gradient(theta)`` returns ``(loss, [∂L/∂θ₁, …])`` in one pass (shared parts
    computed once); ``loss(theta)`` the loss alone; ``theta`` is a sequence of the
    parameters' values in the problem's order.
    """

    def __init__(self, problem, partials, data, hyper=None):
        self.problem = problem
        self.names = [p.name for p in problem.parameters]
        scalars = {p.symbol: p.name for p in problem.parameters}
        hyper = dict(hyper or {})
        for key, sym in problem.hyper.items():
            scalars[sym] = key
        arrays = {base: name for name, base in problem.data.items()}
        self.constants = {key: hyper[key] for key in problem.hyper}
        columns = {"x": data.x, "y": data.y}
        written = problem.written_out
        self._full = Program([written] + list(partials), scalars, arrays, problem.index, problem.size)
        self._loss = Program([written], scalars, arrays, problem.index, problem.size)
        self._run_full = self._full.bind(columns, self.constants)
        self._run_loss = self._loss.bind(columns, self.constants)
        self.operations = len(self._full._code)

    def _values(self, theta):
        return dict(zip(self.names, theta))

    def value_and_gradient(self, theta):
        out = self._run_full(self._values(theta))
        return out[0], out[1:]

    def loss(self, theta):
        return self._run_loss(self._values(theta))[0]


def compile_model(problem, x):
    """The model's output (ŷᵢ, pᵢ, …) as a function of the parameters over the inputs ``x``."""
    from derive.engine.rules import substitute_definitions

    top = problem.model[0].symbol
    expr = substitute_definitions(top, problem.definitions)
    scalars = {p.symbol: p.name for p in problem.parameters}
    arrays = {base: name for name, base in problem.data.items()}
    program = Program([expr], scalars, arrays, problem.index, None, elementwise=True)
    run = program.bind({"x": np.asarray(x, dtype=np.float64)}, {})

    def model(theta):
        value = run(dict(zip([p.name for p in problem.parameters], theta)))[0]
        return np.broadcast_to(value, np.shape(x)).astype(np.float64)

    return model


