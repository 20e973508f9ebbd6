"""A table of textbook derivatives, written the way students type them.

Each row is ``(text, wrt, required_rules)``: ``required_rules`` is the set of rule names
a teacher would use for that derivative, each of which MUST appear in
``explain(text, wrt).steps.rules_used()``.  The engine may use more (``sum`` around a
constant term, ``variable`` for a bare x, ``simplify`` for the last tidy step, …).

Rows are grouped by the rule they mainly exercise; ``test_textbook.py`` checks that every
rule of ``derive.engine.steps.RULES`` (other than ``simplify``, ``definition`` and
``summation``, which belong to the named problems) is required by at least two rows.
"""

# Short names for the rule sets, so the rows stay one line each.
CONST = "constant"
VAR = "variable"
CMUL = "constant_multiple"
SUM = "sum"
POW = "power"
PROD = "product"
QUOT = "quotient"
CHAIN = "chain"
EXP = "exp"
LOG = "log"
TRIG = "trig"
ITRIG = "inverse_trig"
HYP = "hyperbolic"
ABS = "abs"
PIECE = "piecewise"
GPOW = "general_power"
REWRITE = "rewrite"
KNOWN = "known_derivative"

TEXTBOOK = [
    # --- constants, the variable, constant multiples, sums --------------------------
    ("5", "x", {CONST}),
    ("x", "x", {VAR}),
    ("pi", "x", {CONST}),
    ("x/2", "x", {CMUL, VAR}),
    ("e^2 x", "x", {CMUL, VAR}),
    ("3x^2 + 2x - 5", "x", {SUM, CMUL, POW, VAR, CONST}),
    ("a x^2 + b x + c", "x", {SUM, CMUL, POW, VAR, CONST}),
    ("x^2 + 1", "t", {CONST}),  # t does not occur: the derivative is 0
    ("sin(y)", "x", {CONST}),
    ("w x + b", "b", {SUM, CONST, VAR}),
    # --- powers: integer, rational, negative, decimal coefficients -----------------
    ("x^3", "x", {POW}),
    ("x^(3/2)", "x", {POW, REWRITE}),
    ("1/x", "x", {POW, REWRITE}),
    ("1/x^2", "x", {POW, REWRITE}),
    ("x^(-1)", "x", {POW, REWRITE}),
    ("2/x^3", "x", {CMUL, POW, REWRITE}),
    ("5/x", "x", {CMUL, POW, REWRITE}),
    ("x^(-2/3)", "x", {POW, REWRITE}),
    ("x^(1/3)", "x", {POW, REWRITE}),
    ("sqrt(x)", "x", {POW, REWRITE}),
    ("sqrt(x) + 1/sqrt(x)", "x", {SUM, POW, REWRITE}),
    ("3/2 x^2", "x", {CMUL, POW}),
    ("0.5 x^2", "x", {CMUL, POW}),
    ("1.5 x^3 - 0.25 x", "x", {SUM, CMUL, POW, VAR}),
    ("pi x^2", "x", {CMUL, POW}),
    ("x^e", "x", {POW}),
    ("x^n", "x", {POW}),
    ("x^4 - 3x^3 + x - 7", "x", {SUM, CMUL, POW, VAR, CONST}),
    # --- products (including three factors) ------------------------------------------
    ("x^2 e^x", "x", {PROD, POW, EXP}),
    ("x^2 ln(x)", "x", {PROD, POW, LOG}),
    ("sec(x) tan(x)", "x", {PROD, TRIG}),
    ("sin(x) cos(x)", "x", {PROD, TRIG}),
    ("x sin(x) e^x", "x", {PROD, VAR, TRIG, EXP}),
    ("x^2 ln(x) cos(x)", "x", {PROD, POW, LOG, TRIG}),
    ("(x+1)(x+2)(x+3)", "x", {PROD, SUM, VAR}),
    ("x abs(x)", "x", {PROD, VAR, ABS}),
    ("x atan(x)", "x", {PROD, VAR, ITRIG}),
    ("x^2 sinh(x)", "x", {PROD, POW, HYP}),
    ("x e^(-x^2)", "x", {PROD, VAR, CHAIN, EXP, POW}),
    ("sinh(x) cosh(x)", "x", {PROD, HYP}),
    # --- quotients (including quotients of trig functions) ---------------------------
    ("sin(x)/x", "x", {QUOT, TRIG, VAR}),
    ("e^x / x", "x", {QUOT, EXP, VAR}),
    ("(x+1)/(x-1)", "x", {QUOT, SUM, VAR}),
    ("x/(x^2+1)", "x", {QUOT, VAR, POW}),
    ("sin(x)/cos(x)", "x", {QUOT, TRIG}),
    ("cos(x)/(1 + sin(x))", "x", {QUOT, SUM, TRIG}),
    ("tan(x)/x", "x", {QUOT, TRIG, VAR}),
    ("sec(x)/(1 + tan(x))", "x", {QUOT, TRIG}),
    ("atan(x)/x", "x", {QUOT, ITRIG, VAR}),
    ("tanh(x)/x", "x", {QUOT, HYP, VAR}),
    ("ln(x)/x^2", "x", {QUOT, LOG, POW}),
    # --- the chain rule ---------------------------------------------------------------
    ("sqrt(x^2+1)", "x", {CHAIN, POW, REWRITE, SUM}),
    ("(x^2+1)^10", "x", {CHAIN, POW, SUM}),
    ("1/(x^2+1)", "x", {CHAIN, POW, REWRITE}),
    ("sin(x^2)", "x", {CHAIN, TRIG, POW}),
    ("cos(x^2)^3", "x", {CHAIN, POW, TRIG}),
    ("sin(x)^2", "x", {CHAIN, POW, TRIG}),
    ("sqrt(sin(x))", "x", {CHAIN, POW, REWRITE, TRIG}),
    ("sin(cos(tan(x)))", "x", {CHAIN, TRIG}),
    ("exp(sin(x)^2)", "x", {CHAIN, EXP, POW, TRIG}),
    ("ln(ln(x))", "x", {CHAIN, LOG}),
    ("sqrt(1 - x^2)", "x", {CHAIN, POW, REWRITE, SUM}),
    ("sin(pi x)", "x", {CHAIN, CMUL, TRIG}),
    ("sin(u_1 x^2)", "x", {CHAIN, CMUL, POW, TRIG}),  # the user's own u_1 is never reused
    # --- exponentials -----------------------------------------------------------------
    ("e^(x^2)", "x", {CHAIN, EXP, POW}),
    ("e^x^2", "x", {CHAIN, EXP, POW}),
    ("2^x", "x", {EXP}),
    ("10^x", "x", {EXP}),
    ("2^(x^2)", "x", {CHAIN, EXP, POW}),
    ("3^(2x)", "x", {CHAIN, EXP, CMUL}),
    ("exp(3x)", "x", {CHAIN, EXP, CMUL}),
    ("e^(-x)", "x", {CHAIN, EXP, CMUL}),
    ("2.5 e^x", "x", {CMUL, EXP}),
    ("e^(sqrt(x))", "x", {CHAIN, EXP, POW, REWRITE}),
    # --- logarithms -------------------------------------------------------------------
    ("log(x)", "x", {LOG}),
    ("ln(cos(x))", "x", {CHAIN, LOG, TRIG}),
    ("ln(x^2+1)", "x", {CHAIN, LOG, POW}),
    ("log(x, 2)", "x", {CMUL, LOG}),
    ("log(x^2, 10)", "x", {CMUL, CHAIN, LOG, POW}),
    ("ln(sqrt(x^2+1))", "x", {CHAIN, LOG, POW, REWRITE}),
    ("ln(1 + e^x)", "x", {CHAIN, LOG, EXP, SUM}),
    ("ln(cosh(x))", "x", {CHAIN, LOG, HYP}),
    # --- trigonometric ------------------------------------------------------------------
    ("tan(x)", "x", {TRIG}),
    ("cos(x)", "x", {TRIG}),
    ("sec(x)", "x", {TRIG}),
    ("csc(x)", "x", {TRIG}),
    ("cot(x)", "x", {TRIG}),
    ("cot(3x)", "x", {CHAIN, CMUL, TRIG}),
    ("sec(x^2)", "x", {CHAIN, POW, TRIG}),
    ("csc(2x) cot(x)", "x", {PROD, CHAIN, CMUL, TRIG}),
    # --- inverse trigonometric ----------------------------------------------------------
    ("asin(x)", "x", {ITRIG}),
    ("acos(x)", "x", {ITRIG}),
    ("atan(x)", "x", {ITRIG}),
    ("atan(2x)", "x", {CHAIN, CMUL, ITRIG}),
    ("asin(x^2)", "x", {CHAIN, ITRIG, POW}),
    ("acos(1/x)", "x", {CHAIN, ITRIG, POW, REWRITE}),
    ("acos(x)^2", "x", {CHAIN, ITRIG, POW}),
    ("atan(e^x)", "x", {CHAIN, ITRIG, EXP}),
    ("asin(sqrt(x))", "x", {CHAIN, ITRIG, POW, REWRITE}),
    ("arctan(x^3)", "x", {CHAIN, ITRIG, POW}),
    # --- hyperbolic ---------------------------------------------------------------------
    ("cosh(x)", "x", {HYP}),
    ("tanh(x)", "x", {HYP}),
    ("tanh(x^2)", "x", {CHAIN, HYP, POW}),
    ("sinh(2x)", "x", {CHAIN, CMUL, HYP}),
    ("cosh(x^2 + 1)", "x", {CHAIN, HYP, POW, SUM}),
    ("x tanh(x)", "x", {PROD, HYP, VAR}),
    # --- absolute value -----------------------------------------------------------------
    ("abs(x)", "x", {ABS}),
    ("abs(x^3 - 1)", "x", {CHAIN, ABS, POW}),
    ("abs(sin(x))", "x", {CHAIN, ABS, TRIG}),
    ("abs(x)^3", "x", {ABS, POW}),
    # --- max, min, relu ---------------------------------------------------------------
    ("max(0, x)", "x", {PIECE, CONST, VAR}),
    ("relu(x)", "x", {PIECE, CONST, VAR}),
    ("relu(2x - 1)", "x", {PIECE, CONST, CMUL}),
    ("min(x, x^2)", "x", {PIECE, VAR, POW}),
    ("min(0, x)", "x", {PIECE, CONST, VAR}),
    ("max(x, 1 - x)", "x", {PIECE, VAR, CMUL}),
    ("max(x^2, 2x)", "x", {PIECE, POW, CMUL}),
    ("max(sin(x), cos(x))", "x", {PIECE, TRIG}),
    ("min(x^2, 1)", "x", {PIECE, POW, CONST}),
    ("relu(x)^2", "x", {CHAIN, PIECE, POW}),
    # --- the sigmoid (rewritten as 1/(1 + e^-x)) ---------------------------------------
    ("sigmoid(x)", "x", {REWRITE, EXP}),
    ("sigmoid(2x)", "x", {CHAIN, REWRITE, EXP, CMUL}),
    ("sigmoid(x)^2", "x", {CHAIN, REWRITE, POW, EXP}),
    ("ln(sigmoid(x))", "x", {CHAIN, LOG, REWRITE, EXP}),
    # --- general powers f^g -----------------------------------------------------------
    ("x^x", "x", {GPOW, LOG, PROD}),
    ("x^sin(x)", "x", {GPOW, LOG, PROD, TRIG}),
    ("sin(x)^x", "x", {GPOW, LOG, PROD, TRIG, CHAIN}),
    ("x^(1/x)", "x", {GPOW, LOG}),
    ("(x^2+1)^x", "x", {GPOW, LOG, PROD, CHAIN, POW}),
    ("(ln(x))^x", "x", {GPOW, LOG, PROD, CHAIN}),
    ("x^x^2", "x", {GPOW, LOG, PROD, POW}),
    # --- abstract functions -----------------------------------------------------------
    ("f(x)", "x", {KNOWN}),
    ("f(g(x))", "x", {CHAIN, KNOWN}),
    ("f(x^2)", "x", {CHAIN, KNOWN, POW}),
    ("g(x)^2", "x", {CHAIN, KNOWN, POW}),
    ("f(x) g(x)", "x", {PROD, KNOWN}),
    ("f(x)/g(x)", "x", {QUOT, KNOWN}),
    ("sin(f(x))", "x", {CHAIN, KNOWN, TRIG}),
    ("f(sin(x))", "x", {CHAIN, KNOWN, TRIG}),
    ("h(x) e^x", "x", {PROD, KNOWN, EXP}),
    # --- partial derivatives (other symbols held constant) ----------------------------
    ("(w*x + b - y)^2", "w", {CHAIN, POW, SUM, CMUL, VAR, CONST}),
    ("(w*x + b - y)^2", "b", {CHAIN, POW, SUM, VAR, CONST}),
    ("x y^2", "y", {CMUL, POW}),
    ("x y^2", "x", {CMUL, VAR}),
    ("x^2 y + y^3", "x", {SUM, CMUL, POW, CONST}),
    ("sin(x y)", "y", {CHAIN, CMUL, TRIG, VAR}),
    ("e^(a x)", "x", {CHAIN, CMUL, EXP, VAR}),
    ("sigmoid(w x + b)", "w", {CHAIN, REWRITE, CMUL, SUM}),
    ("(y - w x)^2", "w", {CHAIN, POW, SUM, CMUL}),
    ("-y ln(p) - (1-y) ln(1-p)", "p", {SUM, CMUL, LOG, CHAIN}),
    ("x^2 + x y + y^2", "y", {SUM, CMUL, POW, VAR, CONST}),
]

# Rules that belong to the named problems (mse and friends) or to the final tidy step,
# so a textbook row need not require them.
NOT_REQUIRED = {"simplify", "definition", "summation"}
