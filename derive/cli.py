"""The ``derive`` command. Commands are thin: read the options, call the library, print.

Every failure the user can cause ends as one line, ``Error: …``, and exit code 2; a
derivation that fails its own numeric check exits 3. Never a traceback.
"""

import os
import sys

import click

from . import __version__, startup
from .errors import DeriveError
from .files import write_whole

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
TIME_LIMIT = 60  # seconds for one command: bounded input should never come near it


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="derive",
                      message="%(prog)s %(version)s")
def cli():
    """Derivatives explained step by step, the way a teacher writes them, and checked
    against numbers.

    \b
    Examples:
      derive explain mse --wrt weight
      derive explain "sin(x^2)" --wrt x
      derive explain "(w*x + b - y)^2" --wrt w --format markdown
      derive list
    """


@cli.command(context_settings=CONTEXT)
@click.argument("expression")
@click.option("--wrt", metavar="NAME[,NAME…]",
              help="What to differentiate by: a variable, a problem's parameter (weight or w), "
                   "several separated by commas, or all (then the gradient and the update).")
@click.option("--let", "lets", metavar='"NAME = EXPR"', multiple=True,
              help="Name a part of the expression; the chain rule then passes through your names. Repeatable.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "latex", "json"]),
              default="text", show_default=True, help="How to write the explanation.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Write to this file (whole, or not at all) instead of the terminal.")
@click.option("--standalone", is_flag=True,
              help="With --format latex: a complete document that compiles with pdflatex.")
@click.option("--order", type=click.IntRange(1, 2), default=1, show_default=True,
              help="2 differentiates the first derivative again, showing both stages.")
@click.option("--hessian", is_flag=True,
              help="For a named problem: the matrix of second partials over its parameters.")
@click.option("--form", type=click.Choice(["scalar", "vector"]), default="scalar", show_default=True,
              help="vector: the matrix-calculus form, ∇w L = (2/n) Xᵀ(Xw + b·1 − y), for mse and ridge.")
@click.option("--half", is_flag=True, default=None,
              help="Put ½ in front of a squared error, so the 2 of the power rule cancels.")
@click.option("--per-example/--mean", "per_example", default=None,
              help="The loss of one example (x, y), or the mean over n examples (each loss's default: see derive list).")
@click.option("--learning-rate", "rate", type=click.Choice(["alpha", "eta"]), default="alpha",
              show_default=True, help="The learning rate's symbol in the update: α or η.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True,
              help="Seed of the random points of the numeric check.")
def explain(expression, wrt, lets, fmt, output, standalone, order, hessian, form, half, per_example, rate, seed):
    """Explain the derivative of EXPRESSION step by step, and check it against numbers.

    EXPRESSION is a formula such as "sin(x^2)" or "exp(2x) cos(x)" (^ or ** for powers,
    2x for 2*x), or a named problem from `derive list`: mse, mae, bce, ridge, huber,
    relu, softmax, neuron, mlp.

    \b
    Examples:
      derive explain mse --wrt weight
      derive explain mse --wrt weight,bias          # the gradient and the update
      derive explain bce --wrt all --learning-rate eta
      derive explain "sin(x^2)" --wrt x
      derive explain "(w*x + b - y)^2" --wrt w --format markdown
      derive explain "exp(2x) cos(x)" --wrt x --format latex -o steps.tex
      derive explain "x**x" --wrt x --format json
      derive explain "error^2" --let "error = yhat - y" --let "yhat = weight*x + bias" --wrt weight
      derive explain "sin(x^2)" --order 2
      derive explain mse --wrt all --hessian
      derive explain mse --form vector

    Exit codes: 0 explained and checked; 2 bad input; 3 the numeric check failed.
    """
    from .derivation import explain as explain_one, gradient
    from .limits import TimeLimit, time_limit

    startup.imports_done()

    mean = None if per_example is None else not per_example
    conventions = dict(let=list(lets) or None, half=half or None, mean=mean, learning_rate=rate)
    several = wrt is not None and ("," in wrt or wrt.strip() == "all")
    try:
        with time_limit(TIME_LIMIT):
            if form == "vector":
                from .vector import explain_vector

                _refuse_with_vector(wrt, lets, order, hessian, per_example)
                document = explain_vector(expression, half=bool(half), learning_rate=rate, seed=seed)
            elif several or hessian:
                if order != 1:
                    raise DeriveError("--order 2 takes one variable; for all second partials use --hessian")
                document = gradient(expression, wrt=wrt if wrt else "all", hessian=hessian, seed=seed,
                                    **conventions)
            else:
                document = explain_one(expression, wrt=wrt, order=order, seed=seed, **conventions)
            color = fmt == "text" and output is None and _color_wanted()
            text = _render(document, fmt, color, standalone)
    except TimeLimit:
        raise DeriveError(f"gave up after {TIME_LIMIT} s: the expression is too large to explain; try a smaller one")

    deliver(text, output, document.check is not None and not document.check.passed,
            "the numeric check of this derivation failed; it is not trustworthy (see CHECK FAILED above).")


def _refuse_with_vector(wrt, lets, order, hessian, per_example):
    if lets or order != 1 or hessian or per_example:
        raise DeriveError("--form vector shows the whole gradient of mse or ridge; drop --let, --order, --hessian and --per-example")
    if wrt not in (None, "all", "w", "weight", "weight,bias", "w,b"):
        raise DeriveError("--form vector gives ∇w L and ∂L/∂b together; drop --wrt or use --wrt all")


