"""``derive graph``: the computation graph of a loss or an expression, drawn with the local
derivative on every edge, and with numbers at a point."""

import os

import click

from derive import startup
from derive.cli.output import CONTEXT, bounded
from derive.errors import DeriveError


@click.command(context_settings=CONTEXT)
@click.argument("expression")
@click.option("--let", "lets", metavar='"NAME = EXPR"', multiple=True,
              help="Name a part of the expression; each name is a node of the graph. Repeatable.")
@click.option("--wrt", metavar="NAME[,NAME…]",
              help="The parameters whose paths to the loss are highlighted (default: all).")
@click.option("--at", "at", metavar="NAME=VALUE,…",
              help="A point: every node then shows its value and ∂L/∂node, every edge its local "
                   "derivative's value. A mean loss takes one value per example, separated by ';'.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Write the drawing: .svg, .pdf, .png (Graphviz), .tex (TikZ) or .dot (Graphviz's source).")
@click.option("--half", is_flag=True, default=None,
              help="Put ½ in front of a squared error, so the 2 of the power rule cancels.")
@click.option("--per-example/--mean", "per_example", default=None,
              help="The loss of one example, or the mean over n examples (each loss's default: see derive list).")
def graph(expression, lets, wrt, at, output, half, per_example):
    """Draw the computation graph of EXPRESSION: a named problem (mlp, mse, … from
    `derive list`) or a formula. Nodes are the inputs, the parameters and the named
    intermediates (u₁, u₂, … where the formula names none); each edge carries the local
    derivative. With --at, each node shows its value and its gradient ∂L/∂node, checked
    against a finite difference, and the caption multiplies along each parameter's paths.

    Needs Graphviz's dot program (Debian package graphviz) for .svg, .pdf, .png and .tex.

    \b
    Examples:
      derive graph mlp --at w=0.5,b=0.1,v=-1.2,c=0.3,x=1.5,y=2 -o mlp.svg
      derive graph mse --at "w=0.5,b=0.1,x=1.5;2.5,y=2;3" -o mse.pdf
      derive graph "x*sin(x)" --at x=1.5 -o product.png
      derive graph "error^2" --let "error = yhat - y" --let "yhat = w*x + b" --wrt w -o chain.tex
      derive graph mlp                        # the graph as text, with ∂L/∂node as formulas

    Exit codes: 0 drawn (and checked); 2 bad input or no Graphviz; 3 a number failed its check.
    """
    from derive.backprop import draw
    from derive.backprop.graph import graph_of
    from derive.backprop.passes import passes_for
    from derive.cli.output import deliver
    from derive.derivation import make_subject

    startup.imports_done()
    fmt = None
    if output:
        extension = os.path.splitext(output)[1].lower()
        fmt = draw.FORMATS.get(extension)
        if fmt is None:
            raise DeriveError(f"-o {output}: derive graph writes .svg, .pdf, .png, .tex or .dot")
        if fmt != "dot":
            draw.dot_program()  # say at once, before any work, that Graphviz is missing
    mean = None if per_example is None else not per_example
    with bounded("the graph is too large to draw"):
        subject = make_subject(expression, let=list(lets) or None, half=half or None, mean=mean, wrt=wrt)
        if at is not None:
            result = passes_for(subject, at, wrt=wrt, torch=False)
            the_graph = result.graph
        else:
            result, the_graph = None, graph_of(subject, wrt=wrt)
        if output:
            content = draw.render_graph(the_graph, result, fmt)
        else:
            content = draw.text(the_graph, result)
    failed = result is not None and not result.passed
    if failed and output:
        click.echo(result.to_text(), nl=False)
    deliver(content if not (failed and output) else "", None if failed else output, failed,
            "a number in the graph disagrees with its check; nothing was written (see CHECK FAILED above).")
