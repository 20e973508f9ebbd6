"""Variants that ask for the same work: seeded draws, rule traces and redrawing.

A problem template (see :mod:`derive.handout.params`) is drawn with a seed. Every draw is
differentiated by the engine, and kept only when its **rule trace** — the multiset of
rules it applies (down to d/dx c = 0), the depth of nested chain rules, and the number of
steps the worked solution shows — matches the problem's **reference**: ``{a} x^{k}`` never
becomes ``x^1``, a product rule never collapses into a constant multiple. Rules must match
exactly and the chain depth too; the step count, which also counts the tidy-up and
rewrite steps whose presence depends on the numbers, within ``tolerance`` (default 1).

The reference is the version the file's ``reference = {…}`` values give, when it gives
them: the teacher wrote that version on purpose, it is the one the plain handout shows,
and every variant then asks for the work of that one. Without them it is the **first
valid draw** of a stream seeded by the problem alone (never by ``--seed`` or a student),
so it is the same for every class and every re-sit; ``derive variants`` prints it and
warns when few draws share its trace, which means the first draw was an odd one.

Seeds: a student's version of problem ``n`` is drawn from
``sha256(set seed, student id, n)``, so it depends on nothing else: the same id and seed
always give the same version, and a student added to the roster changes nobody else's.
"""

import hashlib
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from derive.errors import CheckFailed, DeriveError
from derive.handout.params import TemplateError, Undefined, parse_text, read_params

PRESENTATION = {"simplify", "rewrite"}  # steps a worked solution shows, not rules a student applies
TOLERANCE = 1
MAX_DRAWS = 1000  # draws tried for one student's version before the template is called unbalanced
ENUMERATE = 4096  # spaces up to this size are enumerated whole, so a shortfall is exact
TEXT_KEYS = ("expression", "prompt", "wrt", "name")
DESCENT_NUMBERS = {"synthetic", "steps", "seed", "learning_rate", "lambda", "delta", "points"}


def mix(*parts):
    """A 64-bit seed from any parts (text, numbers): stable across runs and machines."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def student_seed(seed, student, number):
    """The seed of one student's version of problem ``number``."""
    return mix("derive-variant", seed, student, number)


# ----------------------------------------------------------------------------- the trace
@dataclass(frozen=True)
class Trace:
    """What a derivation asks of a student: its rules (counted), chain depth and steps."""

    rules: tuple  # ((rule, count), …), sorted by rule
    chain_depth: int
    steps: int

    @classmethod
    def of(cls, document):
        """The trace of a Derivation, or of a Gradient (its partials together)."""
        roots = [d.steps for d in document.derivations] if hasattr(document, "derivations") else [document.steps]
        counts, steps, depth = Counter(), 0, 0
        for root in roots:
            for step in root.walk():
                steps += 1
                if step.rule not in PRESENTATION:
                    counts[step.rule] += 1
            depth = max(depth, _chain_depth(root))
        return cls(tuple(sorted(counts.items())), depth, steps)

    def differences(self, reference, tolerance=TOLERANCE):
        """Why this trace is not the reference's, as short phrases (empty when it matches)."""
        out = []
        mine, theirs = dict(self.rules), dict(reference.rules)
        for rule in sorted(set(mine) | set(theirs)):
            if mine.get(rule, 0) != theirs.get(rule, 0):
                out.append(f"{rule} ×{mine.get(rule, 0)} instead of ×{theirs.get(rule, 0)}")
        if self.chain_depth != reference.chain_depth:
            out.append(f"chain depth {self.chain_depth} instead of {reference.chain_depth}")
        if not out and abs(self.steps - reference.steps) > tolerance:
            out.append(f"{self.steps} steps instead of {reference.steps} (± {tolerance})")
        return out

    def describe(self):
        rules = ", ".join(rule if n == 1 else f"{rule} ×{n}" for rule, n in self.rules)
        return f"{rules}; chain depth {self.chain_depth}; {self.steps} steps"


def _chain_depth(step):
    below = max((_chain_depth(s) for s in step.substeps), default=0)
    return below + (step.rule == "chain")


