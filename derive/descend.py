"""Gradient descent worked with numbers: the lesson's four steps, run on real data.

1. Start at a random weight and bias (seeded) and calculate the loss.
2. Take a step against the gradient, scaled by the learning rate α (every parameter at once).
3. Calculate the new loss.
4. Repeat steps 2 and 3.

The gradient is the engine's own (``derive.derivation.gradient``): each symbolic partial,
written out with ``Sum(…, (i, 1, n))``, is compiled ONCE into NumPy array code by a small
translator that walks the SymPy tree (no ``lambdify``, ``eval`` or ``exec``). Shared parts
(the error ``b + w xᵢ − yᵢ``, used by the loss and by every partial) are computed once per
step, temporaries are reused in place, and a sum of a product of two columns is a dot
product, so a step costs a handful of passes over the data.

Checks against numbers: the compiled gradient equals a central finite difference of the
loss on the same data, at the start and at the end; for ``mse`` and ``ridge`` the result is
compared with the closed form (normal equations, solved independently with NumPy).

>>> from derive.descend import descend, synthetic
>>> run = descend("mse", synthetic(50, seed=7), learning_rate=0.1, steps=2000, seed=7)
>>> run.converged, run.closed_form.agrees
(True, True)
"""

import csv
import math
import operator
from dataclasses import dataclass, field

import numpy as np
import sympy

from .errors import DeriveError

SUPPORTED = ("mse", "ridge", "bce", "mae", "huber", "relu", "mlp")
HYPER_DEFAULTS = {"lambda": 0.1, "delta": 1.0}
START_RANGE = (-1.0, 1.0)
CLOSED_FORM_TOLERANCE = 1e-3  # |gradient descent − closed form| ≤ this · max(1, |closed form|)
CHECK_RTOL = 1e-6  # the compiled gradient vs a central difference of the loss
SYNTHETIC = {"slope": 3.0, "intercept": 2.0, "noise": 0.5, "low": -2.0, "high": 2.0}
MAX_PLUGGED = 8  # show the sum with the data plugged in when n is at most this


# -- data -------------------------------------------------------------------------------------
@dataclass
class Data:
    """Two numeric columns: the input x and the target y (float64 arrays of equal length)."""

    x: np.ndarray
    y: np.ndarray
    source: str = "arrays"
    x_name: str = "x"
    y_name: str = "y"
    synthetic: dict | None = None  # how it was generated, when it was

    @property
    def n(self):
        return int(self.x.shape[0])

    def to_dict(self):
        out = {"source": self.source, "n": self.n, "x": self.x_name, "y": self.y_name}
        if self.synthetic is not None:
            out["synthetic"] = dict(self.synthetic)
        return out


