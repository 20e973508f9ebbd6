"""The vector (matrix-calculus) forms and the generated NumPy code.

The reference is independent of derive's derivation: each loss is built again here from
explicit SymPy matrices of symbols, and ``sympy.diff`` with respect to every entry of every
parameter gives the gradient that derive's written-out vector result must equal. The
generated NumPy code is run on random data of several shapes and compared with central
differences computed here."""

import random
import shutil
import subprocess
import sys

import numpy as np
import pytest
import sympy

from derive.backprop.numpy_form import numpy_form
from derive.cli.main import main
from derive.engine import matrix as mx
from derive.engine import vector
from derive.engine.vector import SUPPORTED, explain_vector
from derive.errors import DeriveError


def run(capsys, *argv):
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    out, err = capsys.readouterr()
    return done.value.code, out, err


def _entries(name, rows, cols):
    return sympy.Matrix(rows, cols, lambda i, j: sympy.Symbol(f"{name}_{i}_{j}", real=True))


def _explicit(name, sizes, half):
    """(leaves as SymPy matrices of symbols, the loss as one SymPy expression)."""
    k = sympy.Rational(1, 2) if half else 1
    sig = lambda a: a.applyfunc(lambda t: 1 / (1 + sympy.exp(-t)))  # noqa: E731
    if name in ("mse", "ridge", "bce"):
        n, d = sizes["n"], sizes["d"]
        leaves = {"X": _entries("X", n, d), "y": _entries("y", n, 1), "w": _entries("w", d, 1), "b": _entries("b", 1, 1)}
        z = leaves["X"] * leaves["w"] + leaves["b"][0] * sympy.ones(n, 1)
        if name == "bce":
            p, y = sig(z), leaves["y"]
            loss = -sum(y[i] * sympy.log(p[i]) + (1 - y[i]) * sympy.log(1 - p[i]) for i in range(n)) / n
        else:
            r = z - leaves["y"]
            loss = k * (r.T * r)[0] / n
            if name == "ridge":
                leaves["lambda"] = sympy.Symbol("lambda", positive=True)
                loss += leaves["lambda"] * (leaves["w"].T * leaves["w"])[0]
        return leaves, loss
    if name == "softmax":
        K = sizes["K"]
        leaves = {"o": _entries("o", K, 1), "y": _entries("y", K, 1)}
        total = sum(sympy.exp(leaves["o"][j]) for j in range(K))
        loss = -sum(leaves["y"][j] * sympy.log(sympy.exp(leaves["o"][j]) / total) for j in range(K))
        return leaves, loss
    if name == "neuron":
        d = sizes["d"]
        leaves = {"x": _entries("x", d, 1), "w": _entries("w", d, 1), "b": _entries("b", 1, 1), "y": _entries("y", 1, 1)}
        out = sig(leaves["w"].T * leaves["x"] + leaves["b"])[0]
        return leaves, k * (out - leaves["y"][0]) ** 2
    H, d = sizes["H"], sizes["d"]
    leaves = {"x": _entries("x", d, 1), "W": _entries("W", H, d), "b": _entries("b", H, 1), "v": _entries("v", H, 1),
              "c": _entries("c", 1, 1), "y": _entries("y", 1, 1)}
    h = sig(leaves["W"] * leaves["x"] + leaves["b"])
    out = (leaves["v"].T * h)[0] + leaves["c"][0]
    return leaves, k * (out - leaves["y"][0]) ** 2


SMALL = {"mse": {"n": 3, "d": 2}, "ridge": {"n": 3, "d": 2}, "bce": {"n": 3, "d": 2}, "softmax": {"K": 3},
         "neuron": {"d": 3}, "mlp": {"H": 2, "d": 2}}


