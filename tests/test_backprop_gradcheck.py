"""derive gradcheck on learners' backward passes: a correct one passes, and each planted
bug is found at the node where it was made, named in derive's vocabulary.

The reference the learner is compared with is derive's own graph, itself checked here
against hand-written backpropagation (tests/test_backprop_graph.py) and sympy.diff."""

import os
import sys
import textwrap

import numpy as np
import pytest

from derive.backprop.gradcheck import gradcheck
from derive.cli.main import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")


def run(capsys, *argv):
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    out, err = capsys.readouterr()
    return done.value.code, out, err


def _forward(params, example):
    w, b, v, c = params["w"], params["b"], params["v"], params["c"]
    x, y = example["x"], example["y"]
    z = w * x + b
    h = 1 / (1 + np.exp(-z))
    yhat = v * h + c
    return x, y, z, h, yhat


def correct(params, example, *, n=1, sign=1, slope=True, activation=None):
    """The mlp's backward pass, with the planted bugs as switches."""
    x, y, z, h, yhat = _forward(params, example)
    error = sign * (yhat - y)
    d_error = 2 * error / n
    d_yhat = d_error
    d_h = d_yhat * params["v"]
    d_z = d_h * h * (1 - h) if slope else d_h
    used = h if activation is None else activation(x, z, h)
    total = np.sum if np.ndim(x) else (lambda a: a)
    return {"w": total(d_z * x), "b": total(d_z), "v": total(d_yhat * used), "c": total(d_yhat),
            "error": d_error, "yhat": d_yhat, "h": d_h, "z": d_z}


def missing_slope(params, example):
    return correct(params, example, slope=False)


def error_sign(params, example):
    return correct(params, example, sign=-1)


def wrong_activation(params, example):
    return correct(params, example, activation=lambda x, z, h: z)  # ∂ŷ/∂v with z in place of h


def mean_correct(params, example):
    return correct(params, example, n=len(example["x"]))


def mean_missing_n(params, example):
    return correct(params, example, n=1)


def mean_unsummed_bias(params, example):
    g = mean_correct(params, example)
    x, y, z, h, yhat = _forward(params, example)
    g["b"] = g["z"]  # one value per example, never added up
    return g


def only_parameters_missing_slope(params, example):
    g = missing_slope(params, example)
    return {k: g[k] for k in ("w", "b", "v", "c")}


def test_a_correct_backward_pass_passes():
    report = gradcheck(correct, "mlp")
    assert report.passed and report.outcome == "passed"
    assert [r.family.key for r in report.rows] == ["error", "yhat", "v", "c", "h", "z", "w", "b"]
    assert all(r.agrees for r in report.rows)
    # derive's numbers are the hand-computed backpropagation, not just self-consistent
    row = next(r for r in report.rows if r.family.key == "z")
    assert np.allclose(row.yours, row.derive) and np.allclose(row.derive, row.finite_difference, rtol=1e-9)


@pytest.mark.parametrize("learner, problem, mean, node, kind", [
    (missing_slope, "mlp", None, "z", "missing_factor"),
    (error_sign, "mlp", None, "error", "sign"),
    (wrong_activation, "mlp", None, "v", "wrong_node"),
    (mean_missing_n, "mlp", True, "error", "missing_1_over_n"),
    (mean_unsummed_bias, "mlp", True, "b", "unsummed"),
    (only_parameters_missing_slope, "mlp", None, "w", "missing_factor"),
])
def test_each_planted_bug_is_found_at_its_node(learner, problem, mean, node, kind):
    report = gradcheck(learner, problem, mean=mean)
    assert not report.passed
    assert report.first.family.key == node
    assert report.diagnosis.kind == kind
    if kind in ("missing_factor",):
        edge = report.diagnosis.detail["edge"]
        assert (edge.source.name, edge.target.name) == ("z", "h")  # σ′ is the local derivative on z → h
    if kind == "wrong_node":
        assert report.diagnosis.detail["used"].name == "z" and report.diagnosis.detail["instead"].name == "h"
    text = report.to_text()
    assert "first node that disagrees" in text and "Likely mistake" in text


def test_the_correct_mean_version_passes():
    assert gradcheck(mean_correct, "mlp", mean=True).passed


def test_the_shipped_examples(capsys):
    code, out, err = run(capsys, "gradcheck", f"{EXAMPLES}/mlp_backward.py:backward", "--problem", "mlp")
    assert code == 0 and "Passed" in out
    code, out, err = run(capsys, "gradcheck", f"{EXAMPLES}/mlp_backward.py:backward_mean", "--problem", "mlp", "--mean")
    assert code == 0 and "Passed" in out
    code, out, err = run(capsys, "gradcheck", f"{EXAMPLES}/mlp_backward_wrong.py:backward", "--problem", "mlp")
    assert code == 1 and "is ∂L/∂z" in out and "∂h/∂z = h (1 − h)" in out
    code, out, err = run(capsys, "gradcheck", f"{EXAMPLES}/mlp_vector_backward.py:backward", "--problem", "mlp",
                         "--form", "vector", "--format", "json")
    import json

    assert code == 0 and json.loads(out)["passed"]


