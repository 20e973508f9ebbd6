"""``derive gradcheck``: run a learner's gradient function and find the first node where
it disagrees with derive's derivation, and the likely mistake."""

import click

from derive import startup
from derive.cli.output import CONTEXT


@click.command(context_settings=CONTEXT)
@click.argument("target", metavar="FILE.py:FUNCTION")
@click.option("--problem", required=True, metavar="NAME",
              help="The catalog problem the function differentiates (see derive list), e.g. mlp.")
@click.option("--form", type=click.Choice(["index", "vector"]), default="index", show_default=True,
              help="index: the catalog's numbers (one per example); vector: the vector form's arrays "
                   "(mse, ridge, bce, softmax, neuron, mlp with a hidden layer of H units).")
@click.option("--per-example/--mean", "per_example", default=None,
              help="The loss of one example, or the mean over n examples (data as arrays of n).")
@click.option("--half", is_flag=True, default=None, help="The ½ convention in front of a squared error.")
@click.option("--points", type=click.IntRange(1, 20), default=3, show_default=True,
              help="How many random points to call the function at.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True,
              help="Seed of the random points.")
@click.option("--timeout", type=click.FloatRange(0.5, 300), default=20, show_default=True,
              help="Seconds the function may take, all calls together.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text",
              show_default=True, help="How to write the verdict.")
def gradcheck(target, problem, form, per_example, half, points, seed, timeout, fmt):
    """Check your gradient code: FUNCTION(params, example) in FILE.py returns a dict of
    gradients by name, one for every parameter (w, b, …) and, if you like, intermediates
    (z, h, yhat, error; also written dz, d_z, dL_dz). derive calls it at random points in
    a child process (time and memory limited, its output captured), compares every value
    with its own symbolic result and a finite difference, and reports the first node, in
    backward order, that disagrees, and the likely mistake.

    It runs FILE.py as you: give it only code you would run yourself.

    \b
    Examples:
      derive gradcheck examples/mlp_backward.py:backward --problem mlp
      derive gradcheck examples/mlp_backward_wrong.py:backward --problem mlp
      derive gradcheck examples/mlp_backward.py:backward_mean --problem mlp --mean
      derive gradcheck examples/mlp_vector_backward.py:backward --problem mlp --form vector

    Exit codes: 0 every gradient agrees; 1 a gradient disagrees, or the function crashed,
    hung or returned the wrong thing; 2 bad input.
    """
    import sys

    from derive.backprop.gradcheck import gradcheck as check

    startup.imports_done()
    mean = None if per_example is None else not per_example
    report = check(target, problem, form=form, mean=mean, half=half, points=points, seed=seed, timeout=timeout)
    click.echo(report.render(fmt, color=fmt == "text" and sys.stdout.isatty()), nl=False)
    if not report.passed:
        sys.exit(1)
