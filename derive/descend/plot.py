"""The descent plot: the loss at each step, and the data with the fitted model at a few steps.

Two panels, sized so their type stays legible: as one PNG (or SVG) file with the panels
side by side (``plot``), or as two SVG figures drawn into an HTML page, which sit side by
side on a wide screen and one above the other on a phone (``svg_figures``). The words
(titles, axis labels, legend) are the ``plot_*`` macros of descend_words.j2; the colours
are Okabe and Ito's, which colour-blind readers tell apart, and each stage of the fit
also has its own line style.
"""

import io
import math
import re

import numpy as np

from derive.errors import DeriveError
from derive.descend.compile import compile_model

# Okabe & Ito (2008), "Color universal design": distinct for the common colour blindnesses.
COLOURS = {"loss": "#0072B2", "minimum": "#D55E00", "data": "#555555", "closed_form": "#000000",
           "stages": ["#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#0072B2"]}
STAGE_STYLES = [(0, (1, 1.5)), (0, (5, 1.5, 1, 1.5)), (0, (4, 2)), (0, (8, 2)), "-"]
PANEL = (5.0, 3.7)  # inches: 360 × 266 pt, so 12.5 pt type stays about 12 px on a 390 px phone
FONT = {"base": 13, "title": 13.5, "ticks": 12.5, "legend": 12}
STYLE = {"font.size": FONT["base"], "axes.titlesize": FONT["title"], "axes.labelsize": FONT["base"],
         "xtick.labelsize": FONT["ticks"], "ytick.labelsize": FONT["ticks"], "legend.fontsize": FONT["legend"],
         "svg.fonttype": "none", "svg.hashsalt": "derive", "font.family": "sans-serif",
         "axes.spines.top": False, "axes.spines.right": False}
MAX_POINTS = 2000  # points of the loss curve drawn: enough for its shape at any length
FORMATS = {".png": "png", ".svg": "svg"}


def plot(run, path):
    """Draw the two panels side by side into ``path`` (.png or .svg, by its extension)."""
    import os

    kind = FORMATS.get(os.path.splitext(str(path))[1].lower())
    if kind is None:
        raise DeriveError(f"--plot writes .png or .svg, not {path}")
    figure = _figure(run, (PANEL[0] * 2 + 0.4, PANEL[1] + 0.9), both=True)
    from derive.files import write_whole

    write_whole(path, lambda handle: _save(figure, handle, kind, dpi=150))
    run.plot = str(path)
    return path


def svg_figures(run):
    """The two panels as two inline SVG elements for an HTML page (text kept as text)."""
    figures = []
    for k, which in enumerate(("loss", "fit")):
        figure = _figure(run, (PANEL[0], PANEL[1] + (0.9 if which == "fit" else 0.0)), both=False, which=which)
        buffer = io.BytesIO()
        _save(figure, buffer, "svg")
        figures.append(_inline(buffer.getvalue().decode("utf-8"), f"descent-plot-{k + 1}-"))
    return figures


def _matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise DeriveError("--plot needs matplotlib: pip install 'derive[plot]'") from None
    matplotlib.use("Agg", force=True)
    return matplotlib


def _save(figure, handle, kind, dpi=None):
    # svg: text stays text (legible, searchable, in the page's font); no date, a fixed salt for ids
    metadata = {"Date": None} if kind == "svg" else {"Software": None}
    with _matplotlib().rc_context(STYLE):
        figure.savefig(handle, format=kind, dpi=dpi, metadata=metadata)


def _figure(run, size, both, which=None):
    matplotlib = _matplotlib()
    from matplotlib.figure import Figure

    from derive.descend.report import words

    say = words(run, "text")
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=size, layout="constrained")
        if both:
            ax_loss, ax_fit = figure.subplots(1, 2)
            _loss_panel(run, ax_loss, say)
            _fit_panel(run, ax_fit, say, figure)
        elif which == "loss":
            _loss_panel(run, figure.subplots(), say)
        else:
            _fit_panel(run, figure.subplots(), say, figure)
    return figure


def _thinned(count):
    """Which steps to draw: all of a short run; of a long one the first 200 and 1,800 spread evenly."""
    if count <= MAX_POINTS:
        return np.arange(count)
    return np.unique(np.concatenate([np.arange(200), np.linspace(0, count - 1, MAX_POINTS - 200).round().astype(int)]))


