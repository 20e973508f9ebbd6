"""Moodle XML for STACK: a question per problem, its variants drawn the way derive keeps them.

    derive export SET.toml -o quiz.xml --format stack --count 30

Each question holds, as STACK question variables (Maxima), the list of kept variants'
parameter values and ``v: rand(N)+1`` to pick one, so STACK varies the numbers only
among variants derive has checked ask for the same work; the expression ``p`` written
over the parameters; the teacher's answer ``ta: diff(p, x)``; and one Maxima expression
per mistake derive predicts for the problem (``m1``, ``m2``, …, each derive's broken rule
written over the parameters, and kept only when it equals derive's own prediction for
every variant). The potential response tree tests ``AlgEquiv(ans1, ta)`` first, then each
mistake in turn with derive's words for it; the general feedback is derive's worked
solution of the student's variant (a castext ``[[if]]`` block per variant).

The layout of the XML follows a question exported by STACK itself:
maths/moodle-qtype_stack, samplequestions/Calculus-Refresher/CR_Diff_04/
CR-Diff-04-product-1-a.xml (commit bf65ad8c), and the fields its importer reads,
``qtype_stack::import_from_xml`` in questiontype.php (commit a14f3034).
"""

import html
import re
from xml.sax.saxutils import escape

import sympy
from sympy.printing.str import StrPrinter

from derive.errors import DeriveError

RESERVED = {"lambda", "gamma", "beta", "zeta", "psi", "diff", "integrate", "sum", "product", "limit",
            "block", "do", "for", "if", "then", "else", "while", "thru", "and", "or", "not", "ans1", "ta",
            "p", "v", "rand", "e", "i", "pi", "inf", "true", "false", "und", "ind"}


class NotMaxima(DeriveError):
    """An expression with a function STACK's Maxima would not differentiate the same way."""


class MaximaPrinter(StrPrinter):
    """SymPy as Maxima code: ``^`` for powers, ``%e``/``%pi``, σ written out."""

    def __init__(self, names=None):
        super().__init__({"order": "none"})
        self.names = names or {}

    def _print_Symbol(self, expr):
        return self.names.get(expr, expr.name)

    def _print_Exp1(self, expr):
        return "%e"

    def _print_Pi(self, expr):
        return "%pi"

    def _print_Rational(self, expr):
        return str(expr.p) if expr.q == 1 else f"({expr.p}/{expr.q})"

    def _print_Integer(self, expr):
        return str(expr.p)

    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.args
        if exp == sympy.Rational(1, 2):
            return f"sqrt({self._print(base)})"
        if exp == -1:
            return f"1/({self._print(base)})"
        return f"({self._print(base)})^({self._print(exp)})"

    def _print_exp(self, expr):
        return f"exp({self._print(expr.args[0])})"

    def _print_Abs(self, expr):
        return f"abs({self._print(expr.args[0])})"

    def _print_sigmoid(self, expr):
        return f"(1/(1 + exp(-({self._print(expr.args[0])}))))"

    def _print_Function(self, expr):
        name = expr.func.__name__
        if name in ("sin", "cos", "tan", "cot", "sec", "csc", "asin", "acos", "atan", "acot", "sinh", "cosh",
                    "tanh", "coth", "sech", "csch", "asinh", "acosh", "atanh", "log", "sqrt"):
            return f"{name}({', '.join(self._print(a) for a in expr.args)})"
        raise NotMaxima(f"{name}() has no STACK form derive can vouch for")

    def _print_UnevaluatedExpr(self, expr):
        return f"({self._print(expr.args[0])})"

    def emptyPrinter(self, expr):
        raise NotMaxima(f"{type(expr).__name__} has no STACK form derive can vouch for")

    for _name in ("Max", "Min", "Piecewise", "Derivative", "Subs", "Sum", "Indexed", "IndexedBase",
                  "Heaviside", "sign", "AppliedUndef", "Relational", "BooleanTrue", "BooleanFalse"):
        locals()[f"_print_{_name}"] = lambda self, expr: self.emptyPrinter(expr)
    del _name


def to_maxima(expr, names=None):
    """Maxima code for a SymPy expression, or NotMaxima."""
    return MaximaPrinter(names).doprint(expr)


