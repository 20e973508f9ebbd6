"""What every command shares: the click settings, and how a result reaches the reader
(printed, or written whole to a file; never a failed check into a file)."""

import os
import sys

import click

from derive.files import write_whole

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
TIME_LIMIT = 60  # seconds for one command: bounded input should never come near it


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
