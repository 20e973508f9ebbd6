"""A backward pass with a mistake in it, for derive gradcheck to find:

    derive gradcheck examples/mlp_backward_wrong.py:backward --problem mlp

(It forgets the slope of the sigmoid, σ′(z) = h (1 − h), a classic slip.)
"""

import numpy as np


def backward(params, example):
    w, b, v, c = params["w"], params["b"], params["v"], params["c"]
    x, y = example["x"], example["y"]
    z = w * x + b
    h = 1.0 / (1.0 + np.exp(-z))
    yhat = v * h + c
    error = yhat - y
    d_error = 2 * error
    d_yhat = d_error
    d_v = d_yhat * h
    d_c = d_yhat
    d_h = d_yhat * v
    d_z = d_h                    # the mistake: ∂h/∂z = h (1 − h) is left out
    return {"w": d_z * x, "b": d_z, "v": d_v, "c": d_c,
            "error": d_error, "yhat": d_yhat, "h": d_h, "z": d_z}
