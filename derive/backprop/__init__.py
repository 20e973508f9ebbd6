"""Backpropagation you can see and check.

``graph``: the computation graph of a loss, from a problem's named intermediates, the
user's ``--let`` names, or derive's own decomposition (u₁, u₂, …), with the local
derivative on every edge. ``passes``: the forward values and the backward ∂L/∂node at a
point, each checked against the symbolic gradient and a finite difference (and PyTorch,
where it is installed). ``draw``: the graph through Graphviz (SVG, PDF, PNG) and as TikZ.
``numpy_form``: runnable NumPy code from the vector derivations. ``gradcheck``: a learner's
own gradient code against all of that, run in a child process.
"""
