"""The descent plot: the loss against the step, and the data with the fit at a few stages."""

import math

import numpy as np

from derive.errors import DeriveError
from derive.descend.compile import compile_model





# -- the plot ---------------------------------------------------------------------------------------
def plot(run, path):
    """Loss against step, and the data with the fitted line (or curve) at a few stages: a PNG."""
    try:
        import matplotlib
    except ImportError:
        raise DeriveError("--plot needs matplotlib: pip install 'derive[plot]'")
    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.5), dpi=110)
    ax_loss, ax_fit = fig.subplots(1, 2)
    steps = np.array([h["step"] for h in run.history])
    losses = np.array([h["loss"] for h in run.history])
    finite = np.isfinite(losses)
    ax_loss.plot(steps[finite], losses[finite], color="tab:blue", lw=1.8)
    if finite.any() and np.all(losses[finite] > 0) and losses[finite].max() / losses[finite].min() > 50:
        ax_loss.set_yscale("log")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss")
    ax_loss.set_title(f"{run.problem.name}: loss, learning rate {run.learning_rate:g}")
    ax_loss.grid(alpha=0.3)

    x, y = run.data.x, run.data.y
    shown = slice(None)
    if run.data.n > 2000:  # a sample of the points is enough to see the fit
        shown = np.random.default_rng(0).choice(run.data.n, 2000, replace=False)
    ax_fit.scatter(x[shown], y[shown], s=12, color="0.35", alpha=0.6, label="data")
    grid = np.linspace(float(x.min()), float(x.max()), 200) if run.data.n > 1 else np.array([x[0] - 1, x[0] + 1])
    model = compile_model(run.problem, grid)
    stages = _stages(run)
    colors = matplotlib.colormaps["viridis"](np.linspace(0.0, 0.85, len(stages)))
    names = run.names
    curves = []
    for colour, h in zip(colors, stages):
        theta = [h[k] for k in names]
        if not all(math.isfinite(v) for v in theta):
            continue
        curves.append(model(theta))
        ax_fit.plot(grid, curves[-1], color=colour, lw=2.0 if h is stages[-1] else 1.2,
                    label=f"step {h['step']}")
    form = run.closed_form
    if form is not None:
        ax_fit.plot(grid, form.values["weight"] * grid + form.values["bias"], "--", color="tab:red", lw=1.2,
                    label="closed form")
    ax_fit.set_xlabel(run.data.x_name)
    ax_fit.set_ylabel(run.data.y_name)
    ax_fit.set_title("data and the fitted model")
    ax_fit.legend(fontsize=8, loc="best")
    ax_fit.grid(alpha=0.3)
    lo, hi = float(np.min(y)), float(np.max(y))
    span = hi - lo or 1.0
    finite_curves = [c[np.isfinite(c)] for c in curves if np.isfinite(c).any()]
    if finite_curves:  # show where the fit started, within reason
        lo = max(min(lo, *(float(c.min()) for c in finite_curves)), lo - 1.5 * span)
        hi = min(max(hi, *(float(c.max()) for c in finite_curves)), hi + 1.5 * span)
    pad = 0.08 * (hi - lo or 1.0)
    ax_fit.set_ylim(lo - pad, hi + pad)
    fig.tight_layout()
    from derive.files import write_whole

    write_whole(path, lambda handle: fig.savefig(handle, format="png"))
    run.plot = str(path)
    return path


def _stages(run, count=5):
    last = run.steps_run
    wanted = sorted({0, min(1, last), min(3, last), int(round(last * 0.1)), last})
    by_step = {h["step"]: h for h in run.history}
    out = [by_step[s] for s in wanted if s in by_step]
    return out[:count - 1] + [out[-1]] if len(out) > count else out


