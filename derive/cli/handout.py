"""``derive handout``: a TOML problem set to a worked-solution handout."""

import sys

import click

from derive import startup
from derive.cli.output import CONTEXT, bounded
from derive.errors import DeriveError


@click.command(context_settings=CONTEXT)
@click.argument("problem_set", metavar="FILE.toml", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(),
              help="The handout to write: .md, .tex, .pdf or .html (the extension picks the format); "
                   "with --students or --count, the folder to write every version into.")
@click.option("--format", "fmt", type=click.Choice(["markdown", "latex", "pdf", "html"]),
              help="The format, whatever the extension.")
@click.option("--answers/--no-answers", default=True, show_default=True,
              help="The answer key (every worked solution) or the student version (room to work).")
@click.option("--both", is_flag=True, help="Write the student version to OUT and the answer key to OUT-answers.")
@click.option("--templates", "templates", type=click.Path(file_okay=False, exists=True),
              help="A folder of your own templates that override the packaged ones file by file.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True,
              help="Seed of the random points of the numeric checks, and of each student's version.")
@click.option("--students", "roster", type=click.Path(dir_okay=False), metavar="ROSTER.csv",
              help="One version per student of the roster (columns id,name): a handout and a key each, "
                   "and manifest.csv, in the folder -o.")
@click.option("--count", type=click.IntRange(1, 2000), metavar="N", help="N versions (ids 1..N) instead of a roster.")
@click.option("--combined", is_flag=True,
              help="With --students/--count: one handout file and one key file to print, a page break "
                   "between students (.pdf or LaTeX).")
def handout(problem_set, output, fmt, answers, both, templates, seed, roster, count, combined):
    """Write a worked-solution handout from a TOML problem set.

    The file has a `title` (and optionally `author`, `course`, `date`, `instructions`),
    then `[[problems]]` tables, each with `name` (a problem from derive list) or
    `expression`, and `wrt`, and optionally `let`, `prompt` and `points`. The page:
    `paper` ("a4" or "letter"), and for the set or one problem `space` ("6cm", "2cm per
    point": room to work) and `working` ("box", "lines", "blank"). Maths in a prompt or
    the instructions goes between dollars: $d/dx sin(x^2)$.

    \b
    Examples:
      derive handout examples/lesson.toml -o lesson.pdf
      derive handout examples/practice.toml -o practice.html --both
      derive handout examples/practice.toml -o practice.md --no-answers
      derive handout examples/lesson.toml -o lesson.tex --templates my-letterhead/
      derive handout examples/class.toml --students examples/roster.csv -o class/
      derive handout examples/class.toml --count 30 --combined -o print/ --format pdf

    Exit codes: 0 written; 2 bad input (nothing written); 3 a solution failed its check.
    """
    if roster is not None or count is not None:
        if both or not answers:
            raise DeriveError("--students and --count write every student's handout and key: drop --both "
                              "and --no-answers")
        from derive.handout import students as classes

        written, versions = classes.run(problem_set, output, fmt=fmt, roster=roster, count=count, seed=seed,
                                        combined=combined, templates=templates)
        click.echo(f"Wrote {versions} versions into {output} ({len(written)} files, manifest.csv among them)",
                   err=True)
        return
    if combined:
        raise DeriveError("--combined goes with --students or --count")
    from derive.handout import build as handouts

    from derive.files import refuse_inputs

    kind = handouts.output_format(output, fmt)
    if kind == "pdf":
        handouts.tex_engine()  # say what is missing before any work is done
    with bounded("the problem set is too much to work out; split it, or simplify its largest problem"):
        problems = handouts.load(problem_set)  # (a set of problem templates is drawn as it is read)
        outputs = [handouts.answers_path(output), output] if both else [output]
        data = problems.descent.data_path if problems.descent is not None else None
        refuse_inputs(outputs, [("the problem set", problem_set), ("the [descent] data file", data)])
        _work(problems, output, kind, answers, both, templates, seed)


def _work(problems, output, kind, answers, both, templates, seed):
    from derive.handout import build as handouts

    from derive import derivation  # noqa: F401  (the heavy imports, once the input is known good)
    from derive.render import formats  # noqa: F401

    startup.imports_done()
    count = len(problems.problems)
    show = sys.stderr.isatty() and count >= 5
    if show:
        with click.progressbar(length=count, label="Working the problems", file=sys.stderr) as bar:
            solved = handouts.solve(problems, seed=seed, progress=lambda spec: bar.update(1))
    else:
        solved = handouts.solve(problems, seed=seed)
    failed = [item.spec.number for item in solved.solved if not item.passed]
    if failed:
        raise DeriveError(f"the numeric check failed for problem {', '.join(map(str, failed))}; "
                          "no handout was written (see derive explain on that problem)", )
    versions = [(handouts.answers_path(output), True), (output, False)] if both else [(output, answers)]
    handouts.write_versions(solved, versions, kind, templates=templates)
    for path, with_answers in versions:
        click.echo(f"Wrote {path} ({'answer key' if with_answers else 'student version'}, "
                   f"{len(solved.items)} problems)", err=True)