# --------------------------------------------------------------------------- one question
class Question:
    """What one STACK question needs, worked out from a problem and its kept variants."""

    def __init__(self, template, problem, variants, *, notes):
        from derive.derivation import make_subject
        from derive.grade.words import explanation

        self.problem, self.variants, self.notes = problem, variants, notes
        entry = problem.entry
        self.wrt_name = entry["wrt"].strip()
        params = problem.params.names if problem.params else []
        # The parameters as symbols of their own (never a variable of the expression).
        subject_text = (problem.texts["expression"].spell(lambda n: f"zzp_{n}")
                        if "expression" in problem.texts else entry["expression"])
        let = {}
        for key, text in problem.texts.items():
            if isinstance(key, tuple):
                let[key[1]] = text.spell(lambda n: f"zzp_{n}")
        for name, meaning in (entry.get("let") or {}).items():
            let.setdefault(name, meaning)
        subject = make_subject(subject_text, let=let or None)
        self.expr = subject.written_out
        symbols = {s.name: s for s in self.expr.free_symbols}
        self.wrt = symbols.get(self.wrt_name)
        if self.wrt is None:
            raise NotMaxima(f"{self.wrt_name} does not occur in the expression")
        self.params = {n: symbols.get(f"zzp_{n}", sympy.Symbol(f"zzp_{n}")) for n in params}
        taken = {s.name for s in self.expr.free_symbols if not s.name.startswith("zzp_")}
        self.names = {}
        for n, s in self.params.items():
            spelled = n if n not in taken and n.lower() not in RESERVED else f"p_{n}"
            self.names[s] = spelled
        for s in self.expr.free_symbols:
            if not s.name.startswith("zzp_"):
                if s.name.lower() in RESERVED or "_" in s.name and not s.name.replace("_", "").isalnum():
                    raise NotMaxima(f"the variable {s.name} clashes with a name Maxima or STACK uses")
                self.names[s] = s.name
        self.maxima_expression = to_maxima(self.expr, self.names)
        self.mistakes = self._mistakes(explanation)

    def _values(self, variant):
        return {self.params[n]: sympy.Rational(v.number.numerator, v.number.denominator)
                for n, v in variant.draw.items()}

    def _mistakes(self, explanation):
        """``[(code, where, maxima, feedback)]``: each broken rule, over the parameters, kept
        when it equals derive's prediction for every variant (at random points)."""
        from derive.engine.rules import Engine
        from derive.grade.answer import enumerate_mistakes
        from derive.render.printing import to_text

        derivative = Engine(self.expr, self.wrt).differentiate(self.expr, self.wrt).derivative
        params = set(self.params.values())
        out, seen = [], set()
        for code, where, wrong in enumerate_mistakes(self.expr, self.wrt, derivative):
            if code == "wrong_variable" and any(f"with respect to {to_text(p)} " in where for p in params):
                continue
            if any(str(p) in where for p in params):
                for p in params:
                    where = where.replace(to_text(p), self.names[p])
            key = sympy.srepr(wrong)  # one node per wrong answer: the likeliest mistake names it
            if key in seen or wrong == derivative:
                continue
            seen.add(key)
            if not self._same_for_every_variant(code, wrong, derivative):
                self.notes.append(f"problem {self.problem.number}: the {code} node was left out: its form "
                                  f"over the parameters does not match every variant")
                continue
            try:
                maxima = to_maxima(wrong, self.names)
            except NotMaxima:
                continue
            out.append((code, where, maxima, f"{explanation(code)} ({where})."))
        return out

    def _same_for_every_variant(self, code, wrong, derivative):
        """The candidate, with each variant's numbers, differs from the right derivative and
        equals one of derive's own candidates for that variant with the same code."""
        import random

        from derive.engine.rules import Engine
        from derive.grade.answer import enumerate_mistakes

        rng = random.Random(7)
        for variant in self.variants:
            values = self._values(variant)
            expr = self.expr.subs(values)
            numeric_wrong = wrong.subs(values)
            right = Engine(expr, self.wrt).differentiate(expr, self.wrt).derivative
            points = [{self.wrt: sympy.Rational(rng.randint(11, 97), 37)} for _ in range(3)]
            others = {s: sympy.Rational(rng.randint(11, 97), 41) for s in expr.free_symbols if s != self.wrt}

            def at(e, point):
                try:
                    value = complex(e.subs(others).subs(point).evalf(30))
                except (TypeError, ValueError):
                    return None
                return value

            def same(a, b):
                return all(_close(at(a, p), at(b, p)) for p in points)

            if same(numeric_wrong, right):
                return False
            predicted = [w for c, _, w in enumerate_mistakes(expr, self.wrt, right) if c == code]
            if not any(same(numeric_wrong, w) for w in predicted):
                return False
        return True

    # -- the XML ------------------------------------------------------------------------------
    def question_variables(self):
        n = len(self.variants)
        lines = [f"/* derive: {n} variant{'s' if n != 1 else ''} that ask for the same work; v picks one. */"]
        if self.params:
            lines.append(f"v: rand({len(self.variants)})+1;")
            for n, symbol in self.params.items():
                values = ", ".join(to_maxima(self._values(variant)[symbol]) for variant in self.variants)
                lines.append(f"{self.names[symbol]}: [{values}][v];")
        else:
            lines.append("v: 1;")
        lines.append(f"p: {self.maxima_expression};")
        lines.append(f"ta: diff(p, {self.names[self.wrt]});")
        for k, (code, _, maxima, _) in enumerate(self.mistakes, start=1):
            lines.append(f"m{k}: {maxima}; /* {code} */")
        return "\n".join(lines)

    def question_text(self):
        prompt = self.problem.texts.get("prompt")
        if prompt is not None:
            spoken = "".join(html.escape(part) if isinstance(part, str) else
                             "{@" + part[1][1] + "@}" if part[1][0] == "name" else
                             "{@" + _maxima_tree(part[1], self) + "@}" for part in prompt.parts)
        elif self.problem.entry.get("prompt"):
            spoken = html.escape(self.problem.entry["prompt"])
        else:
            spoken = f"Differentiate {{@p@}} with respect to {{@{self.names[self.wrt]}@}}."
        return f"<p>{spoken}</p>\n<p>[[input:ans1]] [[validation:ans1]]</p>"

    def general_feedback(self):
        """derive's worked solution of each variant, the one STACK drew shown."""
        blocks = []
        for k, variant in enumerate(self.variants, start=1):
            body = _castext_math(_solution_markdown(variant.solved.document))
            blocks.append(f'[[if test="is(v={k})"]]\n{body}\n[[/if]]' if len(self.variants) > 1 else body)
        return "\n".join(blocks)

    def xml(self, name):
        nodes = [_node(0, "AlgEquiv", "ta", 1, -1, 1 if self.mistakes else -1, "", "")]
        for k, (code, _, _, feedback) in enumerate(self.mistakes, start=1):
            nodes.append(_node(k, "AlgEquiv", f"m{k}", 0, -1, k + 1 if k < len(self.mistakes) else -1,
                               f"<p>{html.escape(feedback)}</p>", code))
        return _QUESTION.format(
            name=escape(name), text=_cdata(self.question_text()), feedback=_cdata(self.general_feedback()),
            variables=escape(self.question_variables()), nodes="".join(nodes),
            note=escape("v = {@v@}: d/d{@" + self.names[self.wrt] + "@} {@p@} = {@ta@}"))


