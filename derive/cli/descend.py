"""``derive descend``: gradient descent worked with numbers, as a click command.

The command object ``descend`` is registered by ``derive/cli/main.py`` with
``cli.add_command(descend)``. Only click is imported here: NumPy, SymPy and the rest are
imported when the command runs, so ``derive --help`` stays fast.

Exit codes: 0 done and checked; 2 bad input (one ``Error:`` line); 3 the gradient used
failed its check against a finite difference of the loss (or the engine's own check);
4 the descent diverged (the output is still written, and says so).
"""

import os
import sys

import click

from derive.cli.output import CONTEXT, bounded


LOSSES = ("mse", "ridge", "bce", "mae", "huber", "relu", "mlp")  # derive.descend.SUPPORTED, without importing NumPy


def _complete_loss(ctx, param, incomplete):
    return [name for name in LOSSES if name.startswith(incomplete)]


@click.command(context_settings=CONTEXT)
@click.argument("name", shell_complete=_complete_loss)
@click.option("--data", "data_path", metavar="FILE.csv",
              help="A CSV file with a header row and the columns x and y (see --x, --y).")
@click.option("--synthetic", type=int, metavar="N",
              help="Make N points instead: y = 3x + 2 + noise (for bce: labels 0/1), seeded with --seed.")
@click.option("--x", "x_name", default="x", show_default=True, help="The column of the input.")
@click.option("--y", "y_name", default="y", show_default=True, help="The column of the target.")
@click.option("--learning-rate", "rate", type=float, default=0.05, show_default=True,
              help="α, the size of each step against the gradient.")
@click.option("--steps", type=click.IntRange(0, 1_000_000), default=200, show_default=True,
              help="The most steps to take (it stops sooner once the loss stops changing, see --tol).")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True,
              help="Seed of the random start (and of --synthetic data).")
@click.option("--tol", type=float, default=1e-10, show_default=True,
              help="Stop early when the loss changes by no more than this in one step.")
@click.option("--lambda", "lam", type=float, default=None, help="λ, the penalty of ridge (default 0.1).")
@click.option("--delta", type=float, default=None, help="δ, the threshold of huber (default 1).")
@click.option("--digits", type=click.IntRange(1, 15), default=4, show_default=True,
              help="Significant digits of every number shown (JSON keeps them all).")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "latex", "html", "json"]),
              default="text", show_default=True,
              help="How to write the result (html: MathML, one self-contained page when written with -o).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file (whole, or not at all).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), metavar="FILE.png|FILE.svg",
              help="Draw the loss at each step, and the data with the fit at a few steps (needs matplotlib); "
                   "--format html draws it into the page as well.")
