"""The computation graph, drawn: Graphviz lays it out, derive writes the labels.

Each node shows its name and what it is computed from; at a point also its value and
∂L/∂node (as micrograd's ``draw_dot`` does), and for a node used twice the sum over its
paths. Each edge shows the local derivative as a formula and, at a point, its value. The
paths from each highlighted parameter to the loss are drawn in colour, and the caption
writes their products: ∂L/∂w = ∂L/∂error · ∂error/∂ŷ · … = 2 error · 1 · … = 1.919.

SVG, PDF and PNG come from Graphviz's ``dot`` program (Debian package ``graphviz``),
run with a time limit. TikZ (``.tex``) is written by derive from dot's layout (its node
and edge coordinates, ``dot -Tjson0``), with the math set by LaTeX; it compiles with
pdflatex on its own and ``\\input``s into a document that loads the ``standalone`` package.
"""

import html
import json
import shutil
import subprocess
from dataclasses import dataclass, field

from derive.errors import DeriveError

DOT_SECONDS = 30
MAX_OUTPUT = 50_000_000  # bytes from dot; a bounded graph is far below this
FORMATS = {".svg": "svg", ".pdf": "pdf", ".png": "png", ".tex": "tex", ".dot": "dot"}
MAX_PATHS_SHOWN = 4  # paths written out in the caption for one parameter


# -- what the picture says --------------------------------------------------------------------
@dataclass
class Label:
    """The lines of one node's or edge's label, in one notation (Unicode or LaTeX)."""

    lines: list = field(default_factory=list)  # (kind, text): kind "name", "math", "value", "gradient"


@dataclass
class Picture:
    """Everything a drawing shows, written in one notation; the layout templates place it."""

    nodes: list  # (id, node, Label, style)
    edges: list  # (tail id, head id, edge, Label, highlighted)
    caption: list  # lines
    title: str


def picture(graph, passes=None, notation="text"):
    """The labels of ``graph`` (and of ``passes`` at a point) in ``notation``: "text"
    (Unicode, for Graphviz) or "latex" (for TikZ)."""
    from derive.backprop.passes import fmt_number
    from derive.render import formats

    latex = notation == "latex"
    f = formats.LatexFormat() if latex else formats.TextFormat()

    def m(expr):
        return f"${f.m(expr)}$" if latex else f.m(expr)

    def d(top, below):
        if latex:  # a slash, not \frac: a label is one line high
            return r"$\partial %s/\partial %s$" % (f.m(top), f.m(below))
        return f.leibniz(top, below, True)

    def words(text):
        from derive.render.printing import latex_escape

        return latex_escape(text) if latex else text

    def num(v):
        text = fmt_number(v, 4, latex=latex)
        return f"${text}$" if latex else text

    def factor(expr):
        return f"${f.mf(expr)}$" if latex else f.mf(expr)

    def bracket(v):
        text = num(v)
        return f"({text})" if v < 0 else text

    times = r" $\cdot$ " if latex else " · "
    L = graph.top.symbol
    ids = {n: f"n{k}" for k, n in enumerate(graph.nodes)}
    highlighted = _highlighted_edges(graph)
    rows = passes.rows if passes is not None else None
    nodes = []
    for n in graph.nodes:
        label = Label()
        word = n.word if n.word and n.word != _base_name(n) else _role_word(n)
        label.lines.append(("name", m(n.symbol), words(word)))
        if n.definition is not None:
            label.lines.append(("math", "= " + m(n.definition)))
        if rows is not None:
            r = rows[n]
            label.lines.append(("value", "value " + num(r.value)))
            if n is graph.top:
                label.lines.append(("gradient", d(L, n.symbol) + " = 1"))
            elif len(r.terms) > 1:
                parts = " + ".join(bracket(t.value) for t in r.terms)
                label.lines.append(("gradient", f"{d(L, n.symbol)} = {parts} = {num(r.gradient)}"))
            else:
                label.lines.append(("gradient", f"{d(L, n.symbol)} = {num(r.gradient)}"))
        else:
            if n is graph.top:
                label.lines.append(("gradient", d(L, n.symbol) + " = 1"))
            elif n.outputs:
                terms = []
                for e in n.outputs:
                    term = d(L, e.target.symbol)
                    if e.local != 1:
                        term += times + factor(e.local)
                    if e.summed:
                        term = ("$\\Sigma_i$ " if latex else "Σᵢ ") + term
                    terms.append(term)
                label.lines.append(("gradient", f"{d(L, n.symbol)} = " + " + ".join(terms)))
        style = "wrt" if n in graph.wrt else n.role
        nodes.append((ids[n], n, label, style))
    def local_name(e):
        # ∂f/∂x on the edge x → f holds u₁ fixed; where x also reaches f through u₁, the
        # total ∂f/∂x is something else, so the edge's own says so
        direct = e.target is graph.top and len(e.source.outputs) > 1
        return d(e.target.symbol, e.source.symbol) + (words(" (direct)") if direct else "")

    edges = []
    for e in graph.edges:
        label = Label()
        text = f"{local_name(e)} = {m(e.local)}"
        if e.summed:
            text += words(" (summed over i)")
        label.lines.append(("math", text))
        if rows is not None:
            term = next(t for t in rows[e.source].terms if t.edge is e)
            label.lines.append(("value", "= " + num(term.local)))
        edges.append((ids[e.source], ids[e.target], e, label, e in highlighted))
    caption = _caption(graph, passes, m, d, num, bracket, factor, times, local_name)
    title = graph.problem.title if graph.problem is not None else "f = " + m(graph.top.definition)
    return Picture(nodes, edges, caption, title)


