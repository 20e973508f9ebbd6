"""``derive check``: one answer, or a class's answers from a CSV file.

The command object ``check`` is registered by derive/cli/main.py with ``cli.add_command(check)``.
"""

import json
import sys

import click

from derive.cli.output import CONTEXT
from derive.errors import DeriveError


@click.command(context_settings=CONTEXT)
@click.argument("expression", required=False)
@click.option("--wrt", metavar="NAME", help="The variable to differentiate by (needed when there are several).")
@click.option("--answer", metavar="ANSWER", help="The student's derivative: plain text (2x cos(x^2)) or LaTeX (2x\\cos(x^2)).")
@click.option("--explain", "show_steps", is_flag=True, help="Add the full worked derivation after the verdict.")
@click.option("--batch", "batch_file", type=click.Path(exists=True, dir_okay=False),
              help="Check a CSV file with columns id, expression, wrt, answer (extra columns are kept).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="With --batch: the graded file to write (whole, or not at all).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv", "jsonl"]), default=None,
              help="One answer: text (default) or json. --batch: csv (default) or jsonl.")
@click.option("--resume", is_flag=True, help="With --batch: skip rows already checked in OUTPUT.partial.")
@click.option("--jobs", type=click.IntRange(1, 256), default=None, help="With --batch: worker processes (default: all cores).")
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False),
              help="With --batch: grade each student against their own version (the manifest.csv of "
                   "derive handout --students); the file then needs the student's id, the problem and the answer.")
@click.option("--id-column", metavar="NAME", help="With --batch: the column of the student's id (default id).")
@click.option("--answer-column", metavar="NAME",
              help="With --batch: the column of the answer (default answer); with a manifest, 'Response {problem}' "
                   "reads one column per problem, as Moodle's quiz Responses report has them.")
@click.option("--problem-column", metavar="NAME", help="With --batch --manifest: the column of the problem number.")
@click.option("--expression-column", metavar="NAME", help="With --batch: the column of the expression (default expression).")
@click.option("--wrt-column", metavar="NAME", help="With --batch: the column of the variable (default wrt).")
def check(expression, wrt, answer, show_steps, batch_file, output, fmt, resume, jobs, manifest, id_column,
          answer_column, problem_column, expression_column, wrt_column):
    """Check a derivative: correct or incorrect, the likely mistake and where, and a point
    where the answer differs.

    \b
    Examples:
      derive check "(w*x + b - y)^2" --wrt w --answer "2(w x + b - y) x"
      derive check "(w*x + b - y)^2" --wrt w --answer "2(w x + b - y)"      # names the mistake
      derive check "tan(x)" --answer "1 + tan(x)^2" --format json
      derive check "sin(x^2)" --answer '2x\\cos(x^2)' --explain
      derive check --batch answers.csv -o graded.csv
      derive check --batch answers.csv -o graded.jsonl --format jsonl --resume --jobs 2
      derive check --batch answers.csv --manifest class/manifest.csv -o graded.csv
      derive check --batch responses.csv --manifest class/manifest.csv --id-column "ID number" -o graded.csv

    Exit codes: 0 correct (or a batch finished); 1 incorrect; 2 bad input.
    """
    if batch_file:
        if expression or answer or show_steps:
            raise DeriveError("--batch reads everything from the file: drop EXPRESSION, --answer and --explain")
        if not output:
            raise DeriveError("--batch needs -o OUTPUT, the graded file to write")
        if fmt in ("text", "json"):
            raise DeriveError("--batch writes csv or jsonl: use --format csv or --format jsonl")
        from derive import startup
        from derive.grade.batch import run_batch

        startup.imports_done()  # before the workers fork: they share what start-up made
        columns = {"id_column": id_column, "answer_column": answer_column, "problem_column": problem_column,
                   "expression_column": expression_column, "wrt_column": wrt_column}
        summary = run_batch(batch_file, output, fmt=fmt or "csv", resume=resume, jobs=jobs, manifest=manifest,
                            columns=columns)
        click.echo(summary, err=True)
        return
    if output or resume or jobs or manifest or id_column or answer_column or problem_column:
        raise DeriveError("-o, --resume, --jobs, --manifest and the --…-column options go with --batch")
    if not expression:
        raise DeriveError("give the expression and --answer, or --batch FILE.csv -o OUT")
    if answer is None:
        raise DeriveError("give the student's derivative with --answer")
    if fmt in ("csv", "jsonl"):
        raise DeriveError("one answer is written as text or json")
    from derive import startup
    from derive.grade.answer import check_answer, problem
    from derive.grade.words import report

    startup.imports_done()

    result = check_answer(expression, wrt, answer)
    if fmt == "json":
        text = json.dumps(result.to_dict(), ensure_ascii=False, indent=2) + "\n"
    else:
        from derive.grade.answer import _decimal_tolerance

        text = report(result, _decimal_tolerance(answer))
    if show_steps:
        from derive.derivation import explain

        steps = explain(expression if "σ" not in expression else problem(expression, wrt).expr,
                        wrt=str(problem(expression, wrt).wrt))
        text += "\n" + steps.to_text()
    click.echo(text, nl=not text.endswith("\n"))
    sys.exit(0 if result.correct else 1)
