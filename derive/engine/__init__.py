"""The engine: the step (``steps``), the rules that produce it (``rules``), the named
problems of deep learning (``problems``) and the matrix-calculus form (``vector``)."""