def _base_name(node):
    from derive.render.printing import split_name

    family = node.family if node.family is not None else node.symbol
    base = family.base if hasattr(family, "base") else family
    return split_name(str(base))[0]


def _role_word(node):
    return {"parameter": "parameter", "data": "data", "constant": "constant", "variable": "",
            "loss": "loss", "output": "", "intermediate": ""}.get(node.role, "")


def _highlighted_edges(graph):
    found = set()
    for n in graph.wrt:
        for path in graph.paths(n):
            found.update(path)
    return found


def _caption(graph, passes, m, d, num, bracket, factor, times, local_name):
    """For each highlighted parameter: the sum over its paths of the product of the local
    derivatives, as a chain of names, as formulas and (at a point) as numbers."""
    L = graph.top.symbol
    lines = []
    for n in graph.wrt:
        paths = graph.paths(n)
        if not paths:
            lines.append(f"{d(L, n.symbol)} = 0: {m(n.symbol)} does not reach {m(L)}")
            continue
        if len(paths) > MAX_PATHS_SHOWN:
            total = f" = {num(passes.rows[n].gradient)}" if passes is not None else ""
            lines.append(f"{d(L, n.symbol)} = the sum over its {len(paths)} paths to {m(L)}{total}")
            continue
        chains, formulas, numbers = [], [], []
        for path in paths:
            backward = list(reversed(path))
            sigma = "Σᵢ " if any(e.summed for e in path) and not passes else ""
            chains.append(sigma + times.join(local_name(e) for e in backward))
            formulas.append(sigma + times.join(factor(e.local) for e in backward))
            if passes is not None:
                values = [next(t.local for t in passes.rows[e.source].terms if t.edge is e) for e in backward]
                numbers.append(times.join(bracket(v) for v in values))
        line = f"{d(L, n.symbol)} = " + " + ".join(chains) + " = " + " + ".join(formulas)
        if passes is not None:
            line += " = " + " + ".join(numbers) + " = " + num(passes.rows[n].gradient)
        lines.append(line)
    return lines


# -- Graphviz ---------------------------------------------------------------------------------
def dot_source(graph, passes=None, directory=None, *, direction="LR", caption=True):
    """The graph in Graphviz's language, every label an escaped HTML-like label.

    ``direction`` "LR" puts the inputs on the left (a picture file), "TB" on top (a page
    column); ``caption`` writes the path products under the picture."""
    from derive.render import formats as r

    pic = picture(graph, passes, "text")
    if not caption:
        pic.caption = []
    env = r._environment(False, r._search_path(directory))
    return env.get_template("graph_dot.j2").render(pic=pic, e=_escape, wrt=bool(graph.wrt), direction=direction)


def _escape(text):
    return html.escape(str(text), quote=True)


def dot_program():
    """The path of Graphviz's ``dot``, or one clear error naming the package."""
    found = shutil.which("dot")
    if found is None:
        raise DeriveError("drawing a graph needs Graphviz's dot program, which is not installed; "
                          "install the Debian package graphviz (apt-get install graphviz)")
    return found


def run_dot(source, fmt, extra=()):
    """``dot -T<fmt>`` on ``source``, with a time limit; the bytes it writes."""
    program = dot_program()
    try:
        done = subprocess.run([program, f"-T{fmt}", *extra], input=source.encode("utf-8"),
                              capture_output=True, timeout=DOT_SECONDS)
    except subprocess.TimeoutExpired:
        raise DeriveError(f"Graphviz took longer than {DOT_SECONDS} s to lay out the graph; draw a smaller one") from None
    except OSError as error:
        raise DeriveError(f"could not run Graphviz's dot: {error.strerror}") from None
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DeriveError(f"Graphviz's dot failed: {why[0] if why else 'exit code ' + str(done.returncode)}")
    if len(done.stdout) > MAX_OUTPUT:
        raise DeriveError("Graphviz wrote more than 50 MB; draw a smaller graph")
    return done.stdout


def render_graph(graph, passes=None, fmt="svg", directory=None, **layout):
    """The drawing as bytes (svg, pdf, png) or text (tex: TikZ; dot: the Graphviz source)."""
    source = dot_source(graph, passes, directory, **layout)
    if fmt == "dot":
        return source
    if fmt == "tex":
        return tikz(graph, passes, source, directory)
    if fmt == "png":
        return run_dot(source, "png", ["-Gdpi=144"])
    return run_dot(source, fmt)


