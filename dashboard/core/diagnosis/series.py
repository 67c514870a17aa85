"""Per-bucket series of one signal, and the daily-cycle baseline removed before detection.

A rate is kept as events out of trials per bucket; latency, cost and tokens as
count, mean and variance of the log; the quality score as count, mean and
variance. The baseline is the level the same clock minutes had on earlier days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from dashboard.core import stats

SeriesKind = Literal["rate", "log", "mean"]

@dataclass
class BucketSeries:
    """Per-bucket aggregates of one signal, oldest first.

    rate: `count` = trials, `value` = events. log/mean: `count` = observations,
    `value` = mean (of the log for "log"), `var` = sample variance.
    """

    kind: SeriesKind
    ts: np.ndarray                      # datetime64[us] bucket starts, UTC
    count: np.ndarray
    value: np.ndarray
    var: np.ndarray | None = None
    bucket_minutes: float = 1.0

    def __post_init__(self) -> None:
        self.ts = np.asarray(self.ts, dtype="datetime64[us]")
        self.count = np.asarray(self.count, dtype=float)
        self.value = np.asarray(self.value, dtype=float)
        if self.var is not None:
            self.var = np.asarray(self.var, dtype=float)
        if not (len(self.ts) == len(self.count) == len(self.value)):
            raise ValueError("ts, count and value must have the same length")
        if self.kind != "rate" and self.var is None:
            raise ValueError(f"a {self.kind} series needs a per-bucket variance")

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def variances(self) -> np.ndarray:
        """`var` of a log or mean series, which always has one (see __post_init__); a rate series has none."""
        if self.var is None:
            raise ValueError(f"a {self.kind} series has no per-bucket variance")
        return self.var

    def level(self, lo: int, hi: int) -> float:
        """The pooled level of buckets [lo, hi): a rate, or a mean (geometric mean for log)."""
        n = self.count[lo:hi]
        if n.sum() <= 0:
            return float("nan")
        if self.kind == "rate":
            return float(self.value[lo:hi].sum() / n.sum())
        _, mu, _ = stats.pool_log_stats(n, self.value[lo:hi], self.variances[lo:hi])
        return math.exp(mu) if self.kind == "log" else mu


@dataclass(frozen=True)
class Baseline:
    """The level expected in each bucket from the same minutes on previous days."""

    level: np.ndarray                   # rate, or mean (of the log for "log"), per bucket
    days: int                           # previous days that contributed



def daily_baseline(series: BucketSeries, history: list[BucketSeries], smooth_buckets: int = 15) -> Baseline | None:
    """Expected level per bucket from previous days' same buckets.

    `history[d]` holds the same clock buckets as `series`, d+1 days earlier. Each
    day's level is smoothed over +/- `smooth_buckets`, then the median across days
    is taken, so one earlier incident at the same time does not shift the
    baseline.
    """
    days = [h for h in history if len(h) == len(series) and h.count.sum() > 0]
    if not days:
        return None
    kernel = np.ones(2 * smooth_buckets + 1)
    levels = []
    for h in days:
        n = np.convolve(h.count, kernel, mode="same")
        if series.kind == "rate":
            s = np.convolve(h.value, kernel, mode="same")
        else:
            s = np.convolve(np.nan_to_num(h.value) * h.count, kernel, mode="same")
        with np.errstate(divide="ignore", invalid="ignore"):
            levels.append(np.where(n > 0, s / np.where(n > 0, n, 1), np.nan))
    stacked = np.vstack(levels)
    median = np.full(stacked.shape[1], np.nan)
    seen = np.isfinite(stacked).any(axis=0)  # buckets no earlier day saw stay NaN (no adjustment)
    median[seen] = np.nanmedian(stacked[:, seen], axis=0)
    return Baseline(median, len(days))


def deseasonalize(series: BucketSeries, baseline: Baseline | None) -> BucketSeries:
    """Remove the daily cycle: rescale events (rate) or shift means so the baseline is flat."""
    if baseline is None:
        return series
    b = baseline.level
    ok = np.isfinite(b)
    if series.kind == "rate":
        ok &= b > 0
        if not ok.any():
            return series
        flat = float((series.count[ok] * b[ok]).sum() / max(series.count[ok].sum(), 1e-9))
        weight = np.where(ok, flat / np.where(ok, b, 1.0), 1.0)
        events = np.minimum(series.value * weight, series.count)
        return BucketSeries("rate", series.ts, series.count, events, None, series.bucket_minutes)
    if not ok.any():
        return series
    flat = float(np.nansum(series.count[ok] * b[ok]) / max(series.count[ok].sum(), 1e-9))
    shift = np.where(ok, b - flat, 0.0)
    return BucketSeries(series.kind, series.ts, series.count, series.value - shift, series.var,
                        series.bucket_minutes)
