"""PrairieLearn questions: a folder per problem, its variants drawn the way derive keeps them.

    derive variants SET.toml --count 30 -o questions/ --format prairielearn

Each folder holds ``info.json`` (a v3 question), ``question.html`` (the prompt and a
``pl-symbolic-input`` named ``derivative``), and ``server.py``, whose ``generate(data)``
draws the variant with PrairieLearn's seeded ``random`` from the variants derive kept (so
the numbers vary only among versions that ask for the same work: PrairieLearn has no step
engine to judge a fresh draw), and whose ``grade(data)`` gives derive's words for a wrong
answer that matches a mistake derive predicts for that variant. The structure follows
PrairieLearn's documentation (docs/question/server.md, docs/elements/pl-symbolic-input.md)
and its example question exampleCourse/questions/element/symbolicInput (PrairieLearn/
PrairieLearn, commit 88fb8556).

The generated ``server.py`` needs only the standard library and SymPy (which PrairieLearn
ships); a submitted answer reaches SymPy only after its tokens were checked against the
question's variables and a fixed list of functions.
"""

import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import sympy
from sympy.printing.str import StrPrinter

from derive.errors import DeriveError

FUNCTIONS = ("sin", "cos", "tan", "cot", "sec", "csc", "asin", "acos", "atan", "sinh", "cosh", "tanh",
             "exp", "log", "sqrt", "abs")
NAMESPACE = uuid.UUID("6b1d3c1e-3f7a-4e0b-9a57-2f0c1d9a8e41")


class NotSymbolic(DeriveError):
    """An expression pl-symbolic-input cannot take."""


class PrairieLearnPrinter(StrPrinter):
    """SymPy as pl-symbolic-input reads it: ``**``, ``abs``, ``e``, σ written out."""

    def _print_Exp1(self, expr):
        return "e"

    def _print_Abs(self, expr):
        return f"abs({self._print(expr.args[0])})"

    def _print_sigmoid(self, expr):
        return f"(1/(1 + exp(-({self._print(expr.args[0])}))))"

    def _print_Function(self, expr):
        name = expr.func.__name__
        if name in FUNCTIONS:
            return f"{name}({', '.join(self._print(a) for a in expr.args)})"
        raise NotSymbolic(f"{name}() cannot be typed into pl-symbolic-input")

    def emptyPrinter(self, expr):
        raise NotSymbolic(f"{type(expr).__name__} cannot be typed into pl-symbolic-input")

    for _name in ("Max", "Min", "Piecewise", "Derivative", "Subs", "Sum", "Indexed", "Heaviside", "sign",
                  "AppliedUndef", "Relational"):
        locals()[f"_print_{_name}"] = lambda self, expr: self.emptyPrinter(expr)
    del _name


def to_symbolic(expr):
    """Text pl-symbolic-input reads (and the generated server.py's reader)."""
    return PrairieLearnPrinter({"order": "none"}).doprint(expr)


def _variant(problem, variant):
    """What server.py needs of one kept variant."""
    from derive.grade.answer import enumerate_mistakes
    from derive.grade.words import explanation
    from derive.render import formats as rendering
    from derive.render.printing import to_latex

    document = variant.solved.document
    expr, wrt, derivative = document.subject.written_out, document.wrt, document.result
    mistakes, seen = [], {sympy.srepr(derivative)}
    for code, where, wrong in enumerate_mistakes(expr, wrt, derivative):
        key = sympy.srepr(wrong)
        if key in seen:
            continue
        seen.add(key)
        try:
            mistakes.append([code, f"{explanation(code)} ({where}).", to_symbolic(wrong)])
        except NotSymbolic:
            continue
    prompt = variant.entry.get("prompt")
    return {
        "parameters": {name: str(value) for name, value in variant.draw.items()},
        "expression": to_latex(document.expression),
        "wrt": str(wrt),
        "prompt": prompt,
        "derivative": to_symbolic(derivative),
        "mistakes": mistakes,
        "solution": rendering.render(document, "html", embedded=True),
    }


def question_files(template, problem, variants):
    """``{file name: text}`` of one question folder."""
    entry = problem.entry
    title = str(template.data.get("title", "derive"))
    data = [_variant(problem, v) for v in variants]
    wrt = data[0]["wrt"]
    variables = sorted({s.name for v in variants for s in v.solved.document.subject.written_out.free_symbols})
    for name in variables:
        if name in FUNCTIONS or name in ("e", "pi", "i", "j"):
            raise NotSymbolic(f"the variable {name} is a name pl-symbolic-input keeps for itself")
    info = {
        "uuid": str(uuid.uuid5(NAMESPACE, f"{title}\x1f{problem.number}\x1f{entry.get('expression')}")),
        "title": f"{title}: problem {problem.number}",
        "topic": "Derivatives",
        "tags": ["derive", "derivatives"],
        "type": "v3",
    }
    html = QUESTION_HTML.replace("@VARIABLES@", ", ".join(variables)).replace("@WRT@", wrt)
    import pprint

    # Python literals (None, not null): the data is plain str/list/dict, printed by pprint.
    server = SERVER_PY.replace("@VARIANTS@", pprint.pformat(data, width=110)) \
        .replace("@VARIABLES@", repr(variables)).replace("@FUNCTIONS@", repr(list(FUNCTIONS)))
    return {"info.json": json.dumps(info, indent=2) + "\n", "question.html": html, "server.py": server}


