"""Presentation: a checked step tree becomes a worked solution a teacher would hand out.

The engine decides what is true; this stage decides what a reader sees and in what order:
chains of equalities (:mod:`derive.present.chains`), the pending derivatives and the
product and sum as written (:mod:`derive.present.marks`), and where a derivative does not
exist (:mod:`derive.present.conditions`). Printers and templates only typeset the result.
"""

import sympy

from derive.present.chains import Chain, Line, Note, Presenter, Worked  # noqa: F401


def present(derivation, memory=None, label=None):
    """The :class:`Worked` solution of a :class:`~derive.derivation.Derivation`.

    ``memory`` is shared by the derivations of one document (a gradient's partials, a
    handout's problems), so each derivative is worked once; ``label`` is how this one is
    cited later ("problem 2")."""
    steps = derivation.steps
    presenter = Presenter(derivation.definitions, derivation.partial, memory, label, derivation.notation)
    key = (derivation.expression, derivation.wrt)
    earlier = presenter.memory.get(key)
    if isinstance(earlier, tuple) and earlier[0] is not None and earlier[0] != label:
        return _cited(derivation, earlier[0])
    if label is not None:
        presenter.memory.setdefault(key, (label, None))
    substituted = None
    if steps.rule == "simplify" and steps.detail.get("in_names") is not None:
        substituted = substitute_typed(steps.detail["in_names"], derivation.definitions)
    worked = presenter.present(steps, final=derivation.result, substituted=substituted)
    for chain in worked.chains:  # a name's derivative is worked on its meaning written out
        for line in chain.lines:
            for note in line.notes:
                if note.kind == "value" and note.working is not None:
                    written = substitute_typed(note.working.expression, derivation.definitions)
                    note.working = type(note.working)(written, note.working.variable, note.working.partial)
    if derivation.problem is not None or derivation.definitions:
        from derive.present.marks import Pending

        worked.main.lhs = Pending(derivation.top, derivation.wrt, derivation.partial)
    typed = getattr(derivation.subject, "typed", None)
    if typed is not None and derivation.first is None:  # --simplify-first: the rewrite, said, first
        from derive.present.marks import Pending

        worked.main.lines.insert(0, Line(Pending(derivation.expression, derivation.wrt, derivation.partial),
                                         ("simplify_first",)))
        worked.main.lhs = Pending(typed, derivation.wrt, derivation.partial)
    _fold_names(worked, derivation.definitions)
    _renumber(worked)
    return worked


def _cited(derivation, where):
    """A derivative a handout's earlier problem worked in full: its result, citing it."""
    from derive.present.marks import Pending

    lhs = Pending(derivation.top if derivation.problem is not None or derivation.definitions
                  else derivation.expression, derivation.wrt, derivation.partial)
    main = Chain(lhs, variable=derivation.wrt, earlier=where)
    main.lines.append(Line(derivation.result, (), (Note("by", label=where),), boxed=True))
    return Worked(main)


def _fold_names(worked, definitions):
    """Write the working in the problem's names where it can: σ(zᵢ) is pᵢ, so ∂pᵢ/∂w =
    pᵢ(1 − pᵢ) xᵢ. The last lines, which write the names out, are left as they are."""
    back = {meaning: name for name, meaning in definitions.items() if not meaning.is_Atom
            and not meaning.is_Add and not meaning.is_Mul}
    if not back:
        return
    for chain in worked.chains:
        for line in chain.lines:
            if line.kind in ("names", "simplify") and chain is worked.main:
                continue
            line.rhs = line.rhs.xreplace(back)
            for note in line.notes:
                if note.rhs is not None:
                    note.rhs = note.rhs.xreplace(back)


def _renumber(worked):
    """u₁, u₂, … in the order the side chains are read (innermost first)."""
    names = [c.name for c in worked.side if c.name is not None and c.name.name.startswith("u_")]
    if not names:
        return
    fresh = {old: sympy.Symbol(f"u_{k}", real=True) for k, old in enumerate(names, start=1)}
    temporary = {old: sympy.Dummy(old.name) for old in names}
    final = {temporary[old]: fresh[old] for old in names}

    def rename(expr):
        return expr.xreplace(temporary).xreplace(final) if expr is not None else None

    for chain in worked.chains:
        chain.lhs, chain.name, chain.definition = rename(chain.lhs), rename(chain.name), rename(chain.definition)
        for line in chain.lines:
            line.rhs = rename(line.rhs)
            for note in line.notes:
                note.lhs, note.rhs, note.working = rename(note.lhs), rename(note.rhs), rename(note.working)


def substitute_typed(expr, definitions, rounds=20):
    """``expr`` with each name replaced by what it stands for, as the author wrote it:
    (2/n) Σ errorᵢ xᵢ becomes (2/n) Σ (w xᵢ + b − yᵢ) xᵢ, in that order."""
    for _ in range(rounds):
        if not expr.free_symbols & set(definitions):
            return expr
        expr = _replace(expr, definitions)
    return expr


def _replace(expr, definitions):
    if expr in definitions:
        return definitions[expr]
    if expr.is_Atom or not expr.args:
        return expr
    args = [_replace(a, definitions) for a in expr.args]
    if expr.is_Add:
        flat = []
        for a in args:
            flat += list(a.args) if a.is_Add else [a]
        return sympy.Add(*flat, evaluate=False)
    if isinstance(expr, sympy.Sum):
        return sympy.Sum(args[0], *expr.limits)
    if expr.is_Mul and expr.args == sympy.Mul(*expr.args).args:
        # a product SymPy ordered: keep the order it is read in (errorᵢ xᵢ, not xᵢ errorᵢ)
        args = [_replace(a, definitions) for a in expr.as_ordered_factors()]
    try:
        return expr.func(*args, evaluate=False)
    except TypeError:
        return expr.func(*args)
