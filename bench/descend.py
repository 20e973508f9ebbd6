"""Speed of ``derive descend mse``: the compiled gradient loop against a hand-written NumPy loop.

On 1,000,000 points × 100 steps of the mean squared error of a line, in the same run:

- (A) derive: the engine's symbolic gradient (``derive.derivation.gradient("mse")``, derived
  once, untimed) compiled to array code by ``derive.descend.Compiled`` (timed: compiling is
  part of the run) and driven by ``derive.descend.iterate`` (the loop ``derive descend``
  runs: loss and both partials each step, the simultaneous update, a history record);
- (B) the practical floor, hand-written NumPy as one would write it: ``e = w*x + b - y``,
  ``loss = mean(e*e)``, ``gw = 2*mean(e*x)``, ``gb = 2*mean(e)``, the same update;
- (B') the same by hand, in place, with ``np.einsum`` dot products (the technique derive's
  compiled code uses), for information;
- (C) PyTorch autograd on the CPU doing the same (loss, ``backward()``, update), if ``import
  torch`` works; skipped otherwise.

Runs are interleaved (A B B' C, then reversed) and medians are reported. All start from the
same point and must end at the same weight and bias (checked, printed). Peak memory of one
run of each (``tracemalloc``, which sees NumPy's buffers) is given as a multiple of the data
(x and y: 16 MB). Reports, never gates: exits 0 always.

Usage:  python bench/descend.py [--points N] [--steps K] [--repeats R]
"""

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

TARGET = 1.5  # derive's loop <= 1.5x the hand-written NumPy loop
RATE = 0.05


def derive_loop(problem, partials, data, steps, start):
    from derive.descend import Compiled, iterate

    compiled = Compiled(problem, partials, data)
    history, _, _ = iterate(compiled, start, RATE, steps, tol=0.0)
    last = history[-1]
    return last["weight"], last["bias"], last["loss"]


def numpy_loop(x, y, steps, start):
    w, b = start
    for _ in range(steps + 1):
        e = w * x + b - y
        loss = np.mean(e * e)
        gw = 2 * np.mean(e * x)
        gb = 2 * np.mean(e)
        if _ < steps:
            w, b = w - RATE * gw, b - RATE * gb
    return w, b, float(loss)


def numpy_dot_loop(x, y, steps, start):
    w, b = start
    n = x.shape[0]
    for _ in range(steps + 1):
        e = w * x
        e += b
        e -= y
        loss = np.einsum("i,i->", e, e) / n
        gw = 2 * np.einsum("i,i->", e, x) / n
        gb = 2 * e.sum() / n
        if _ < steps:
            w, b = w - RATE * gw, b - RATE * gb
    return w, b, float(loss)


