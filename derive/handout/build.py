"""Worked-solution handouts: a TOML problem set in, Markdown, LaTeX, PDF or HTML out.

    title = "Calculating the gradient"
    [[problems]]
    name = "mse"
    wrt = "weight"
    [[problems]]
    expression = "sin(x^2)"
    wrt = "x"
    points = 2

Each problem is explained and checked exactly as ``derive explain`` does it; the answer
key carries every worked solution and its numeric check, the student version the
questions with room to work. Start-up and template compilation are paid once per
handout, not per problem.
"""

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from derive import tex
from derive.errors import DeriveError
from derive.files import write_whole

TOP_KEYS = {"title", "author", "course", "date", "instructions", "problems", "descent",
            "paper", "space", "working"}
PROBLEM_KEYS = {"name", "expression", "wrt", "let", "prompt", "points", "params", "space", "working"}
DESCENT_KEYS = {"name", "synthetic", "data", "learning_rate", "steps", "seed", "x", "y", "lambda", "delta",
                "prompt", "points", "params", "space", "working"}
MAX_DESCENT_POINTS = 1000  # a handout's worked example: small data (the sum with it plugged in shows up to 8)
MAX_DESCENT_STEPS = 100_000
MAX_LISTED = 20  # the [descent] problem lists its data (for working by hand) up to this many points
FORMATS = {".md": "markdown", ".markdown": "markdown", ".tex": "latex", ".pdf": "pdf",
           ".html": "html", ".htm": "html"}
MAX_PROBLEMS = 200
MAX_POINTS = 10_000  # points printed beside a problem (exam's \question[…] reads them)
MAX_FILE_BYTES = 1_000_000
MAX_DATA_BYTES = 5_000_000  # a [descent] data file: far more than MAX_DESCENT_POINTS rows need
TEX_SECONDS = 120
# The longest text a field takes, in characters: short ones go in a heading, the others are
# paragraphs. (A TeX line holds 200,000 characters; escaped, one character can take 19.)
SHORT_TEXT, LONG_TEXT = 500, 5000
TEXT_KEYS = {"title": SHORT_TEXT, "author": SHORT_TEXT, "course": SHORT_TEXT, "date": SHORT_TEXT,
             "instructions": LONG_TEXT, "prompt": LONG_TEXT, "x": SHORT_TEXT, "y": SHORT_TEXT, "data": SHORT_TEXT}


@dataclass
class ProblemSpec:
    """One problem of a set, as the file gives it."""

    number: int
    wrt: str | None
    name: str | None = None
    expression: str | None = None
    let: dict | None = None
    prompt: str | None = None
    points: float | None = None
    space: object = None  # a layout.Space, or None for the set's
    working: str | None = None  # box, lines or blank; None for the set's
    prompt_parts: tuple = ()  # the prompt read into text and maths (prompts.read), by solve()


@dataclass
class DescentSpec:
    """The ``[descent]`` table: a gradient-descent run worked with numbers, the last problem."""

    number: int
    name: str
    synthetic: int | None = None
    data: str | None = None  # as the file gives it
    data_path: str | None = None  # resolved against the problem set's folder
    learning_rate: float = 0.05
    steps: int = 200
    seed: int = 0
    x: str = "x"
    y: str = "y"
    hyper: dict = field(default_factory=dict)
    prompt: str | None = None
    points: float | None = None
    space: object = None
    working: str | None = None
    prompt_parts: tuple = ()


@dataclass
class ProblemSet:
    """A handout's contents: its title and the problems, in order."""

    title: str
    problems: list
    author: str | None = None
    course: str | None = None
    date: str | None = None
    instructions: str | None = None
    source: str = ""
    descent: DescentSpec | None = None
    paper: str = "a4"  # layout.PAPERS
    space: object = None  # a layout.Space for every problem without its own; None: by points
    working: str = "box"  # layout.WORKING
    instructions_parts: tuple = ()  # the instructions read into text and maths, by solve()