# -------------------------------------------------------------------------- the template
@dataclass
class ProblemTemplate:
    """One ``[[problems]]`` table (or ``[descent]``): its params and its texts with placeholders."""

    number: int
    entry: dict  # the file's table, without 'params'
    params: object = None  # Params, or None for a fixed problem
    texts: dict = field(default_factory=dict)  # key (or ("let", name)) -> Text
    whole: dict = field(default_factory=dict)  # [descent] key -> Text that is one placeholder (a number)
    descent: bool = False

    @property
    def where(self):
        return self.params.where if self.params else ""

    def fill(self, draw):
        """The table with every placeholder replaced: what the file would say for ``draw``."""
        entry = dict(self.entry)
        for key, text in self.texts.items():
            if isinstance(key, tuple):
                entry["let"] = dict(entry["let"])
                entry["let"][key[1]] = text.fill(draw)
            else:
                entry[key] = text.fill(draw)
        numbers = {n: v.number for n, v in draw.items()}
        for key, text in self.whole.items():
            from derive.handout.params import evaluate

            value = evaluate(text.parts[0][1], numbers)
            entry[key] = int(value) if value.denominator == 1 else float(value)
        return entry

    def describe(self, draw):
        return ", ".join(f"{name} = {value}" for name, value in draw.items())


@dataclass
class SetTemplate:
    """A problem set whose problems may be templates."""

    data: dict  # the file's top level, problems and descent replaced below
    problems: list  # ProblemTemplate
    descent: ProblemTemplate | None
    source: str
    folder: Path

    @property
    def items(self):
        return self.problems + ([self.descent] if self.descent else [])

    @property
    def templated(self):
        return [p for p in self.items if p.params is not None]

    def concrete(self, draws):
        """The plain problem-set data for ``{number: draw}`` (fixed problems as they are)."""
        data = dict(self.data)
        data["problems"] = [p.fill(draws[p.number]) if p.params else dict(p.entry) for p in self.problems]
        if self.descent is not None:
            d = self.descent
            data["descent"] = d.fill(draws[d.number]) if d.params else dict(d.entry)
        return data

    def problem_set(self, draws):
        """A ``ProblemSet`` (build.py's) for the draws, validated as any handout is."""
        from derive.handout import build

        return build.parse_problem_set(self.concrete(draws), self.source, self.folder)


def has_params(data):
    """Whether parsed problem-set data holds any ``params`` table."""
    problems = data.get("problems")
    entries = list(problems) if isinstance(problems, list) else []
    if isinstance(data.get("descent"), dict):
        entries.append(data["descent"])
    return any(isinstance(e, dict) and "params" in e for e in entries)


def read_data(path):
    """The parsed TOML of a problem set, with the bounds ``build.load`` keeps."""
    import tomllib

    from derive.handout import build

    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DeriveError(f"cannot read {path}: {error.strerror}") from None
    if len(raw) > build.MAX_FILE_BYTES:
        raise DeriveError(f"{path}: the file is larger than {build.MAX_FILE_BYTES // 1000} KB")
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise DeriveError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise DeriveError(f"{path}: not valid TOML ({error})") from None


def load_template(path):
    """The ``SetTemplate`` of a problem-set file (templated or not)."""
    path = Path(path)
    return read_template(read_data(path), str(path), path.parent)


def read_template(data, source="<problem set>", folder=None):
    """A ``SetTemplate`` from parsed data; every mistake is a TemplateError naming where."""
    folder = Path(folder) if folder is not None else Path.cwd()
    problems = data.get("problems")
    if not isinstance(problems, list):
        problems = []
    templates = []
    for number, entry in enumerate(problems, start=1):
        templates.append(_problem_template(entry, number, f"{source}: problem {number}"))
    descent = None
    if isinstance(data.get("descent"), dict):
        descent = _problem_template(data["descent"], len(problems) + 1, f"{source}: [descent]", descent=True)
    top = {k: v for k, v in data.items() if k not in ("problems", "descent")}
    return SetTemplate(top, templates, descent, source, folder)


def _problem_template(entry, number, where, descent=False):
    if not isinstance(entry, dict):
        return ProblemTemplate(number, entry, descent=descent)  # build.py names the mistake
    entry = dict(entry)
    table = entry.pop("params", None)
    if table is None:
        _refuse_placeholders(entry, where)
        return ProblemTemplate(number, entry, descent=descent)
    params = read_params(table, where)
    template = ProblemTemplate(number, entry, params, descent=descent)
    names = params.names
    for key, value in entry.items():
        if key == "let" and isinstance(value, dict):
            for name, meaning in value.items():
                if isinstance(meaning, str):
                    text = parse_text(meaning, f"let.{name}", names, where, literal_braces=False)
                    if text.has_placeholders:
                        template.texts[("let", name)] = text
        elif isinstance(value, str):
            text = parse_text(value, key, names, where, literal_braces=key == "prompt")
            if not text.has_placeholders:
                continue
            if descent and key in DESCENT_NUMBERS:
                if len(text.parts) != 1 or isinstance(text.parts[0], str):
                    raise TemplateError(f"{where}: the key '{key}' is a number: write it as one placeholder, "
                                        f"as in {key} = \"{{a}}\"")
                template.whole[key] = text
            elif key in ("wrt", "name"):
                raise TemplateError(f"{where}: the key '{key}' cannot hold a parameter")
            else:
                template.texts[key] = text
    used = set()
    for text in list(template.texts.values()) + list(template.whole.values()):
        used |= text.names
    unused = [n for n in names if n not in used]
    if unused:
        raise TemplateError(f"{where}: the parameter '{unused[0]}' is drawn but never used; put {{{unused[0]}}} "
                            f"in the expression, let, prompt or remove it")
    return template


