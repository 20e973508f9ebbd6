"""Rendering through Jinja: the templates hold every word and the layout, Python the math.

``templates/words.j2`` says each rule in words once, for every format; it is handed a
*format* object whose methods write math the way that format needs (Unicode for the
terminal, ``$…$`` for Markdown, bare LaTeX for LaTeX). Each format then has one layout
template: ``text.j2``, ``markdown.j2``, ``latex.j2``. The LaTeX one uses ``<< >>`` and
``<% %>`` as delimiters, so TeX's own braces never clash with Jinja's.
"""

import functools
import os
from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from derive.errors import DeriveError
from derive.render import escape, printing

FORMATS = ("text", "markdown", "latex", "html", "json")


def templates_dir():
    """The packaged templates (a wheel installs them as derive/templates), else the checkout's."""
    package = Path(__file__).resolve().parent.parent
    candidates = (package / "templates", package.parent / "templates")
    for candidate in candidates:
        if (candidate / "words.j2").is_file():
            return candidate
    raise FileNotFoundError(f"derive's templates are missing (looked in {' and '.join(map(str, candidates))})")


class TextFormat:
    """Math as one line of Unicode."""

    name = "text"

    def __init__(self, color=False):
        self.color = color

    def m(self, expr):
        return printing.to_text(expr)

    def op(self, wrt, partial=False):
        return printing.text_derivative_operator(wrt, partial)

    def dd(self, expr, wrt, partial=False):
        """``d/dx sin(x²)``, bracketed where the expression has several terms."""
        inner = self.m(expr)
        if expr.is_Add or expr.is_Mul:
            inner = f"[{inner}]"
        return f"{self.op(wrt, partial)} {inner}"

    def leibniz(self, top, wrt, partial=False):
        """``d(errorᵢ²)/d(errorᵢ)`` or ``∂L/∂w``."""
        mark = "∂" if partial else "d"
        top_text = self.m(top)
        if not top.is_Atom:
            top_text = f"({top_text})"
        bottom = self.m(wrt)
        return f"{mark}{top_text}/{mark}{bottom}"

    def mf(self, expr):
        """A factor of a product: bracketed when it is a sum or negative, ``(−1)``."""
        text = self.m(expr)
        return f"({text})" if expr.is_Add or expr.could_extract_minus_sign() else text

    def grad(self, top, wrt):
        """``∇w L``: the gradient with respect to a vector."""
        return f"∇{printing.subscript(self.m(wrt)) or '_' + self.m(wrt)} {self.m(top)}"

    def second(self, top, a, b, partial=True):
        """``∂²L/∂w²``, ``∂²L/∂w∂b``, or ``d²(sin(x²))/dx²``."""
        mark = "∂" if partial else "d"
        below = f"{mark}{self.m(a)}²" if a == b else f"{mark}{self.m(a)}{mark}{self.m(b)}"
        return f"{mark}²{self.m(top) if top.is_Atom else '(' + self.m(top) + ')'}/{below}"

    def t(self, text):
        return escape.clean(text)  # another's text: no control character reaches the terminal

    def strong(self, text):
        return f"\x1b[1m{text}\x1b[0m" if self.color else text

    def bad(self, text):
        return f"\x1b[1;31m{text}\x1b[0m" if self.color else text

    def good(self, text):
        return f"\x1b[32m{text}\x1b[0m" if self.color else text


