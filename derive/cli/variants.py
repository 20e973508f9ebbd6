"""``derive variants``: how many distinct variants of each problem template ask for the
same work as its reference, and why the other draws were redrawn.

The command object ``variants`` is registered by derive/cli/main.py. Only click is
imported here; the engine is imported when the command runs.
"""

import click

from derive.cli.output import CONTEXT
from derive.errors import DeriveError


@click.command(context_settings=CONTEXT)
@click.argument("problem_set", metavar="SET.toml", type=click.Path(dir_okay=False))
@click.option("--count", type=click.IntRange(1, 5000), default=20, show_default=True,
              help="How many distinct variants each templated problem must give.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True,
              help="Seed of the draws (and of the numeric checks).")
@click.option("--tolerance", type=click.IntRange(0, 100), default=1, show_default=True,
              help="How many steps a variant's worked solution may differ from the reference's by "
                   "(its rules and chain depth must be the same).")
@click.option("-o", "--output", type=click.Path(),
              help="Also write the kept variants: .csv (problem, variant, parameters, expression, wrt, "
                   "derivative) or .json; a Moodle XML quiz of STACK questions (.xml, --format stack); or a "
                   "folder of PrairieLearn questions (--format prairielearn).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "stack", "prairielearn"]),
              help="What -o writes (default: by its extension; .xml is stack).")
def variants(problem_set, count, seed, tolerance, output, fmt):
    """Draw COUNT distinct variants of every problem template of SET.toml, each kept only
    when the engine finds it asks for the same work as the problem's reference (the same
    rules, the same chain-rule depth, about as many steps); say how many draws were
    redrawn and why.

    \b
    Examples:
      derive variants examples/class.toml --count 30
      derive variants examples/practice.toml --count 200 --seed 7 -o variants.csv
      derive variants examples/class.toml --count 30 -o quiz.xml --format stack
      derive variants examples/class.toml --count 30 -o questions/ --format prairielearn

    Exit codes: 0 enough variants; 2 bad template, or too few distinct variants (the
    report says which problem and why); 3 a variant failed its numeric check.
    """
    from derive import startup
    from derive.handout import variants as balancing

    if output and fmt is None:
        suffix = output.lower().rsplit(".", 1)[-1] if "." in output else ""
        fmt = {"csv": "csv", "json": "json", "xml": "stack"}.get(suffix)
        if fmt is None:
            raise DeriveError(f"cannot tell what to write to {output}: use .csv, .json, .xml (STACK) or "
                              f"--format prairielearn with a folder")
    if fmt and not output:
        raise DeriveError("--format says what -o writes: give -o too")
    template = balancing.load_template(problem_set)
    template.problem_set({p.number: balancing.Balancer(template, p, tolerance=tolerance, seed=seed).reference_draw
                          for p in template.templated})  # every other key checked as a handout is
    startup.imports_done()
    reports = balancing.survey(template, count, seed=seed, tolerance=tolerance)
    click.echo(balancing.report_text(reports), nl=False)
    if not template.templated:
        click.echo(f"{problem_set} has no [problems.params]: every problem is fixed.", err=True)
    short = [r for r in reports if not r.enough]
    if output and not short:
        if fmt in ("csv", "json"):
            balancing.write_variants(reports, output)
            click.echo(f"Wrote {output}", err=True)
        else:
            from derive.handout import exports

            notes = exports.write(template, reports, output, fmt)
            for note in notes:
                click.echo(f"Note: {note}", err=True)
            click.echo(f"Wrote {output}", err=True)
    if short:
        names = ", ".join("[descent]" if r.problem.descent else f"problem {r.problem.number}" for r in short)
        raise DeriveError(f"{names} cannot give {count} distinct variants that ask for the same work "
                          f"(see above); widen the ranges, loosen 'where', raise --tolerance or ask for fewer")
