"""What every command shares: the click settings, and how a result reaches the reader
(printed, or written whole to a file; never a failed check into a file)."""

import math
import os
import sys

import click

from derive.errors import DeriveError
from derive.files import write_whole

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
TIME_LIMIT = 60  # seconds for one command: bounded input should never come near it
TIME_LIMIT_VARIABLE = "DERIVE_TIME_LIMIT"  # a user's own bound, in seconds


def time_limit_seconds():
    """The bound on one command: ``DERIVE_TIME_LIMIT`` seconds when set, else 60."""
    text = os.environ.get(TIME_LIMIT_VARIABLE, "").strip()
    if not text:
        return TIME_LIMIT
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise DeriveError(f"{TIME_LIMIT_VARIABLE} must be a number of seconds greater than 0, "
                          f"as in {TIME_LIMIT_VARIABLE}=120")
    return seconds


def bounded(what):
    """The whole of a command's work under one time bound; running out is one clear line.

    ``what`` finishes the sentence "gave up after 60 s: …" (say what was too large)."""
    from derive.limits import Bound, TimeLimit

    class CommandBound(Bound):
        """A bound whose expiry leaves its ``with`` as a DeriveError (a class, not a
        generator: nothing stands between the work and the bound's own exit)."""

        def __exit__(self, kind, error, traceback):
            try:
                quiet = super().__exit__(kind, error, traceback)
            except TimeLimit as expired:
                error, quiet = expired, False
            if isinstance(error, TimeLimit) and error.bound is self:
                raise DeriveError(f"gave up after {self.seconds:g} s: {what} (set {TIME_LIMIT_VARIABLE} to "
                                  "allow longer)") from None
            return quiet

    return CommandBound(time_limit_seconds())


def color_wanted():
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def deliver(text, output, failed, why):
    """Print or write an explanation; one that failed its check goes to the terminal only,
    loudly, and never into a file that may be handed out (exit 3)."""
    if failed:
        click.echo(text, nl=not text.endswith("\n"))
        click.echo(f"Error: {why}", err=True)
        sys.exit(3)
    if output:
        write_whole(output, text)
        click.echo(f"Wrote {output}", err=True)
    else:
        click.echo(text, nl=not text.endswith("\n"))
