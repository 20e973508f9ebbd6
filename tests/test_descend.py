"""`derive descend`: gradient descent worked with numbers, checked against numbers."""

import json
import math

import numpy as np
import pytest
import sympy
from click.testing import CliRunner

from derive.derivation import gradient
from derive.descend import Compiled, check_gradient, descend as run_descent, from_arrays, get_descent_problem, render, synthetic
from derive.cli.descend import descend


def invoke(*argv):
    return CliRunner().invoke(descend, list(argv))


@pytest.mark.parametrize("name", ["mse", "ridge", "bce", "mae", "huber", "relu"])
def test_compiled_gradient_equals_sympy_and_finite_difference(name):
    problem = get_descent_problem(name)
    g = gradient(name, mean=True, check=False)
    data = synthetic(5, seed=2, labels=problem.labels)
    hyper = {"lambda": 0.3, "delta": 0.7}
    compiled = Compiled(problem, [d.result for d in g.derivations], data, hyper)
    theta = [0.4, -0.3]
    loss, grad = compiled.value_and_gradient(theta)
    # independently: SymPy evalf of each partial with the numbers substituted
    subs = {p.symbol: v for p, v in zip(problem.parameters, theta)}
    subs.update({sym: hyper[key] for key, sym in problem.hyper.items()})
    subs[problem.size] = data.n
    for d, value in zip(g.derivations, grad):
        expr = d.result.subs(subs).doit()
        expr = expr.subs({problem.data["x"][k]: data.x[k - 1] for k in range(1, 6)})
        expr = expr.subs({problem.data["y"][k]: data.y[k - 1] for k in range(1, 6)})
        assert float(expr.evalf(30)) == pytest.approx(value, rel=1e-9, abs=1e-12)
    assert check_gradient(compiled, theta).passed


def test_mse_converges_to_the_closed_form_computed_with_lstsq():
    data = synthetic(40, seed=3)
    run = run_descent("mse", data, learning_rate=0.1, steps=5000, seed=1, tol=1e-14)
    assert run.converged
    (w, b), *_ = np.linalg.lstsq(np.column_stack([data.x, np.ones(40)]), data.y, rcond=None)
    assert run.final["weight"] == pytest.approx(w, abs=1e-4)
    assert run.final["bias"] == pytest.approx(b, abs=1e-4)
    assert run.closed_form.agrees and run.check_passed


def test_ridge_matches_its_closed_form_with_the_penalty():
    data = synthetic(30, seed=4)
    lam = 0.5
    run = run_descent("ridge", data, learning_rate=0.1, steps=5000, seed=1, tol=1e-14, hyper={"lambda": lam})
    x, y, n = data.x, data.y, data.n
    # minimise (1/n) Σ (w x + b − y)² + λ w²: set both partials to zero
    a = np.array([[x @ x / n + lam, x.mean()], [x.mean(), 1.0]])
    w, b = np.linalg.solve(a, [x @ y / n, y.mean()])
    assert run.final["weight"] == pytest.approx(w, abs=1e-4)
    assert run.final["bias"] == pytest.approx(b, abs=1e-4)
    assert run.closed_form.agrees


def test_loss_never_grows_for_a_small_learning_rate():
    run = run_descent("mse", synthetic(25, seed=5), learning_rate=0.01, steps=300, seed=2)
    losses = [h["loss"] for h in run.history]
    assert all(b <= a + 1e-15 for a, b in zip(losses, losses[1:]))
    assert not run.diverging


def test_bce_runs_and_has_no_closed_form():
    run = run_descent("bce", synthetic(60, seed=6, labels="binary"), learning_rate=0.5, steps=300, seed=0)
    assert run.closed_form is None and run.check_passed
    assert run.final["loss"] < run.start["loss"]


def test_a_diverging_descent_says_so_in_words_json_and_exit_code_4():
    data = synthetic(20, seed=0)
    result = invoke("mse", "--synthetic", "20", "--learning-rate", "5", "--steps", "30")
    assert result.exit_code == 4, result.output
    out = result.output
    assert "(diverged)" in out and "Diverged: the loss grew" in out
    assert "larger learning rate" not in out and "would go further" not in out  # no advice to go faster
    # the suggestion comes from the curvature: 1/λmax of the Hessian of the mean squared error,
    # (2/n)[[Σx², Σx], [Σx, n]], computed here independently of derive
    x = data.x
    hessian = 2 / x.size * np.array([[x @ x, x.sum()], [x.sum(), x.size]])
    steady = 1 / np.linalg.eigvalsh(hessian).max()
    suggested = float(f"{math.floor(steady / 10 ** math.floor(math.log10(steady))) * 10 ** math.floor(math.log10(steady)):.1g}")
    assert f"such as {suggested:g}" in out and suggested < 5
    doc = json.loads(invoke("mse", "--synthetic", "20", "--learning-rate", "5", "--steps", "30",
                            "--format", "json").stdout)
    assert doc["status"] == "diverged" and doc["diverged"] is True and doc["converged"] is False


