"""What a run says: the data plugged into the partials, numbers as a reader wants them, the
templates of each format."""

import math

import sympy

from derive.errors import DeriveError


MAX_PLUGGED = 8  # show the sum with the data plugged in when n is at most this



# -- the data plugged into the partials (for the first step, small data) ------------------------
class _Plug:
    """Writes a partial derivative with the numbers put in, in the lesson's order of terms.

    ``style`` is "text" (Unicode) or "latex". Each sum over the data is written out term
    by term, Σ → [t₁ + t₂ + … + tₙ]; a piecewise term shows the branch that applies.
    """

    def __init__(self, style, values, data, problem, digits=4):
        self.latex = style == "latex"
        self.values = values  # Symbol -> float
        self.data = data
        self.problem = problem
        self.digits = digits

    def number(self, v, bracket=True):
        text = fmt_number(v, self.digits, self.latex)
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
            return self.number(self.values[e])
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


def plugged(run, style):
    """For the first step: each partial with the start and the data put in (``None`` if n is large)."""
    if run.data.n > MAX_PLUGGED:
        return None
    first = run.history[0]
    values = {p.symbol: first[p.name] for p in run.problem.parameters}
    for key, sym in run.problem.hyper.items():
        values[sym] = run.hyper[key]
    plug = _Plug(style, values, run.data, run.problem)
    return [plug.expr(d.result) for d in run.gradient.derivations]


def fmt_number(v, digits=6, latex=False):
    """A number to ``digits`` significant figures; a Unicode minus in text, 10^k in LaTeX."""
    if v is None:
        return "—"
    if isinstance(v, float) and not math.isfinite(v):
        return ("-" if v < 0 else "") + (r"\infty" if latex else "∞") if not math.isnan(v) else "NaN"
    text = f"{float(v):.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        power = int(exponent)
        if latex:
            text = r"%s \times 10^{%d}" % (mantissa, power)
        else:
            from derive.render.printing import superscript

            text = f"{mantissa}×10{superscript(str(power).replace('-', '−'))}"
    return text if latex else text.replace("-", "−")



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


def _sentence_number(fmt):
    """How the words write a number: bare text (terminal, HTML) or ``$…$`` (Markdown, LaTeX)."""
    if fmt in ("text", "html"):
        return lambda v, digits=6: fmt_number(v, digits, latex=False)
    return lambda v, digits=6: "$" + fmt_number(v, digits, latex=True) + "$"


def words(run, fmt, directory=None):
    """The words of ``descend_words.j2`` bound to one format (and to ``run``, which may be ``None``)."""
    from derive.render import formats as r

    _, words_f, _ = _formats(fmt)
    env = r._environment(False, r._search_path(directory))
    return env.get_template("descend_words.j2").make_module(
        {"f": words_f, "num": _sentence_number(fmt), "run": run, **_matrix_names()})


def data_uri(path):
    """A PNG as a ``data:`` URI, so an HTML page carries its plot (nothing is fetched)."""
    import base64

    try:
        with open(path, "rb") as handle:
            payload = handle.read()
    except OSError as error:
        raise DeriveError(f"cannot read {path}: {error.strerror}")
    return "data:image/png;base64," + base64.b64encode(payload).decode("ascii")


def render(run, fmt="text", *, standalone=False, plot_link=None, directory=None, embedded=False):
    """The run as text, Markdown, LaTeX or HTML through ``templates/descend_*.j2`` (or JSON).

    ``standalone`` makes a whole document (LaTeX) or page (HTML); ``embedded`` leaves out
    the title, for a handout whose problem supplies its own heading. ``plot_link`` is how
    the document refers to the plot (relative to where it is written); HTML embeds the PNG
    itself as a ``data:`` URI. ``directory`` is a folder of templates, or a tuple of them
    searched in order (a user's overrides first).
    """
    from derive.render import formats as r

    if fmt == "json":
        return run.to_json() + "\n"
    if fmt not in TEMPLATES:
        raise DeriveError(f"unknown format {fmt!r}; use one of {', '.join(RENDER_FORMATS)}")
    search = r._search_path(directory)
    latex = fmt == "latex"
    f, _, style = _formats(fmt)
    plain = style == "text" and fmt != "html"

    def num(v, digits=6):
        return fmt_number(v, digits, latex=latex or fmt == "markdown")

    plot = plot_link if plot_link is not None else run.plot
    plot_src = data_uri(run.plot) if fmt == "html" and run.plot else None
    env = r._environment(latex, search)
    text = env.get_template(TEMPLATES[fmt]).render(
        run=run, f=f, say=words(run, fmt, search), num=num, plugged=plugged(run, style), standalone=standalone,
        embedded=embedded, plot=plot, plot_src=plot_src, p=run.problem, plain=plain,
        derivations=list(zip(run.problem.parameters, run.gradient.derivations)))
    return r.printing.unicode_to_latex(text) if latex else text

