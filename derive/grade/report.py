"""What a teacher and each student read after ``derive grade``: the per-problem report (HTML,
with bar charts drawn as inline SVG: no script, nothing fetched) and the feedback files
(Markdown or HTML). The words and the layout are in ``templates/grade_*.j2``; everything a
student typed is escaped (HTML by Jinja's autoescape, Markdown by :func:`md`)."""

import functools
import re

import jinja2

from derive.render.formats import templates_dir

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>&|#~])")


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


@functools.lru_cache(maxsize=65536)  # a class's messages repeat from student to student
def md(text):
    """Text safe inside Markdown: no raw HTML, link, emphasis or heading can start in it, and
    it stays one line (control characters and line breaks become spaces)."""
    text = _UNPRINTABLE.sub(" ", str(text))
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return re.sub(r"^(\s*)([-+=]|\d+[.)])", r"\1\\\2", text)


@functools.lru_cache(maxsize=65536)
def code(text):
    """Text as a Markdown code span, whatever backticks it holds."""
    text = _UNPRINTABLE.sub(" ", str(text))
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {text} {fence}" if text else "(empty)"


@functools.lru_cache(maxsize=None)
def _environment():
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())), trim_blocks=True,
                             lstrip_blocks=True, undefined=jinja2.StrictUndefined,
                             autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",),
                                                                 default_for_string=False))
    env.filters["md"] = md
    env.filters["code"] = code
    return env


def report_html(key, problems):
    """The per-problem report as one HTML page."""
    rows = []
    for entry in problems:
        stats = entry["stats"]
        verdicts = dict(stats["verdicts"]) if stats else {}
        mistakes = stats["mistakes"].most_common(8) if stats else []
        rows.append({
            "problem": entry["problem"],
            "answers": stats["answers"] if stats else 0,
            "verdicts": [(v, verdicts.get(v, 0)) for v in ("correct", "incorrect", "depends_on_domain", "uncertain",
                                                          "unreadable", "invalid")],
            "mistakes": mistakes,
            "classes": entry["classes"],
            "mean": (stats["score"] / stats["answers"]) if stats and stats["answers"] else 0.0,
            "uncertain": stats["uncertain"] if stats else [],
        })
    return _environment().get_template("grade_report.html.j2").render(title=key.title, problems=rows)


def feedback_file(key, student, rows, fmt):
    """One student's feedback: their answers as read, verdicts, marks, and worked solutions."""
    answers = []
    total = points = 0.0
    for (_, number, label, answer, read_as, verdict, value, worth, reason, mistakes, place, message, working,
         expression, wrt, solution) in rows:
        total += value
        points += worth
        answers.append({"number": number, "label": label, "answer": answer, "read_as": read_as, "verdict": verdict,
                        "score": value, "points": worth, "reason": reason,
                        "mistakes": [m for m in mistakes.split(";") if m], "where": place, "message": message,
                        "working": working, "expression": expression, "wrt": wrt, "solution": solution or ""})
    name = "grade_feedback.html.j2" if fmt == "html" else "grade_feedback.md.j2"
    return _environment().get_template(name).render(title=key.title, student=student, answers=answers,
                                                   total=total, points=points)