class LatexFormat:
    """Math as LaTeX with no delimiters (the layout template adds them)."""

    name = "latex"

    def m(self, expr):
        return printing.to_latex(expr)

    # The methods below call LatexFormat.m, not self.m: a subclass wraps self.m in $…$.
    def op(self, wrt, partial=False):
        mark = r"\partial " if partial else "d"
        return r"\frac{%s}{%s%s}" % (mark.strip(), mark, LatexFormat.m(self, wrt))

    def dd(self, expr, wrt, partial=False):
        inner = LatexFormat.m(self, expr)
        if expr.is_Add or expr.is_Mul:
            inner = r"\left(%s\right)" % inner
        return r"%s %s" % (LatexFormat.op(self, wrt, partial), inner)

    def leibniz(self, top, wrt, partial=False):
        mark = r"\partial " if partial else "d"
        top_text = LatexFormat.m(self, top)
        if not top.is_Atom:
            top_text = r"\left(%s\right)" % top_text
        return r"\frac{%s%s}{%s%s}" % (mark, top_text, mark, LatexFormat.m(self, wrt))

    def grad(self, top, wrt):
        return r"\nabla_{%s} %s" % (LatexFormat.m(self, wrt), LatexFormat.m(self, top))

    def second(self, top, a, b, partial=True):
        m = lambda e: LatexFormat.m(self, e)
        mark = r"\partial " if partial else "d"
        below = r"%s%s^{2}" % (mark, m(a)) if a == b else r"%s%s \, %s%s" % (mark, m(a), mark, m(b))
        top_text = m(top) if top.is_Atom else r"\left(%s\right)" % m(top)
        return r"\frac{%s^{2} %s}{%s}" % (mark.strip(), top_text, below)

    def mf(self, expr):
        text = LatexFormat.m(self, expr)
        if expr.is_Add or expr.could_extract_minus_sign():
            text = r"\left(%s\right)" % text
        return text

    def t(self, text):
        return printing.latex_escape(text)

    def strong(self, text):
        return r"\textbf{%s}" % text

    bad = strong

    def good(self, text):
        return text


class InlineLatexFormat(LatexFormat):
    """LaTeX math inside ``$…$``: for Markdown (GitHub and Jupyter render it) and for the
    sentences of a LaTeX document."""

    name = "markdown"

    def _wrap(method):
        @functools.wraps(method)
        def wrapped(self, *args, **kwargs):
            return "$" + method(self, *args, **kwargs) + "$"

        return wrapped

    bare = LatexFormat()  # for $$…$$ display math, where the layout adds the delimiters
    m = _wrap(LatexFormat.m)
    mf = _wrap(LatexFormat.mf)
    second = _wrap(LatexFormat.second)
    grad = _wrap(LatexFormat.grad)
    op = _wrap(LatexFormat.op)
    dd = _wrap(LatexFormat.dd)
    leibniz = _wrap(LatexFormat.leibniz)

    def t(self, text):
        return escape.markdown_text(text)

    def strong(self, text):
        return f"**{text}**"

    bad = strong


class LatexWordsFormat(InlineLatexFormat):
    """The sentences of a LaTeX document: math in ``$…$``, text escaped, bold as \\textbf."""

    name = "latex"
    t = LatexFormat.t
    strong = LatexFormat.strong
    bad = LatexFormat.strong


def _bytecode_cache(kind=""):
    """Compiled templates kept between runs: compiling them costs more than all the math of
    a small derivation. Jinja checks each template's source, so an edit recompiles it.
    The sandbox (``kind="-sandbox"``) compiles templates differently: a cache of its own."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    directory = os.path.join(base, "derive", f"jinja-{jinja2.__version__}{kind}")
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError:
        return None  # a read-only home: compile each time
    return jinja2.FileSystemBytecodeCache(directory)


class HtmlFormat:
    """Math as MathML, which current browsers lay out natively: no scripts, no network."""

    name = "html"

    def _math(self, inner):
        return f'<math display="inline">{inner}</math>'

    def _mml(self, expr):
        return printing.to_mathml(expr)

    def m(self, expr):
        return self._math(self._mml(expr))

    def mf(self, expr):
        inner = self._mml(expr)
        if expr.is_Add or expr.could_extract_minus_sign():
            inner = f"<mrow><mo>(</mo>{inner}<mo>)</mo></mrow>"
        return self._math(inner)

    def _frac(self, top, bottom):
        return f"<mfrac><mrow>{top}</mrow><mrow>{bottom}</mrow></mfrac>"

    def _mark(self, partial):
        return "<mo>∂</mo>" if partial else "<mi>d</mi>"

    def op(self, wrt, partial=False):
        mark = self._mark(partial)
        return self._math(self._frac(mark, mark + self._mml(wrt)))

    def dd(self, expr, wrt, partial=False):
        mark = self._mark(partial)
        inner = self._mml(expr)
        if expr.is_Add or expr.is_Mul:
            inner = f"<mrow><mo>(</mo>{inner}<mo>)</mo></mrow>"
        return self._math(self._frac(mark, mark + self._mml(wrt)) + inner)

    def leibniz(self, top, wrt, partial=False):
        mark = self._mark(partial)
        inner = self._mml(top)
        if not top.is_Atom:
            inner = f"<mrow><mo>(</mo>{inner}<mo>)</mo></mrow>"
        return self._math(self._frac(mark + inner, mark + self._mml(wrt)))

    def second(self, top, a, b, partial=True):
        mark = self._mark(partial)
        two = f"<msup>{mark}<mn>2</mn></msup>"
        below = (f"{mark}<msup>{self._mml(a)}<mn>2</mn></msup>" if a == b
                 else f"{mark}{self._mml(a)}{mark}{self._mml(b)}")
        inner = self._mml(top) if top.is_Atom else f"<mrow><mo>(</mo>{self._mml(top)}<mo>)</mo></mrow>"
        return self._math(self._frac(two + inner, below))

    def grad(self, top, wrt):
        return self._math(f"<msub><mo>∇</mo>{self._mml(wrt)}</msub>{self._mml(top)}")

    def t(self, text):
        return escape.html_text(text)

    def strong(self, text):
        return f"<strong>{text}</strong>"

    def bad(self, text):
        return f'<strong class="failed">{text}</strong>'

    def good(self, text):
        return f'<strong class="checked">{text}</strong>'


def _search_path(directory):
    """A hashable search path of template folders: the user's first, the packaged last."""
    packaged = str(templates_dir())
    if directory is None:
        return (packaged,)
    if isinstance(directory, (str, os.PathLike)):
        directory = (directory,)
    folders = tuple(str(d) for d in directory)
    return folders if packaged in folders else folders + (packaged,)