@dataclass
class Solved:
    """A problem with its explanation (a Derivation, a Gradient) ready to render."""

    spec: ProblemSpec
    document: object
    solution: str = ""

    @property
    def passed(self):
        return self.document.check is None or self.document.check.passed


@dataclass
class SolvedDescent:
    """The ``[descent]`` problem with its run (a ``derive.descend.Descent``), ready to render."""

    spec: DescentSpec
    run: object
    solution: str = ""

    @property
    def passed(self):
        engine = self.run.engine_check
        return self.run.check_passed and (engine is None or engine.passed)


@dataclass
class Handout:
    problem_set: ProblemSet
    solved: list = field(default_factory=list)
    descent: SolvedDescent | None = None

    @property
    def items(self):
        """Every numbered problem, the descent example last."""
        return self.solved + ([self.descent] if self.descent is not None else [])


def load(path):
    """Read and validate a problem set; every mistake is one line naming file, problem, key."""
    from derive.files import read_toml

    path = Path(path)
    return parse_problem_set(read_toml(path, MAX_FILE_BYTES), str(path))


def parse_problem_set(data, source="<problem set>", folder=None):
    """A ProblemSet from the parsed TOML, or DeriveError naming what is wrong and where.

    ``folder`` is where a ``[descent]`` table's ``data`` path is looked up (by default the
    folder of ``source``, when that is a file). A set with ``params`` (problem templates,
    see derive.handout.variants) gives its reference version.
    """
    from derive.handout import variants

    if isinstance(data, dict) and variants.has_params(data):
        folder = folder if folder is not None else (Path(source).parent if Path(source).is_file() else Path.cwd())
        data = variants.reference_data(data, source, folder)
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise DeriveError(f"{source}: unknown key {shown_key(unknown[0])} at the top; the keys are {', '.join(sorted(TOP_KEYS))}")
    if "descent" in data and not isinstance(data["descent"], dict):
        raise DeriveError(f"{source}: [descent] must be a table, as in [descent] name = \"mse\"")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise DeriveError(f"{source}: the key 'title' is missing; give the handout a title, as in title = \"Derivatives\"")
    for key in ("author", "course", "date", "instructions"):
        if key in data and not isinstance(data[key], (str,)) and key != "date":
            raise DeriveError(f"{source}: '{key}' must be text")
    _text_lengths(data, source)
    problems = data.get("problems")
    if not isinstance(problems, list) or not problems:
        raise DeriveError(f"{source}: there are no problems; add at least one [[problems]] table")
    if len(problems) > MAX_PROBLEMS:
        raise DeriveError(f"{source}: {len(problems)} problems is more than the {MAX_PROBLEMS} a handout takes")
    specs = [_problem(entry, number, source) for number, entry in enumerate(problems, start=1)]
    if folder is None:
        folder = Path(source).parent if Path(source).is_file() else Path.cwd()
    descent = _descent(data["descent"], len(specs) + 1, source, Path(folder)) if "descent" in data else None
    page = _page_keys(data, source)
    return ProblemSet(title=title.strip(), problems=specs, author=data.get("author"),
                      course=data.get("course"), date=str(data["date"]) if "date" in data else None,
                      instructions=data.get("instructions"), source=source, descent=descent, **page)


def _page_keys(entry, where, *, top=True):
    """The layout keys of the set (``paper``, ``space``, ``working``) or of one problem."""
    from derive.handout import layout

    keys = {}
    if top:
        keys["paper"] = layout.read_paper(entry["paper"], where) if "paper" in entry else layout.DEFAULT_PAPER
    if "space" in entry:
        keys["space"] = layout.read_space(entry["space"], where)
    if "working" in entry:
        keys["working"] = layout.read_working(entry["working"], where)
    return keys


