"""Gradient descent worked with numbers: the lesson's four steps, run on real data.

``data`` reads or makes the points, ``compile`` turns the engine's symbolic gradient into
NumPy code once, ``run`` takes the steps and checks them, ``report`` says it in each
format and ``plot`` draws it.

>>> from derive.descend import descend, synthetic
>>> run = descend("mse", synthetic(50, seed=7), learning_rate=0.1, steps=2000, seed=7)
>>> run.converged, run.closed_form.agrees
(True, True)
"""

from derive.descend.compile import Compiled, compile_model
from derive.descend.data import Data, from_arrays, load_csv, synthetic
from derive.descend.plot import plot
from derive.descend.report import data_uri, render, words, writer
from derive.descend.rounding import Numbers, fmt_number
from derive.descend.run import (
    STATUSES, SUPPORTED, ClosedForm, Descent, GradientCheck, History, check_gradient, closed_form, descend,
    get_descent_problem, iterate,
)

__all__ = [
    "STATUSES", "SUPPORTED", "ClosedForm", "Compiled", "Data", "Descent", "GradientCheck", "History",
    "Numbers", "check_gradient", "closed_form", "compile_model", "data_uri", "descend", "fmt_number",
    "from_arrays", "get_descent_problem", "iterate", "load_csv", "plot", "render", "synthetic", "writer",
    "words",
]