@pytest.mark.parametrize("half", [False, True])
@pytest.mark.parametrize("name", SUPPORTED)
def test_written_gradient_equals_sympy_diff_of_explicit_matrices(name, half):
    if half and name in ("bce", "softmax"):
        with pytest.raises(DeriveError, match="½"):
            explain_vector(name, half=True)
        return
    doc = explain_vector(name, half=half)
    assert doc.check.passed and doc.check.twin
    s = doc.spec
    sizes = {sympy.Symbol(k, integer=True, positive=True): n for k, n in SMALL[name].items()}
    leaves, loss = _explicit(name, SMALL[name], half)
    rng = random.Random(name)
    env, subs = {}, {}
    for key, leaf in leaves.items():
        if isinstance(leaf, sympy.Symbol):
            env[key] = rng.uniform(0.3, 1.2)
            subs[leaf] = env[key]
            continue
        values = np.array([[rng.uniform(-1.2, 1.2) for _ in range(leaf.cols)] for _ in range(leaf.rows)])
        if key == "y" and name == "softmax":
            values = np.abs(values) + 0.1
            values /= values.sum()
        if key == "y" and name == "bce":
            values = (values > 0).astype(float)
        env[key] = values
        subs.update({leaf[i, j]: values[i, j] for i in range(leaf.rows) for j in range(leaf.cols)})
    for p in s.parameters:
        ours = mx.evaluate(s.written[p], env, sizes)
        expected = np.array([[float(sympy.diff(loss, leaves[p][i, j]).evalf(subs=subs)) for j in range(leaves[p].cols)]
                             for i in range(leaves[p].rows)])
        assert ours.shape == expected.shape
        assert np.allclose(ours, expected, rtol=1e-9, atol=1e-12), (p, ours, expected)


@pytest.mark.parametrize("name", SUPPORTED)
def test_the_two_layouts_are_transposes_and_grow_in_opposite_directions(name):
    den, num = explain_vector(name, layout="denominator"), explain_vector(name, layout="numerator")
    assert den.check.passed and num.check.passed
    s = den.spec
    sizes = s.sizes[0]
    rng = random.Random(3)
    values = vector.forward(s, vector.random_values(s, sizes, rng), sizes)
    for a, b in zip(den.lines, num.lines):
        assert (a.kind, a.node, a.wrt) == (b.kind, b.node, b.wrt)
        if a.kind in ("local", "chain", "written"):
            assert np.allclose(mx.evaluate(a.rhs, values, sizes), mx.evaluate(b.rhs, values, sizes).T)
        if a.kind == "chain" and a.terms and a.terms[0][0][0] and a.terms[0][0][0][0] == "jacobian":
            assert b.terms[0][-1][0][0] == "jacobian"  # ∂r/∂w · ∂L/∂r against ∂L/∂r · ∂r/∂w
    assert "right to left" in den.to_text() and "grows to the right" in num.to_text()


def test_every_line_states_the_shapes_of_its_factors():
    text = explain_vector("mse").to_text()
    assert "∇_w L = (2/n) Xᵀ (X w + b 𝟏 − y) (d × 1; factors Xᵀ: d × n, X w + b 𝟏 − y: n × 1)" in text
    assert "∂L/∂w = ∂r/∂w · ∂L/∂r = Xᵀ ∂L/∂r = (2/n) Xᵀ r (d × 1; factors Xᵀ: d × n, ∂L/∂r: n × 1, r: n × 1)" in text
    mlp = explain_vector("mlp").to_text()
    assert "∂h/∂z = diag(h ⊙ (𝟏 − h)) (H × H)" in mlp
    assert "∂L/∂W = ∂L/∂z · xᵀ" in mlp and "(H × d;" in mlp
    num = explain_vector("mlp", layout="numerator").to_text()
    assert "∂L/∂W = x · ∂L/∂z" in num and "(d × H;" in num


def test_a_wrong_line_fails_the_check_and_exits_3(capsys, monkeypatch):
    original = vector._mse

    def planted(half):
        s = original(half)
        s.edges[1] = vector.Edge("r", "w", mx.Scalar(sympy.Integer(2)) * s.leaves["X"], note="linear")
        return s

    monkeypatch.setitem(vector.SPECS, "mse", planted)
    doc = explain_vector("mse")
    assert not doc.check.passed
    bad = [ln for ln in doc.lines if not ln.passed]
    assert [(ln.kind, ln.node, ln.wrt) for ln in bad] == [("local", "r", "w"), ("chain", "w", None)]
    code, out, err = run(capsys, "explain", "mse", "--form", "vector")
    assert code == 3 and "CHECK FAILED" in out


def test_other_losses_have_no_vector_form(capsys):
    code, out, err = run(capsys, "explain", "huber", "--form", "vector")
    assert code == 2 and "huber" in err
    code, out, err = run(capsys, "explain", "mse", "--form", "vector", "--wrt", "weight")
    assert code == 2 and "--wrt all" in err
    code, out, err = run(capsys, "explain", "mse", "--form", "scalar", "--wrt", "weight")
    assert code == 0 and "(2/n) Σ" in out  # scalar is the index form's old name


