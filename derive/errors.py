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
