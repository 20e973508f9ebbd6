"""A student's working, line by line: the first wrong line, what it should have been, the
rule most likely misapplied there, and whether the lines after it follow from it.

    derive check "x^2 sin(x)" --wrt x --working steps.txt

Lines are plain text, one step per line, each ``= …`` or a whole equation (``f'(x) = …``,
``= a = b`` on one line is two steps); or LaTeX (``\\begin{align*} f'(x) &= … \\\\ &= …
\\end{align*}``). A step may still hold derivatives to be worked out, as ``d/dx(x^2)``,
``(x^2)'`` or ``\\frac{d}{dx}\\left(x^2\\right)``: they stand for their true derivatives.

Every step is compared, as an answer is (:mod:`derive.grade.answer`), with the true
derivative and with the step before it. The first step that is not the derivative is the
first wrong line. Where the step before it still held derivatives to work out, the engine is
run on each of them with one rule broken at a time (:mod:`derive.grade.mistakes`); a broken
rule that turns the step before into this one names the mistake, and what that part should
have been. Otherwise the change is named by comparing the two steps' trees (a sign flipped,
a factor dropped). Later steps equal to the one before them are follow-through: the right
method carried on from a wrong line.
"""

import re
from dataclasses import dataclass, field

import sympy

from derive.errors import DeriveError, ParseError
from derive.grade.mistakes import PRIORITY, enumerate_mistakes
from derive.grade.reading import read
from derive.grade.values import NotSupported, compile_expression

MAX_LINES = 200
MAX_BYTES = 64 * 1024
MAX_NOTATIONS = 12  # derivatives to work out in one step
_LABEL = re.compile(r"^\s*(?:[A-Za-z]\s*'+\s*(?:\(\s*[A-Za-z]\w*\s*\))?|d\s*[A-Za-z]\w*\s*/\s*d\s*[A-Za-z]\w*|"
                    r"\\frac\{d\s*[A-Za-z]\w*\}\{d\s*[A-Za-z]\w*\}|[A-Za-z]\s*'?\s*\(\s*[A-Za-z]\w*\s*\)|y)\s*$")


@dataclass
class Step:
    """One step of the working: where it was typed and what it says."""

    line: int
    text: str
    expr: object = None
    error: str = ""
    equals_derivative: str = ""  # correct, incorrect, depends_on_domain, uncertain, unreadable
    equals_previous: str = ""  # same, changed, first
    notation: list = field(default_factory=list)  # (placeholder, inner, true derivative)


@dataclass
class WorkingResult:
    """The verdict on a whole working."""

    verdict: str  # correct, incorrect, unreadable
    steps: list
    first_wrong: int | None = None  # index into steps
    should_be: str = ""
    mistake: str = ""
    where: str = ""
    follow_through: list = field(default_factory=list)  # step indices that follow from the wrong one
    expected: str = ""
    message: str = ""

    @property
    def exit_code(self):
        return {"correct": 0, "unreadable": 2}.get(self.verdict, 1)

    def to_dict(self):
        wrong = self.steps[self.first_wrong] if self.first_wrong is not None else None
        return {
            "verdict": self.verdict,
            "first_wrong_line": wrong.line if wrong else None,
            "should_be": self.should_be,
            "mistake": self.mistake,
            "where": self.where,
            "follow_through_lines": [self.steps[k].line for k in self.follow_through],
            "expected": self.expected,
            "message": self.message,
            "steps": [{"line": s.line, "text": s.text, "read_as": _shown(s.expr) if s.expr is not None else "",
                       "equals_derivative": s.equals_derivative, "equals_previous": s.equals_previous,
                       "error": s.error} for s in self.steps],
        }

    def report(self):
        from derive.grade.words import working_report

        return working_report(self)


def _shown(expr):
    from derive.render.printing import to_text

    try:
        return to_text(expr)
    except Exception:  # printing is for the reader; never lose a verdict to it
        return str(expr)


# ------------------------------------------------------------------------------ reading