def text(graph, passes=None, directory=None):
    """The graph in the terminal: nodes, edges with their local derivatives, the paths."""
    from derive.render import formats as r

    pic = picture(graph, passes, "text")
    env = r._environment(False, r._search_path(directory))
    from derive.backprop.passes import columns

    return env.get_template("graph_text.j2").render(pic=pic, g=graph, doc=passes, table=columns)


def inline_svg(svg):
    """dot's SVG for inside an HTML page: no XML prolog, and a size that follows the page."""
    import re

    text = svg.decode("utf-8") if isinstance(svg, bytes) else svg
    text = text[text.index("<svg"):]
    return re.sub(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"',
                  lambda m: f'<svg width="{m.group(1)}pt" style="max-width: 100%; height: auto"', text, count=1)


# -- TikZ, from dot's layout ------------------------------------------------------------------
def tikz(graph, passes=None, source=None, directory=None, standalone=True):
    """A TikZ picture at dot's coordinates, with the math set by LaTeX."""
    from derive.render import formats as r
    from derive.render.printing import unicode_to_latex

    source = source or dot_source(graph, passes, directory)
    layout = json.loads(run_dot(source, "json0").decode("utf-8"))
    pic = picture(graph, passes, "latex")
    places = {o["name"]: o for o in layout.get("objects", []) if "pos" in o}
    by_gvid = {o["_gvid"]: o["name"] for o in layout.get("objects", [])}
    nodes = []
    for node_id, node, label, style in pic.nodes:
        place = places[node_id]
        x, y = _point(place["pos"])
        nodes.append({"id": node_id, "x": x, "y": y, "width": float(place["width"]) * 72,
                      "height": float(place["height"]) * 72, "label": label, "style": style})
    edges = []
    drawn = {(tail, head): (edge, label, on) for tail, head, edge, label, on in pic.edges}
    for e in layout.get("edges", []):
        tail, head = by_gvid[e["tail"]], by_gvid[e["head"]]
        edge, label, on = drawn[(tail, head)]
        end, points = _spline(e["pos"])
        lx, ly = _point(e["lp"]) if "lp" in e else points[len(points) // 2]
        edges.append({"points": points, "end": end, "label": label, "lx": lx, "ly": ly, "on": on})
    left, bottom, right, top = (float(v) for v in layout["bb"].split(","))
    caption_y = _point(layout["lp"])[1] if "lp" in layout else bottom - 10
    env = r._environment(True, r._search_path(directory))
    text = env.get_template("graph_tikz.j2").render(
        pic=pic, nodes=nodes, edges=edges, left=left, bottom=bottom, right=right, top=top,
        caption_y=caption_y, standalone=standalone)
    return unicode_to_latex(text)


def _point(text):
    x, y = text.split(",")[:2]
    return float(x), float(y)


def _spline(text):
    """dot's edge spline: its control points, and where the arrowhead ends."""
    end, points = None, []
    for part in text.split():
        if part.startswith("e,"):
            end = _point(part[2:])
        elif part.startswith("s,"):
            continue
        else:
            points.append(_point(part))
    return end, points


# -- from Python -------------------------------------------------------------------------------
class Drawing:
    """A computation graph ready to draw: ``.svg()``, ``.write("graph.pdf")``, ``.to_text()``;
    in Jupyter it shows itself as SVG. ``passes`` holds the numbers when drawn at a point."""

    def __init__(self, graph, passes=None):
        self.graph = graph
        self.passes = passes

    def render(self, fmt="svg"):
        return render_graph(self.graph, self.passes, fmt)

    def svg(self):
        return self.render("svg").decode("utf-8")

    def to_text(self):
        return text(self.graph, self.passes)

    def write(self, path):
        """Write the drawing whole (or not at all); the extension picks the format."""
        import os

        from derive.files import write_whole

        fmt = FORMATS.get(os.path.splitext(str(path))[1].lower())
        if fmt is None:
            raise DeriveError(f"{path}: a drawing is written as .svg, .pdf, .png, .tex or .dot")
        write_whole(str(path), self.render(fmt))
        return path

    def _repr_svg_(self):
        return self.svg()


def graph(expression, *, let=None, wrt=None, at=None, half=None, mean=None):
    """The computation graph of a problem or an expression, at a point if ``at`` is given.

    >>> g = graph("mlp", at="w=0.5,b=0.1,v=-1.2,c=0.3,x=1.5,y=2")
    >>> round(g.passes.gradient["w"], 4)
    1.9187
    """
    from derive.backprop.graph import graph_of
    from derive.backprop.passes import passes_for
    from derive.derivation import make_subject

    subject = make_subject(expression, let=let, half=half, mean=mean, wrt=wrt)
    if at is None:
        return Drawing(graph_of(subject, wrt=wrt))
    result = passes_for(subject, at, wrt=wrt, torch=False)
    if not result.passed:
        from derive.errors import CheckFailed

        raise CheckFailed("a number in the graph disagrees with its check; it is not trustworthy")
    return Drawing(result.graph, result)
