"""Backpropagation by hand for derive's mlp: ŷ = v·σ(w x + b) + c, L = (ŷ − y)².

Check it with:
    derive gradcheck examples/mlp_backward.py:backward --problem mlp
    derive gradcheck examples/mlp_backward.py:backward_mean --problem mlp --mean

Each function takes the parameters and an example (dicts of numbers, or of arrays for a
mean over n examples) and returns the gradient of the loss by name: every parameter and,
so that a mistake is found where it is made, the intermediates too.
"""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def backward(params, example):
    """One example: every step of the backward pass, from the loss back."""
    w, b, v, c = params["w"], params["b"], params["v"], params["c"]
    x, y = example["x"], example["y"]
    # forward
    z = w * x + b
    h = sigmoid(z)
    yhat = v * h + c
    error = yhat - y
    # backward: each gradient from the one after it
    d_error = 2 * error          # ∂L/∂error, the power rule
    d_yhat = d_error * 1         # ∂error/∂ŷ = 1
    d_v = d_yhat * h             # ∂ŷ/∂v = h
    d_c = d_yhat                 # ∂ŷ/∂c = 1
    d_h = d_yhat * v             # ∂ŷ/∂h = v
    d_z = d_h * h * (1 - h)      # ∂h/∂z = σ′(z) = h (1 − h)
    d_w = d_z * x                # ∂z/∂w = x
    d_b = d_z                    # ∂z/∂b = 1
    return {"w": d_w, "b": d_b, "v": d_v, "c": d_c,
            "error": d_error, "yhat": d_yhat, "h": d_h, "z": d_z}


def backward_mean(params, example):
    """The mean over n examples: x and y are arrays; each parameter's gradient is a sum."""
    w, b, v, c = params["w"], params["b"], params["v"], params["c"]
    x, y = example["x"], example["y"]
    n = len(x)
    z = w * x + b
    h = sigmoid(z)
    yhat = v * h + c
    error = yhat - y
    d_error = 2 * error / n      # the 1/n of the mean
    d_yhat = d_error
    d_h = d_yhat * v
    d_z = d_h * h * (1 - h)
    return {"w": np.sum(d_z * x), "b": np.sum(d_z), "v": np.sum(d_yhat * h), "c": np.sum(d_yhat),
            "error": d_error, "yhat": d_yhat, "h": d_h, "z": d_z}