def _maxima_tree(tree, question):
    from derive.handout.params import to_text as tree_text

    return tree_text(tree, lambda n: question.names[question.params[n]])


def _close(a, b):
    if a is None or b is None:
        return False
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def _solution_markdown(document):
    from derive.render import formats as rendering

    return rendering.render(document, "markdown", embedded=True)


def _castext_math(text):
    """derive's Markdown math (``$…$``, ``$$…$$``) as Moodle's MathJax reads it."""
    text = re.sub(r"\$\$(.+?)\$\$", lambda m: "\\[" + m.group(1) + "\\]", text, flags=re.S)
    text = re.sub(r"\$(.+?)\$", lambda m: "\\(" + m.group(1) + "\\)", text, flags=re.S)
    return text.replace("{@", "{ @").replace("[[", "[ [")  # never a castext block by accident


def _cdata(text):
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _node(k, test, tans, score, true_next, false_next, true_feedback, code):
    note = f"prt1-{k}-T" + (f" {code}" if code else "")
    return _NODE.format(name=k, test=test, tans=tans, score=f"{score:.7f}", true_next=true_next,
                        false_next=false_next, true_feedback=_cdata(true_feedback) if true_feedback else "",
                        true_note=escape(note), false_note=f"prt1-{k}-F")


_NODE = """      <node>
        <name>{name}</name>
        <description/>
        <answertest>{test}</answertest>
        <sans>ans1</sans>
        <tans>{tans}</tans>
        <testoptions/>
        <quiet>0</quiet>
        <truescoremode>=</truescoremode>
        <truescore>{score}</truescore>
        <truepenalty/>
        <truenextnode>{true_next}</truenextnode>
        <trueanswernote>{true_note}</trueanswernote>
        <truefeedback format="markdown">
          <text>{true_feedback}</text>
        </truefeedback>
        <falsescoremode>=</falsescoremode>
        <falsescore>0.0000000</falsescore>
        <falsepenalty/>
        <falsenextnode>{false_next}</falsenextnode>
        <falseanswernote>{false_note}</falseanswernote>
        <falsefeedback format="html">
          <text/>
        </falsefeedback>
      </node>
"""

