"""Writing the platform exports of ``derive variants`` (STACK, PrairieLearn), whole or not at all."""

from derive.errors import DeriveError


def write(template, reports, output, fmt):
    """Write ``output`` in ``fmt`` from the survey's kept variants; returns the notes (what
    was left out, and why)."""
    kept = {r.problem.number: r.kept for r in reports if r.balancer is not None}
    if fmt == "stack":
        from derive.files import write_whole
        from derive.handout import export_stack

        text, _, notes = export_stack.export(template, kept)
        write_whole(output, text)
        return notes
    if fmt == "prairielearn":
        from derive.handout import export_prairielearn

        return export_prairielearn.write(template, kept, output)
    raise DeriveError(f"unknown export format {fmt}")