def from_arrays(x, y, source="arrays"):
    """Data from two sequences of numbers, validated like a file."""
    try:
        xs = np.asarray(x, dtype=np.float64).ravel()
        ys = np.asarray(y, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise DeriveError("the data must be numbers")
    if xs.shape != ys.shape:
        raise DeriveError(f"x has {xs.shape[0]} values but y has {ys.shape[0]}")
    if xs.shape[0] == 0:
        raise DeriveError("the data has no rows")
    for name, column in (("x", xs), ("y", ys)):
        bad = np.flatnonzero(~np.isfinite(column))
        if bad.size:
            raise DeriveError(f"row {bad[0] + 1}: {name} is {column[bad[0]]}, not a finite number")
    return Data(xs, ys, source=source)


def load_csv(path, x="x", y="y"):
    """Read columns ``x`` and ``y`` of a CSV file with a header row.

    Every problem is one line: a missing file or column, an empty file, a cell that is not
    a finite number (with its line number), a short row.
    """
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as error:
        raise DeriveError(f"cannot read {path}: {error.strerror or error}")
    with handle:
        try:
            reader = csv.reader(handle)
            header = None
            for row in reader:
                if any(cell.strip() for cell in row):
                    header = [cell.strip() for cell in row]
                    break
            if header is None:
                raise DeriveError(f"{path} is empty: it needs a header row naming the columns {x} and {y}, then the data")
            columns = {}
            for want, option in ((x, "--x"), (y, "--y")):
                if want not in header:
                    raise DeriveError(f"{path} has no column '{want}' (its columns are: {', '.join(header)}); "
                                      f"name the column with {option}")
                columns[want] = header.index(want)
            xs, ys = [], []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                line = reader.line_num
                values = []
                for want in (x, y):
                    k = columns[want]
                    if k >= len(row) or not row[k].strip():
                        raise DeriveError(f"{path} line {line}: the {want} cell is missing")
                    cell = row[k].strip()
                    try:
                        value = float(cell)
                    except ValueError:
                        raise DeriveError(f"{path} line {line}: the {want} cell '{_short(cell)}' is not a number")
                    if not math.isfinite(value):
                        raise DeriveError(f"{path} line {line}: the {want} cell '{_short(cell)}' is not a finite number")
                    values.append(value)
                xs.append(values[0])
                ys.append(values[1])
        except csv.Error as error:
            raise DeriveError(f"{path} is not a readable CSV file ({error})")
        except UnicodeDecodeError:
            raise DeriveError(f"{path} is not a UTF-8 text file")
    if not xs:
        raise DeriveError(f"{path} has a header but no rows of data")
    return Data(np.array(xs), np.array(ys), source=str(path), x_name=x, y_name=y)


def _short(text, limit=30):
    return text if len(text) <= limit else text[:limit] + "…"


def synthetic(n, seed=0, labels="real"):
    """``n`` points with x uniform on [−2, 2] and y = 3x + 2 + noise (normal, sd 0.5).

    For binary labels (``bce``): y = 1 where 3x + 2 + noise > 0, else 0, with logistic noise,
    so the true model is σ(3x + 2).
    """
    if n < 1:
        raise DeriveError("--synthetic needs at least 1 point")
    if n > 50_000_000:
        raise DeriveError("--synthetic is limited to 50,000,000 points")
    s = SYNTHETIC
    rng = np.random.default_rng([seed, 1])  # its own stream: the start is drawn separately
    x = rng.uniform(s["low"], s["high"], n)
    if labels == "binary":
        y = (s["slope"] * x + s["intercept"] + rng.logistic(0.0, 1.0, n) > 0).astype(np.float64)
        how = dict(s, noise="logistic", labels="binary")
    else:
        y = s["slope"] * x + s["intercept"] + rng.normal(0.0, s["noise"], n)
        how = dict(s, labels="real")
    how.update(n=n, seed=seed)
    return Data(x, y, source="synthetic", synthetic=how)


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
    from .rules import substitute_definitions

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


# -- closed forms (independent of the gradient code) -------------------------------------------
@dataclass
class ClosedForm:
    values: dict  # long name -> value
    loss: float
    method: str  # "least_squares" or "ridge_normal_equations" (descend_words.j2 says each in words)
    tolerance: float = CLOSED_FORM_TOLERANCE
    compared: bool = False
    agrees: bool | None = None
    difference: float | None = None  # the largest |descent − closed form| / max(1, |closed form|)
    unique: bool = True

    def to_dict(self):
        return {**self.values, "loss": self.loss, "method": self.method, "unique": self.unique,
                "compared": self.compared, "agrees": self.agrees, "difference": self.difference,
                "tolerance": self.tolerance}


def closed_form(name, data, hyper=None):
    """The exact minimiser of mse (least squares) or ridge (with the penalty), else None.

    Solved from the normal equations with NumPy on the design matrix [x, 1], with nothing
    shared with the compiled gradient.
    """
    x, y = data.x, data.y
    n = data.n
    design = np.column_stack([x, np.ones_like(x)])
    rank = np.linalg.matrix_rank(design)
    if name == "mse":
        solution, *_ = np.linalg.lstsq(design, y, rcond=None)
        w, b = (float(v) for v in solution)
        loss = float(np.mean((w * x + b - y) ** 2))
        return ClosedForm({"weight": w, "bias": b}, loss,
                          "least_squares", unique=bool(rank == 2))
    if name == "ridge":
        lam = float((hyper or {}).get("lambda", HYPER_DEFAULTS["lambda"]))
        gram = design.T @ design / n + np.diag([lam, 0.0])
        try:
            w, b = (float(v) for v in np.linalg.solve(gram, design.T @ y / n))
        except np.linalg.LinAlgError:
            return None
        loss = float(np.mean((w * x + b - y) ** 2) + lam * w * w)
        return ClosedForm({"weight": w, "bias": b}, loss, "ridge_normal_equations")
    return None


# -- the numeric check of the gradient ----------------------------------------------------------
@dataclass
class GradientCheck:
    where: str  # "start" or "end"
    step: int
    values: dict  # long name -> parameter value
    rows: list  # [{"parameter", "compiled", "central", "difference", "tolerance", "passed", "kink"}]
    skipped: str | None = None

    @property
    def passed(self):
        return self.skipped is not None or all(row["passed"] for row in self.rows)

    def to_dict(self):
        return {"where": self.where, "step": self.step, "at": self.values, "passed": self.passed,
                "skipped": self.skipped, "partials": self.rows}


def check_gradient(compiled, theta, where="start", step=0):
    """The compiled gradient against a central difference of the compiled loss, at ``theta``."""
    names = compiled.names
    loss, grad = compiled.value_and_gradient(theta)
    values = dict(zip(names, map(float, theta)))
    if not math.isfinite(loss) or not all(math.isfinite(g) for g in grad):
        return GradientCheck(where, step, values, [], skipped="the loss is not a finite number there")
    rows = []
    for k, name in enumerate(names):
        h = 1e-5 * max(1.0, abs(theta[k]))
        up, down = list(theta), list(theta)
        up[k] += h
        down[k] -= h
        f_up, f_down = compiled.loss(up), compiled.loss(down)
        central = (f_up - f_down) / (2 * h)
        forward, backward = (f_up - loss) / h, (loss - f_down) / h
        g = float(grad[k])
        tol = CHECK_RTOL * max(1.0, abs(g), abs(central)) + 1e-12 * max(1.0, abs(loss)) / h
        ok = abs(g - central) <= tol
        # At a corner of |e| or max(0, z) within h, the gradient lies between the one-sided slopes.
        kink = not ok and min(forward, backward) - tol <= g <= max(forward, backward) + tol
        rows.append({"parameter": name, "compiled": g, "central": float(central), "difference": abs(g - central),
                     "tolerance": tol, "passed": bool(ok or kink), "kink": bool(kink)})
    return GradientCheck(where, step, values, rows)


# -- the run -------------------------------------------------------------------------------------
@dataclass
class Descent:
    """A gradient-descent run and everything needed to show and check it."""

    problem: object
    gradient: object  # derive.derivation.Gradient: the symbolic partials used
    data: Data
    learning_rate: float
    steps: int  # asked for
    seed: int
    tol: float
    hyper: dict
    start: dict
    history: list  # one dict per step: step, each parameter, loss, dL/d<parameter>
    stopped: str  # "tol" (the loss stopped changing), "steps", or "overflow"
    grew: list  # the steps at which the loss grew
    checks: list  # GradientCheck at the start and at the end
    closed_form: ClosedForm | None
    plot: str | None = None
    operations: int = 0
    notes: list = field(default_factory=list)

    @property
    def names(self):
        return [p.name for p in self.problem.parameters]

    @property
    def final(self):
        last = self.history[-1]
        return {**{k: last[k] for k in self.names}, "loss": last["loss"]}

    @property
    def steps_run(self):
        return self.history[-1]["step"]

    @property
    def converged(self):
        return self.stopped == "tol"

    @property
    def diverging(self):
        return bool(self.grew) or self.stopped == "overflow"

    @property
    def suggested_learning_rate(self):
        return self.learning_rate / 10

    @property
    def check_passed(self):
        return all(c.passed for c in self.checks)

    @property
    def engine_check(self):
        return self.gradient.check

    def selected(self, rows=12):
        """A few steps for a table: the first four, then roughly 1, 2, 5 × 10ᵏ, and the last."""
        last = self.steps_run
        wanted = {0, 1, 2, 3, last}
        k = 1
        while k <= last:
            for m in (1, 2, 5):
                if m * k <= last:
                    wanted.add(m * k)
            k *= 10
        picked = sorted(wanted)
        if len(picked) > rows:
            head, tail = picked[:4], picked[4:]
            keep = np.unique(np.linspace(0, len(tail) - 1, rows - 4).round().astype(int))
            picked = head + [tail[j] for j in keep]
        by_step = {h["step"]: h for h in self.history}
        return [by_step[s] for s in picked if s in by_step]

    def to_dict(self):
        out = {
            "problem": self.problem.name,
            "data": self.data.to_dict(),
            "learning_rate": self.learning_rate,
            "steps": self.steps,
            "steps_run": self.steps_run,
            "tol": self.tol,
            "seed": self.seed,
            "hyper": self.hyper,
            "stopped": self.stopped,
            "converged": self.converged,
            "start": self.start,
            "final": self.final,
            "closed_form": self.closed_form.to_dict() if self.closed_form is not None else None,
            "diverging": ({"grew_at_steps": len(self.grew), "first": self.grew[0] if self.grew else None,
                           "overflow": self.stopped == "overflow",
                           "suggested_learning_rate": self.suggested_learning_rate}
                          if self.diverging else None),
            "gradient": {p.name: str(d.result) for p, d in zip(self.problem.parameters, self.gradient.derivations)},
            "update": {p.name: f"{d.wrt} <- {d.update}"
                       for p, d in zip(self.problem.parameters, self.gradient.derivations)},
            "checks": {"passed": self.check_passed,
                       "engine": self.engine_check.passed if self.engine_check is not None else None,
                       "finite_difference": [c.to_dict() for c in self.checks]},
            "history": self.history,
        }
        if self.plot:
            out["plot"] = self.plot
        return out

    def to_json(self):
        """Strict JSON: a number that overflowed (∞, NaN) is written as null."""
        import json

        return json.dumps(_finite(self.to_dict()), indent=2, ensure_ascii=False, allow_nan=False)

    def render(self, fmt="text", standalone=False):
        return render(self, fmt, standalone=standalone)


def _finite(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def get_descent_problem(name):
    """The catalog problem ``name`` as a loss over a data set with columns x and y."""
    from .problems import get_problem

    try:
        problem = get_problem(name, mean=True)
    except DeriveError:
        problem = None
    if problem is None or problem.name not in SUPPORTED:
        raise DeriveError(f"derive descend cannot run '{name}'; it runs a loss over a data set of x and y: "
                          f"{', '.join(SUPPORTED)}")
    return problem


def descend(name, data, *, learning_rate=0.05, steps=200, seed=0, tol=1e-10, hyper=None, check=True):
    """Run gradient descent on the named loss over ``data`` (a ``Data``); returns a ``Descent``.

    ``hyper`` sets λ (``{"lambda": 0.1}``, ridge) and δ (``{"delta": 1.0}``, huber).
    Raises ``DeriveError`` for bad input (one line).
    """
    from .derivation import gradient as symbolic_gradient

    problem = get_descent_problem(name)
    if not (isinstance(learning_rate, (int, float)) and math.isfinite(learning_rate) and learning_rate > 0):
        raise DeriveError(f"the learning rate must be a positive number, not {learning_rate}")
    if steps < 0:
        raise DeriveError("--steps must be 0 or more")
    if not (tol >= 0):
        raise DeriveError("--tol must be 0 or more")
    hyper = dict(hyper or {})
    for key in list(hyper):
        if hyper[key] is None:
            del hyper[key]
        elif key not in problem.hyper:
            raise DeriveError(f"{problem.name} has no {key}: --{key} is for "
                              f"{'ridge' if key == 'lambda' else 'huber'}")
    for key in problem.hyper:
        hyper.setdefault(key, HYPER_DEFAULTS[key])
        if not (math.isfinite(hyper[key]) and hyper[key] > 0):
            raise DeriveError(f"--{key} must be a positive number, not {hyper[key]}")
    if problem.labels == "binary":
        bad = np.flatnonzero((data.y < 0) | (data.y > 1))
        if bad.size:
            raise DeriveError(f"{problem.name} needs labels between 0 and 1 (0 or 1 for two classes); "
                              f"data row {bad[0] + 1} has {data.y_name} = {data.y[bad[0]]:g}")

    g = symbolic_gradient(problem.name, mean=True, check=check, seed=seed)
    compiled = Compiled(problem, [d.result for d in g.derivations], data, hyper)
    names = compiled.names

    rng = np.random.default_rng(seed)
    theta = rng.uniform(*START_RANGE, len(names))
    loss, grad = compiled.value_and_gradient(theta)
    start = {"seed": seed, "range": list(START_RANGE), **{k: float(v) for k, v in zip(names, theta)},
             "loss": float(loss)}
    checks = [check_gradient(compiled, list(theta), "start", 0)] if check else []
    history, stopped, grew = iterate(compiled, theta, learning_rate, steps, tol, first=(loss, grad))
    if check:
        last = history[-1]
        if stopped == "overflow":
            finite = [h for h in history if math.isfinite(h["loss"])]
            last = finite[-1] if finite else history[0]
        checks.append(check_gradient(compiled, [last[k] for k in names], "end", last["step"]))
    form = closed_form(problem.name, data, hyper)
    run = Descent(problem, g, data, float(learning_rate), steps, seed, tol, {k: hyper[k] for k in problem.hyper}, start,
                  history, stopped, grew, checks, form, operations=compiled.operations)
    if form is not None and run.converged and form.unique:
        diff = max(abs(run.final[k] - v) / max(1.0, abs(v)) for k, v in form.values.items())
        form.compared, form.difference = True, float(diff)
        form.agrees = bool(diff <= form.tolerance)
    return run


def iterate(compiled, theta, learning_rate, steps, tol, first=None):
    """The loop of the lesson: from ``theta``, step against the gradient (every parameter at
    once, from the same old values), calculate the new loss, repeat.

    Returns ``(history, stopped, grew)``: one record per step (step 0 is the start);
    ``stopped`` is "tol" when the loss changed by at most ``tol``, "overflow" when it stopped
    being a finite number, else "steps"; ``grew`` lists the steps at which the loss grew.
    """
    names = compiled.names
    theta = np.asarray(theta, dtype=np.float64)
    loss, grad = first if first is not None else compiled.value_and_gradient(theta)
    history = [_record(0, names, theta, loss, grad)]
    grew, stopped = [], "steps"
    if not math.isfinite(loss):
        return history, "overflow", grew
    rate = float(learning_rate)
    for step in range(1, steps + 1):
        theta = theta - rate * np.asarray(grad)
        new_loss, grad = compiled.value_and_gradient(theta)
        history.append(_record(step, names, theta, new_loss, grad))
        if not (math.isfinite(new_loss) and all(math.isfinite(v) for v in grad)):
            stopped = "overflow"
            break
        if new_loss > loss:
            grew.append(step)
        if abs(loss - new_loss) <= tol:
            stopped = "tol"
            break
        loss = new_loss
    return history, stopped, grew


def _record(step, names, theta, loss, grad):
    row = {"step": step}
    for k, name in enumerate(names):
        row[name] = float(theta[k])
    row["loss"] = float(loss)
    for k, name in enumerate(names):
        row[f"dL/d{name}"] = float(grad[k])
    return row


# -- the data plugged into the partials (for the first step, small data) ------------------------
class _Plug:
    """Writes a partial derivative with the numbers put in, in the lesson's order of terms.

    ``style`` is "text" (Unicode) or "latex". Each sum over the data is written out term
    by term, Σ → [t₁ + t₂ + … + tₙ]; a piecewise term shows the branch that applies.
    """

    def __init__(self, style, values, data, problem, digits=4):
        self.latex = style == "latex"
        self.values = values  # Symbol -> float
        self.data = data
        self.problem = problem
        self.digits = digits

    def number(self, v, bracket=True):
        text = fmt_number(v, self.digits, self.latex)
        return f"({text})" if bracket and v < 0 else text

    def expr(self, e, row=None):
        from .printing import to_text

        if e.is_Number:
            if e.is_Rational and not e.is_Integer:
                return self.frac(str(e.p), str(e.q))
            return self.number(float(e))
        if isinstance(e, sympy.Indexed):
            column = self.data.x if str(e.base) == "x" else self.data.y
            return self.number(float(column[row]))
        if e.is_Symbol:
            if e == self.problem.size:
                return str(self.data.n)
            return self.number(self.values[e])
        if isinstance(e, sympy.Sum):
            body = e.function
            terms = [self.term(body, k) for k in range(self.data.n)]
            inner = " + ".join(terms)
            return r"\left[" + inner + r"\right]" if self.latex else "[" + inner + "]"
        if e.is_Add:
            out = ""
            for k, term in enumerate(e.as_ordered_terms()):
                coeff, rest = term.as_coeff_Mul()
                negative = coeff.is_Number and coeff.is_negative
                text = self.expr(-term if negative else term, row)
                if k == 0:
                    out = ("-" if self.latex else "−") + text if negative else text
                else:
                    out += (" - " if self.latex else " − ") + text if negative else " + " + text
            return out
        if e.is_Mul:
            factors = list(e.as_ordered_factors())
            num, den = [], []
            for f in factors:
                if f.is_Pow and f.exp == -1:
                    den.append(f.base)
                elif f.is_Rational and not f.is_Integer:
                    num.append(sympy.Integer(f.p))
                    if f.q != 1:
                        den.append(sympy.Integer(f.q))
                else:
                    num.append(f)
            lead = ""
            if num and num[0].is_Number and num[0] == -1:
                num, lead = num[1:], ("-" if self.latex else "−")
            if den and all(d.is_Number or d == self.problem.size for d in den):
                top = [f for f in num if f.is_Number]
                rest = [f for f in num if not f.is_Number]
                top_text = "·".join(self.expr(f, row) for f in top) if top else "1"
                lead += self.frac(top_text, "·".join(self.expr(d, row) for d in den))
                num, den = rest, []
            parts = ([lead] if lead and lead not in ("-", "−") else []) + [self.factor(f, row) for f in num]
            sep = r" \cdot " if self.latex else "·"
            text = sep.join(parts)
            if lead in ("-", "−"):
                text = lead + text
            if den:
                text = self.frac(text, sep.join(self.factor(d, row) for d in den))
            return text
        if e.is_Pow:
            base = self.factor(e.base, row, power=True)
            if e.exp == 2:
                return base + ("^{2}" if self.latex else "²")
            return base + ("^{%s}" % self.expr(e.exp, row) if self.latex else "^" + self.factor(e.exp, row))
        if isinstance(e, sympy.Piecewise):
            for piece in e.args:
                cond = piece.cond
                if cond is sympy.true or bool(self.numeric(cond, row)):
                    return self.expr(piece.expr, row)
        if isinstance(e, sympy.Abs):
            inner = self.expr(e.args[0], row)
            return r"\left|" + inner + r"\right|" if self.latex else "|" + inner + "|"
        names = {"sigmoid": r"\sigma" if self.latex else "σ", "sign": r"\operatorname{sign}" if self.latex else "sign",
                 "exp": r"\exp" if self.latex else "exp", "log": r"\ln" if self.latex else "ln",
                 "Max": r"\max" if self.latex else "max", "Min": r"\min" if self.latex else "min"}
        head = type(e).__name__
        if head in names:
            inner = ", ".join(self.expr(a, row) for a in e.args)
            return names[head] + (r"\left(" + inner + r"\right)" if self.latex else "(" + inner + ")")
        return to_text(e)

    def resolve(self, e, row):
        """A piecewise expression at one example: the branch whose condition holds."""
        while isinstance(e, sympy.Piecewise):
            e = next(p.expr for p in e.args if p.cond is sympy.true or bool(self.numeric(p.cond, row)))
        return e

    def factor(self, f, row, power=False):
        f = self.resolve(f, row)
        text = self.expr(f, row)
        if f.is_Add or (power and (f.is_Mul or f.is_Pow)):
            return r"\left(" + text + r"\right)" if self.latex else "(" + text + ")"
        return text

    def frac(self, top, bottom):
        return r"\frac{%s}{%s}" % (top, bottom) if self.latex else f"({top}/{bottom})"

    def term(self, body, row):
        body = self.resolve(body, row)
        return self.factor(body, row) if body.is_Add else self.expr(body, row)

    def numeric(self, e, row):
        subs = dict(self.values)
        for name, base in self.problem.data.items():
            column = self.data.x if name == "x" else self.data.y
            subs[base[self.problem.index]] = float(column[row])
        return e.subs(subs)


def plugged(run, style):
    """For the first step: each partial with the start and the data put in (``None`` if n is large)."""
    if run.data.n > MAX_PLUGGED:
        return None
    first = run.history[0]
    values = {p.symbol: first[p.name] for p in run.problem.parameters}
    for key, sym in run.problem.hyper.items():
        values[sym] = run.hyper[key]
    plug = _Plug(style, values, run.data, run.problem)
    return [plug.expr(d.result) for d in run.gradient.derivations]


def fmt_number(v, digits=6, latex=False):
    """A number to ``digits`` significant figures; a Unicode minus in text, 10^k in LaTeX."""
    if v is None:
        return "—"
    if isinstance(v, float) and not math.isfinite(v):
        return ("-" if v < 0 else "") + (r"\infty" if latex else "∞") if not math.isnan(v) else "NaN"
    text = f"{float(v):.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        power = int(exponent)
        if latex:
            text = r"%s \times 10^{%d}" % (mantissa, power)
        else:
            from .printing import superscript

            text = f"{mantissa}×10{superscript(str(power).replace('-', '−'))}"
    return text if latex else text.replace("-", "−")


# -- the plot ---------------------------------------------------------------------------------------
def plot(run, path):
    """Loss against step, and the data with the fitted line (or curve) at a few stages: a PNG."""
    try:
        import matplotlib
    except ImportError:
        raise DeriveError("--plot needs matplotlib: pip install 'derive[plot]'")
    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.5), dpi=110)
    ax_loss, ax_fit = fig.subplots(1, 2)
    steps = np.array([h["step"] for h in run.history])
    losses = np.array([h["loss"] for h in run.history])
    finite = np.isfinite(losses)
    ax_loss.plot(steps[finite], losses[finite], color="tab:blue", lw=1.8)
    if finite.any() and np.all(losses[finite] > 0) and losses[finite].max() / losses[finite].min() > 50:
        ax_loss.set_yscale("log")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss")
    ax_loss.set_title(f"{run.problem.name}: loss, learning rate {run.learning_rate:g}")
    ax_loss.grid(alpha=0.3)

    x, y = run.data.x, run.data.y
    shown = slice(None)
    if run.data.n > 2000:  # a sample of the points is enough to see the fit
        shown = np.random.default_rng(0).choice(run.data.n, 2000, replace=False)
    ax_fit.scatter(x[shown], y[shown], s=12, color="0.35", alpha=0.6, label="data")
    grid = np.linspace(float(x.min()), float(x.max()), 200) if run.data.n > 1 else np.array([x[0] - 1, x[0] + 1])
    model = compile_model(run.problem, grid)
    stages = _stages(run)
    colors = matplotlib.colormaps["viridis"](np.linspace(0.0, 0.85, len(stages)))
    names = run.names
    curves = []
    for colour, h in zip(colors, stages):
        theta = [h[k] for k in names]
        if not all(math.isfinite(v) for v in theta):
            continue
        curves.append(model(theta))
        ax_fit.plot(grid, curves[-1], color=colour, lw=2.0 if h is stages[-1] else 1.2,
                    label=f"step {h['step']}")
    form = run.closed_form
    if form is not None:
        ax_fit.plot(grid, form.values["weight"] * grid + form.values["bias"], "--", color="tab:red", lw=1.2,
                    label="closed form")
    ax_fit.set_xlabel(run.data.x_name)
    ax_fit.set_ylabel(run.data.y_name)
    ax_fit.set_title("data and the fitted model")
    ax_fit.legend(fontsize=8, loc="best")
    ax_fit.grid(alpha=0.3)
    lo, hi = float(np.min(y)), float(np.max(y))
    span = hi - lo or 1.0
    finite_curves = [c[np.isfinite(c)] for c in curves if np.isfinite(c).any()]
    if finite_curves:  # show where the fit started, within reason
        lo = max(min(lo, *(float(c.min()) for c in finite_curves)), lo - 1.5 * span)
        hi = min(max(hi, *(float(c.max()) for c in finite_curves)), hi + 1.5 * span)
    pad = 0.08 * (hi - lo or 1.0)
    ax_fit.set_ylim(lo - pad, hi + pad)
    fig.tight_layout()
    from .files import write_whole

    write_whole(path, lambda handle: fig.savefig(handle, format="png"))
    run.plot = str(path)
    return path