def read_working_file(path):
    """The lines of a working file (UTF-8, bounded)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as error:
        raise DeriveError(f"cannot read {path}: {error.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise DeriveError(f"{path}: the working is longer than {MAX_BYTES // 1024} KB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DeriveError(f"{path} is not UTF-8 text") from None
    return split_lines(text)


def split_lines(text):
    """A working (one text) as its lines; a LaTeX align block as its rows."""
    if "\\\\" in text or "&=" in text or "\\begin" in text:
        body = re.sub(r"\\(begin|end)\{[a-z*]+\}", "\n", text)
        rows = [row.replace("&", " ") for row in re.split(r"\\\\", body)]
        return [" ".join(row.split()) for row in rows]
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def steps_of(lines):
    """[Step] from the lines: each part between '=' signs is a step; labels such as f'(x),
    dy/dx are left out."""
    if len(lines) > MAX_LINES:
        raise DeriveError(f"the working has {len(lines)} lines; at most {MAX_LINES}")
    steps = []
    for number, line in enumerate(lines, 1):
        if not line or not line.strip():
            continue
        for k, part in enumerate(_top_level_split(line)):
            if not part.strip():
                continue
            if k == 0 and len(_top_level_split(line)) > 1 and _LABEL.match(part):
                continue  # the left side names the derivative: f'(x) = …
            steps.append(Step(number, part.strip()))
    return steps


def _top_level_split(line):
    """Split on '=' outside brackets and braces."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(line):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "=" and depth == 0:
            parts.append(line[start:i])
            start = i + 1
    parts.append(line[start:])
    return parts


_D_TEXT = re.compile(r"d\s*/\s*d\s*([A-Za-z]\w*)\s*")
_D_LATEX = re.compile(r"\\frac\s*\{\s*d\s*\}\s*\{\s*d\s*([A-Za-z]\w*)\s*\}\s*")


def _group(text, start):
    """(inner text, end) of a bracketed group starting at ``start`` ( ( [ { or \\left( )."""
    opener = text[start:start + 6]
    if opener.startswith("\\left"):
        close = text.find("\\right", start)
        depth, i = 0, start
        while i < len(text):
            if text.startswith("\\left", i):
                depth += 1
                i += 5
                continue
            if text.startswith("\\right", i):
                depth -= 1
                if depth == 0:
                    return text[start + 6:i], i + 7
                i += 6
                continue
            i += 1
        return None if close < 0 else None
    pairs = {"(": ")", "[": "]", "{": "}"}
    if start >= len(text) or text[start] not in pairs:
        return None
    depth = 0
    for i in range(start, len(text)):
        if text[i] in "([{":
            depth += 1
        elif text[i] in ")]}":
            depth -= 1
            if depth == 0:
                return text[start + 1:i], i + 1
    return None


def _notations(text, wrt):
    """The derivatives a step still holds: [(start, end, inner text)] for d/dx(…),
    \\frac{d}{dx}(…) and (…)'."""
    found = []
    for pattern in (_D_TEXT, _D_LATEX):
        for match in pattern.finditer(text):
            if match.group(1) != wrt:
                continue
            group = _group(text, match.end())
            if group is None:
                continue
            inner, end = group
            found.append((match.start(), end, inner))
    for match in re.finditer(r"'", text):
        end = match.start()
        if end == 0 or text[end - 1] not in ")]}":
            continue
        closer = text[end - 1]
        opener = {")": "(", "]": "[", "}": "{"}[closer]
        depth = 0
        for i in range(end - 1, -1, -1):
            if text[i] == closer:
                depth += 1
            elif text[i] == opener:
                depth -= 1
                if depth == 0:
                    left = i
                    if text[max(0, i - 5):i] == "\\left":
                        left = i - 5
                    found.append((left, match.end(), text[i + 1:end - 1].replace("\\right", "")))
                    break
    found.sort()
    kept, last = [], -1
    for start, end, inner in found:  # outermost first, no overlaps
        if start >= last:
            kept.append((start, end, inner))
            last = end
    return kept


