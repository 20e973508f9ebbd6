"""``derive grade``: a class's answers marked against a problem set, with answer classes,
partial credit, feedback for each student and a report per problem.

The command object ``grade`` is registered by derive/cli/main.py.
"""

import click

from derive.cli.output import CONTEXT
from derive.errors import DeriveError


@click.command(context_settings=CONTEXT)
@click.argument("answers", type=click.Path(exists=True, dir_okay=False))
@click.option("--key", "key_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The problem set (TOML, as for derive handout), with optional [grading] and per-problem "
                   "decimals, rubric and variables.")
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False),
              help="The folder to write graded.csv, classes.csv, summary.csv, report.csv, report.html and "
                   "feedback/ into.")
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False),
              help="Each student's own version of each problem (student, problem, seed, expression, derivative).")
@click.option("--overrides", type=click.Path(exists=True, dir_okay=False),
              help="The teacher's marks for answer classes: rows of classes.csv with verdict, score or note "
                   "changed (CSV), or [[override]] tables (TOML).")
@click.option("--decimals", metavar="POLICY", default=None,
              help="Decimals policy for every problem: rounded, exact or tolerance=R (default: each problem's, "
                   "else rounded).")
@click.option("--feedback", type=click.Choice(["markdown", "html", "none"]), default="markdown",
              help="Feedback files per student: markdown (default), html or none.")
@click.option("--no-solutions", "solutions", is_flag=True, default=True, flag_value=False,
              help="Leave the worked solutions out of the feedback files.")
@click.option("--resume", is_flag=True, help="Keep the rows a stopped run finished (graded.csv.partial).")
@click.option("--jobs", type=click.IntRange(1, 256), default=None, help="Worker processes (default: all cores).")
@click.option("--encoding", default=None, metavar="NAME", help="The CSV files' text encoding (default: UTF-8).")
@click.option("--no-formula-guard", "formula_guard", is_flag=True, default=True, flag_value=False,
              help="Write cells that start with = + - @ as they are (by default they get a leading ').")
def grade(answers, key_path, outdir, manifest, overrides, decimals, feedback, solutions, resume, jobs, encoding,
          formula_guard):
    """Mark a class's answers: one verdict per answer class, partial credit by rule,
    feedback for each student and a report per problem.

    ANSWERS is a CSV file with columns student, problem (a number or label of the key) and
    answer, and optionally working (the student's lines).

    \b
    Examples:
      derive grade examples/class_answers.csv --key examples/class_set.toml -o graded/
      derive grade answers.csv --key set.toml -o graded/ --overrides graded/overrides.csv
      derive grade answers.csv --key set.toml --manifest manifest.csv -o graded/ --feedback html

    Exit codes: 0 done; 2 bad input.
    """
    from derive import startup
    from derive.grade.run import run_grade

    startup.imports_done()
    if feedback == "none" and not solutions:
        raise DeriveError("--no-solutions goes with feedback files; drop it or --feedback none")
    summary = run_grade(answers, key_path, outdir, manifest=manifest, overrides=overrides, decimals=decimals,
                        feedback=feedback, jobs=jobs, resume=resume, encoding=encoding, formula_guard=formula_guard,
                        solutions=solutions)
    click.echo(summary, err=True)