def write(template, kept, folder):
    """Write a question folder per problem into ``folder`` (whole, or not at all); returns
    the notes of what was left out."""
    from derive.handout.variants import exported

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise DeriveError(f"{folder} is a file; --format prairielearn writes a folder of questions")
    notes, questions = [], {}
    for problem, variants in exported(template, kept, notes,
                                      "a PrairieLearn question here is one expression and one variable"):
        try:
            questions[f"problem-{problem.number:02d}"] = question_files(template, problem, variants)
        except NotSymbolic as error:
            notes.append(f"problem {problem.number} left out: {error}")
    if not questions:
        raise DeriveError("no problem of the set can be a PrairieLearn symbolic question (" + "; ".join(notes) + ")")
    folder.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".derive-pl-", dir=folder.parent))
    try:
        for name, files in questions.items():
            (stage / name).mkdir()
            for file, text in files.items():
                (stage / name / file).write_text(text, encoding="utf-8")
        folder.mkdir(exist_ok=True)
        for name in questions:
            if (folder / name).exists():
                shutil.rmtree(folder / name)
            os.replace(stage / name, folder / name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return notes


QUESTION_HTML = """<pl-question-panel>
  <p>{{#params.prompt}}{{params.prompt}}{{/params.prompt}}{{^params.prompt}}Differentiate with respect to $@WRT@$:{{/params.prompt}}</p>
  <p>$$ {{params.expression}} $$</p>
</pl-question-panel>

<pl-symbolic-input answers-name="derivative" variables="@VARIABLES@" label="$\\dfrac{d}{d@WRT@} =$"></pl-symbolic-input>

<pl-submission-panel>
  {{#feedback.derivative}}<p>{{feedback.derivative}}</p>{{/feedback.derivative}}
</pl-submission-panel>

<pl-answer-panel>
  {{{params.solution}}}
</pl-answer-panel>
"""

SERVER_PY = '''"""A derivative question written by derive (derive variants --format prairielearn).

generate() picks one of the variants derive kept (each asks for the same rules as the
problem's reference; derive's step engine decided it, so the list is fixed here) with
PrairieLearn's seeded random; grade() adds derive's words when a wrong answer matches a
mistake derive predicts for that variant. Regenerate rather than edit.
"""

import random
import re

import sympy
from sympy.parsing.sympy_parser import parse_expr, standard_transformations

VARIANTS = @VARIANTS@
VARIABLES = @VARIABLES@
FUNCTIONS = @FUNCTIONS@
ANSWER = "derivative"
_TOKEN = re.compile(r"\\s*(?:(\\d+\\.?\\d*|\\.\\d+)|([A-Za-z_][A-Za-z0-9_]*)|(\\*\\*|[-+*/^(),]))")


def generate(data):
    k = random.randrange(len(VARIANTS))
    variant = VARIANTS[k]
    data["params"]["variant"] = k
    data["params"]["parameters"] = variant["parameters"]
    data["params"]["expression"] = variant["expression"]
    data["params"]["prompt"] = variant["prompt"] or ""
    data["params"]["solution"] = variant["solution"]
    data["correct_answers"][ANSWER] = variant["derivative"]


def grade(data):
    score = data.get("partial_scores", {}).get(ANSWER, {}).get("score")
    if score is not None and score >= 1:
        return
    submitted = data.get("submitted_answers", {}).get(ANSWER)
    if isinstance(submitted, dict):
        submitted = submitted.get("_value")
    if not isinstance(submitted, str):
        return
    try:
        answer = _read(submitted)
    except (ValueError, TypeError, SyntaxError, sympy.SympifyError):
        return
    variant = VARIANTS[data["params"]["variant"]]
    for code, feedback, wrong in variant["mistakes"]:
        if _same(answer, _read(wrong)):
            data["feedback"][ANSWER] = feedback
            return


def _read(text):
    """Text to SymPy: only numbers, the question's variables, the known functions and
    + - * / ^ ( ) , get through to SymPy's parser."""
    text = text.replace("_Exp1", "e")
    position, names = 0, set()
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ValueError("unexpected character")
        if match.group(2):
            names.add(match.group(2))
        position = match.end()
    if len(text) > 2000 or names - set(VARIABLES) - set(FUNCTIONS) - {"e", "pi", "E"}:
        raise ValueError("unknown name")
    local = {name: sympy.Symbol(name) for name in VARIABLES}
    local.update({name: getattr(sympy, "Abs" if name == "abs" else name) for name in FUNCTIONS})
    local.update({"e": sympy.E, "E": sympy.E, "pi": sympy.pi})
    glob = {"__builtins__": {}, "Integer": sympy.Integer, "Float": sympy.Float, "Rational": sympy.Rational,
            "Symbol": sympy.Symbol}
    return parse_expr(text.replace("^", "**"), local_dict=local, global_dict=glob,
                      transformations=standard_transformations)


def _same(a, b):
    """Equal at a few points where both are finite (never sympy.simplify on a student's text)."""
    rng = random.Random(1)
    symbols = [sympy.Symbol(name) for name in VARIABLES]
    agreed = 0
    for _ in range(12):
        point = {s: sympy.Rational(rng.randint(-290, 290), 97) for s in symbols}
        try:
            x, y = complex(a.subs(point).evalf(30)), complex(b.subs(point).evalf(30))
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if x != x or y != y or abs(x) == float("inf") or abs(y) == float("inf"):
            continue
        if abs(x - y) > 1e-9 * max(1.0, abs(x), abs(y)):
            return False
        agreed += 1
        if agreed >= 5:
            return True
    return False
'''
