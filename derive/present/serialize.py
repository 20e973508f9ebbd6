"""The worked solution as JSON-ready data: for each line the expression (SymPy's string,
with each pending derivative written ``Derivative(…)``), its LaTeX and its text, the rules
and the notes, so a machine can rebuild the page and a person can read it."""

import sympy

from derive.present.marks import Cases, Dot, Pending, Plus, Relation
from derive.render import notation as n


def solution_dict(derivation):
    """``{"chains": [...]}``, side chains first, then the main chain."""
    notation = derivation.notation
    worked = derivation.worked
    return {"chains": [chain_dict(c, notation, main=c is worked.main) for c in worked.chains]}


def chain_dict(chain, notation, main=False):
    out = {
        "main": main,
        "lhs": _expr(chain.lhs, notation),
        "lines": [line_dict(line, notation) for line in chain.lines],
    }
    if chain.name is not None:
        out["name"] = str(chain.name)
        out["stands_for"] = _plain(chain.definition) if chain.definition is not None else None
    if chain.label:
        out["label"] = chain.label
    if chain.earlier:
        out["refers_to"] = chain.earlier
    if chain.conditions:
        out["conditions"] = [_plain(c.lhs) for c in chain.conditions]
    return out


def line_dict(line, notation):
    out = _expr(line.rhs, notation)
    out["rules"] = list(line.rules)
    if line.boxed:
        out["boxed"] = True
    notes = []
    for note in line.notes:
        item = {"kind": note.kind}
        for key in ("lhs", "rhs", "working"):
            value = getattr(note, key)
            if value is not None:
                item[key] = _plain(value)
        if note.label:
            item["refers_to"] = note.label
        notes.append(item)
    if notes:
        out["notes"] = notes
    return out


def _expr(expr, notation):
    node = notation.build(expr)
    return {"expression": _plain(expr), "latex": n.to_latex(node), "text": n.to_text(node)}


def _plain(expr):
    """SymPy's string of a line, with the marks written in SymPy's own words."""
    def unmark(e):
        if isinstance(e, Pending):
            return sympy.Derivative(unmark(e.expression), e.variable, evaluate=False)
        if isinstance(e, Dot):
            return sympy.Mul(*[unmark(a) for a in e.args], evaluate=False)
        if isinstance(e, Plus):
            return sympy.Add(*[unmark(a) for a in e.args], evaluate=False)
        if isinstance(e, Cases):
            return sympy.Piecewise(*[(unmark(v), c) for v, c in e.pieces], evaluate=False)
        if isinstance(e, Relation):
            return sympy.Eq(unmark(e.args[0]), unmark(e.args[1]), evaluate=False)
        if e.is_Atom or not e.args:
            return e
        try:
            return e.func(*[unmark(a) for a in e.args], evaluate=False)
        except TypeError:
            return e.func(*[unmark(a) for a in e.args])

    from derive.symbols import readable

    try:
        return str(readable(unmark(expr)))
    except Exception:  # noqa: BLE001 - a line is still shown, even if SymPy cannot print it
        return str(expr)
