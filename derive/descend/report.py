"""What a run says: the first step worked with numbers, every number by the document's one
rounding rule, through the templates of each format."""


import re

import sympy

from derive.errors import DeriveError




# -- a partial derivative with the numbers put in --------------------------------------------------
class _Plug:
    """Writes a partial derivative with the numbers put in, in the lesson's order of terms.

    ``style`` is "text" (Unicode) or "latex". Each sum over the data is written out term
    by term, Σ → [t₁ + t₂ + … + tₙ]; a piecewise term shows the branch that applies.
    """

    def __init__(self, style, values, data, problem, numbers, settings=()):
        self.latex = style == "latex"
        self.style = style
        self.values = values  # Symbol -> float
        self.data = data
        self.problem = problem
        self.numbers = numbers  # derive.descend.rounding.Numbers: the document's rule
        self.settings = set(settings)  # symbols whose values the user typed (λ): written as given

    def number(self, v, bracket=True, setting=False):
        text = (self.numbers.setting if setting else self.numbers.one)(v, self.style)
        return f"({text})" if bracket and v < 0 else text

    def expr(self, e, row=None):
        from derive.render.printing import to_text

        if e.is_Number:
            if e.is_Rational and not e.is_Integer:
                return self.frac(str(e.p), str(e.q))
            return self.number(float(e))
        if isinstance(e, sympy.Indexed):
            column = self.data.x if str(e.base) == "x" else self.data.y
            return self.number(float(column[row]))
        if e.is_Symbol:
            if e == self.problem.size:
                return str(self.data.n)
            return self.number(self.values[e], setting=e in self.settings)
        if isinstance(e, sympy.Sum):
            body = e.function
            terms = [self.term(body, k) for k in range(self.data.n)]
            inner = " + ".join(terms)
            return r"\left[" + inner + r"\right]" if self.latex else "[" + inner + "]"
        if e.is_Add:
            out = ""
            for k, term in enumerate(e.as_ordered_terms()):
                coeff, rest = term.as_coeff_Mul()
                negative = coeff.is_Number and coeff.is_negative
                text = self.expr(-term if negative else term, row)
                if k == 0:
                    out = ("-" if self.latex else "−") + text if negative else text
                else:
                    out += (" - " if self.latex else " − ") + text if negative else " + " + text
            return out
        if e.is_Mul:
            factors = list(e.as_ordered_factors())
            num, den = [], []
            for f in factors:
                if f.is_Pow and f.exp == -1:
                    den.append(f.base)
                elif f.is_Rational and not f.is_Integer:
                    num.append(sympy.Integer(f.p))
                    if f.q != 1:
                        den.append(sympy.Integer(f.q))
                else:
                    num.append(f)
            lead = ""
            if num and num[0].is_Number and num[0] == -1:
                num, lead = num[1:], ("-" if self.latex else "−")
            if den and all(d.is_Number or d == self.problem.size for d in den):
                top = [f for f in num if f.is_Number]
                rest = [f for f in num if not f.is_Number]
                top_text = "·".join(self.expr(f, row) for f in top) if top else "1"
                lead += self.frac(top_text, "·".join(self.expr(d, row) for d in den))
                num, den = rest, []
            parts = ([lead] if lead and lead not in ("-", "−") else []) + [self.factor(f, row) for f in num]
            sep = r" \cdot " if self.latex else "·"
            text = sep.join(parts)
            if lead in ("-", "−"):
                text = lead + text
            if den:
                text = self.frac(text, sep.join(self.factor(d, row) for d in den))
            return text
        if e.is_Pow:
            base = self.factor(e.base, row, power=True)
            if e.exp == 2:
                return base + ("^{2}" if self.latex else "²")
            return base + ("^{%s}" % self.expr(e.exp, row) if self.latex else "^" + self.factor(e.exp, row))
        if isinstance(e, sympy.Piecewise):
            for piece in e.args:
                cond = piece.cond
                if cond is sympy.true or bool(self.numeric(cond, row)):
                    return self.expr(piece.expr, row)
        if isinstance(e, sympy.Abs):
            inner = self.expr(e.args[0], row)
            return r"\left|" + inner + r"\right|" if self.latex else "|" + inner + "|"
        names = {"sigmoid": r"\sigma" if self.latex else "σ", "sign": r"\operatorname{sign}" if self.latex else "sign",
                 "exp": r"\exp" if self.latex else "exp", "log": r"\ln" if self.latex else "ln",
                 "Max": r"\max" if self.latex else "max", "Min": r"\min" if self.latex else "min"}
        head = type(e).__name__
        if head in names:
            inner = ", ".join(self.expr(a, row) for a in e.args)
            return names[head] + (r"\left(" + inner + r"\right)" if self.latex else "(" + inner + ")")
        return to_text(e)

    def resolve(self, e, row):
        """A piecewise expression at one example: the branch whose condition holds."""
        while isinstance(e, sympy.Piecewise):
            e = next(p.expr for p in e.args if p.cond is sympy.true or bool(self.numeric(p.cond, row)))
        return e

    def factor(self, f, row, power=False):
        f = self.resolve(f, row)
        text = self.expr(f, row)
        if f.is_Add or (power and (f.is_Mul or f.is_Pow)):
            return r"\left(" + text + r"\right)" if self.latex else "(" + text + ")"
        return text

    def frac(self, top, bottom):
        return r"\frac{%s}{%s}" % (top, bottom) if self.latex else f"({top}/{bottom})"

    def term(self, body, row):
        body = self.resolve(body, row)
        return self.factor(body, row) if body.is_Add else self.expr(body, row)

    def numeric(self, e, row):
        subs = dict(self.values)
        for name, base in self.problem.data.items():
            column = self.data.x if name == "x" else self.data.y
            subs[base[self.problem.index]] = float(column[row])
        return e.subs(subs)


