"""``derive explain``: one derivative (or a gradient, a Hessian, the vector form) worked
step by step and checked against numbers."""

import click

from derive import startup
from derive.cli.output import CONTEXT, bounded, color_wanted, deliver
from derive.errors import DeriveError


@click.command(context_settings=CONTEXT)
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
    from derive.derivation import explain as explain_one
    from derive.derivation import gradient

    startup.imports_done()

    mean = None if per_example is None else not per_example
    conventions = dict(let=list(lets) or None, half=half or None, mean=mean, learning_rate=rate)
    several = wrt is not None and ("," in wrt or wrt.strip() == "all")
    with bounded("the expression is too large to explain; try a smaller one"):
        if form == "vector":
            from derive.engine.vector import explain_vector

            _refuse_with_vector(wrt, lets, order, hessian, per_example)
            document = explain_vector(expression, half=bool(half), learning_rate=rate, seed=seed)
        elif several or hessian:
            if order != 1:
                raise DeriveError("--order 2 takes one variable; for all second partials use --hessian")
            document = gradient(expression, wrt=wrt if wrt else "all", hessian=hessian, seed=seed,
                                **conventions)
        else:
            document = explain_one(expression, wrt=wrt, order=order, seed=seed, **conventions)
        color = fmt == "text" and output is None and color_wanted()
        text = _render(document, fmt, color, standalone)

    deliver(text, output, document.check is not None and not document.check.passed,
            "the numeric check of this derivation failed; it is not trustworthy (see CHECK FAILED above).")


def _refuse_with_vector(wrt, lets, order, hessian, per_example):
    if lets or order != 1 or hessian or per_example:
        raise DeriveError("--form vector shows the whole gradient of mse or ridge; drop --let, --order, --hessian and --per-example")
    if wrt not in (None, "all", "w", "weight", "weight,bias", "w,b"):
        raise DeriveError("--form vector gives ∇w L and ∂L/∂b together; drop --wrt or use --wrt all")


def _render(derivation, fmt, color, standalone):
    if fmt == "json":
        return derivation.to_json() + "\n"
    if fmt == "text":
        return derivation.to_text(color=color)
    if fmt == "markdown":
        return derivation.to_markdown()
    return derivation.to_latex(standalone=standalone)