@functools.lru_cache(maxsize=None)
def _environment(latex, directory):
    """The Jinja environment for a search path of template folders (cached: templates
    compile once per process, and their bytecode is kept between runs).

    derive's own templates are trusted and run in a plain environment. A search path with
    a folder of someone's templates in it (``--templates DIR``) runs in the sandbox of
    :class:`TemplateSandbox`, derive's own templates with them."""
    folders = list(directory) if isinstance(directory, tuple) else [directory]
    trusted = all(os.path.realpath(folder) == os.path.realpath(templates_dir()) for folder in folders)
    options = dict(loader=_FolderLoader(folders), trim_blocks=True, lstrip_blocks=True,
                   keep_trailing_newline=True, undefined=jinja2.StrictUndefined, autoescape=False,
                   bytecode_cache=_bytecode_cache("" if trusted else "-sandbox"))
    if latex:
        options.update(block_start_string="<%", block_end_string="%>",
                       variable_start_string="<<", variable_end_string=">>",
                       comment_start_string="<#", comment_end_string="#>")
    env = jinja2.Environment(**options) if trusted else TemplateSandbox(folders[0], **options)
    # A file path in a link or an \\includegraphics is escaped (or refused) as that place needs.
    env.filters.update(markdown_url=escape.markdown_url, tex_path=escape.tex_path)
    return env


class _FolderLoader(jinja2.FileSystemLoader):
    """Templates from a search path of folders, each template inside its folder: a
    symbolic link in a shared folder cannot pull in a file from elsewhere."""

    def get_source(self, environment, template):
        source, filename, uptodate = super().get_source(environment, template)
        real = os.path.realpath(filename)
        if not any(real.startswith(os.path.realpath(folder) + os.sep) for folder in self.searchpath):
            raise DeriveError(f"the template {escape.shown(template)} is a link to a file outside its "
                              "folder; templates are read from their own folder only")
        return source, filename, uptodate


