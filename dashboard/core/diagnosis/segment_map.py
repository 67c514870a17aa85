"""Every value of every segment, before against after a change: the root-cause heatmap's numbers.

Localization (`localize.py`) names the few combinations that explain a change;
this map shows the whole picture one dimension at a time, so an engineer can
see at a glance that the refusal jump sits in `language=en` and nowhere else.
Each cell is a proper two-sample test on pooled window totals (two-proportion
z for rates, Welch on the log scale for latency, cost and tokens, Welch on
plain means for scores; a tail percentile as the share of requests slower
than the baseline's p95 or p99), so a small segment's noisy swing does not
read as a finding: `z` says how surprising each shift is.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import polars as pl

from dashboard.core import stats
from dashboard.core.diagnosis import data as D
from dashboard.core.telemetry import signals as sig
from dashboard.core.telemetry.query import TelemetryStore

MIN_SAMPLES = 30  # per side; fewer requests than this say nothing about a segment
SCHEMA = {"dimension": pl.String, "value": pl.String, "baseline": pl.Float64, "current": pl.Float64,
          "change": pl.Float64, "z": pl.Float64, "baseline_n": pl.Int64, "current_n": pl.Int64,
          "change_text": pl.String, "bad": pl.Boolean}


def cell_change(spec: sig.Signal, before: tuple[float, float, float],
                after: tuple[float, float, float]) -> tuple[float, float, float, float] | None:
    """(baseline level, current level, change, z) from pooled (count, value, var) window totals.

    Rates: levels are rates and the change is in points. Log signals: levels are
    geometric means and the change is the relative shift (0.25 = 25% higher).
    Means: the change is the plain difference.
    """
    n_a, n_b = before[0], after[0]
    if n_a < MIN_SAMPLES or n_b < MIN_SAMPLES:
        return None
    if spec.scale == "rate":
        c = stats.two_proportion_test(before[1], n_a, after[1], n_b)
        return c.rate_a, c.rate_b, c.diff, c.z
    w = stats.welch_log_test(*before, *after)
    if spec.scale == "log":
        return math.exp(before[1]), math.exp(after[1]), w.ratio - 1, w.t
    return before[1], after[1], after[1] - before[1], w.t


def change_text(spec: sig.Signal, change: float) -> str:
    if spec.scale == "rate":
        return f"{100 * change:+.1f} pts"
    if spec.scale == "log":
        return f"{100 * change:+.0f}%"
    return f"{change:+.3g}"


def segment_map(store: TelemetryStore, signal: str, baseline: tuple[datetime, datetime],
                current: tuple[datetime, datetime], filters: dict | None = None,
                dimensions: list[str] | None = None, limit: float | None = None) -> pl.DataFrame:
    """One row per (dimension, value) seen on both sides with enough traffic; worst first within a dimension.

    `bad` marks a shift in the signal's bad direction that is beyond noise (|z| > 3). A tail
    percentile is counted against `limit` (default: its value over the whole baseline window).
    """
    spec = D.signal_spec(signal)
    windows = [("before", *baseline), ("after", *current)]
    if spec.tail and limit is None:
        limit = D.window_quantile(store, spec, *baseline, filters)
        if limit is None:
            return pl.DataFrame(schema=SCHEMA)
    rows = []
    for dim in dimensions or list(store.schema.segments):
        totals = D.load_window_totals(store, spec, windows, filters, by=dim, limit=limit)
        for (side, value), before in totals.items():
            after = totals.get(("after", value))
            if side != "before" or after is None or value is None:
                continue
            cell = cell_change(spec, before, after)
            if cell is None:
                continue
            level_a, level_b, change, z = cell
            rows.append({"dimension": dim, "value": str(value), "baseline": level_a, "current": level_b,
                         "change": change, "z": z, "baseline_n": int(before[0]), "current_n": int(after[0]),
                         "change_text": change_text(spec, change),
                         "bad": bool(spec.direction * change > 0 and abs(z) > 3)})
    frame = pl.DataFrame(rows, schema=SCHEMA)
    return frame.sort("dimension", pl.col("change") * -spec.direction, maintain_order=True)


def windows_around(at: datetime, end: datetime, minutes: int = 60) -> tuple[tuple[datetime, datetime],
                                                                          tuple[datetime, datetime]]:
    """The hour before a change against the hour after it (skipping 5 minutes of ramp), clipped to `end`."""
    after_start = at + timedelta(minutes=5)
    return (at - timedelta(minutes=minutes), at), (after_start, min(after_start + timedelta(minutes=minutes), end))
