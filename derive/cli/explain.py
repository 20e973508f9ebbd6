"""``derive explain``: one derivative (or a gradient, a Hessian, the vector form) worked
step by step and checked against numbers."""

import click

from derive import startup
from derive.cli.output import CONTEXT, bounded, color_wanted, deliver
from derive.errors import DeriveError


@click.command(context_settings={**CONTEXT, "ignore_unknown_options": True})  # "-x^2" is an expression
@click.argument("expression")
@click.option("--wrt", metavar="NAME[,NAME…]",
              help="What to differentiate by: a variable, a problem's parameter (weight or w), "
                   "several separated by commas, or all (then the gradient and the update).")
@click.option("--let", "lets", metavar='"NAME = EXPR"', multiple=True,
              help="Name a part of the expression; the chain rule then passes through your names. Repeatable.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "latex", "html", "json"]),
              default=None, help="How to write the explanation (default: text, or what -o's extension says).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Write to this file (whole, or not at all) instead of the terminal; its extension picks "
                   "the format: .txt .md .tex .html .json, or .pdf (LaTeX run through pdflatex).")
@click.option("--standalone", is_flag=True,
              help="With --format latex: a complete document that compiles with pdflatex "
                   "(html and pdf are always complete).")
@click.option("--order", type=click.IntRange(1, 2), default=1, show_default=True,
              help="2 differentiates the first derivative again, showing both stages.")
@click.option("--hessian", is_flag=True,
              help="For a named problem: the matrix of second partials over its parameters.")
@click.option("--form", type=click.Choice(["index", "scalar", "vector", "numpy"]), default="index", show_default=True,
              help="index (or scalar): the sum over examples; vector: the matrix-calculus form with the shape of "
                   "every factor; numpy: runnable NumPy code for the loss and gradient (mse, ridge, bce, softmax, "
                   "neuron, mlp).")
@click.option("--layout", type=click.Choice(["denominator", "numerator"]), default="denominator", show_default=True,
              help="With --form vector: the layout convention of the derivatives (the chain rule's order follows it).")
@click.option("--half", is_flag=True, default=None,
              help="Put ½ in front of a squared error, so the 2 of the power rule cancels.")
@click.option("--per-example/--mean", "per_example", default=None,
              help="The loss of one example (x, y), or the mean over n examples (each loss's default: see derive list).")
@click.option("--learning-rate", "rate", type=click.Choice(["alpha", "eta"]), default="alpha",
              show_default=True, help="The learning rate's symbol in the update: α or η.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True,
              help="Seed of the random points of the numeric check.")
@click.option("--at", "at", metavar="NAME=VALUE,…",
              help="Add the forward and backward passes at this point (w=0.5,x=1.5,…), each number "
                   "checked; a mean loss takes one value per example, separated by ';'.")
@click.option("--graph", "graph", is_flag=True,
              help="With --format html: add the computation graph as an SVG (needs Graphviz's dot).")
@click.option("--simplify-first", is_flag=True,
              help="Rewrite the exercise in its simplest form first, as a step of its own (2x²(5x³) is 10x⁵).")
@click.option("--check-details", is_flag=True,
              help="Give the numeric check's figures: the points, the data, the largest difference.")