def read_step(step, problem):
    """The step's expression, with each derivative it holds replaced by its true value."""
    text = step.text
    spans = _notations(text, problem.wrt.name)
    if len(spans) > MAX_NOTATIONS:
        raise ParseError(f"a step holds more than {MAX_NOTATIONS} derivatives to work out")
    names = set(problem.names)
    replacements = {}
    pieces, last = [], 0
    for k, (start, end, inner) in enumerate(spans, 1):
        placeholder = f"derivative{k}"
        inner_expr = read(inner, "a derivative in the step", names=names)
        true = sympy.diff(inner_expr, problem.wrt)
        replacements[placeholder] = true
        step.notation.append((placeholder, inner_expr, true))
        latex = "\\" in text
        pieces.append(text[last:start])
        pieces.append(f" \\mathrm{{{placeholder}}} " if latex else f" {placeholder} ")
        last = end
    pieces.append(text[last:])
    rewritten = "".join(pieces)
    expr = read(rewritten, "the step", names=names | set(replacements))
    unknown = sorted(s.name for s in expr.free_symbols if s.name not in names | set(replacements))
    if unknown:
        raise ParseError(f"the step has the variable{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}, "
                         f"which the problem does not have")
    symbols = {s.name: s for s in expr.free_symbols}
    held = expr
    expr = expr.xreplace({symbols[name]: value for name, value in replacements.items() if name in symbols})
    return expr, held


# ------------------------------------------------------------------------------ checking


def check_working(problem, lines, decimals=None):
    """Check the working ``lines`` (text) against ``problem`` (a prepared
    :class:`~derive.grade.answer.Problem`); the last line is the student's answer."""
    steps = steps_of(lines)
    result = WorkingResult(verdict="correct", steps=steps, expected=problem.expected)
    if not steps:
        result.verdict = "unreadable"
        result.message = _message(result, "the working has no steps")
        return result
    held = []
    previous = None
    for index, step in enumerate(steps):
        try:
            step.expr, raw = read_step(step, problem)
            compiled = compile_expression(step.expr)
        except (ParseError, NotSupported) as error:
            step.error = str(error)
            step.equals_derivative = "unreadable"
            held.append(None)
            continue
        held.append(raw)
        outcome = problem._compare(step.expr, compiled, step.text)
        step.equals_derivative = {"equal": "correct", "different": "incorrect", "undefined": "depends_on_domain"
                                  }.get(outcome.kind, outcome.kind)
        if previous is None:
            step.equals_previous = "first"
        else:
            same = problem._compare(step.expr, compiled, step.text, ref=problem.reference_for(steps[previous].expr))
            step.equals_previous = "same" if same.kind == "equal" else "changed"
        previous = index
        if step.equals_derivative != "correct" and result.first_wrong is None:
            result.first_wrong = index
    readable = [s for s in steps if s.expr is not None]
    if not readable:
        result.verdict = "unreadable"
        result.message = _message(result, steps[0].error)
        return result
    if result.first_wrong is None:
        result.verdict = "correct"
        result.message = _message(result)
        return result
    result.verdict = "incorrect"
    _diagnose(problem, steps, held, result)
    _follow_through(steps, result)
    result.message = _message(result)
    return result


def _diagnose(problem, steps, held, result):
    """The mistake at the first wrong step, and what the step should have been."""
    k = result.first_wrong
    wrong = steps[k]
    before = next((j for j in range(k - 1, -1, -1) if steps[j].expr is not None), None)
    if before is not None and held[before] is not None and steps[before].notation \
            and steps[before].equals_derivative == "correct":
        found = _broken_notation(problem, steps[before], held[before], wrong)
        if found:
            code, where, part, should, wrote = found
            result.mistake, result.where = code, where
            result.should_be = f"d/d{problem.wrt}({_shown(part)}) = {_shown(should)}" + (
                f", not {_shown(wrote)}" if wrote is not None else "")
            return
        # no single broken rule explains it: say what each derivative of the line before is
        result.mistake = ""
        parts = [f"d/d{problem.wrt}({_shown(inner)}) = {_shown(true)}" for _, inner, true in steps[before].notation]
        result.where = (f"working out the derivative{'s' if len(parts) > 1 else ''} of line {steps[before].line}")
        result.should_be = "; ".join(parts)
        return
    if before is None or steps[before].equals_derivative != "correct":
        matches = problem.diagnose(compile_expression(wrong.expr), wrong.expr)
        if matches:
            result.mistake, result.where = matches[0].code, matches[0].where
        result.should_be = problem.expected
        return
    change = _changed(steps[before].expr, wrong.expr)
    result.should_be = _shown(steps[before].expr)
    if change is not None:
        was, became, sign = change
        result.mistake = "sign_error" if sign else "algebra"
        result.where = f"{_shown(was)} became {_shown(became)} between line {steps[before].line} and line {wrong.line}"
    else:
        matches = problem.diagnose(compile_expression(wrong.expr), wrong.expr)
        if matches:
            result.mistake, result.where = matches[0].code, matches[0].where
        else:
            result.mistake = "algebra"
            result.where = f"the value changed between line {steps[before].line} and line {wrong.line}"


