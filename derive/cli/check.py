"""``derive check``: one answer (and the working that led to it), or a class's answers from
a CSV file.

The command object ``check`` is registered by derive/cli/main.py with ``cli.add_command(check)``.
"""

import json
import sys

import click

from derive.cli.output import CONTEXT
from derive.errors import DeriveError

# Exit codes: what a script can branch on.
EXIT = {"correct": 0, "incorrect": 1, "depends_on_domain": 1, "uncertain": 1, "unreadable": 2}


@click.command(context_settings=CONTEXT)
@click.argument("expression", required=False)
@click.option("--wrt", metavar="NAME", help="The variable to differentiate by (needed when there are several).")
@click.option("--answer", metavar="ANSWER", help="The student's derivative: plain text (2x cos(x^2)) or LaTeX (2x\\cos(x^2)).")
@click.option("--working", "working_file", type=click.Path(exists=True, dir_okay=False),
              help="A file with the student's working, one line per step (= … or an equation; LaTeX align with &=).")
@click.option("--decimals", metavar="POLICY", default=None,
              help="How answers with decimals are judged: rounded (default: right when the exact value "
                   "correctly rounded to the digits typed), exact, or tolerance=R (a relative R).")
@click.option("--explain", "show_steps", is_flag=True, help="Add the full worked derivation after the verdict.")
@click.option("--batch", "batch_file", type=click.Path(exists=True, dir_okay=False),
              help="Check a CSV file with columns id, expression, wrt, answer (extra columns are kept; "
                   "a 'working' column is checked line by line).")
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
@click.option("--encoding", default=None, metavar="NAME",
              help="With --batch: the CSV file's text encoding (default: UTF-8, refused if it is not).")
@click.option("--no-formula-guard", "formula_guard", is_flag=True, default=True, flag_value=False,
              help="With --batch: write cells that start with = + - @ as they are (by default they get a "
                   "leading ' so that a spreadsheet shows them instead of running them).")
def check(expression, wrt, answer, working_file, decimals, show_steps, batch_file, output, fmt, resume, jobs,
          manifest, id_column, answer_column, problem_column, expression_column, wrt_column, encoding,
          formula_guard):
    """Check a derivative: how the answer was read, correct or incorrect, the likely
    mistake and where, and a point where the answer differs.

    \b
    Examples:
      derive check "(w*x + b - y)^2" --wrt w --answer "2(w x + b - y) x"
      derive check "(w*x + b - y)^2" --wrt w --answer "2(w x + b - y)"      # names the mistake
      derive check "x^2 y" --wrt x --answer "2xy"                           # read as 2·x·y
      derive check "x^3/9" --wrt x --answer "0.3333x^2"                     # 1/3 correctly rounded
      derive check "tan(x)" --answer "1 + tan(x)^2" --format json
      derive check "x^2 sin(x)" --wrt x --working steps.txt                 # the first wrong line
      derive check --batch answers.csv -o graded.csv
      derive check --batch answers.csv -o graded.jsonl --format jsonl --resume --jobs 2
      derive check --batch answers.csv --manifest class/manifest.csv -o graded.csv
      derive check --batch responses.csv --manifest class/manifest.csv --id-column "ID number" -o graded.csv

    Verdicts: correct, incorrect, depends_on_domain (equal where both are real, undefined
    elsewhere), uncertain (no decision within the bounds), unreadable (the answer could
    not be read, or has a name the problem lacks).

    Exit codes: 0 correct (or a batch finished); 1 not correct; 2 bad input or an
    unreadable answer.
    """
    from derive.grade.decimals import Decimals

    policy = Decimals.parse(decimals)
    if batch_file:
        if expression or answer or show_steps or working_file:
            raise DeriveError("--batch reads everything from the file: drop EXPRESSION, --answer, --working "
                              "and --explain")
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
                            columns=columns, decimals=str(policy), encoding=encoding, formula_guard=formula_guard)
        click.echo(summary, err=True)
        return
    if output or resume or jobs or encoding or manifest or id_column or answer_column or problem_column:
        raise DeriveError("-o, --resume, --jobs, --encoding, --manifest and the --…-column options go with --batch")
    if not expression:
        raise DeriveError("give the expression and --answer (or --working), or --batch FILE.csv -o OUT")
    if answer is None and working_file is None:
        raise DeriveError("give the student's derivative with --answer, or their working with --working FILE")
    if fmt in ("csv", "jsonl"):
        raise DeriveError("one answer is written as text or json")
    from derive import startup
    from derive.grade.answer import problem

    startup.imports_done()
    from derive.cli.output import bounded

    with bounded("the expression or the answer is too large to check; try a smaller one"):
        if working_file is not None:
            prepared = problem(expression, wrt if wrt is None else str(wrt), 0, None)
            text, code = _working(prepared, working_file, answer, policy, fmt)
        else:
            text, code = _one(expression, wrt, answer, policy, fmt)
            prepared = problem(expression, wrt if wrt is None else str(wrt), 0, None) if show_steps else None
        if show_steps:
            from derive.derivation import explain

            steps = explain(expression if "σ" not in expression else prepared.expr, wrt=str(prepared.wrt))
            text += "\n" + steps.to_text()
    click.echo(text, nl=not text.endswith("\n"))
    sys.exit(code)


def _one(expression, wrt, answer, policy, fmt):
    from derive.grade.answer import check_answer
    from derive.grade.words import report

    result = check_answer(expression, wrt, answer, decimals=str(policy))
    if fmt == "json":
        return json.dumps(result.to_dict(), ensure_ascii=False, indent=2) + "\n", EXIT[result.verdict]
    if result.verdict == "unreadable":
        hint = f"; did you mean {' or '.join(result.suggestions)}?" if result.suggestions else ""
        raise DeriveError(f"answer: {result.reason}{hint}")
    return report(result), EXIT[result.verdict]


def _working(prepared, path, answer, policy, fmt):
    from derive.grade.working import check_working, read_working_file

    lines = read_working_file(path)
    if answer is not None:
        lines.append(answer)
    found = check_working(prepared, lines, decimals=str(policy))
    if fmt == "json":
        return json.dumps(found.to_dict(), ensure_ascii=False, indent=2) + "\n", found.exit_code
    return found.report(), found.exit_code