def _stages(run, count=5):
    last = run.steps_run
    wanted = sorted({0, min(1, last), min(3, last), int(round(last * 0.1)), last})
    by_step = {h["step"]: h for h in run.history}
    out = [by_step[s] for s in wanted if s in by_step]
    return out[:count - 1] + [out[-1]] if len(out) > count else out


# -- rendering ------------------------------------------------------------------------------------
TEMPLATES = {"text": "descend_text.j2", "markdown": "descend_markdown.j2", "latex": "descend_latex.j2",
             "html": "descend_html.j2"}
RENDER_FORMATS = ("text", "markdown", "latex", "html", "json")


def _matrix_names():
    """The symbols the words of the closed form are written in: X, y, θ, n, λ."""
    from .symbols import symbol

    return {"X": sympy.MatrixSymbol("X", 3, 2), "Y": sympy.MatrixSymbol("y", 3, 1),
            "theta": sympy.MatrixSymbol("theta", 2, 1), "N": symbol("n"), "lam": symbol("lambda")}


def _formats(fmt):
    """``(f, words_f, style)``: how a format writes math in layouts, in sentences, and the
    style of the plugged-in sums ("text" Unicode or "latex")."""
    from . import render as r

    if fmt == "text":
        return r.TextFormat(), r.TextFormat(), "text"
    if fmt == "markdown":
        return r.InlineLatexFormat(), r.InlineLatexFormat(), "latex"
    if fmt == "latex":
        return r.LatexFormat(), r.LatexWordsFormat(), "latex"
    if fmt == "html":
        return r.HtmlFormat(), r.HtmlFormat(), "text"
    raise DeriveError(f"unknown format {fmt!r}; use one of {', '.join(RENDER_FORMATS)}")


