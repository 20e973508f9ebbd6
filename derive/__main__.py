"""``python -m derive`` runs the command line."""

from derive.cli.main import console

console()
