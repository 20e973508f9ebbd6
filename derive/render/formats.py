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
import sympy
from jinja2.sandbox import SandboxedEnvironment

from derive.errors import DeriveError
from derive.present.marks import Dot, Gradient as Nabla, Pending, Relation
from derive.render import escape, printing
from derive.render import notation as n
from derive.render.notation import Notation

FORMATS = ("text", "markdown", "latex", "html", "json")


def templates_dir():
    """The packaged templates (a wheel installs them as derive/templates), else the checkout's."""
    package = Path(__file__).resolve().parent.parent
    candidates = (package / "templates", package.parent / "templates")
    for candidate in candidates:
        if (candidate / "words.j2").is_file():
            return candidate
    raise FileNotFoundError(f"derive's templates are missing (looked in {' and '.join(map(str, candidates))})")


LINE_WIDTH = 50  # characters of maths in one display line of a page (11 pt, 6.5 in)


class Format:
    """How one format writes maths, through one notation (the document's: its author's
    order of terms, its names). Subclasses spell the layout tree; the words are shared."""

    name = "text"

    def __init__(self, notation=None):
        self.notation = notation or Notation()

    def node(self, expr):
        return self.notation.build(expr if not isinstance(expr, (int, float)) else sympy.sympify(expr))

    def spell(self, node):
        raise NotImplementedError

    def m(self, expr):
        return self.wrap(self.spell(self.node(expr)))

    def wrap(self, text):
        return text

    def mf(self, expr):
        """A factor of a product: bracketed when it is a sum or negative, (−1)."""
        node = self.node(expr)
        if expr.is_Add or expr.could_extract_minus_sign():
            node = n.Fenced(node)
        return self.wrap(self.spell(node))

    def op(self, wrt, partial=False):
        return self.wrap(self.spell(n.Diff("∂" if partial else self.notation.leibniz_d, self.node(wrt))))

    def dd(self, expr, wrt, partial=False):
        """d/dx [expr], bracketed where the expression needs it."""
        return self.m(Pending(expr, wrt, partial))

    def leibniz(self, top, wrt, partial=False):
        """d(top)/dx: ∂L/∂w, ∂errorᵢ/∂w."""
        d = "∂" if partial else self.notation.leibniz_d
        top_node = self.node(top)
        if not (top.is_Symbol or isinstance(top, sympy.Indexed)):
            top_node = n.Fenced(top_node)
        return self.wrap(self.spell(n.Diff(d, self.node(wrt), top_node)))

    def grad(self, top, wrt):
        return self.wrap(self.spell(n.Row((n.Sub(n.Op("∇", "pre"), self.node(wrt)), n.SOFT, self.node(top)))))

    def second(self, top, a, b, partial=True):
        d = "∂" if partial else self.notation.leibniz_d
        top_node = self.node(top) if top.is_Atom else n.Fenced(self.node(top))
        upper = n.Row((n.Sup(n.Word(d), n.Num("2")), top_node))
        lower = n.Row((n.Word(d), n.Sup(self.node(a), n.Num("2")))) if a == b else \
            n.Row((n.Word(d), self.node(a), n.Word(d), self.node(b)))
        return self.wrap(self.spell(n.Frac(upper, lower)))

    def eq(self, *parts, rel="="):
        """``a = b = c`` as one piece of maths (never a relation outside the maths)."""
        items = []
        for k, part in enumerate(parts):
            if k:
                items.append(n.Op(rel, "rel"))
            items.append(self.node(part) if not isinstance(part, n.NODES) else part)
        return self.wrap(self.spell(n.Row(tuple(items))))

    def update(self, target, value):
        """``w ← value``, one piece of maths."""
        return self.eq(target, value, rel="←")

    def t(self, text):
        return escape.clean(text)  # another's text: no control character reaches the terminal

    def strong(self, text):
        return text

    bad = good = strong