def _sentence_number(fmt):
    """How the words write a number: bare text (terminal, HTML) or ``$…$`` (Markdown, LaTeX)."""
    if fmt in ("text", "html"):
        return lambda v, digits=6: fmt_number(v, digits, latex=False)
    return lambda v, digits=6: "$" + fmt_number(v, digits, latex=True) + "$"


def words(run, fmt, directory=None):
    """The words of ``descend_words.j2`` bound to one format (and to ``run``, which may be ``None``)."""
    from . import render as r

    _, words_f, _ = _formats(fmt)
    env = r._environment(False, r._search_path(directory))
    return env.get_template("descend_words.j2").make_module(
        {"f": words_f, "num": _sentence_number(fmt), "run": run, **_matrix_names()})


def data_uri(path):
    """A PNG as a ``data:`` URI, so an HTML page carries its plot (nothing is fetched)."""
    import base64

    try:
        with open(path, "rb") as handle:
            payload = handle.read()
    except OSError as error:
        raise DeriveError(f"cannot read {path}: {error.strerror}")
    return "data:image/png;base64," + base64.b64encode(payload).decode("ascii")


def render(run, fmt="text", *, standalone=False, plot_link=None, directory=None, embedded=False):
    """The run as text, Markdown, LaTeX or HTML through ``templates/descend_*.j2`` (or JSON).

    ``standalone`` makes a whole document (LaTeX) or page (HTML); ``embedded`` leaves out
    the title, for a handout whose problem supplies its own heading. ``plot_link`` is how
    the document refers to the plot (relative to where it is written); HTML embeds the PNG
    itself as a ``data:`` URI. ``directory`` is a folder of templates, or a tuple of them
    searched in order (a user's overrides first).
    """
    from . import render as r

    if fmt == "json":
        return run.to_json() + "\n"
    if fmt not in TEMPLATES:
        raise DeriveError(f"unknown format {fmt!r}; use one of {', '.join(RENDER_FORMATS)}")
    search = r._search_path(directory)
    latex = fmt == "latex"
    f, _, style = _formats(fmt)
    plain = style == "text" and fmt != "html"

    def num(v, digits=6):
        return fmt_number(v, digits, latex=latex or fmt == "markdown")

    plot = plot_link if plot_link is not None else run.plot
    plot_src = data_uri(run.plot) if fmt == "html" and run.plot else None
    env = r._environment(latex, search)
    text = env.get_template(TEMPLATES[fmt]).render(
        run=run, f=f, say=words(run, fmt, search), num=num, plugged=plugged(run, style), standalone=standalone,
        embedded=embedded, plot=plot, plot_src=plot_src, p=run.problem, plain=plain,
        derivations=list(zip(run.problem.parameters, run.gradient.derivations)))
    return r.printing.unicode_to_latex(text) if latex else text