def with_numbers(run, partial, style, numbers):
    """``partial`` (a ``worked.WorkedPartial``) with the start and each sum's total put in:
    ``(2/8)·(−30.32)``, for the style ``"text"`` or ``"latex"``."""
    values = {p.symbol: run.history[0][p.name] for p in run.problem.parameters}
    for key, sym in run.problem.hyper.items():
        values[sym] = run.hyper[key]
    values.update(partial.totals)
    plug = _Plug(style, values, run.data, run.problem, numbers, settings=run.problem.hyper.values())
    return plug.expr(partial.with_sums)


# -- rendering ------------------------------------------------------------------------------------
TEMPLATES = {"text": "descend_text.j2", "markdown": "descend_markdown.j2", "latex": "descend_latex.j2",
             "html": "descend_html.j2"}
RENDER_FORMATS = ("text", "markdown", "latex", "html", "json")


def _matrix_names():
    """The symbols the words of the closed form are written in: X, y, θ, n, λ."""
    from derive.symbols import symbol

    return {"X": sympy.MatrixSymbol("X", 3, 2), "Y": sympy.MatrixSymbol("y", 3, 1),
            "theta": sympy.MatrixSymbol("theta", 2, 1), "N": symbol("n"), "lam": symbol("lambda")}


def _formats(fmt):
    """``(f, words_f, style)``: how a format writes math in layouts, in sentences, and the
    style of the plugged-in sums ("text" Unicode or "latex")."""
    from derive.render import formats as r

    if fmt == "text":
        return r.TextFormat(), r.TextFormat(), "text"
    if fmt == "markdown":
        return r.InlineLatexFormat(), r.InlineLatexFormat(), "latex"
    if fmt == "latex":
        return r.LatexFormat(), r.LatexWordsFormat(), "latex"
    if fmt == "html":
        return r.HtmlFormat(), r.HtmlFormat(), "text"
    raise DeriveError(f"unknown format {fmt!r}; use one of {', '.join(RENDER_FORMATS)}")


class Writer:
    """A document's numbers in one format, by its one rule (``Numbers``): ``num`` for a
    computed number, ``setting`` for one the user typed, ``column`` for a table column (cells
    split at the decimal point), ``first_step`` for a partial with the sums put in.
    ``math`` wraps what it writes in ``$…$`` (the sentences of Markdown and LaTeX)."""

    def __init__(self, numbers, style, math=False, run=None):
        self.numbers, self.style, self.run = numbers, style, run
        self._wrap = (lambda text: "$" + text + "$") if math else (lambda text: text)

    @property
    def digits(self):
        return self.numbers.digits

    def num(self, value):
        return self._wrap(self.numbers.one(value, self.style))

    def setting(self, value):
        return self._wrap(self.numbers.setting(value, self.style))

    def column(self, values):
        """A table column's cells, split at the decimal point; ``None`` gives ``None`` (an empty cell)."""
        present = iter(self.numbers.column([v for v in values if v is not None], self.style))
        return [None if v is None else next(present) for v in values]

    def aligned(self, values):
        """A column as strings that line up on the decimal point in a monospace font."""
        return ["" if c is None else c.whole.rjust(c.whole_width) + c.frac.ljust(c.frac_width)
                + c.power.ljust(c.power_width) for c in self.column(values)]

    def plugged(self, partial):
        """``(2/8)·(−30.32)``: a ``worked.WorkedPartial`` with the start and the sums put in."""
        style = "latex" if self.style == "latex" else "text"
        return self._wrap(with_numbers(self.run, partial, style, self.numbers))


