"""``derive list``: the named problems of the catalog."""

import click

from derive import startup
from derive.cli.output import CONTEXT


@click.command(name="list", context_settings=CONTEXT)
def list_problems():
    """List the named problems that `derive explain NAME` knows: each loss, its model and
    its parameters (--wrt takes the long name or the symbol).

    \b
    Example:
      derive list
    """
    from derive.engine.problems import ALIASES, CATALOG
    from derive.render.printing import to_text

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
