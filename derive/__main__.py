"""``python -m derive`` runs the command line."""

from .cli import console

console()
