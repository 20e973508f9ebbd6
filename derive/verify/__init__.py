"""Checking against numbers: derive's own evaluator (``numeric``) and the check of every
step of a derivation (``check``)."""
