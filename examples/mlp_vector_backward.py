"""Backpropagation for a hidden layer of H units, in NumPy: W is (H, d), b, v are (H,).

    derive gradcheck examples/mlp_vector_backward.py:backward --problem mlp --form vector

The same formulas as `derive explain mlp --form vector` (denominator layout: every
gradient has the shape of its parameter).
"""

import numpy as np


def backward(params, example):
    W, b, v, c = params["W"], params["b"], params["v"], params["c"]
    x, y = example["x"], example["y"]
    z = W @ x + b
    h = 1.0 / (1.0 + np.exp(-z))
    yhat = v @ h + c
    error = yhat - y
    d_error = 2 * error
    d_v = d_error * h
    d_c = d_error
    d_h = d_error * v
    d_z = d_h * h * (1 - h)
    return {"W": np.outer(d_z, x), "b": d_z, "v": d_v, "c": d_c, "h": d_h, "z": d_z}