@click.option("--standalone", is_flag=True, help="With --format latex or html: a complete document (html is one whenever written with -o).")
def descend(name, data_path, synthetic, x_name, y_name, rate, steps, seed, tol, lam, delta, digits, fmt, output,
            plot_path, standalone):
    """Run gradient descent on the loss NAME over data, showing the lesson's four steps
    with real numbers, and check it: the gradient against a finite difference of the loss,
    and (mse, ridge) the result against the closed form.

    NAME is mse, ridge, bce (logistic), mae, huber, relu or mlp (see derive list). It stops
    when the loss changes by no more than --tol in one step, and says how it ended:
    converged, stalled (steps too small to get anywhere), still falling after --steps, or
    diverged.

    A CSV file for --data has a header row naming its columns, then one row per example
    of numbers: x,y / 1.5,4.9 / 2,6.1 (other columns are ignored; --x and --y pick two).

    \b
    Examples:
      derive descend mse --data examples/points.csv --learning-rate 0.05 --steps 200 --seed 7
      derive descend mse --synthetic 50 --seed 7
      derive descend ridge --synthetic 50 --lambda 0.1 --steps 2000
      derive descend bce --data examples/passed.csv --x hours --y passed --learning-rate 0.5 --steps 2000
      derive descend mse --synthetic 8 --format markdown -o descent.md --plot descent.png
      derive descend mse --synthetic 20 --format html -o descent.html --plot descent.png
      derive descend mse --synthetic 1000 --format json

    Exit codes: 0 done and checked; 2 bad input; 3 the gradient check failed; 4 the
    descent diverged (the loss overflowed or ended higher than it started).
    """
    from derive.errors import DeriveError
    from derive.files import refuse_inputs
    from derive.render.escape import terminal_text

    try:
        refuse_inputs([p for p in (output, plot_path) if p], [("the data file", data_path)])
        if output and plot_path:
            refuse_inputs([output], [("the plot", plot_path)])
        with bounded("the descent is too large to run and check; take fewer --steps or less data"):
            text, run = _run(name, data_path, synthetic, x_name, y_name, rate, steps, seed, tol, lam, delta, digits,
                             fmt, output, plot_path, standalone)
    except DeriveError as error:
        click.echo(f"Error: {terminal_text(error)}", err=True)
        sys.exit(error.exit_code)
    from derive.cli.output import deliver

    failed = not run.check_passed or (run.engine_check is not None and not run.engine_check.passed)
    why = "the gradient used failed its check against a finite difference of the loss (see FAILED above); " \
          "the run is not trustworthy."
    if fmt == "json" and not failed:
        _stream_json(run, output)
    else:
        deliver(text if text is not None else run.to_json() + "\n", output, failed, why)
    if run.diverged:
        from derive.descend.rounding import Numbers

        click.echo(f"Warning: the descent diverged (exit code 4); try a smaller --learning-rate, such as "
                   f"{Numbers().setting(run.suggested_learning_rate)}", err=True)
        sys.exit(4)


def _stream_json(run, output):
    """JSON written as it is made: a million steps never sit in memory as one string."""
    import io

    if not output:
        run.write_json(sys.stdout)
        sys.stdout.flush()
        return
    from derive.files import write_whole

    def write(handle):
        text = io.TextIOWrapper(handle, encoding="utf-8", newline="\n")
        run.write_json(text)
        text.flush()
        text.detach()

    write_whole(output, write)
    click.echo(f"Wrote {output}", err=True)


def _run(name, data_path, synthetic, x_name, y_name, rate, steps, seed, tol, lam, delta, digits, fmt, output,
         plot_path, standalone):
    from derive import descend as engine
    from derive import startup
    from derive.errors import DeriveError

    startup.imports_done()

    if (data_path is None) == (synthetic is None):
        raise DeriveError("give the data with --data FILE.csv, or make some with --synthetic N (one of them)")
    if fmt not in ("latex", "html") and standalone:
        raise DeriveError("--standalone is for --format latex or html")
    for option, value in (("--learning-rate", rate), ("--tol", tol)):
        if value != value or value in (float("inf"), float("-inf")):
            raise DeriveError(f"{option} must be a finite number")
    problem = engine.get_descent_problem(name)
    if synthetic is not None:
        if (x_name, y_name) != ("x", "y"):
            raise DeriveError("--x and --y name the columns of a --data file; --synthetic makes x and y itself")
        data = engine.synthetic(synthetic, seed=seed, labels=problem.labels)
    else:
        data = engine.load_csv(data_path, x=x_name, y=y_name)
    run = engine.descend(problem.name, data, learning_rate=rate, steps=steps, seed=seed, tol=tol,
                         hyper={"lambda": lam, "delta": delta}, digits=digits)
    link = None
    if plot_path:
        if fmt == "latex":  # a path TeX cannot read as typed is refused before anything is drawn
            from derive.render.escape import tex_path

            tex_path(_link(plot_path, output) if output else plot_path)
        engine.plot(run, plot_path)
        if output:  # the document refers to the plot from where it is written
            link = _link(plot_path, output)
    if fmt == "html" and output:
        standalone = True  # a file of HTML is a whole page; the plot is drawn inside it (SVG)
    if fmt == "json":
        return None, run  # streamed by the caller
    return engine.render(run, fmt, standalone=standalone, plot_link=link), run


def _link(plot_path, output):
    """The plot's path as the document written to ``output`` refers to it."""
    return os.path.relpath(os.path.abspath(plot_path), os.path.dirname(os.path.abspath(output))).replace(os.sep, "/")