class TemplateSandbox(SandboxedEnvironment):
    """Jinja's sandbox for template folders from others, narrowed to what templates need.

    A template may read the attributes of what it is given (no ``_`` names, as in any
    Jinja sandbox), and call only: its macros and Jinja's own helpers, the functions
    derive handed it (``num``, ``dnum``), the methods of derive's objects (the format
    ``f``, ``step.is_linear()``), a few methods of text, lists and dicts (a template may
    collect rows in a list of its own with ``append``), and an unspecified
    SymPy function on SymPy arguments (``f(x)``). Nothing from SymPy or NumPy that could
    parse text (``subs("…")`` would run it through ``eval``) or write a file
    (``ndarray.tofile``). ``**`` and ``*`` are bounded, so a template cannot make a
    number or a text too large to hold.
    """

    intercepted_binops = frozenset({"**", "*"})
    MAX_EXPONENT = 1024
    MAX_LENGTH = 1_000_000
    STR_METHODS = frozenset({"lower", "upper", "strip", "lstrip", "rstrip", "title", "capitalize", "replace",
                             "startswith", "endswith", "split", "rsplit", "join", "format", "count", "find",
                             "isdigit", "isalpha", "splitlines"})
    DICT_METHODS = frozenset({"get", "items", "keys", "values"})
    LIST_METHODS = frozenset({"append", "extend", "index", "count"})

    def __init__(self, folder, **options):
        super().__init__(**options)
        self.folder = folder

    def _refuse(self, what):
        return DeriveError(f"a template in {escape.shown(self.folder)} {what}, which templates may not do "
                           "(templates from a --templates folder run in a sandbox)")

    def unsafe_undefined(self, obj, attribute):
        raise self._refuse(f"reads {escape.shown(attribute)} of a {type(obj).__name__}")

    def call_binop(self, context, operator, left, right):
        if operator == "**" and isinstance(right, int) and abs(right) > self.MAX_EXPONENT:
            raise self._refuse(f"raises to the power {right}")
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(count, int) and len(seq) * count > self.MAX_LENGTH:
                    raise self._refuse("makes a text longer than a million characters")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (Jinja's own signature)
        if not __self._callable(__context, __obj, args, kwargs):
            name = getattr(__obj, "__name__", type(__obj).__name__)
            raise __self._refuse(f"calls {escape.shown(name)}")
        return super().call(__context, __obj, *args, **kwargs)

    def _callable(self, context, obj, args, kwargs):
        import inspect

        if not self.is_safe_callable(obj):
            return False
        if isinstance(obj, jinja2.runtime.Macro) or obj is dict:
            return True
        if any(obj is value for value in context.parent.values()):
            return not inspect.isclass(obj) or _module(obj).startswith("jinja2")  # what derive handed it
        owner = getattr(obj, "__self__", None)
        if owner is not None and (inspect.ismethod(obj) or inspect.isbuiltin(obj)) and not inspect.ismodule(owner):
            name = obj.__name__
            if name.startswith("_"):
                return False
            if isinstance(owner, str):
                return name in self.STR_METHODS
            if isinstance(owner, dict):
                return name in self.DICT_METHODS
            if isinstance(owner, list):
                return name in self.LIST_METHODS
            return _module(type(owner)).startswith(("derive.", "jinja2."))
        if _module(obj).startswith("jinja2.") and not inspect.ismethod(obj):
            return True  # range (the sandbox's), lipsum, cycler, joiner, namespace, str.format's
        if _module(type(obj)).startswith("sympy"):  # f(x): an unspecified function, on SymPy arguments
            from sympy import Basic
            from sympy.core.function import UndefinedFunction

            return isinstance(obj, UndefinedFunction) and not kwargs and all(isinstance(a, Basic) for a in args)
        return False


def _module(thing):
    return getattr(thing, "__module__", None) or ""


def words(fmt, directory=None):
    """The shared words of ``words.j2``, bound to one format's way of writing math."""
    env = _environment(False, directory if isinstance(directory, tuple) else _search_path(directory))
    import sympy

    # X and N write the general power rule; E is e, the base of the natural logarithm.
    names = {"f": fmt, "X": sympy.Symbol("x"), "N": sympy.Symbol("n"), "E": sympy.E}
    return env.get_template("words.j2").make_module(names)


def render(derivation, fmt="text", *, color=False, standalone=False, embedded=False, directory=None):
    """The derivation as text, Markdown, LaTeX or HTML, through its layout template.

    ``embedded`` leaves out the heading (a handout's problem supplies its own);
    ``directory`` is a folder of templates, or a tuple of them searched in order (a
    user's overrides first).
    """
    directory = _search_path(directory)
    if fmt == "text":
        f, template, latex = TextFormat(color), "text.j2", False
    elif fmt == "markdown":
        f, template, latex = InlineLatexFormat(), "markdown.j2", False
    elif fmt == "latex":
        f, template, latex = LatexFormat(), "latex.j2", True
    elif fmt == "html":
        f, template, latex = HtmlFormat(), "html.j2", False
    else:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    env = _environment(latex, directory)
    say = words(LatexWordsFormat() if latex else f, directory)
    kind = "vector" if hasattr(derivation, "lines") else (
        "gradient" if hasattr(derivation, "derivations") else "derivation")
    text = env.get_template(template).render(doc=derivation, d=derivation, kind=kind, f=f, say=say,
                                             standalone=standalone, embedded=embedded)
    # The shared words write a few math signs as Unicode (·, −, ′); pdflatex wants commands.
    return printing.unicode_to_latex(text) if latex else text