def _broken_notation(problem, before, held, wrong):
    """A rule broken in one derivative the step before still held, that turns the step
    before into this one: (code, where, the part, its derivative, what was written)."""
    wrong_compiled = compile_expression(wrong.expr)
    base = [problem.pool.points[k] for k in problem.pool.base]
    target = [wrong_compiled.floats(p)[0] for p in base]
    symbols = {s.name: s for s in held.free_symbols}
    correct = {symbols[name]: true for name, _inner, true in before.notation if name in symbols}
    best = None
    for name, inner, true in before.notation:
        if name not in symbols:
            continue
        for code, where, derivative in enumerate_mistakes(inner, problem.wrt, true):
            if code in ("not_differentiated",) and inner == problem.expr:
                continue
            trial = held.xreplace({**correct, symbols[name]: derivative})
            try:
                values = [compile_expression(trial).floats(p)[0] for p in base]
            except NotSupported:
                continue
            if all(a is not None and b is not None and abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-300)
                   for a, b in zip(values, target)):
                candidate = (PRIORITY.get(code, 99), code, where, inner, true, derivative)
                if best is None or candidate[0] < best[0]:
                    best = candidate
        if best is None:
            # the part was replaced by something no single broken rule gives: name the part
            continue
    if best is None:
        return None
    _, code, where, inner, true, derivative = best
    return code, f"{where}, working out d/d{problem.wrt}({_shown(inner)})", inner, true, derivative


def _changed(was, became):
    """The smallest part that differs between two trees: (old part, new part, is it only a
    sign?), or None when they differ everywhere."""
    if was == became:
        return None
    if (was + became) == 0:
        return was, became, True
    flipped = _one_term_flipped(was, became)
    if flipped is not None:
        return (*flipped, True)
    if type(was) is type(became) and len(was.args) == len(became.args) and was.args:
        differing = [(a, b) for a, b in zip(was.args, became.args) if a != b]
        if len(differing) == 1:
            inner = _changed(*differing[0])
            return inner or (differing[0][0], differing[0][1], False)
    if was.is_Add and became.is_Add:  # one term changed, the order of the terms aside
        old = [t for t in was.args if t not in became.args]
        new = [t for t in became.args if t not in was.args]
        if len(old) == 1 and len(new) == 1:
            sign = (old[0] + new[0]) == 0
            return old[0], new[0], sign
    return was, became, (was + became) == 0


def _one_term_flipped(was, became):
    """When expanding both shows one term with its sign flipped (3x² − 2x and x(3x + 2)):
    (that term, as it became); else None."""
    if sympy.count_ops(was) > 60 or sympy.count_ops(became) > 60:
        return None
    old, new = sympy.expand(was), sympy.expand(became)
    if not (old.is_Add and new.is_Add and len(old.args) == len(new.args)):
        return None
    gone = [t for t in old.args if t not in new.args]
    came = [t for t in new.args if t not in old.args]
    if len(gone) == 1 and len(came) == 1 and (gone[0] + came[0]) == 0:
        return gone[0], came[0]
    return None


def _follow_through(steps, result):
    """The steps after the first wrong one that follow from the step before them."""
    k = result.first_wrong
    for j in range(k + 1, len(steps)):
        if steps[j].expr is None:
            break
        if steps[j].equals_previous == "same" and steps[j].equals_derivative != "correct":
            result.follow_through.append(j)
        else:
            break


def _message(result, reason=""):
    from derive.grade.words import working_message

    return working_message(result, reason)