def explain(expression, wrt, lets, fmt, output, standalone, order, hessian, form, layout, half, per_example, rate,
            seed, at, graph, simplify_first, check_details):
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
      derive explain "sin(x^2)" --wrt x -o steps.pdf            # the format from the extension
      derive explain mse --wrt weight -o steps.html
      derive explain "x**x" --wrt x --format json
      derive explain "error^2" --let "error = yhat - y" --let "yhat = weight*x + bias" --wrt weight
      derive explain "sin(x^2)" --order 2
      derive explain mse --wrt all --hessian
      derive explain mse --form vector
      derive explain mlp --form vector --layout numerator
      derive explain bce --form numpy -o bce_gradient.py
      derive explain mlp --wrt all --at w=0.5,b=0.1,v=-1.2,c=0.3,x=1.5,y=2

    Exit codes: 0 explained and checked; 2 bad input; 3 the numeric check failed.
    """
    from derive.derivation import explain as explain_one
    from derive.derivation import gradient

    startup.imports_done()

    fmt, pdf = _output_format(fmt, output, form)
    mean = None if per_example is None else not per_example
    conventions = dict(let=list(lets) or None, half=half or None, mean=mean, learning_rate=rate,
                       simplify_first=simplify_first)
    several = wrt is not None and ("," in wrt or wrt.strip() == "all")
    with bounded("the expression is too large to explain; try a smaller one"):
        if form == "vector":
            from derive.engine.vector import explain_vector

            _refuse_with_vector(form, wrt, lets, order, hessian, per_example, at, graph)
            document = explain_vector(expression, half=bool(half), layout=layout, learning_rate=rate, seed=seed)
        elif form == "numpy":
            from derive.backprop.numpy_form import numpy_form

            _refuse_with_vector(form, wrt, lets, order, hessian, per_example, at, graph)
            document = numpy_form(expression, half=bool(half), seed=seed)
        elif several or hessian:
            if order != 1:
                raise DeriveError("--order 2 takes one variable; for all second partials use --hessian")
            document = gradient(expression, wrt=wrt if wrt else "all", hessian=hessian, seed=seed,
                                **conventions)
        else:
            document = explain_one(expression, wrt=wrt, order=order, seed=seed, **conventions)
        color = fmt == "text" and output is None and color_wanted()
        document.check_details = check_details
        failed = document.check is not None and not document.check.passed
        # a failed check is shown in the terminal, as text, and never written to a file
        shown = "text" if failed and pdf else fmt
        whole = standalone or pdf or (fmt == "html" and output is not None)
        text = _render(document, shown, color, whole)
        if at is not None or graph:  # backpropagation's own section, after the explanation
            from derive.backprop.sections import append_sections

            text, passes_failed = append_sections(document, text, shown, at=at, graph=graph, wrt=wrt,
                                                  color=color, standalone=whole)
            failed = failed or passes_failed

    why = "the numeric check of this derivation failed; it is not trustworthy (see CHECK FAILED above)."
    if pdf and not failed:
        from derive.handout.build import compile_pdfs, tex_engine

        tex_engine()  # say what is missing before anything else
        compile_pdfs([(text, output)])
        click.echo(f"Wrote {output}", err=True)
        return
    deliver(text, output if not failed else None, failed, why)


EXTENSIONS = {".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown", ".tex": "latex",
              ".html": "html", ".htm": "html", ".json": "json", ".pdf": "pdf"}


def _output_format(fmt, output, form=None):
    """``(format, pdf)``: the format asked for, or the one -o's extension names; a PDF is
    LaTeX run through TeX. An extension derive cannot write is refused, never written to.
    The NumPy form is Python: it is written to a .py file as it is printed."""
    import os

    if output is None:
        return fmt or "text", False
    extension = os.path.splitext(output)[1].lower()
    named = "text" if form == "numpy" and extension == ".py" else EXTENSIONS.get(extension)
    if fmt is None:
        if named is None:
            raise DeriveError(f"cannot tell the format of -o {output} from its extension: use .txt, .md, .tex, "
                              f".html, .json or .pdf (or give --format)")
        return ("latex", True) if named == "pdf" else (named, False)
    if named is not None and named != fmt:
        written = "a PDF" if named == "pdf" else named
        raise DeriveError(f"-o {output} names {written} but --format is {fmt}: change one of them")
    return fmt, False


def _refuse_with_vector(form, wrt, lets, order, hessian, per_example, at, graph):
    if lets or order != 1 or hessian or per_example is not None or at is not None or graph:
        raise DeriveError(f"--form {form} shows the whole gradient of a catalog loss; drop --let, --order, --hessian, "
                          "--per-example/--mean, --at and --graph")
    if wrt not in (None, "all"):
        raise DeriveError(f"--form {form} gives every parameter's gradient together; drop --wrt or use --wrt all")


def _render(derivation, fmt, color, standalone):
    return derivation.render(fmt, color=color, standalone=standalone)  # every document renders itself