_QUESTION = """  <question type="stack">
    <name>
      <text>{name}</text>
    </name>
    <questiontext format="html">
      <text>{text}</text>
    </questiontext>
    <generalfeedback format="markdown">
      <text>{feedback}</text>
    </generalfeedback>
    <defaultgrade>1</defaultgrade>
    <penalty>0.1</penalty>
    <hidden>0</hidden>
    <idnumber/>
    <stackversion>
      <text/>
    </stackversion>
    <questionvariables>
      <text>{variables}</text>
    </questionvariables>
    <specificfeedback format="html">
      <text><![CDATA[<p>[[feedback:prt1]]</p>]]></text>
    </specificfeedback>
    <questionnote format="moodle_auto_format">
      <text>{note}</text>
    </questionnote>
    <questiondescription format="moodle_auto_format">
      <text/>
    </questiondescription>
    <questionsimplify>1</questionsimplify>
    <assumepositive>0</assumepositive>
    <assumereal>0</assumereal>
    <prtcorrect format="html">
      <text><![CDATA[<p>Correct answer, well done.</p>]]></text>
    </prtcorrect>
    <prtpartiallycorrect format="html">
      <text><![CDATA[<p>Your answer is partially correct.</p>]]></text>
    </prtpartiallycorrect>
    <prtincorrect format="html">
      <text><![CDATA[<p>Incorrect answer.</p>]]></text>
    </prtincorrect>
    <decimals>.</decimals>
    <scientificnotation>*10</scientificnotation>
    <multiplicationsign>dot</multiplicationsign>
    <sqrtsign>1</sqrtsign>
    <complexno>i</complexno>
    <inversetrig>cos-1</inversetrig>
    <logicsymbol>lang</logicsymbol>
    <matrixparens>[</matrixparens>
    <variantsselectionseed/>
    <input>
      <name>ans1</name>
      <type>algebraic</type>
      <tans>ta</tans>
      <boxsize>30</boxsize>
      <strictsyntax>1</strictsyntax>
      <insertstars>1</insertstars>
      <syntaxhint/>
      <syntaxattribute>0</syntaxattribute>
      <forbidwords/>
      <allowwords/>
      <forbidfloat>0</forbidfloat>
      <requirelowestterms>0</requirelowestterms>
      <checkanswertype>0</checkanswertype>
      <mustverify>1</mustverify>
      <showvalidation>1</showvalidation>
      <options/>
    </input>
    <prt>
      <name>prt1</name>
      <value>1.0000000</value>
      <autosimplify>1</autosimplify>
      <feedbackstyle>1</feedbackstyle>
      <feedbackvariables>
        <text/>
      </feedbackvariables>
{nodes}    </prt>
  </question>
"""


# ------------------------------------------------------------------------------ the quiz
def export(template, kept, *, seed=0):
    """``(xml text, questions, notes)``: a Moodle XML quiz of STACK questions, one per
    problem derive can write in Maxima (the others are named in ``notes``); ``kept`` is
    ``{problem number: [Variant]}`` (derive variants' survey)."""
    from derive.handout.variants import exported

    notes, questions = [], []
    title = str(template.data.get("title", "derive"))
    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<quiz>\n  <question type="category">\n    <category>\n'
             f'      <text>$course$/top/{escape(title)}</text>\n    </category>\n  </question>\n']
    for problem, variants in exported(template, kept, notes,
                                      "STACK questions here are one expression and one variable", seed=seed):
        try:
            question = Question(template, problem, variants, notes=notes)
            parts.append(question.xml(f"{title} {problem.number}"))
            questions.append(question)
        except NotMaxima as error:
            notes.append(f"problem {problem.number} left out: {error}")
    if not questions:
        raise DeriveError("no problem of the set can be written as a STACK question (" + "; ".join(notes) + ")")
    parts.append("</quiz>\n")
    return "".join(parts), questions, notes
