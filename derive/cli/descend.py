"""``derive descend``: gradient descent worked with numbers, as a click command.

The command object ``descend`` is registered by ``derive/cli/main.py`` with
``cli.add_command(descend)``. Only click is imported here: NumPy, SymPy and the rest are
imported when the command runs, so ``derive --help`` stays fast.

Exit codes: 0 done and checked; 2 bad input (one ``Error:`` line); 3 the gradient used
failed its check against a finite difference of the loss (or the engine's own check).
"""

import os
import sys

import click

from derive.cli.output import CONTEXT, bounded


@click.command(context_settings=CONTEXT)
@click.argument("name")
@click.option("--data", "data_path", metavar="FILE.csv",
              help="A CSV file with a header row and the columns x and y (see --x, --y).")
@click.option("--synthetic", type=int, metavar="N",
              help="Make N points instead: y = 3x + 2 + noise (for bce: labels 0/1), seeded with --seed.")
@click.option("--x", "x_name", default="x", show_default=True, help="The column of the input.")
@click.option("--y", "y_name", default="y", show_default=True, help="The column of the target.")
@click.option("--learning-rate", "rate", type=float, default=0.05, show_default=True,
              help="α, the size of each step against the gradient.")
@click.option("--steps", type=click.IntRange(0, 1_000_000), default=200, show_default=True,
              help="The most steps to take.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True,
              help="Seed of the random start (and of --synthetic data).")
@click.option("--tol", type=float, default=1e-10, show_default=True,
              help="Stop early when the loss changes by no more than this in one step.")
@click.option("--lambda", "lam", type=float, default=None, help="λ, the penalty of ridge (default 0.1).")
@click.option("--delta", type=float, default=None, help="δ, the threshold of huber (default 1).")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "latex", "html", "json"]),
              default="text", show_default=True,
              help="How to write the result (html: MathML, one self-contained page when written with -o).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file (whole, or not at all).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), metavar="FILE.png",
              help="Draw the loss against the step, and the data with the fit at a few stages (needs matplotlib).")
@click.option("--standalone", is_flag=True, help="With --format latex or html: a complete document (html is one whenever written with -o).")
def descend(name, data_path, synthetic, x_name, y_name, rate, steps, seed, tol, lam, delta, fmt, output,
            plot_path, standalone):
    """Run gradient descent on the loss NAME over data, showing the lesson's four steps
    with real numbers, and check it: the gradient against a finite difference of the loss,
    and (mse, ridge) the result against the closed form.

    NAME is mse, ridge, bce (logistic), mae, huber, relu or mlp.

    \b
    Examples:
      derive descend mse --data points.csv --learning-rate 0.05 --steps 200 --seed 7
      derive descend mse --synthetic 50 --seed 7
      derive descend ridge --synthetic 50 --lambda 0.1 --steps 2000
      derive descend bce --data labels.csv --steps 500 --x hours --y passed
      derive descend mse --synthetic 8 --format markdown -o descent.md --plot descent.png
      derive descend mse --synthetic 20 --format html -o descent.html --plot descent.png
      derive descend mse --synthetic 1000 --format json

    Exit codes: 0 done and checked; 2 bad input; 3 the gradient check failed.
    """
    from derive.errors import DeriveError
    from derive.files import refuse_inputs
    from derive.render.escape import terminal_text

    try:
        refuse_inputs([p for p in (output, plot_path) if p], [("the data file", data_path)])
        if output and plot_path:
            refuse_inputs([output], [("the plot", plot_path)])
        with bounded("the descent is too large to run and check; take fewer --steps or less data"):
            text, run = _run(name, data_path, synthetic, x_name, y_name, rate, steps, seed, tol, lam, delta, fmt,
                             output, plot_path, standalone)
    except DeriveError as error:
        click.echo(f"Error: {terminal_text(error)}", err=True)
        sys.exit(error.exit_code)
    from derive.cli.output import deliver

    failed = not run.check_passed or (run.engine_check is not None and not run.engine_check.passed)
    deliver(text, output, failed, "the gradient used failed its check against a finite difference of the "
                                  "loss (see FAILED above); the run is not trustworthy.")
    if run.diverging and fmt == "json":
        click.echo(f"Warning: the loss grew (diverging); try a smaller --learning-rate, such as "
                   f"{run.suggested_learning_rate:g}", err=True)


def _run(name, data_path, synthetic, x_name, y_name, rate, steps, seed, tol, lam, delta, fmt, output,
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
                         hyper={"lambda": lam, "delta": delta})
    link = None
    if plot_path:
        if fmt == "latex":  # a path TeX cannot read as typed is refused before anything is drawn
            from derive.render.escape import tex_path

            tex_path(_link(plot_path, output) if output else plot_path)
        engine.plot(run, plot_path)
        if output:  # the document refers to the plot from where it is written
            link = _link(plot_path, output)
    if fmt == "html" and output:
        standalone = True  # a file of HTML is a whole page; the plot is inside it (data: URI)
    return engine.render(run, fmt, standalone=standalone, plot_link=link), run


def _link(plot_path, output):
    """The plot's path as the document written to ``output`` refers to it."""
    return os.path.relpath(os.path.abspath(plot_path), os.path.dirname(os.path.abspath(output))).replace(os.sep, "/")
