"""Partial credit by rule: what an answer earns, and why, in one line.

* A right answer earns the problem's points.
* A wrong one with a named mistake loses what the problem's rubric takes off for it
  (``missing_chain_factor = 1``), never going below 0. A mistake the rubric does not list
  earns nothing when the problem has a rubric.
* Without a rubric, the default follows from the points: a mistake that is one rule broken at
  one place (the chain rule's inner factor, the power rule's n, the product or quotient rule,
  a sign, a mean's factor) leaves the other rules applied right, so the answer earns the
  share of the points of the rules applied right, (r − 1)/r of them for r rules used,
  rounded down to half a point. Integrating instead, not differentiating, differentiating by
  another variable, or no mistake derive can name: nothing.
* Unreadable, invalid, uncertain and domain-dependent answers earn nothing, and the last two
  are listed for the teacher to look at.
* A teacher's override of an answer class replaces the verdict and the score of every
  answer in it.
"""

import math

ONE_RULE = ("missing_chain_factor", "missing_power_coefficient", "exponent_not_reduced", "product_of_derivatives",
            "quotient_rule_sign", "sign_error", "missing_mean_factor", "algebra")


def _points(value):
    return f"{value:g}"


def _half_down(value):
    return math.floor(value * 2 + 1e-9) / 2


def score(problem, result, rules_used=0, override=None):
    """(score, reason) for one answer's result dict to ``problem`` (a KeyProblem)."""
    points = problem.points
    if override is not None:
        verdict = override.get("verdict") or result["verdict"]
        value = override.get("score")
        if value is None:
            value = points if verdict == "correct" else 0.0
        value = max(0.0, min(points, float(value)))
        note = f": {override['note']}" if override.get("note") else ""
        return value, f"{_points(value)} of {_points(points)}: the teacher's mark for this answer class{note}"
    verdict = result["verdict"]
    if verdict == "correct":
        return points, f"{_points(points)} of {_points(points)}: right"
    if verdict in ("unreadable", "invalid"):
        return 0.0, f"0 of {_points(points)}: the answer could not be marked ({verdict})"
    if verdict in ("uncertain", "depends_on_domain"):
        return 0.0, f"0 of {_points(points)}: {verdict.replace('_', ' ')}, for the teacher to look at"
    mistakes = result.get("mistakes") or []
    code = mistakes[0] if mistakes else ""
    if code and code in problem.rubric:
        value = max(0.0, points - problem.rubric[code])
        return value, (f"{_points(value)} of {_points(points)}: {code}, "
                       f"{_points(problem.rubric[code])} off by the rubric")
    if problem.rubric_given:
        what = f"{code} is not in the rubric" if code else "no mistake the rubric lists"
        return 0.0, f"0 of {_points(points)}: {what}"
    if code in ONE_RULE and rules_used > 1:
        value = _half_down(points * (rules_used - 1) / rules_used)
        return value, (f"{_points(value)} of {_points(points)}: one rule of the {rules_used} used went wrong "
                       f"({code}); the others were applied right")
    if code:
        return 0.0, f"0 of {_points(points)}: {code}"
    return 0.0, f"0 of {_points(points)}: wrong, with no mistake derive can name"