@pytest.mark.parametrize("fmt", ["markdown", "html", "json"])
def test_vector_form_renders(capsys, fmt):
    code, out, err = run(capsys, "explain", "bce", "--form", "vector", "--layout", "numerator", "--format", fmt)
    assert code == 0 and out.strip()
    if fmt == "html":
        assert "<math" in out and "⊙" in out
    if fmt == "json":
        import json

        data = json.loads(out)
        assert data["layout"] == "numerator" and data["check"]["passed"]


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed (Debian texlive-latex-base)")
@pytest.mark.parametrize("name", ["mlp", "softmax", "ridge"])
def test_vector_form_latex_compiles(tmp_path, name):
    (tmp_path / "v.tex").write_text(explain_vector(name, layout="numerator").to_latex(standalone=True))
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "v.tex"], cwd=tmp_path,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]


# -- NumPy --------------------------------------------------------------------------------------
def _fd(f, at, step=1e-6):
    at = np.asarray(at, float)
    out = np.zeros(at.size)
    for k in range(at.size):
        up, down = at.reshape(-1).copy(), at.reshape(-1).copy()
        up[k] += step
        down[k] -= step
        shape = at.shape
        out[k] = (f(up.reshape(shape) if shape else up[0]) - f(down.reshape(shape) if shape else down[0])) / (2 * step)
    return out.reshape(at.shape) if at.shape else out[0]


@pytest.mark.parametrize("name", SUPPORTED)
def test_numpy_code_runs_and_matches_finite_differences(name):
    code = numpy_form(name)
    assert code.check.passed and code.check.runs == 3
    fn = code.run()
    rng = np.random.default_rng(7)
    shapes = {"mse": [(4, 2), (9, 5)], "ridge": [(4, 2), (9, 5)], "bce": [(4, 2), (9, 5)],
              "softmax": [(4,), (10,)], "neuron": [(3,), (1,)], "mlp": [(2, 3), (6, 1)]}[name]
    for shape in shapes:
        if name in ("mse", "ridge", "bce"):
            n, d = shape
            args = [rng.normal(size=d), float(rng.normal()), rng.normal(size=(n, d)),
                    (rng.random(n) < 0.5).astype(float) if name == "bce" else rng.normal(size=n)]
            if name == "ridge":
                args.append(0.7)
        elif name == "softmax":
            y = rng.random(shape[0])
            args = [rng.normal(size=shape[0]), y / y.sum()]
        elif name == "neuron":
            d = shape[0]
            args = [rng.normal(size=d), float(rng.normal()), rng.normal(size=d), float(rng.normal())]
        else:
            H, d = shape
            args = [rng.normal(size=(H, d)), rng.normal(size=H), rng.normal(size=H), float(rng.normal()),
                    rng.normal(size=d), float(rng.normal())]
        loss, grads = fn(*args)
        for k, p in enumerate(code.spec.parameters):
            def loss_at(value, k=k):
                trial = list(args)
                trial[k] = value
                return fn(*trial)[0]

            assert np.shape(grads[p]) == np.shape(args[k]), p
            assert np.allclose(grads[p], _fd(loss_at, args[k]), rtol=1e-6, atol=1e-8), p


def test_numpy_form_is_runnable_as_printed(tmp_path, capsys):
    target = tmp_path / "mlp_gradient.py"
    code, out, err = run(capsys, "explain", "mlp", "--form", "numpy", "-o", str(target))
    assert code == 0
    script = f"""
import sys, numpy as np
sys.path.insert(0, {str(tmp_path)!r})
from mlp_gradient import mlp_loss_and_gradient
L, g = mlp_loss_and_gradient(np.ones((3, 2)), np.zeros(3), np.ones(3), 0.5, np.array([1.0, -1.0]), 2.0)
print(round(float(L), 6), g["W"].shape, g["b"].shape, np.shape(g["c"]))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    # h = σ(0) = ½ in every unit, ŷ = 3·½ + ½ = 2 = y, so the loss is 0
    assert done.stdout.split()[0] == "0.0" and "(3, 2) (3,) ()" in done.stdout