class TextFormat(Format):
    """Maths as one line of Unicode, for the terminal."""

    name = "text"

    def __init__(self, color=False, notation=None, width=None):
        super().__init__(notation)
        self.color = color
        self.width = width or _terminal_width()

    def spell(self, node):
        return n.to_text(node)

    def chunks(self, expr):
        """The pieces a long right-hand side may break between (before a top-level + or −,
        then between factors, then inside a bracket)."""
        return n.text_chunks(self.node(expr), self.width // 2)

    def matrix(self, lhs, matrix):
        """``lhs = M`` with M laid out in rows and aligned columns, bracketed like a matrix."""
        cells = [[self.m(matrix[r, c]) for c in range(matrix.cols)] for r in range(matrix.rows)]
        widths = [max(len(cells[r][c]) for r in range(matrix.rows)) for c in range(matrix.cols)]
        rows = ["   ".join(cells[r][c].ljust(widths[c]) for c in range(matrix.cols)) for r in range(matrix.rows)]
        head = self.m(lhs) + " = "
        if len(rows) == 1:
            return head + "[" + rows[0] + "]"
        brackets = [("⎡", "⎤")] + [("⎢", "⎥")] * (len(rows) - 2) + [("⎣", "⎦")]
        middle = (len(rows) - 1) // 2
        out = []
        for k, (row, (left, right)) in enumerate(zip(rows, brackets)):
            lead = head if k == middle else " " * len(head)
            out.append(f"{lead}{left} {row} {right}")
        return "\n".join(out)

    def align(self, rows, indent=0):
        """A chain of equalities aligned on its = signs, each line's note beside it, long
        right-hand sides wrapped at an operator under the first =.

        ``rows`` are ``(left side, right-hand pieces, note)``; the left side is empty on the
        continuation lines of a chain."""
        width = self.width - indent
        left = max((_visible(lhs) for lhs, _, _ in rows), default=0)
        body_lines = []
        for lhs, pieces, note in rows:
            head = lhs + " " * (left - _visible(lhs)) + " = "
            room = max(20, width - len(head))
            wrapped, current = [], ""
            for piece in pieces:
                candidate = piece if not current else current + " " + piece
                if current and _visible(candidate) > room:
                    wrapped.append(current)
                    current = piece
                else:
                    current = candidate
            wrapped.append(current)
            body_lines.append((head, wrapped, note))
        column = max((len(h) + _visible(w[-1]) for h, w, note in body_lines if len(w) == 1 and note), default=0) + 3
        out = []
        pad = " " * indent
        for head, wrapped, note in body_lines:
            for k, part in enumerate(wrapped):
                lead = head if k == 0 else " " * (len(head) + 2)
                text = lead + part
                if k == len(wrapped) - 1 and note:
                    gap = max(3, column - _visible(text))
                    if _visible(text) + gap + _visible(note) <= width:
                        text = text + " " * gap + note
                    else:
                        out.append(pad + text)
                        text = " " * (len(head) + 2) + note
                out.append(pad + text)
        return "\n".join(out)

    def strong(self, text):
        return f"\x1b[1m{text}\x1b[0m" if self.color else text

    def bad(self, text):
        return f"\x1b[1;31m{text}\x1b[0m" if self.color else text

    def good(self, text):
        return f"\x1b[32m{text}\x1b[0m" if self.color else text


class LatexFormat(Format):
    """Maths as LaTeX with no delimiters (the layout template adds them)."""

    name = "latex"

    def spell(self, node):
        return n.to_latex(node)

    def chunks(self, expr):
        return [n.to_latex(piece) for piece in n.split_terms(self.node(expr))]

    def pack(self, expr, width=LINE_WIDTH):
        """The right-hand side as lines of at most about ``width`` characters (judged by its
        terminal text), broken before a top-level + or −, so no display runs into the margin."""
        pieces = n.split_to_width(self.node(expr), width, lambda piece: len(n.to_text(piece)))
        lines, current, size = [], [], 0
        for piece in pieces:
            length = len(n.to_text(piece))
            if current and size + length > width:
                lines.append(current)
                current, size = [], 0
            current.append(piece)
            size += length
        lines.append(current)
        return [" ".join(n.to_latex(p) for p in line) for line in lines]

    def t(self, text):
        return printing.latex_escape(text)

    def strong(self, text):
        return r"\textbf{%s}" % text

    bad = strong

    def good(self, text):
        return text


class InlineLatexFormat(LatexFormat):
    """LaTeX maths inside ``$…$``: for Markdown (GitHub and Jupyter render it)."""

    name = "markdown"

    def wrap(self, text):
        return "$" + text + "$"

    @property
    def bare(self):
        return LatexFormat(self.notation)

    def t(self, text):
        return escape.markdown_text(text)

    def strong(self, text):
        return f"**{text}**"

    bad = strong


class LatexWordsFormat(InlineLatexFormat):
    """The sentences of a LaTeX document: maths in ``$…$``, text escaped, bold as \\textbf."""

    name = "latex"
    t = LatexFormat.t
    strong = LatexFormat.strong
    bad = LatexFormat.strong
    good = LatexFormat.good


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


class HtmlFormat(Format):
    """Maths as MathML, which current browsers lay out natively: no scripts, no network."""

    name = "html"

    def spell(self, node):
        return n.to_mathml(node)

    def wrap(self, text):
        return f'<math display="inline">{text}</math>'

    def block(self, expr):
        """A display equation of its own."""
        return f'<math display="block">{self.spell(self.node(expr))}</math>'

    def block_eq(self, *parts):
        """``a = b`` as a display equation of its own."""
        inner = self.eq(*parts)
        return inner.replace('<math display="inline">', '<math display="block">', 1)

    def t(self, text):
        return escape.html_text(text)

    def strong(self, text):
        return f"<strong>{text}</strong>"

    def bad(self, text):
        return f'<strong class="failed">{text}</strong>'

    def good(self, text):
        return f'<strong class="checked">{text}</strong>'


def _visible(text):
    """The width a terminal gives ``text`` (colour codes take none)."""
    import re

    return len(re.sub(r"\x1b\[[0-9;]*m", "", text))


def _terminal_width():
    import shutil

    return max(60, min(shutil.get_terminal_size((100, 24)).columns, 120))


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
                             "isdigit", "isalpha", "splitlines", "partition", "rpartition"})
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