# -- vector form: transposed, unsummed, a missing factor -------------------------------------------
def vector_backward(params, example, transpose=False, slope=True):
    W, b, v, c = (np.asarray(params[k]) for k in ("W", "b", "v", "c"))
    x, y = np.asarray(example["x"]), example["y"]
    z = W @ x + b
    h = 1 / (1 + np.exp(-z))
    d_error = 2 * (v @ h + c - y)
    d_z = d_error * v * h * (1 - h) if slope else d_error * v
    d_W = np.outer(d_z, x)
    return {"W": d_W.T if transpose else d_W, "b": d_z, "v": d_error * h, "c": d_error, "z": d_z}


def vector_transposed(params, example):
    return vector_backward(params, example, transpose=True)


def vector_no_slope(params, example):
    return vector_backward(params, example, slope=False)


def test_vector_form_finds_a_transposed_weight_gradient_and_a_missing_slope():
    assert gradcheck(vector_backward, "mlp", form="vector").passed
    report = gradcheck(vector_transposed, "mlp", form="vector")
    assert (report.first.family.key, report.diagnosis.kind) == ("W", "transposed")
    report = gradcheck(vector_no_slope, "mlp", form="vector")
    assert (report.first.family.key, report.diagnosis.kind) == ("z", "missing_factor")
    assert report.diagnosis.detail["factor"] == "h ⊙ (𝟏 − h)"


def mse_vector(params, example):
    X, y, w, b = (np.asarray(example["X"]), np.asarray(example["y"]), np.asarray(params["w"]), params["b"])
    r = X @ w + b - y
    n = len(y)
    return {"w": 2 / n * X.T @ r, "b": 2 / n * r}  # b left as one value per example


def test_an_unsummed_bias_in_vector_mse():
    report = gradcheck(mse_vector, "mse", form="vector")
    assert (report.first.family.key, report.diagnosis.kind) == ("b", "unsummed")


# -- what goes wrong before any number -------------------------------------------------------------
def _learner_file(tmp_path, body):
    path = tmp_path / "learner.py"
    path.write_text(textwrap.dedent(body))
    return f"{path}:backward"


@pytest.mark.parametrize("body, outcome, says", [
    ("def backward(params, example):\n    return 1 / 0\n", "crash", "ZeroDivisionError"),
    ("def backward(params, example):\n    while True:\n        pass\n", "timeout", "did not finish"),
    ("def backward(params, example):\n    return [1, 2]\n", "type", "returned a list"),
    ("def backward(params, example:\n    pass\n", "import", "SyntaxError"),
    ("def forward(params, example):\n    return {}\n", "missing", "defines forward"),
    ("def backward(params, example):\n    return {'w': 1.0}\n", "absent", "no gradient for v, c, b"),
    ("def backward(params, example):\n    return {'w': 'x', 'b': 1, 'v': 1, 'c': 1}\n", "nonnumeric", "not a number"),
    ("def backward(params, example):\n    print('hello from the learner')\n    return {'w': [1.0, 2.0], 'b': [0, 0], 'v': [0, 0], 'c': [0, 0]}\n",
     "shape", "wrong shape"),
    ("def backward(params, example):\n    x = bytearray(8 * 1024 ** 3)\n    return {}\n", "memory", "memory"),
])
def test_failures_are_one_clear_verdict(tmp_path, body, outcome, says):
    report = gradcheck(_learner_file(tmp_path, body), "mlp", timeout=2)
    assert report.outcome == outcome and not report.passed
    verdict = [line for line in report.to_text().splitlines() if line and not line.startswith(("Gradient check", " "))]
    assert says in report.to_text() and len(verdict[0]) < 300
    if outcome == "shape":
        assert "hello from the learner" in report.to_text()  # what it printed is shown, not lost


def test_a_hang_in_a_python_function_is_stopped_too():
    def spins(params, example):
        while True:
            pass

    report = gradcheck(spins, "mlp", timeout=1)
    assert report.outcome == "timeout"


def test_bad_targets_are_errors(capsys, tmp_path):
    code, out, err = run(capsys, "gradcheck", str(tmp_path / "none.py") + ":f", "--problem", "mlp")
    assert code == 2 and err.startswith("Error: no such file")
    code, out, err = run(capsys, "gradcheck", "mlp.py", "--problem", "mlp")
    assert code == 2 and "FILE.py:FUNCTION" in err
    code, out, err = run(capsys, "gradcheck", f"{EXAMPLES}/mlp_backward.py:backward", "--problem", "huber",
                         "--form", "vector")
    assert code == 2 and "huber" in err
