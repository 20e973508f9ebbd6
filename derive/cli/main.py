"""The ``derive`` command: the group, its entry point, and one line for every error.

Every failure the user can cause ends as one line, ``Error: …``, and exit code 2; a
derivation that fails its own numeric check exits 3. Never a traceback. Each command
lives in a module of its own (``explain``, ``handout``, ``catalog``, ``check``,
``descend``); no command imports another.
"""

import sys

import click

from derive import __version__, startup
from derive.cli.output import CONTEXT
from derive.errors import DeriveError


@click.group(context_settings=CONTEXT, invoke_without_command=True)
@click.version_option(__version__, "-V", "--version", prog_name="derive",
                      message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx):
    """Derivatives explained step by step, the way a teacher writes them, and checked
    against numbers.

    \b
    Examples:
      derive explain mse --wrt weight
      derive explain "sin(x^2)" --wrt x
      derive explain "(w*x + b - y)^2" --wrt w --format markdown
      derive list

    Each command has its own help: derive explain --help.

    \b
    Environment:
      DERIVE_TIME_LIMIT=SECONDS    the bound on one command (60 s by default)
      DERIVE_TEX_ENGINE=pdflatex   the TeX engine for PDFs (latexmk when installed, else pdflatex)
    """
    if ctx.invoked_subcommand is None:  # bare `derive`: the help, as a request for it, not an error
        click.echo(ctx.get_help())
        ctx.exit(0)


def _register_commands():
    """Each command from its own module (their heavy imports stay inside the commands)."""
    from derive.cli.catalog import list_problems
    from derive.cli.check import check
    from derive.cli.descend import descend
    from derive.cli.explain import explain
    from derive.cli.gradcheck import gradcheck
    from derive.cli.grade import grade
    from derive.cli.graph import graph
    from derive.cli.handout import handout
    from derive.cli.variants import variants

    for command in (explain, handout, list_problems, check, grade, descend, variants, graph, gradcheck):
        cli.add_command(command)


_register_commands()


def _say(message):
    """One line on standard error; whatever a user's value brought along (ESC, newlines,
    bidirectional overrides) is shown as an escape, never sent to the terminal."""
    from derive.render.escape import terminal_text

    click.echo(f"Error: {terminal_text(message)}", err=True)


def main(argv=None):
    """The console script: run the CLI, turning every error into one line."""
    from derive.errors import VOICE

    voice = VOICE.set("cli")  # errors name options as typed here (--wrt), not as Python arguments
    try:
        _main(argv)
    finally:
        VOICE.reset(voice)


def _main(argv):
    try:
        cli.main(args=argv, prog_name="derive", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.exceptions.Abort:
        _say("interrupted")
        sys.exit(130)
    except click.UsageError as error:
        hint = f" (see '{_command_path(error, argv)} --help')"
        _say(f"{error.format_message()}{hint}")
        sys.exit(2)
    except click.ClickException as error:
        _say(error.format_message())
        sys.exit(error.exit_code)
    except DeriveError as error:
        _say(error)
        sys.exit(error.exit_code)
    except RecursionError:
        _say("the expression is nested too deeply to explain")
        sys.exit(2)
    except MemoryError:
        _say("the expression is too large to explain")
        sys.exit(2)
    except BrokenPipeError:  # the reader went away (derive … | head): nothing to say to it
        sys.exit(1)
    except OSError as error:  # the machine's, not ours: a full disk, a folder that went away
        where = f" ({error.filename})" if error.filename else ""
        _say(f"{error.strerror or error}{where}")
        sys.exit(2)
    except Exception as error:  # a bug of ours: still one line, and say where to report it
        _say(f"internal error ({type(error).__name__}: {error}); please report it")
        sys.exit(1)
    sys.exit(0)


def _command_path(error, argv):
    """The command whose help answers a usage error: click leaves some errors (an option
    given no value) without their command, so it is read off the arguments."""
    if error.ctx is not None:
        return error.ctx.command_path
    args = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in args if not a.startswith("-")), None)
    return f"derive {command}" if command in cli.commands else "derive"


def console():
    """The ``derive`` script and ``python -m derive``: :func:`main`, started and ended
    without the costs a one-shot process need not pay (see :mod:`derive.startup`)."""
    startup.pause_collection()
    try:
        main()
    except SystemExit as stop:
        code = startup.exit_code(stop)
    except KeyboardInterrupt:
        _say("interrupted")
        code = 130
    startup.exit_now(code)


if __name__ == "__main__":
    console()
