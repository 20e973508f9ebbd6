"""The errors a user can cause, each one line long and carrying the exit code the CLI uses."""


class DeriveError(Exception):
    """Something the user can fix: the CLI prints ``Error: <message>`` and exits with ``exit_code``."""

    exit_code = 2


class ParseError(DeriveError, ValueError):
    """User text that the parser refuses; ``position`` is the 1-based column, when known."""

    def __init__(self, message, position=None):
        self.position = position
        where = f" at column {position}" if position is not None else ""
        super().__init__(message.replace("{where}", where))


class CheckFailed(DeriveError):
    """A derivation failed its own numeric check: never shown as if it were right."""

    exit_code = 3


# Errors speak the caller's language: the command line's options (--wrt weight) or the
# Python API's arguments (wrt="weight"). The CLI switches the voice for its own run.
import contextvars  # noqa: E402

VOICE = contextvars.ContextVar("derive_voice", default="python")

_OPTIONS = {
    "wrt": ("--wrt", "wrt="), "let": ("--let", "let="), "order": ("--order", "order="),
    "half": ("--half", "half=True"), "mean": ("--mean/--per-example", "mean="),
    "learning_rate": ("--learning-rate", "learning_rate="), "hessian": ("--hessian", "hessian=True"),
    "form": ("--form", "form="), "simplify_first": ("--simplify-first", "simplify_first=True"),
}


def option(name):
    """How the caller names an option: ``--wrt`` on the command line, ``wrt=`` in Python."""
    cli, python = _OPTIONS[name]
    return cli if VOICE.get() == "cli" else python


def option_value(name, value):
    """An option with a value, as the caller writes it: ``--wrt x`` or ``wrt="x"``."""
    cli, python = _OPTIONS[name]
    return f"{cli} {value}" if VOICE.get() == "cli" else f'{python}"{value}"'
