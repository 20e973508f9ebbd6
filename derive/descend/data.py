"""The data a descent runs on: a CSV file's two columns, arrays, or synthetic points."""

import csv
import math
from dataclasses import dataclass

import numpy as np

from derive.errors import DeriveError


SYNTHETIC = {"slope": 3.0, "intercept": 2.0, "noise": 0.5, "low": -2.0, "high": 2.0}



# -- data -------------------------------------------------------------------------------------
@dataclass
class Data:
    """Two numeric columns: the input x and the target y (float64 arrays of equal length)."""

    x: np.ndarray
    y: np.ndarray
    source: str = "arrays"
    x_name: str = "x"
    y_name: str = "y"
    synthetic: dict | None = None  # how it was generated, when it was

    @property
    def n(self):
        return int(self.x.shape[0])

    def to_dict(self):
        out = {"source": self.source, "n": self.n, "x": self.x_name, "y": self.y_name}
        if self.synthetic is not None:
            out["synthetic"] = dict(self.synthetic)
        return out


def from_arrays(x, y, source="arrays"):
    """Data from two sequences of numbers, validated like a file."""
    try:
        xs = np.asarray(x, dtype=np.float64).ravel()
        ys = np.asarray(y, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise DeriveError("the data must be numbers")
    if xs.shape != ys.shape:
        raise DeriveError(f"x has {xs.shape[0]} values but y has {ys.shape[0]}")
    if xs.shape[0] == 0:
        raise DeriveError("the data has no rows")
    for name, column in (("x", xs), ("y", ys)):
        bad = np.flatnonzero(~np.isfinite(column))
        if bad.size:
            raise DeriveError(f"row {bad[0] + 1}: {name} is {column[bad[0]]}, not a finite number")
    return Data(xs, ys, source=source)


def load_csv(path, x="x", y="y"):
    """Read columns ``x`` and ``y`` of a CSV file with a header row.

    Every problem is one line: a missing file or column, an empty file, a cell that is not
    a finite number (with its line number), a short row. No message quotes the file's
    content (a file named by someone else's problem set could be anyone's): they say
    where, by line and column, never what.
    """
    from derive.render.escape import shown

    x_shown, y_shown = shown(x, 40), shown(y, 40)
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as error:
        raise DeriveError(f"cannot read {path}: {error.strerror or error}")
    with handle:
        try:
            reader = csv.reader(handle)
            header = None
            for row in reader:
                if any(cell.strip() for cell in row):
                    header = [cell.strip() for cell in row]
                    break
            if header is None:
                raise DeriveError(f"{path} is empty: it needs a header row naming the columns {x_shown} and {y_shown}, "
                                  "then the data")
            columns = {}
            for want, option in ((x, "--x"), (y, "--y")):
                if want not in header:
                    raise DeriveError(f"{path} has no column '{shown(want, 40)}' in its header row (the first "
                                      f"row that is not empty, with {len(header)} column{'s' if len(header) != 1 else ''}); "
                                      f"name the column with {option}")
                columns[want] = header.index(want)
            xs, ys = [], []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                line = reader.line_num
                values = []
                for want in (x, y):
                    k = columns[want]
                    name = shown(want, 40)
                    if k >= len(row) or not row[k].strip():
                        raise DeriveError(f"{path} line {line}: the {name} cell is missing (column {k + 1})")
                    cell = row[k].strip()
                    try:
                        value = float(cell)
                    except ValueError:
                        raise DeriveError(f"{path} line {line}: the {name} cell is not a number (column {k + 1})")
                    if not math.isfinite(value):
                        raise DeriveError(f"{path} line {line}: the {name} cell is not a finite number "
                                          f"(column {k + 1}: inf or nan)")
                    values.append(value)
                xs.append(values[0])
                ys.append(values[1])
        except csv.Error as error:
            raise DeriveError(f"{path} is not a readable CSV file (line {reader.line_num}: {shown(error)})")
        except UnicodeDecodeError:
            raise DeriveError(f"{path} is not a UTF-8 text file")
    if not xs:
        raise DeriveError(f"{path} has a header but no rows of data")
    return Data(np.array(xs), np.array(ys), source=str(path), x_name=x, y_name=y)


def synthetic(n, seed=0, labels="real"):
    """``n`` points with x uniform on [−2, 2] and y = 3x + 2 + noise (normal, sd 0.5).

    For binary labels (``bce``): y = 1 where 3x + 2 + noise > 0, else 0, with logistic noise,
    so the true model is σ(3x + 2).
    """
    if n < 1:
        raise DeriveError("--synthetic needs at least 1 point")
    if n > 50_000_000:
        raise DeriveError("--synthetic is limited to 50,000,000 points")
    s = SYNTHETIC
    rng = np.random.default_rng([seed, 1])  # its own stream: the start is drawn separately
    x = rng.uniform(s["low"], s["high"], n)
    if labels == "binary":
        y = (s["slope"] * x + s["intercept"] + rng.logistic(0.0, 1.0, n) > 0).astype(np.float64)
        how = dict(s, noise="logistic", labels="binary")
    else:
        y = s["slope"] * x + s["intercept"] + rng.normal(0.0, s["noise"], n)
        how = dict(s, labels="real")
    how.update(n=n, seed=seed)
    return Data(x, y, source="synthetic", synthetic=how)


