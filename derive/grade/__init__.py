"""Grading answers: one answer against the engine (``answer``), its words (``words``), and
a class's answers from a CSV file (``batch``)."""