def _loss_panel(run, ax, say):
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    from derive.descend.rounding import Numbers

    numbers = Numbers(run.digits)
    keep = _thinned(len(run.history))
    steps = run.history.column("step")[keep]
    losses = run.history.column("loss")[keep]
    finite = np.isfinite(losses)
    ax.plot(steps[finite], losses[finite], color=COLOURS["loss"], lw=2.2)
    shown = losses[finite]
    form = run.closed_form
    if form is not None and math.isfinite(form.loss):
        ax.axhline(form.loss, color=COLOURS["minimum"], lw=1.6, ls=(0, (5, 2)), label=say.plot_minimum(run))
        shown = np.append(shown, form.loss)
    log = shown.size and np.all(shown > 0) and shown.max() / shown.min() > 50
    if log:
        ax.set_yscale("log")
        decades = math.log10(shown.max() / shown.min())
        # 1, 2, 5 × 10ᵏ over a few decades; powers of ten (thinned) over many, as a diverged run has
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades < 4 else (1.0,), numticks=8))
        ax.yaxis.set_minor_locator(LogLocator(base=10, subs=np.arange(2, 10) if decades < 8 else (), numticks=12))
    else:
        ax.yaxis.set_major_locator(MaxNLocator(6))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _tick(numbers.one(v))))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_locator(MaxNLocator(6, integer=True))
    last = np.flatnonzero(finite)
    if last.size:  # the final loss, written where the curve ends, so it can be read off
        k = last[-1]
        ax.plot([steps[k]], [losses[k]], "o", color=COLOURS["loss"], ms=6)
        ax.annotate(say.plot_final(run, int(steps[k]), float(losses[k])), (steps[k], losses[k]),
                    xytext=(-6, 10), textcoords="offset points", ha="right", va="bottom",
                    fontsize=FONT["legend"], color="#222222")
    ax.set_xlabel(say.plot_step_axis(run))
    ax.set_ylabel(say.plot_loss_axis(run))
    ax.set_title(say.plot_loss_title(run), loc="left")
    ax.grid(alpha=0.3, which="major")
    ax.margins(x=0.02, y=0.12)
    if form is not None:
        ax.legend(loc="best", frameon=False)


def _tick(text):
    """A tick label: ``10⁶`` rather than ``1×10⁶``."""
    return text[2:] if text.startswith("1×10") else text


def _fit_panel(run, ax, say, figure):
    x, y = run.data.x, run.data.y
    shown = slice(None)
    if run.data.n > 2000:  # a sample of the points is enough to see the fit
        shown = np.random.default_rng(0).choice(run.data.n, 2000, replace=False)
    ax.scatter(x[shown], y[shown], s=22, color=COLOURS["data"], alpha=0.7, label=say.plot_data(run), zorder=3,
               edgecolors="none")
    low, high = float(x.min()), float(x.max())
    if low == high:
        low, high = low - 1, high + 1
    grid = np.linspace(low, high, 200)
    model = compile_model(run.problem, grid)
    curves = []
    stages = _stages(run)
    for k, h in enumerate(stages):
        theta = [h[name] for name in run.names]
        if not all(math.isfinite(v) for v in theta):
            continue
        with np.errstate(all="ignore"):
            curves.append(model(theta))
        last = h is stages[-1]
        ax.plot(grid, curves[-1], color=COLOURS["stages"][-1 if last else k], ls=STAGE_STYLES[-1 if last else k],
                lw=2.6 if last else 1.8,
                label=say.plot_stage(run, h["step"], k == 0, last))
    form = run.closed_form
    if form is not None:
        ax.plot(grid, form.values["weight"] * grid + form.values["bias"], color=COLOURS["closed_form"], lw=1.3,
                ls=(0, (2, 2)), label=say.plot_closed_form(run), zorder=4)
    ax.set_xlabel(run.data.x_name)
    ax.set_ylabel(run.data.y_name)
    ax.set_title(say.plot_fit_title(run), loc="left")
    ax.grid(alpha=0.3)
    lo, hi = float(np.min(y)), float(np.max(y))
    span = hi - lo or 1.0
    finite = [c[np.isfinite(c)] for c in curves if np.isfinite(c).any()]
    if finite:  # show where the fit started, within reason
        lo = max(min(lo, *(float(c.min()) for c in finite)), lo - 1.5 * span)
        hi = min(max(hi, *(float(c.max()) for c in finite)), hi + 1.5 * span)
    pad = 0.08 * (hi - lo or 1.0)
    ax.set_ylim(lo - pad, hi + pad)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False, handlelength=2.6)


def _stages(run, count=5):
    """The steps whose fit is drawn: the start, 1, 3, a tenth of the way, and the last."""
    last = run.steps_run
    wanted = sorted({0, min(1, last), min(3, last), int(round(last * 0.1)), last})
    out = [run.history[s] for s in wanted if s < len(run.history)]
    return out[:count - 1] + [out[-1]] if len(out) > count else out


def _inline(svg, prefix):
    """An SVG file made fit to sit inside an HTML page: no XML prolog, ids made unique to
    this figure (two figures on one page must not share a clip path), sized by the page."""
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r'url\(#([^)]+)\)', lambda m: f"url(#{prefix}{m.group(1)})", svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', svg)
    svg = re.sub(r'<svg ([^>]*?)width="[^"]*" height="[^"]*"', r'<svg \1', svg, count=1)
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    # the figure's caption says what it shows; a screen reader need not read every tick
    return svg.replace("<svg ", '<svg aria-hidden="true" focusable="false" ', 1).strip()