def torch_loop(torch, x, y, steps, start):
    w = torch.tensor(start[0], dtype=torch.float64, requires_grad=True)
    b = torch.tensor(start[1], dtype=torch.float64, requires_grad=True)
    for _ in range(steps + 1):
        loss = ((w * x + b - y) ** 2).mean()
        if _ == steps:
            break
        w.grad = b.grad = None
        loss.backward()
        with torch.no_grad():
            w -= RATE * w.grad
            b -= RATE * b.grad
    return float(w), float(b), float(loss)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def peak(fn):
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak_ = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak_


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from derive.derivation import gradient
    from derive.descend import get_descent_problem, synthetic

    t0 = time.perf_counter()
    g = gradient("mse", mean=True)
    symbolic = time.perf_counter() - t0
    problem = get_descent_problem("mse")
    partials = [d.result for d in g.derivations]
    data = synthetic(args.points, seed=0)
    x, y = data.x, data.y
    start = (0.3, -0.2)
    data_bytes = x.nbytes + y.nbytes

    try:
        import torch

        torch.set_num_threads(1)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    except ImportError:
        torch = None

    runs = {
        "derive (compiled gradient loop)": lambda: derive_loop(problem, partials, data, args.steps, start),
        "hand-written NumPy": lambda: numpy_loop(x, y, args.steps, start),
        "hand-written NumPy, einsum dots": lambda: numpy_dot_loop(x, y, args.steps, start),
    }
    if torch is not None:
        runs["PyTorch autograd (CPU, 1 thread)"] = lambda: torch_loop(torch, tx, ty, args.steps, start)

    for fn in runs.values():  # warm-up: first-call costs are not the loop's
        fn()
    times = {k: [] for k in runs}
    results = {}
    order = list(runs)
    for r in range(args.repeats):
        for name in (order if r % 2 == 0 else order[::-1]):
            seconds, results[name] = timed(runs[name])
            times[name].append(seconds)
    medians = {k: statistics.median(v) for k, v in times.items()}
    floor = medians["hand-written NumPy"]

    print(f"mse, {args.points:,} points x {args.steps} steps, learning rate {RATE}, "
          f"{args.repeats} interleaved rounds (numpy {np.__version__})")
    print(f"symbolic gradient derived once beforehand (untimed): {symbolic * 1000:.0f} ms")
    print()
    print(f"{'':36s} {'median':>10s} {'vs NumPy':>9s} {'peak memory':>13s}   final w, b")
    for name in runs:
        mem = peak(runs[name])
        w, b, loss = results[name]
        print(f"{name:36s} {medians[name] * 1000:8.0f} ms {medians[name] / floor:8.2f}x "
              f"{mem / 2**20:7.1f} MB {mem / data_bytes:4.1f}x   {w:.12f}, {b:.12f}")
    print(f"{'(data: x and y)':36s} {'':10s} {'':9s} {data_bytes / 2**20:7.1f} MB")
    print()
    ratio = medians["derive (compiled gradient loop)"] / floor
    tuned = medians["derive (compiled gradient loop)"] / medians["hand-written NumPy, einsum dots"]
    print(f"(information) derive vs the tuned hand-written loop (einsum dots): {tuned:.2f}x")
    print(f"descend mse: {ratio:.2f}x of a hand-written NumPy loop (target <= {TARGET}x) "
          f"{'PASS' if ratio <= TARGET else 'FAIL'}")
    ref = results["hand-written NumPy"]
    same = all(abs(a - c) <= 1e-9 * max(1, abs(c)) for a, c in zip(results["derive (compiled gradient loop)"], ref))
    print(f"same result as the hand-written loop (to 1e-9): {'yes' if same else 'NO'}")
    if torch is not None:
        t = medians["derive (compiled gradient loop)"] / medians["PyTorch autograd (CPU, 1 thread)"]
        print(f"descend mse: {t:.2f}x of PyTorch autograd on the CPU (target < 1x) {'PASS' if t < 1 else 'FAIL'}")
    else:
        print("PyTorch autograd: skipped (import torch failed: PyTorch is not installed)")
    mem = peak(runs["derive (compiled gradient loop)"])
    print(f"extra peak memory of derive's loop (beyond x and y): {mem / data_bytes:.2f}x the data ({mem / 2**20:.1f} MB over "
          f"{data_bytes / 2**20:.1f} MB of x and y)")
    small_steps(problem, partials, args.repeats)
    return 0


def small_steps(problem, partials, repeats, points=8, steps=50_000):
    """The other end: a handout's 8 points and many steps, where each step's Python overhead
    (the update, the history record) matters more than the arithmetic. Information only."""
    from derive.descend import synthetic

    data = synthetic(points, seed=0)
    x, y = data.x, data.y
    start = (0.3, -0.2)
    rate = 1e-7  # slow enough that every step runs
    runs = {"derive": lambda: derive_small(problem, partials, data, steps, start, rate),
            "hand-written NumPy": lambda: numpy_small(x, y, steps, start, rate)}
    times = {k: [] for k in runs}
    for r in range(repeats):
        for name in (list(runs) if r % 2 == 0 else list(runs)[::-1]):
            times[name].append(timed(runs[name])[0])
    medians = {k: statistics.median(v) for k, v in times.items()}
    print()
    print(f"(information) {points} points x {steps:,} steps: derive {medians['derive'] * 1e6 / steps:.1f} us/step, "
          f"hand-written NumPy with a list of dicts {medians['hand-written NumPy'] * 1e6 / steps:.1f} us/step "
          f"({medians['derive'] / medians['hand-written NumPy']:.2f}x)")


def derive_small(problem, partials, data, steps, start, rate):
    from derive.descend import Compiled, iterate

    return iterate(Compiled(problem, partials, data), start, rate, steps, tol=0.0)


def numpy_small(x, y, steps, start, rate):
    w, b = start
    history = []
    n = x.shape[0]
    for step in range(steps + 1):
        e = w * x + b - y
        loss = float(e @ e) / n
        gw, gb = 2 * float(e @ x) / n, 2 * float(e.sum()) / n
        history.append({"step": step, "weight": w, "bias": b, "loss": loss, "dL/dweight": gw, "dL/dbias": gb})
        w, b = w - rate * gw, b - rate * gb
    return history


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # reports, never gates
        print(f"bench/descend.py: not measured ({type(error).__name__}: {error})")
    sys.exit(0)