def slash(fmt):
    """``slash(L, w)``: ∂L/∂w on one line, at the size of the text around it (a table heading),
    where ``f.leibniz`` writes a fraction."""
    from derive.render import printing

    if fmt == "html":
        return lambda top, wrt: ('<math display="inline"><mrow><mo>∂</mo>' + printing.to_mathml(top)
                                 + '<mo lspace="0" rspace="0">/</mo><mo>∂</mo>' + printing.to_mathml(wrt) + "</mrow></math>")
    if fmt in ("latex", "markdown"):
        return lambda top, wrt: r"\partial %s/\partial %s" % (printing.to_latex(top), printing.to_latex(wrt))
    return lambda top, wrt: f"∂{printing.to_text(top)}/∂{printing.to_text(wrt)}"


SAFE_PATH = re.compile(r"[A-Za-z0-9._/+-]+")


def _safe_link(path, fmt):
    """The plot's path as a LaTeX or Markdown document may name it: letters, digits and
    ``. _ / + -`` only, so a name never becomes TeX or Markdown syntax."""
    if path is None or fmt not in ("latex", "markdown") or SAFE_PATH.fullmatch(path):
        return path
    raise DeriveError(f"the plot's path {path!r} cannot go into {fmt}: use only letters, digits and . _ / + - "
                      f"in its name")


def writer(run, fmt, math=False, digits=None):
    """The ``Writer`` of ``run``'s numbers for ``fmt`` (``digits`` overrides the run's)."""
    from derive.descend.rounding import Numbers

    style = {"text": "text", "html": "html", "markdown": "latex", "latex": "latex"}[fmt]
    return Writer(Numbers(digits or (run.digits if run is not None else 4)), style, math=math, run=run)


def words(run, fmt, directory=None, digits=None):
    """The words of ``descend_words.j2`` bound to one format (and to ``run``, which may be ``None``)."""
    from derive.render import formats as r

    _, words_f, _ = _formats(fmt)
    env = r._environment(False, r._search_path(directory))
    sentences = writer(run, fmt, math=fmt in ("markdown", "latex"), digits=digits)
    return env.get_template("descend_words.j2").make_module(
        {"f": words_f, "num": sentences.num, "setting": sentences.setting, "n": sentences, "run": run,
         **_matrix_names()})


def data_uri(path):
    """A PNG as a ``data:`` URI, so an HTML page carries its plot (nothing is fetched)."""
    import base64

    try:
        with open(path, "rb") as handle:
            payload = handle.read()
    except OSError as error:
        raise DeriveError(f"cannot read {path}: {error.strerror}")
    return "data:image/png;base64," + base64.b64encode(payload).decode("ascii")


def render(run, fmt="text", *, standalone=False, plot_link=None, directory=None, embedded=False, digits=None):
    """The run as text, Markdown, LaTeX or HTML through ``templates/descend_*.j2`` (or JSON).

    ``standalone`` makes a whole document (LaTeX) or page (HTML); ``embedded`` leaves out
    the title, for a handout whose problem supplies its own heading. ``plot_link`` is how
    the document refers to the plot (relative to where it is written); HTML draws the plot
    itself, as SVG inside the page. ``directory`` is a folder of templates, or a tuple of
    them searched in order (a user's overrides first). ``digits``: significant digits of
    every number shown (default: the run's, 4).
    """
    from derive.descend.worked import first_step
    from derive.render import formats as r

    if fmt == "json":
        return run.to_json() + "\n"
    if fmt not in TEMPLATES:
        raise DeriveError(f"unknown format {fmt!r}; use one of {', '.join(RENDER_FORMATS)}")
    search = r._search_path(directory)
    latex = fmt == "latex"
    f, _, _ = _formats(fmt)
    plot = _safe_link(plot_link if plot_link is not None else run.plot, fmt)
    figures = None
    if fmt == "html" and run.plot:
        from derive.descend.plot import svg_figures

        figures = svg_figures(run)
    env = r._environment(latex, search)
    text = env.get_template(TEMPLATES[fmt]).render(
        run=run, f=f, say=words(run, fmt, search, digits=digits), n=writer(run, fmt, digits=digits),
        first=first_step(run), slash=slash(fmt), standalone=standalone, embedded=embedded, plot=plot, figures=figures,
        p=run.problem, derivations=list(zip(run.problem.parameters, run.gradient.derivations)))
    return r.printing.unicode_to_latex(text) if latex else text
