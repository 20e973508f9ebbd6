"""Where the tests sample a variable when they compare two formulas numerically."""


def sample_point(rng, attempt):
    """Positive points first (ln, √, xˣ), then both signs, then inside (−1, 1) (asin)."""
    kind = attempt % 3
    if kind == 0:
        return rng.uniform(0.1, 3.0)
    if kind == 1:
        return rng.uniform(-3.0, 3.0)
    return rng.uniform(-0.95, 0.95)
