"""What ``derive explain --at … --graph`` appends after the explanation: the checked
forward and backward passes, and (in HTML) the computation graph as an inline SVG."""

import json

from derive.errors import DeriveError

END_OF = {"latex": "\\end{document}", "html": "</body>"}


def append_sections(document, text, fmt, *, at=None, graph=False, wrt=None, color=False, standalone=False,
                    torch=None):
    """``(text with the sections appended, whether a number failed its check)``."""
    if not hasattr(document, "subject") or getattr(document, "first", None) is not None:
        raise DeriveError("--at and --graph go with a first derivative or a gradient in the index form "
                          "(drop --order 2 and --form vector)")
    if graph and fmt != "html":
        raise DeriveError("--graph draws into HTML (--format html); for a picture file use "
                          "derive graph … -o graph.svg (or .pdf, .png, .tex)")
    from derive.backprop.passes import passes_for

    derivations = getattr(document, "derivations", None) or [document]
    names = [str(d.wrt) for d in derivations]
    result = passes_for(document.subject, at, wrt=names, torch=torch, gradient=document) if at is not None else None
    if fmt == "json":
        data = json.loads(text)
        data["passes"] = result.to_dict()
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n", not result.passed
    parts = []
    if result is not None:
        parts.append(result.render(fmt, color=color))
    if graph:
        parts.append(_graph_figure(document.subject, names, result))
    return _insert(text, "\n".join(parts), fmt, standalone), result is not None and not result.passed


def _graph_figure(subject, names, result):
    from derive.backprop import draw
    from derive.backprop.graph import graph_of
    from derive.render import formats as r

    the_graph = result.graph if result is not None else graph_of(subject, wrt=names)
    # top to bottom fits a page's column; the path products go under it as text that wraps
    svg = draw.inline_svg(draw.render_graph(the_graph, result, "svg", direction="TB", caption=False))
    env = r._environment(False, r._search_path(None))
    return env.get_template("graph_html.j2").render(svg=svg, g=the_graph, doc=result,
                                                    paths=draw.picture(the_graph, result).caption)


def _insert(text, section, fmt, standalone):
    """After the explanation; in a whole LaTeX or HTML document, before its end."""
    marker = END_OF.get(fmt) if standalone else None
    if marker and marker in text:
        head, _, tail = text.rpartition(marker)
        return head + section + "\n" + marker + tail
    return text.rstrip("\n") + "\n\n" + section