def _refuse_placeholders(entry, where):
    """A ``{a}`` in a problem without ``[problems.params]`` is an unknown parameter."""
    texts = [(k, v) for k, v in entry.items() if isinstance(v, str) and k != "prompt"]
    if isinstance(entry.get("let"), dict):
        texts += [(f"let.{k}", v) for k, v in entry["let"].items() if isinstance(v, str)]
    for key, value in texts:
        match = re.search(r"\{\s*([A-Za-z][A-Za-z0-9_]*)", value)
        if match:
            raise TemplateError(f"{where}: the key '{key}' uses the parameter '{match.group(1)}', which is not "
                                f"defined; add a [problems.params] table with {match.group(1)} = \"int(2, 9)\"")


# ----------------------------------------------------------------------- drawing, balanced
@dataclass
class Variant:
    """One kept draw of one problem: its values, the seed it came from, its filled table."""

    number: int
    draw: dict  # name -> Value
    entry: dict
    trace: Trace | None = None
    seed: int | None = None
    solved: object = None  # build.Solved, or build.SolvedDescent

    @property
    def key(self):
        return _key(self.entry)


def _key(entry):
    parts = []
    for k in ("expression", "wrt", "name"):
        parts.append(re.sub(r"\s+", "", str(entry.get(k, ""))))
    if isinstance(entry.get("let"), dict):
        parts.append(repr(sorted((k, re.sub(r"\s+", "", str(v))) for k, v in entry["let"].items())))
    for k in sorted(DESCENT_NUMBERS):
        if k in entry:
            parts.append(f"{k}={entry[k]}")
    return "\x1f".join(parts)