def test_text_output_shows_the_four_steps_with_numbers(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("x,y\n1,5.1\n2,8.2\n3,10.9\n4,14.2\n")
    result = invoke("mse", "--data", str(path), "--steps", "3000", "--seed", "7")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "∂L/∂w = (2/n) Σᵢ₌₁ⁿ (b + w xᵢ − yᵢ) xᵢ" in out
    # the first step by hand, from numpy: the start, each error, the sums, the partials, the update
    w, b = np.random.default_rng(7).uniform(-1, 1, 2)
    x, y = np.array([1.0, 2, 3, 4]), np.array([5.1, 8.2, 10.9, 14.2])
    e = w * x + b - y
    gw, gb = 2 / 4 * (e @ x), 2 / 4 * e.sum()
    g = lambda v: f"{v:.4g}".replace("-", "−")  # noqa: E731 - four significant digits, a true minus
    block = out[out.index("Example by example"):out.index("So, with these sums")].splitlines()[2:]
    table = [line.split() for line in block if line.strip()]
    assert table[0] == ["i", "xᵢ", "yᵢ", "ŷᵢ", "eᵢ", "eᵢ", "xᵢ"]
    assert [row[-2:] for row in table[1:5]] == [[g(ei), g(ei * xi)] for ei, xi in zip(e, x)]
    assert table[5] == ["Σ", g(e.sum()), g(e @ x)]
    assert f"∂L/∂w = (2/n) Σᵢ₌₁ⁿ eᵢ xᵢ = (2/4)·({g(e @ x)}) = {g(gw)}" in out
    assert f"∂L/∂b = (2/n) Σᵢ₌₁ⁿ eᵢ = (2/4)·({g(e.sum())}) = {g(gb)}" in out
    assert f"w ← w − α·∂L/∂w = {g(w)} − 0.05·({g(gw)}) = {g(w - 0.05 * gw)}" in out
    assert "Closed form" in out and "agrees" in out and "(converged)" in out
    assert "central finite difference" in out and "FAILED" not in out


def test_json_keys():
    result = invoke("ridge", "--synthetic", "30", "--format", "json", "--steps", "50", "--lambda", "0.2")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    for key in ("final", "history", "closed_form", "start"):
        assert key in doc
    assert set(doc["final"]) == {"weight", "bias", "loss"}
    assert {"step", "weight", "bias", "loss", "dL/dweight", "dL/dbias"} <= set(doc["history"][0])
    assert len(doc["history"]) == doc["steps_run"] + 1
    assert doc["hyper"] == {"lambda": 0.2} and doc["checks"]["passed"]


@pytest.mark.parametrize("content, words", [
    ("", "is empty"),
    ("a,b\n1,2\n", "no column 'x'"),
    ("x,y\n1,2\n3,abc\n", "line 3: the y cell is not a number (column 2)"),  # never the cell itself
    ("x,y\n1,2\nnan,3\n", "line 3: the x cell is not a finite number"),
    ("x,y\n1,inf\n", "not a finite number"),
    ("x,y\n", "no rows of data"),
    ("x,y\n1\n", "line 2: the y cell is missing"),
])
def test_bad_data_is_one_error_line_exit_2(tmp_path, content, words):
    path = tmp_path / "d.csv"
    path.write_text(content)
    result = invoke("mse", "--data", str(path))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and words in lines[0], result.output


@pytest.mark.parametrize("argv, words", [
    (["mse"], "--data FILE.csv, or make some with --synthetic"),
    (["softmax", "--synthetic", "5"], "cannot run 'softmax'"),
    (["mse", "--synthetic", "5", "--lambda", "0.1"], "mse has no lambda"),
    (["mse", "--data", "/nonexistent/p.csv"], "cannot read"),
])
def test_bad_options_exit_2(argv, words):
    result = invoke(*argv)
    assert result.exit_code == 2 and words in result.output, result.output


def test_bce_labels_must_be_probabilities(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x,y\n1,0\n2,3\n")
    result = invoke("bce", "--data", str(path))
    assert result.exit_code == 2 and "labels between 0 and 1" in result.output


def test_plot_is_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "p.png"
    result = invoke("mse", "--synthetic", "20", "--plot", str(png), "--steps", "50")
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".derive-")]


def test_missing_matplotlib_names_the_extra(monkeypatch, tmp_path):
    import builtins

    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
    result = invoke("mse", "--synthetic", "5", "--plot", str(tmp_path / "p.png"), "--steps", "3")
    assert result.exit_code == 2 and "pip install 'derive[plot]'" in result.output


@pytest.mark.parametrize("fmt", ["text", "markdown", "latex"])
@pytest.mark.parametrize("name", ["mse", "bce", "huber"])
def test_each_template_renders(fmt, name):
    problem = get_descent_problem(name)
    run = run_descent(name, synthetic(6, seed=1, labels=problem.labels), steps=20, seed=3)
    text = render(run, fmt)
    assert "weight" in text and "Closed form" in text or "no closed form" in text
    if fmt == "latex":
        assert "{{" not in text and "<<" not in text
    full = render(run, "latex", standalone=True)
    assert full.startswith("\\documentclass") and full.rstrip().endswith("\\end{document}")


def test_gradient_check_failure_exits_3(failing_gradient_check):
    result = invoke("mse", "--synthetic", "5", "--steps", "3")
    assert result.exit_code == 3 and "FAILED" in result.output


def test_from_arrays_rejects_nan():
    with pytest.raises(Exception, match="not a finite number"):
        from_arrays([1.0, math.nan], [1.0, 2.0])