@functools.lru_cache(maxsize=1)
def _definitions():
    from derive.functions import sigmoid

    z = sympy.Symbol("z")
    return {
        "SIGMA_Z": sigmoid(z), "SIGMA_FORMULA": 1 / (1 + sympy.exp(-z)),
        "SIGMA_PRIME": sympy.Derivative(sympy.Function("σ")(z), z).subs(z, z),
        "SIGMA_IDENTITY": sympy.Mul(sigmoid(z), 1 - sigmoid(z), evaluate=False),
        "RELU_Z": sympy.Function("ReLU")(z), "RELU_FORMULA": sympy.Max(0, z, evaluate=False),
        "HESSIAN": sympy.Symbol("H"), "SGN_ZERO": sympy.sign(0, evaluate=False),
        # functions, not classes: a sandboxed template may call what it is handed, not build classes
        "PENDING": _pending, "DOT": _dot, "NABLA": _nabla, "UPDATE": _update, "ROUNDED": _rounded,
    }


def _pending(expression, variable, partial=False):
    return Pending(expression, variable, partial)


def _dot(*factors):
    return Dot(*factors)


def _nabla(top, wrt=None):
    return Nabla(top, wrt)


def _update(target, step):
    """target ← target − step."""
    return Relation(target, sympy.Add(target, sympy.Mul(-1, step, evaluate=False), evaluate=False))


def _rounded(value, digits=4):
    return sympy.Float(float(value), digits)


def _DEFINITIONS():
    return _definitions()


def words(fmt, directory=None, details=False):
    """The shared words of ``words.j2``, bound to one format's way of writing math."""
    env = _environment(False, directory if isinstance(directory, tuple) else _search_path(directory))

    # X and N write the general power rule; E is e, the base of the natural logarithm;
    # the rest are the definitions the words give of the catalog's functions.
    names = {"f": fmt, "X": sympy.Symbol("x"), "N": sympy.Symbol("n"), "E": sympy.E, **_DEFINITIONS(),
             "details": details}
    return env.get_template("words.j2").make_module(names)


def render(derivation, fmt="text", *, color=False, standalone=False, embedded=False, directory=None,
           check_details=False):
    """The derivation as text, Markdown, LaTeX or HTML, through its layout template.

    ``embedded`` leaves out the heading (a handout's problem supplies its own);
    ``directory`` is a folder of templates, or a tuple of them searched in order (a
    user's overrides first).
    """
    directory = _search_path(directory)
    notation = getattr(derivation, "notation", None)
    if fmt == "text":
        f, template, latex = TextFormat(color, notation), "text.j2", False
    elif fmt == "markdown":
        f, template, latex = InlineLatexFormat(notation), "markdown.j2", False
    elif fmt == "latex":
        f, template, latex = LatexFormat(notation), "latex.j2", True
    elif fmt == "html":
        f, template, latex = HtmlFormat(notation), "html.j2", False
    else:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    env = _environment(latex, directory)
    check_details = check_details or getattr(derivation, "check_details", False)
    say = words(LatexWordsFormat(notation) if latex else f, directory, check_details)
    kind = "vector" if hasattr(derivation, "lines") else (
        "gradient" if hasattr(derivation, "derivations") else "derivation")
    text = env.get_template(template).render(doc=derivation, d=derivation, kind=kind, f=f, say=say,
                                             standalone=standalone, embedded=embedded,
                                             HESSIAN_SYMBOL=sympy.Symbol("H"))
    # The shared words write a few math signs as Unicode (·, −, ′); pdflatex wants commands.
    return printing.unicode_to_latex(text) if latex else text