@cli.command(context_settings=CONTEXT)
@click.argument("problem_set", metavar="FILE.toml", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The handout to write: .md, .tex, .pdf or .html (the extension picks the format).")
@click.option("--format", "fmt", type=click.Choice(["markdown", "latex", "pdf", "html"]),
              help="The format, whatever the extension.")
@click.option("--answers/--no-answers", default=True, show_default=True,
              help="The answer key (every worked solution) or the student version (room to work).")
@click.option("--both", is_flag=True, help="Write the student version to OUT and the answer key to OUT-answers.")
@click.option("--templates", "templates", type=click.Path(file_okay=False, exists=True),
              help="A folder of your own templates that override the packaged ones file by file.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True,
              help="Seed of the random points of the numeric checks.")
def handout(problem_set, output, fmt, answers, both, templates, seed):
    """Write a worked-solution handout from a TOML problem set.

    The file has a `title` (and optionally `author`, `course`, `date`, `instructions`),
    then `[[problems]]` tables, each with `name` (a problem from derive list) or
    `expression`, and `wrt`, and optionally `let`, `prompt` and `points`.

    \b
    Examples:
      derive handout examples/lesson.toml -o lesson.pdf
      derive handout examples/practice.toml -o practice.html --both
      derive handout examples/practice.toml -o practice.md --no-answers
      derive handout examples/lesson.toml -o lesson.tex --templates my-letterhead/

    Exit codes: 0 written; 2 bad input (nothing written); 3 a solution failed its check.
    """
    from . import handout as handouts

    kind = handouts.output_format(output, fmt)
    if kind == "pdf":
        handouts.tex_engine()  # say what is missing before any work is done
    problems = handouts.load(problem_set)
    from . import derivation, render  # noqa: F401  (the heavy imports, once the input is known good)

    startup.imports_done()
    count = len(problems.problems)
    show = sys.stderr.isatty() and count >= 5
    if show:
        with click.progressbar(length=count, label="Working the problems", file=sys.stderr) as bar:
            solved = handouts.solve(problems, seed=seed, progress=lambda spec: bar.update(1))
    else:
        solved = handouts.solve(problems, seed=seed)
    failed = [item.spec.number for item in solved.solved if not item.passed]
    if failed:
        raise DeriveError(f"the numeric check failed for problem {', '.join(map(str, failed))}; "
                          "no handout was written (see derive explain on that problem)", )
    versions = [(handouts.answers_path(output), True), (output, False)] if both else [(output, answers)]
    handouts.write_versions(solved, versions, kind, templates=templates)
    for path, with_answers in versions:
        click.echo(f"Wrote {path} ({'answer key' if with_answers else 'student version'}, "
                   f"{len(solved.items)} problems)", err=True)


@cli.command(name="list", context_settings=CONTEXT)
def list_problems():
    """List the named problems that `derive explain NAME` knows: each loss, its model and
    its parameters (--wrt takes the long name or the symbol).

    \b
    Example:
      derive list
    """
    from .printing import to_text
    from .problems import ALIASES, CATALOG

    startup.imports_done()

    aliases = {target: alias for alias, target in ALIASES.items()}
    for name, build in CATALOG.items():
        problem = build()
        params = ", ".join(f"{p.name} ({to_text(p.symbol)})" for p in problem.parameters)
        also = f" (also: {aliases[name]})" if name in aliases else ""
        scope = "mean over n examples" if problem.mean else "one example"
        click.echo(f"{name}{also}: {problem.title}")
        click.echo(f"    {to_text(problem.loss_symbol)} = {to_text(problem.display_loss)}   ({scope})")
        for item in reversed(problem.model):
            click.echo(f"    {to_text(item.symbol)} = {to_text(item.definition)}")
        click.echo(f"    parameters: {params}")


def _render(derivation, fmt, color, standalone):
    if fmt == "json":
        return derivation.to_json() + "\n"
    if fmt == "text":
        return derivation.to_text(color=color)
    if fmt == "markdown":
        return derivation.to_markdown()
    return derivation.to_latex(standalone=standalone)


def _color_wanted():
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


def _register_commands():
    """Commands that live in their own modules (their imports stay lazy)."""
    from .check_cli import check
    from .descend_cli import descend

    cli.add_command(check)
    cli.add_command(descend)


_register_commands()


def main(argv=None):
    """The console script: run the CLI, turning every error into one line."""
    try:
        cli.main(args=argv, prog_name="derive", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.exceptions.Abort:
        click.echo("Error: interrupted", err=True)
        sys.exit(130)
    except click.UsageError as error:
        hint = f" (see '{error.ctx.command_path if error.ctx else 'derive'} --help')"
        click.echo(f"Error: {error.format_message()}{hint}", err=True)
        sys.exit(2)
    except click.ClickException as error:
        click.echo(f"Error: {error.format_message()}", err=True)
        sys.exit(error.exit_code)
    except DeriveError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(error.exit_code)
    except RecursionError:
        click.echo("Error: the expression is nested too deeply to explain", err=True)
        sys.exit(2)
    except MemoryError:
        click.echo("Error: the expression is too large to explain", err=True)
        sys.exit(2)
    except BrokenPipeError:  # the reader went away (derive … | head): nothing to say to it
        sys.exit(1)
    except Exception as error:  # a bug of ours: still one line, and say where to report it
        click.echo(f"Error: internal error ({type(error).__name__}: {error}); please report it", err=True)
        sys.exit(1)
    sys.exit(0)


def console():
    """The ``derive`` script and ``python -m derive``: :func:`main`, started and ended
    without the costs a one-shot process need not pay (see :mod:`derive.startup`)."""
    startup.pause_collection()
    try:
        main()
    except SystemExit as stop:
        code = startup.exit_code(stop)
    except KeyboardInterrupt:
        click.echo("Error: interrupted", err=True)
        code = 130
    startup.exit_now(code)


if __name__ == "__main__":
    console()