class Balancer:
    """Draws of one problem kept only when their trace is the reference's.

    Every distinct filled problem is solved (explained and checked) once and remembered,
    so a draw that repeats costs nothing and a kept variant is ready to render."""

    def __init__(self, set_template, problem, *, tolerance=TOLERANCE, seed=0):
        self.set = set_template
        self.problem = problem
        self.tolerance = tolerance
        self.check_seed = seed
        self.solved = {}  # key -> build.Solved / SolvedDescent
        self.reference_given = problem.params.reference is not None
        self._reference = None

    @property
    def reference(self):
        """The reference Variant, solved (found and solved on first use)."""
        if self._reference is None:
            self._find_reference()
        return self._reference

    @property
    def reference_draw(self):
        """The reference's values; given ones cost nothing to know."""
        return self.problem.params.reference if self.reference_given else self.reference.draw

    @property
    def reference_trace(self):
        return self.reference.trace

    # -- one draw --------------------------------------------------------------------------
    def solve(self, draw):
        """The filled table and its solved problem (explained and checked), or a DeriveError
        naming the draw."""
        problem = self.problem
        try:
            entry = problem.fill(draw)
        except Undefined as error:
            raise TemplateError(f"{problem.where}: with {problem.describe(draw)}, a placeholder is {error}; "
                                f"add a constraint in 'where' to rule such draws out") from None
        key = _key(entry)
        if key not in self.solved:
            self.solved[key] = self._solve_entry(entry, draw)
        return entry, self.solved[key]

    def _solve_entry(self, entry, draw):
        from derive.handout import build

        problem = self.problem
        data = dict(self.set.data, problems=[entry] if not problem.descent else [{"expression": "x", "wrt": "x"}])
        if problem.descent:
            data["descent"] = entry
        try:
            problem_set = build.parse_problem_set(data, self.set.source, self.set.folder)
            if problem.descent:
                problem_set.problems = []
                problem_set.descent.number = problem.number
            else:
                problem_set.problems[0].number = problem.number
            handout = build.solve(problem_set, seed=self.check_seed)
        except CheckFailed:
            raise
        except DeriveError as error:
            message = str(error).replace(f"{self.set.source}: problem 1:", f"{problem.where}:")
            if not message.startswith(str(self.set.source)):
                message = f"{problem.where}: {message}"
            raise TemplateError(f"{message} (with {problem.describe(draw)}); add a constraint in 'where' "
                                f"to rule such draws out") from None
        item = handout.descent if problem.descent else handout.solved[0]
        if not item.passed:
            raise CheckFailed(f"{problem.where}: with {problem.describe(draw)} the derivation failed its numeric "
                              f"check; nothing was written (see derive explain on that expression)")
        return item

    def judge(self, draw):
        """``(variant, None)`` when the draw is kept, else ``(None, reason)``."""
        broken = self.problem.params.failed_constraint(draw)
        if broken:
            return None, f"breaks {broken}"
        entry, item = self.solve(draw)
        variant = Variant(self.problem.number, draw, entry, solved=item)
        if self.problem.descent:
            return variant, None
        variant.trace = Trace.of(item.document)
        wrong = variant.trace.differences(self.reference_trace, self.tolerance)
        if wrong:
            more = f"; and {len(wrong) - 3} more" if len(wrong) > 3 else ""
            return None, "; ".join(wrong[:3]) + more
        return variant, None

    # -- the reference -----------------------------------------------------------------------
    def _find_reference(self):
        params = self.problem.params
        if params.reference is not None:
            draws = [params.reference]
        else:
            specs = [f"{name}={spec.text}" for name, spec in params.specs.items()]
            rng = random.Random(mix("derive-reference", self.problem.number, *specs))
            draws = (params.draw(rng) for _ in range(MAX_DRAWS))
        tried = 0
        for draw in draws:
            tried += 1
            if params.failed_constraint(draw):
                continue
            entry, item = self.solve(draw)
            self._reference = Variant(self.problem.number, draw, entry, solved=item)
            if not self.problem.descent:
                self._reference.trace = Trace.of(item.document)
            return
        raise TemplateError(f"{params.where}: no draw in {tried} meets the constraints "
                            f"({'; '.join(t for t, _ in params.constraints)}); loosen 'where' or widen the ranges")

    # -- a student's version -----------------------------------------------------------------
    def draw_for(self, seed):
        """The kept variant the seed gives: the first kept draw of ``Random(seed)``."""
        rng = random.Random(seed)
        reasons = Counter()
        for _ in range(MAX_DRAWS):
            variant, reason = self.judge(self.problem.params.draw(rng))
            if variant is not None:
                variant.seed = seed
                return variant
            reasons[reason] += 1
        raise TemplateError(f"{self.problem.where}: no draw in {MAX_DRAWS} asks for the same work as the "
                            f"reference ({self.describe_reference()}); most draws: {_top(reasons)}; "
                            f"change the ranges or the constraints so the rules stay the same")

    def describe_reference(self):
        return self.problem.describe(self.reference_draw)

    # -- many distinct variants ----------------------------------------------------------------
    def distinct(self, count, seed=0):
        """Up to ``count`` distinct kept variants, and the tally of rejections: ``(kept,
        rejected Counter, draws tried, exhausted)``, where ``exhausted`` says every draw of
        the space was tried (so a shortfall is exact)."""
        params = self.problem.params
        rng = random.Random(mix("derive-variants", seed, self.problem.number))
        space = params.space()
        if space <= ENUMERATE:
            pool = list(params.every_draw())
            rng.shuffle(pool)
            draws, exhaustive = iter(pool), True
        else:
            budget = 20 * count + 500
            draws, exhaustive = (params.draw(rng) for _ in range(budget)), False
        kept, seen, rejected, tried = [], set(), Counter(), 0
        self.examples, self.matching, self.valid = {}, 0, 0
        for draw in draws:
            if len(kept) >= count:
                break
            tried += 1
            variant, reason = self.judge(draw)
            if variant is None or variant.key in seen:
                reason = reason or "the same problem as an earlier draw"
                rejected[reason] += 1
                self.examples.setdefault(reason, self.problem.describe(draw))
                if not reason.startswith("breaks "):
                    self.valid += 1
                continue
            self.valid += 1
            self.matching += 1
            seen.add(variant.key)
            kept.append(variant)
        exhausted = exhaustive and len(kept) < count
        return kept, rejected, tried, exhausted


def _top(reasons, n=3):
    return "; ".join(f"{reason} ({k})" for reason, k in reasons.most_common(n))


