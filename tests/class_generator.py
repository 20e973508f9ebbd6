"""A generated class for derive grade: each student answers each problem of
examples/class_set.toml with one of a few typed answers, right ones (in several forms, some
with letters typed together or decimals) and the mistakes students make (a dropped chain
factor, the product of the derivatives, a sign, the exponent kept), chosen by a seeded draw."""

import csv
import random

# problem number -> (right answers, wrong answers)
ANSWERS = {
    1: (["12x^3 - 10x", "2x(6x^2 - 5)"], ["12x^4 - 10x^2", "4x^3 - 2x", "12x^3 - 10x + 7"]),
    2: (["1/(2sqrt(x))", "0.5x^(-0.5)"], ["1/sqrt(x)", "sqrt(x)/2", "2/3 x^(3/2)"]),
    3: (["-2/x^3", "-2x^(-3)"], ["2/x^3", "-2/x^2", "-1/x^3"]),
    4: (["2x sin(x) + x^2 cos(x)", "x(2sin(x) + xcos(x))"], ["2x cos(x)", "2x sin(x) - x^2 cos(x)", "x^2 cos(x)"]),
    5: (["(x cos(x) - sin(x))/x^2", "cos(x)/x - sin(x)/x^2"], ["(x cos(x) + sin(x))/x^2", "cos(x)", "(sin(x) - x cos(x))/x^2"]),
    6: (["2x cos(x^2)", "2xcos(x^2)"], ["cos(x^2)", "2x cos(x)", "-2x cos(x^2)"]),
    7: (["e^(2x)(2cos(x) - sin(x))", "2e^(2x)cos(x) - e^(2x)sin(x)"], ["-2e^(2x) sin(x)", "e^(2x) cos(x) - e^(2x) sin(x)"]),
    8: (["2^x ln(2)", "0.6931 * 2^x"], ["x 2^(x-1)", "2^x"]),
    9: (["2x/(x^2 + 1)", "(2x)/(1 + x^2)"], ["1/(x^2 + 1)", "2x"]),
    10: (["3sec(3x)^2 + sec(x)tan(x)", "3/cos(3x)^2 + sec(x)tan(x)"], ["sec(3x)^2 + sec(x)tan(x)", "3sec(3x)^2 - sec(x)tan(x)"]),
    11: (["2/(1 + 4x^2)", "2/(4x^2 + 1)"], ["1/(1 + 4x^2)", "2/(1 + 2x^2)"]),
    12: (["2x/sqrt(1 - x^4)"], ["1/sqrt(1 - x^4)", "2x/sqrt(1 - x^2)"]),
    13: (["2x sech(x^2)^2", "2x(1 - tanh(x^2)^2)"], ["sech(x^2)^2", "2x sech(x)^2"]),
    14: (["cosh(x)^2 + sinh(x)^2", "cosh(2x)"], ["sinh(x) cosh(x)", "sinh(x)^2"]),
    15: (["15(3x + 1)^4"], ["5(3x + 1)^4", "15(3x + 1)^5"]),
    16: (["x^2/3", "0.3333x^2"], ["3x^2/9 + C", "x^2", "x^4/36"]),
    17: (["x^x (ln(x) + 1)", "x^x ln(x) + x^x"], ["x x^(x - 1)", "x^x ln(x)"]),
    18: (["sigmoid(x)(1 - sigmoid(x))", "e^(-x)/(1 + e^(-x))^2"], ["sigmoid(x)", "sigmoid(x)^2"]),
    19: (["xe^x + e^x", "e^x (x + 1)"], ["e^x", "xe^x"]),
    20: (["2(wx + b - y)x", "2x(w x + b - y)"], ["2(w x + b - y)", "(w x + b - y)^2", "2(w x + b - y) x^2"]),
}
UNREADABLE = ["sinx + ", "2X", "=SUM(A1)"]


def make_class(students, seed=1, problems=20):
    """Rows (student, problem, answer) for ``students`` students."""
    rng = random.Random(seed)
    rows = []
    for s in range(1, students + 1):
        student = f"s{s:05d}"
        for number in range(1, problems + 1):
            right, wrong = ANSWERS[number]
            draw = rng.random()
            if draw < 0.62:
                answer = rng.choice(right)
            elif draw < 0.95:
                answer = rng.choice(wrong)
            else:
                answer = rng.choice(UNREADABLE)
            label = "power-of-sum" if number == 15 else str(number)
            rows.append((student, label, answer))
    return rows


def write_class(path, students, seed=1):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "problem", "answer"])
        writer.writerows(make_class(students, seed))