def _number(value):
    import math

    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _descent(entry, number, source, folder):
    """The ``[descent]`` table, checked key by key; every mistake names the file and the key."""
    from derive.descend import SUPPORTED, get_descent_problem

    where = f"{source}: [descent]"
    unknown = sorted(set(entry) - DESCENT_KEYS)
    if unknown:
        raise DeriveError(f"{where}: unknown key {shown_key(unknown[0])}; [descent] takes {', '.join(sorted(DESCENT_KEYS))}")
    if "name" not in entry:
        raise DeriveError(f"{where}: the key 'name' is missing; name the loss, one of {', '.join(SUPPORTED)}")
    for key in ("name", "data", "x", "y", "prompt"):
        if key in entry and (not isinstance(entry[key], str) or not entry[key].strip()):
            raise DeriveError(f"{where}: the key '{key}' must be non-empty text")
    _text_lengths(entry, where)
    try:
        problem = get_descent_problem(entry["name"].strip())
    except DeriveError:
        raise DeriveError(f"{where}: the key 'name' is {shown_key(entry['name'])}, which descent cannot run; "
                          f"use one of {', '.join(SUPPORTED)}") from None
    if ("synthetic" in entry) == ("data" in entry):
        raise DeriveError(f"{where}: give exactly one of the keys 'synthetic' (a number of points to make) "
                          f"or 'data' (a CSV file with columns x and y)")
    spec = DescentSpec(number=number, name=problem.name, prompt=entry.get("prompt"), points=entry.get("points"))
    if "synthetic" in entry:
        n = entry["synthetic"]
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_DESCENT_POINTS:
            raise DeriveError(f"{where}: the key 'synthetic' must be a whole number of points from 1 to "
                              f"{MAX_DESCENT_POINTS}")
        for key in ("x", "y"):
            if key in entry:
                raise DeriveError(f"{where}: the key '{key}' names a column of a 'data' file; "
                                  f"'synthetic' makes x and y itself")
        spec.synthetic = n
    else:
        spec.data = entry["data"]
        spec.data_path = _data_file(entry["data"], folder, where)
        spec.x, spec.y = entry.get("x", "x").strip(), entry.get("y", "y").strip()
    if "learning_rate" in entry:
        rate = entry["learning_rate"]
        if not _number(rate) or rate <= 0:
            raise DeriveError(f"{where}: the key 'learning_rate' must be a positive number, as in learning_rate = 0.05")
        spec.learning_rate = float(rate)
    for key, low, high in (("steps", 0, MAX_DESCENT_STEPS), ("seed", 0, 2**32 - 1)):
        if key in entry:
            value = entry[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise DeriveError(f"{where}: the key '{key}' must be a whole number from {low} to {high}")
            setattr(spec, key, value)
    for key, owner in (("lambda", "ridge"), ("delta", "huber")):
        if key in entry:
            value = entry[key]
            if key not in problem.hyper:
                raise DeriveError(f"{where}: the key '{key}' is for {owner}, not {problem.name}")
            if not _number(value) or value <= 0:
                raise DeriveError(f"{where}: the key '{key}' must be a positive number")
            spec.hyper[key] = float(value)
    if "points" in entry and (not _number(entry["points"]) or entry["points"] < 0):
        raise DeriveError(f"{where}: the key 'points' must be a number of at least 0")
    for key, value in _page_keys(entry, where, top=False).items():
        setattr(spec, key, value)
    return spec


def shown_key(text):
    """A key or value from the file, quoted in a message: no control character reaches the
    terminal, and a long one is cut."""
    from derive.render.escape import shown

    return f"'{shown(text, 40)}'"


def _text_lengths(table, where):
    """Every text field within its length (see ``TEXT_KEYS``)."""
    for key, limit in TEXT_KEYS.items():
        value = table.get(key)
        if isinstance(value, str) and len(value) > limit:
            raise DeriveError(f"{where}: the key '{key}' is {len(value):,} characters long; it takes at most {limit:,}")


def _data_file(text, folder, where):
    """The ``[descent]`` data file, which must be inside the problem set's folder.

    A problem set is often someone else's: its data may not name a file elsewhere
    (``/etc/passwd``, ``~/grades.csv``, ``../grades.csv``, or a link that leads out), and
    whether such a file exists is not said either."""
    import os

    base = os.path.realpath(folder)
    inside = not (os.path.isabs(text) or text.startswith("~") or "\0" in text)
    path = os.path.realpath(os.path.join(base, text)) if inside else ""
    if not inside or not path.startswith(base + os.sep):
        raise DeriveError(f"{where}: the key 'data' must name a CSV file in the problem set's folder ({folder}) "
                          f"or below it; {shown_key(text)} is outside it")
    if not os.path.isfile(path):
        raise DeriveError(f"{where}: the key 'data': there is no file {shown_key(text)} in the problem set's "
                          f"folder ({folder})")
    if os.path.getsize(path) > MAX_DATA_BYTES:
        raise DeriveError(f"{where}: the key 'data': {shown_key(text)} is larger than {MAX_DATA_BYTES // 1_000_000} MB; "
                          f"a handout's descent takes at most {MAX_DESCENT_POINTS} points")
    return path


def _problem(entry, number, source):
    where = f"{source}: problem {number}"
    if not isinstance(entry, dict):
        raise DeriveError(f"{where}: must be a table, written [[problems]]")
    unknown = sorted(set(entry) - PROBLEM_KEYS)
    if unknown:
        raise DeriveError(f"{where}: unknown key {shown_key(unknown[0])}; a problem takes {', '.join(sorted(PROBLEM_KEYS))}")
    has_name, has_expression = "name" in entry, "expression" in entry
    if has_name == has_expression:
        raise DeriveError(f"{where}: give exactly one of the keys 'name' (a problem such as mse) or 'expression'")
    for key in ("name", "expression", "wrt", "prompt"):
        if key in entry and (not isinstance(entry[key], str) or not entry[key].strip()):
            raise DeriveError(f"{where}: the key '{key}' must be non-empty text")
    _text_lengths(entry, where)
    if "points" in entry and (not _number(entry["points"]) or entry["points"] < 0):
        raise DeriveError(f"{where}: the key 'points' must be a number of at least 0 (not nan or inf)")
    let = entry.get("let")
    if let is not None:
        if not isinstance(let, dict) or not all(isinstance(v, str) for v in let.values()):
            raise DeriveError(f"{where}: the key 'let' must be a table of names, as in let = {{ error = \"yhat - y\" }}")
        if has_name:
            raise DeriveError(f"{where}: the key 'let' is for an expression; a named problem has its own names")
    return ProblemSpec(number=number, wrt=entry.get("wrt"), name=entry.get("name"),
                       expression=entry.get("expression"), let=let, prompt=entry.get("prompt"),
                       points=entry.get("points"), **_page_keys(entry, where, top=False))


def solve(problem_set, *, seed=0, progress=None):
    """Explain and check every problem (``progress`` is called once per problem)."""
    from derive.derivation import explain, gradient

    _read_prompts(problem_set)  # a mistake in a teacher's maths stops the handout before any work
    solved = []
    for spec in problem_set.problems:
        text = spec.name or spec.expression
        wrt = spec.wrt
        try:
            if wrt is not None and ("," in wrt or wrt.strip() == "all"):
                document = gradient(text, wrt=wrt, let=spec.let, seed=seed)
            else:
                document = explain(text, wrt=wrt, let=spec.let, seed=seed)
        except DeriveError as error:
            raise DeriveError(f"{problem_set.source}: problem {spec.number}: {error}") from None
        solved.append(Solved(spec, document))
        if progress:
            progress(spec)
    _link(solved)
    descent = _solve_descent(problem_set) if problem_set.descent is not None else None
    return Handout(problem_set, solved, descent)


def _link(solved):
    """One memory for the whole handout: what one problem worked, a later one cites ("as in
    problem 1") instead of working it again, and a loss introduced once is not introduced
    again."""
    memory, introduced = {}, {}
    for item in solved:
        document = item.document
        label = f"problem {item.spec.number}"
        for d in getattr(document, "derivations", [document]):
            d.memory, d.label = memory, label
        document.compact = True
        problem = getattr(document, "problem", None)
        if problem is not None:
            key = (problem.name, problem.half, problem.mean)
            document.introduced = introduced.get(key)
            introduced.setdefault(key, label)


def _read_prompts(problem_set):
    """Read a teacher's texts (the instructions, each prompt) into text and the maths between
    dollars, once; DeriveError names the key of a text whose maths cannot be read."""
    from derive.handout import prompts

    if problem_set.instructions and not problem_set.instructions_parts:
        problem_set.instructions_parts = prompts.read(problem_set.instructions,
                                                      f"{problem_set.source}: 'instructions'")
    for spec in problem_set.problems:
        if spec.prompt and not spec.prompt_parts:
            spec.prompt_parts = prompts.read(spec.prompt, f"{problem_set.source}: problem {spec.number}: the key 'prompt'")


def _solve_descent(problem_set):
    """Run the ``[descent]`` example, checked; a failed check refuses the whole handout."""
    from derive import descend as engine
    from derive.errors import CheckFailed

    spec = problem_set.descent
    where = f"{problem_set.source}: [descent]"
    try:
        problem = engine.get_descent_problem(spec.name)
        if spec.synthetic is not None:
            data = engine.synthetic(spec.synthetic, seed=spec.seed, labels=problem.labels)
        else:
            try:
                data = engine.load_csv(spec.data_path, x=spec.x, y=spec.y)
            except DeriveError as error:
                raise DeriveError(f"the key 'data': {error}") from None
            data.source = spec.data  # as the file gives it, not the resolved path
            if data.n > MAX_DESCENT_POINTS:
                raise DeriveError(f"the key 'data': the file has {data.n:,} rows; a handout's descent takes at "
                                  f"most {MAX_DESCENT_POINTS:,} points (derive descend --data takes more)")
        run = engine.descend(spec.name, data, learning_rate=spec.learning_rate, steps=spec.steps, seed=spec.seed,
                             hyper=dict(spec.hyper), check=True)
    except DeriveError as error:
        wrapped = DeriveError(f"{where}: {error}")
        wrapped.exit_code = error.exit_code
        raise wrapped from None
    item = SolvedDescent(spec, run)
    if not item.passed:
        raise CheckFailed(f"{where}: the gradient used failed its check against a finite difference of the "
                          f"loss; no handout was written (see derive descend {spec.name})")
    return item


def render(handout, fmt, *, answers=True, templates=None):
    """The handout as Markdown, LaTeX or HTML text (PDF is LaTeX, compiled by ``write``)."""
    from derive.handout import layout as page
    from derive.handout import notation, prompts
    from derive.render import formats as rendering

    layout = {"markdown": "markdown", "latex": "latex", "pdf": "latex", "html": "html"}[fmt]
    search = rendering._search_path(templates)
    latex = layout == "latex"
    ps = handout.problem_set
    _read_prompts(ps)  # solve() reads them; a handout built another way (a student's version) too
    for item in handout.solved:
        item.solution = _embedded(rendering.render(item.document, layout, embedded=True, directory=search),
                                  layout) if answers else ""
    dsay = dnum = None
    if handout.descent is not None:
        from derive import descend

        run = handout.descent.run
        handout.descent.solution = _embedded(descend.render(run, layout, embedded=True, directory=search),
                                             layout) if answers else ""
        dsay = descend.words(run, layout, search)

        def dnum(v, digits=6):  # a bare number: the layout adds $…$ where the format needs it
            return descend.fmt_number(v, digits, latex=layout != "html")
    env = rendering._environment(latex, search)
    f = {"markdown": rendering.InlineLatexFormat(), "latex": _prompt_latex_words(),
         "html": rendering.HtmlFormat()}[layout]
    say = rendering.words(f, search)
    words = rendering._environment(False, search).get_template("handout_words.j2").make_module({"f": f})
    points = {id(item): _points(item.spec, ps.source) for item in handout.items}
    scored = [item.spec.points for item in handout.items if item.spec.points is not None]

    def room(item):  # the room to work under a problem, as a length TeX and CSS both read
        return page.length(page.room(item.spec.space, ps.space, item.spec.points))

    def style(item):
        return item.spec.working or ps.working

    def room_lines(item):  # Markdown has no lengths: an empty line for about each centimetre
        return round(page.room(item.spec.space, ps.space, item.spec.points))

    def teacher(parts):
        return prompts.write(parts, layout)

    text = env.get_template(f"handout_{layout}.j2").render(
        handout=handout, ps=handout.problem_set, items=handout.solved, answers=answers, f=f, say=say,
        descent=handout.descent, dsay=dsay, dnum=dnum, max_listed=MAX_LISTED, hw=words, paper=ps.paper,
        total=_points_text(sum(scored)) if scored else "", points=lambda item: points[id(item)],
        room=room, style=style, room_lines=room_lines, teacher=teacher, notation=notation.notation(handout, answers),
        instructions=teacher(ps.instructions_parts) if ps.instructions else "",
        css=page.css_string, page_content=page.css_page_content)
    from derive.render.printing import unicode_to_latex

    if layout == "html":
        return _true_minus(text)
    return unicode_to_latex(text) if latex else text


def _true_minus(page):
    """Every minus of the page's MathML as the minus sign U+2212, never the hyphen, whichever
    printer wrote it (the worked solutions, the descent, the frame)."""
    import re

    page = page.replace("<mo>-</mo>", "<mo>\u2212</mo>")
    return re.sub(r"<mn>-([0-9.]+)</mn>", "<mo>\u2212</mo><mn>\\1</mn>", page)


def _prompt_latex_words():
    """LaTeX words for a handout's frame: ∂L/∂w written on one line as the reference key
    does, and d/dx before an expression as a full-size fraction, so a prompt reads at
    text size and never breaks inside its maths."""
    from derive.render.formats import LatexFormat, LatexWordsFormat

    class PromptLatexWords(LatexWordsFormat):
        def leibniz(self, top, wrt, partial=False):
            if top.is_Atom and wrt.is_Atom:
                mark = r"\partial " if partial else "d"
                return f"${mark}{self.spell(self.node(top))}/{mark}{self.spell(self.node(wrt))}$"
            return r"$\displaystyle %s$" % LatexFormat(self.notation).leibniz(top, wrt, partial)

        def dd(self, expr, wrt, partial=False):
            return r"$\displaystyle %s$" % LatexFormat(self.notation).dd(expr, wrt, partial)

    return PromptLatexWords()


def _points(spec, source):
    """A problem's points as the page prints them (``4``, ``2.5``), or "" for none."""
    import math

    if spec.points is None:
        return ""
    if not math.isfinite(spec.points) or spec.points > MAX_POINTS:
        raise DeriveError(f"{source}: problem {spec.number}: the key 'points' must be a number from 0 to {MAX_POINTS}")
    return _points_text(spec.points)


def _points_text(value):
    return f"{round(float(value), 2):g}"


def _embedded(fragment, layout):
    """A worked solution made to sit inside a problem: in HTML its headings start at <h3>,
    under the problem's <h2>, whatever level the solution's own template starts at; in
    LaTeX a line that is only a bold heading (``\\textbf{Result}\\par``) never ends a page."""
    import re

    if layout == "latex":
        return re.sub(r"(\\textbf\{[^{}\n]*\}\\par)(?!\\nobreak)", r"\1\\nobreak ", fragment)
    if layout != "html":
        return fragment
    levels = [int(level) for level in re.findall(r"<h([1-6])\b", fragment)]
    if not levels:
        return fragment
    shift = 3 - min(levels)
    return re.sub(r"(</?h)([1-6])\b", lambda m: f"{m.group(1)}{min(6, int(m.group(2)) + shift)}", fragment)


def output_format(path, fmt=None):
    """The format a path asks for, by its extension, unless ``fmt`` overrides it."""
    if fmt:
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise DeriveError(f"cannot tell the format of {path}: use .md, .tex, .pdf or .html, or --format")
    return FORMATS[suffix]


def tex_engine():
    """The command that turns .tex into .pdf (see :mod:`derive.tex`); says what is missing."""
    return tex.engine()


def compile_pdfs(jobs):
    """Compile each ``(tex, target)`` into its PDF, locked down, all or nothing (see :mod:`derive.tex`)."""
    tex.compile_pdfs(jobs, seconds=TEX_SECONDS)


def answers_path(path):
    """``handout.pdf`` -> ``handout-answers.pdf``."""
    p = Path(path)
    return str(p.with_name(f"{p.stem}-answers{p.suffix}"))


def write(handout, path, fmt, *, answers=True, templates=None):
    """Render and write one version of the handout (compiling a PDF when asked)."""
    write_versions(handout, [(path, answers)], fmt, templates=templates)


def write_versions(handout, versions, fmt, *, templates=None):
    """Render and write each ``(path, answers)`` version of the handout.

    Every version is rendered (and, for PDF, compiled) before the first is written, so a
    failure in one leaves none of them half-made or out of step with the other."""
    if fmt == "pdf":
        tex_engine()  # say what is missing before any work is done
        jobs = [(render(handout, "pdf", answers=answers, templates=templates), path) for path, answers in versions]
        require_tex_files(jobs[0][0])
        compile_pdfs(jobs)
        return
    texts = [(path, render(handout, fmt, answers=answers, templates=templates)) for path, answers in versions]
    for path, text in texts:
        write_whole(path, text)


# The Debian package of each LaTeX file the packaged templates use beyond texlive-latex-base.
TEX_PACKAGES = {"exam.cls": "texlive-latex-extra", "needspace.sty": "texlive-latex-extra"}


def require_tex_files(tex):
    """DeriveError naming the package to install when a class or package that ``tex`` loads
    is not installed (asked of kpsewhich, when there is one), before TeX runs and fails."""
    import re

    kpsewhich = shutil.which("kpsewhich")
    if kpsewhich is None:
        return
    preamble = tex.split("\\begin{document}", 1)[0]
    wanted = [f"{name.strip()}.cls" for name in re.findall(r"\\documentclass(?:\[[^\]]*\])?\{([^}]*)\}", preamble)]
    for names in re.findall(r"\\usepackage(?:\[[^\]]*\])?\{([^}]*)\}", preamble):
        wanted += [f"{name.strip()}.sty" for name in names.split(",") if name.strip()]
    wanted = [name for name in wanted if re.fullmatch(r"[A-Za-z0-9-]+\.(cls|sty)", name)]
    if not wanted:
        return
    try:
        found = subprocess.run([kpsewhich, *wanted], capture_output=True, text=True, timeout=30,
                               stdin=subprocess.DEVNULL).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        return  # TeX itself will say what is missing
    missing = [name for name in wanted if not any(Path(path).name == name for path in found)]
    if missing:
        packages = sorted({TEX_PACKAGES.get(name, "") for name in missing} - {""})
        hint = f"; on Debian or Ubuntu: apt-get install {' '.join(packages)}" if packages else ""
        verb = "is" if len(missing) == 1 else "are"
        raise DeriveError(f"LaTeX cannot make the PDF: {', '.join(missing)} {verb} not installed{hint} "
                          f"(or write .html or .tex)")