# ------------------------------------------------------------------------------ the report
@dataclass
class ProblemReport:
    """What ``derive variants`` says about one problem."""

    problem: ProblemTemplate
    balancer: Balancer | None = None
    kept: list = field(default_factory=list)
    rejected: Counter = field(default_factory=Counter)
    tried: int = 0
    exhausted: bool = False
    count: int = 0

    @property
    def enough(self):
        return self.balancer is None or len(self.kept) >= self.count

    @property
    def examples(self):
        return getattr(self.balancer, "examples", {})

    @property
    def share(self):
        """The percentage of draws meeting the constraints whose trace is the reference's."""
        b = self.balancer
        duplicates = self.rejected.get("the same problem as an earlier draw", 0)
        return round(100 * (b.matching + duplicates) / b.valid) if b and b.valid else 100

    @property
    def rare(self):
        """A reference few draws share: likely an odd first draw (never said of a given one)."""
        return self.balancer is not None and not self.balancer.reference_given and self.share < 25


def exported(template, kept, notes, refusal, *, seed=0):
    """``(problem, [Variant])`` for each problem an export (STACK, PrairieLearn) can write: one
    expression and one variable. A templated problem brings the variants ``kept`` holds for it;
    a fixed one, its reference version solved once. Each problem left out is named in
    ``notes`` with ``refusal`` ("STACK questions here are one expression and one variable")."""
    fixed = None
    for problem in template.problems:
        entry = problem.entry
        if not isinstance(entry, dict) or not entry.get("expression") or not entry.get("wrt") \
                or "," in entry["wrt"] or entry["wrt"].strip() == "all":
            notes.append(f"problem {problem.number} left out: {refusal}")
            continue
        if problem.params is not None:
            yield problem, kept[problem.number]
            continue
        if fixed is None:
            from derive.handout import build

            draws = {p.number: Balancer(template, p).reference_draw for p in template.templated}
            fixed = build.solve(template.problem_set(draws), seed=seed)
        item = next(i for i in fixed.solved if i.spec.number == problem.number)
        yield problem, [Variant(problem.number, {}, entry, solved=item)]


def survey(set_template, count, *, seed=0, tolerance=TOLERANCE, progress=None):
    """For each templated problem, ``count`` distinct kept variants (or as many as exist),
    with the rejections counted by reason. Fixed problems are reported as fixed."""
    reports = []
    for problem in set_template.items:
        if problem.params is None:
            reports.append(ProblemReport(problem, count=count))
            continue
        balancer = Balancer(set_template, problem, tolerance=tolerance, seed=seed)
        kept, rejected, tried, exhausted = balancer.distinct(count, seed)
        reports.append(ProblemReport(problem, balancer, kept, rejected, tried, exhausted, count))
        if progress:
            progress(problem)
    return reports


def reference_data(data, source="<problem set>", folder=None):
    """The plain problem-set data of the reference version (what ``derive handout`` shows
    for a templated set without ``--students``)."""
    template = read_template(data, source, folder)
    draws = {}
    for problem in template.templated:
        draws[problem.number] = Balancer(template, problem).reference_draw
    return template.concrete(draws)


def report_text(reports, templates=None):
    """The survey in words (``templates/variants_text.j2``)."""
    from derive.render import formats as rendering

    env = rendering._environment(False, rendering._search_path(templates))
    return env.get_template("variants_text.j2").render(reports=reports)


def variant_rows(reports):
    """One row per kept variant: problem, variant, parameters, expression, wrt, derivative."""
    rows = []
    for r in reports:
        for k, v in enumerate(r.kept, start=1):
            rows.append({"problem": r.problem.number, "variant": k,
                         "parameters": "; ".join(f"{n}={value}" for n, value in v.draw.items()),
                         "expression": v.entry.get("expression", v.entry.get("name", "")),
                         "wrt": v.entry.get("wrt", ""), "derivative": derivative_text(v.solved)})
    return rows


def derivative_text(item):
    """The derivative in plain text derive's parser reads (``**``, ``*``), or ``""`` for
    [descent]; several partials (a gradient) are joined by ``; ``."""
    import sympy

    document = getattr(item, "document", None)
    if document is None:
        return ""
    if hasattr(document, "derivations"):
        return "; ".join(sympy.sstr(d.result) for d in document.derivations)
    return sympy.sstr(document.result)


def write_variants(reports, path):
    """The kept variants as .csv or .json, written whole."""
    import csv
    import io
    import json

    from derive.files import write_whole

    rows = variant_rows(reports)
    if str(path).lower().endswith(".json"):
        write_whole(path, json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    if not str(path).lower().endswith(".csv"):
        raise DeriveError(f"cannot tell the format of {path}: use .csv or .json")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["problem"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_whole(path, out.getvalue())
