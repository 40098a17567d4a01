"""Tables, written one way: rows (dicts with the same keys, in column order) as Markdown or
CSV, and the mean with its standard error over seeds."""
from __future__ import annotations

import csv
import io
import math
import statistics


def mean_se(values) -> tuple[float, float, int]:
    """(mean, standard error of the mean, n); se is nan for one value."""
    values = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not values:
        return math.nan, math.nan, 0
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else math.nan
    return statistics.mean(values), se, len(values)


def fmt_mean_se(m: float, se: float) -> str:
    """"m ± se" to 3 decimals; "m" alone when se is nan (one value), "-" when m is nan."""
    if math.isnan(m):
        return "-"
    return f"{m:.3f}" if math.isnan(se) else f"{m:.3f} ± {se:.3f}"


def _cell(v, md: bool) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–" if md else ""
    if isinstance(v, float):
        return f"{v:.3f}" if md else f"{v:.6g}"
    return str(v)


def table_markdown(rows: list[dict], columns: list[str] | None = None) -> str:
    """The rows as a Markdown table; ``columns`` (default: the first row's keys) also heads a
    table without rows."""
    cols = list(columns if columns is not None else rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_cell(r[c], True) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def table_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(rows[0]))
    w.writerows([[_cell(r[c], False) for c in rows[0]] for r in rows])
    return buf.getvalue()
