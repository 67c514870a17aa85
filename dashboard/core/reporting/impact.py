"""Incident impact measured from telemetry against a baseline, in plain figures.

Pure functions over per-bucket count frames (a `bucket` column plus the count
columns of the query layer: requests, refused, task_success, cost_usd...).
`impact_store.py` fetches those frames for an incident.

The baseline is either the same clock minutes on previous days (so daily
traffic and behaviour cycles cancel out) or the hour before the regression
started (when there is no earlier day, or the days differ too much).

Every "extra" figure is an excess over what the baseline rate would have given
on the same traffic: extra refusals = requests x (refusal rate - baseline
refusal rate), tickets not deflected = requests x (baseline deflection -
deflection), extra spend = cost - requests x baseline cost per request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

import polars as pl

from dashboard.core.stats import beyond_noise, beyond_relative_noise
from dashboard.core.telemetry import signals as sig
from dashboard.core.timeutil import utc, utc_buckets

TREND_WINDOW = timedelta(minutes=30)
# signals shown as quality and safety deltas, in reading order (what one excess event is called:
# the registry's `excess_noun`)
DELTA_SIGNALS: tuple[str, ...] = ("refusal_rate", "task_success_rate", "error_rate", "policy_violation_rate",
                                  "fallback_rate", "quality_score", "cost_per_request")


@dataclass(frozen=True)
class SignalDelta:
    signal: str
    baseline: float | None
    during: float | None  # pooled over the whole incident window
    worst: float | None  # worst trailing-30-minute value in the window
    current: float | None  # the last 30 minutes
    excess_events: float | None  # events beyond what the baseline rate gives on the same traffic
    event_label: str
    trend: str  # "better" | "worse" | "steady" | "unknown"
    higher_is_bad: bool
    changed: bool = False  # during differs from baseline beyond noise


    @property
    def delta(self) -> float | None:
        if self.baseline is None or self.during is None:
            return None
        return self.during - self.baseline

    @property
    def degraded(self) -> bool:
        """Did the signal move the bad way over the window, beyond noise?"""
        if not self.changed or self.baseline is None or self.during is None:
            return False
        return self.during > self.baseline if self.higher_is_bad else self.during < self.baseline


@dataclass(frozen=True)
class Impact:
    window_start: datetime
    window_end: datetime
    filters: dict[str, str]
    baseline_label: str
    requests_affected: int
    requests_total: int | None  # every request in the window, filters or not
    users_affected: int | None
    users_bound: float  # relative bound of users_affected (0: exact)
    cost_usd: float
    extra_spend_usd: float | None
    extra_output_tokens: float | None
    deltas: tuple[SignalDelta, ...] = field(default_factory=tuple)

    @property
    def share_affected(self) -> float | None:
        if not self.requests_total:
            return None
        return self.requests_affected / self.requests_total

    def delta(self, signal: str) -> SignalDelta | None:
        return next((d for d in self.deltas if d.signal == signal), None)


def window(frame: pl.DataFrame, start: datetime, end: datetime) -> pl.DataFrame:
    """Buckets starting in [start, end)."""
    return frame.filter((pl.col("bucket") >= start) & (pl.col("bucket") < end))


def previous_day_windows(start: datetime, end: datetime, days: int = 7) -> list[tuple[datetime, datetime]]:
    """The same clock minutes on each of the `days` previous days, newest first."""
    return [(start - timedelta(days=d), end - timedelta(days=d)) for d in range(1, days + 1)]


def hour_before_window(start: datetime) -> tuple[datetime, datetime]:
    return (start - timedelta(hours=1), start)


def excess_events(frame: pl.DataFrame, math_: sig.Signal, baseline_value: float | None,
                  higher_is_bad: bool) -> float | None:
    """Events the signal counted beyond the baseline rate (rates only), signed so positive = harm."""
    if math_.kind != "rate" or baseline_value is None or frame.is_empty():
        return None
    num = float(frame[math_.numerator_column].sum() or 0)
    den = float(frame[math_.denominator_column].sum() or 0)
    excess = num - baseline_value * den
    return excess if higher_is_bad else -excess


def extra_over_baseline(frame: pl.DataFrame, baseline: pl.DataFrame, sum_column: str) -> float | None:
    """sum(column) in the window minus requests x the baseline's per-request mean."""
    if frame.is_empty() or baseline.is_empty() or sum_column not in frame.columns:
        return None
    if frame[sum_column].null_count() == frame.height or baseline[sum_column].null_count() == baseline.height:
        return None  # no request carried it (a store without cost): unknown, not "+$0.00"
    base_requests = float(baseline["requests"].sum() or 0)
    if base_requests <= 0:
        return None
    per_request = float(baseline[sum_column].sum() or 0) / base_requests
    return float(frame[sum_column].sum() or 0) - float(frame["requests"].sum() or 0) * per_request


def worst_trailing(frame: pl.DataFrame, math_: sig.Signal, higher_is_bad: bool,
                   length: timedelta = TREND_WINDOW) -> float | None:
    """The worst value of the signal pooled over any trailing `length` that ends at a bucket."""
    if frame.is_empty():
        return None
    if math_.kind == "quantile":  # quantiles do not pool: the worst single bucket
        values = frame[math_.value_column].drop_nulls()
        if values.is_empty():
            return None
        return float(cast(float, values.max() if higher_is_bad else values.min()))  # a Float64 column
    secs = int(length.total_seconds())
    rolled = (frame.sort("bucket").set_sorted("bucket")
              .rolling("bucket", period=f"{secs}s", offset=f"-{secs}s", closed="right")
              .agg(pl.col(math_.numerator_column).sum().alias("n"), pl.col(math_.denominator_column).sum().alias("d")))
    # only windows that are full length, so the first thin bucket does not set the record
    first = cast(datetime, frame["bucket"].min())  # a Datetime column's min (Polars types it as any scalar)
    full = rolled.filter((pl.col("bucket") >= first + length - _step(frame)) & (pl.col("d") > 0))
    if full.is_empty():
        full = rolled.filter(pl.col("d") > 0)
    if full.is_empty():
        return None
    values = (full["n"].cast(pl.Float64) / full["d"].cast(pl.Float64))
    return float(cast(float, values.max() if higher_is_bad else values.min()))


def trend(frame: pl.DataFrame, math_: sig.Signal, now: datetime, higher_is_bad: bool,
          length: timedelta = TREND_WINDOW) -> str:
    """'better' or 'worse' when the last `length` differs from the one before beyond noise, else 'steady'."""
    recent = frame.filter((pl.col("bucket") >= now - length) & (pl.col("bucket") <= now))
    before = frame.filter((pl.col("bucket") >= now - 2 * length) & (pl.col("bucket") < now - length))
    if recent.is_empty() or before.is_empty():
        return "unknown"
    if math_.kind == "quantile":
        a, b = before[math_.value_column].drop_nulls(), recent[math_.value_column].drop_nulls()
        if a.is_empty() or b.is_empty():
            return "unknown"
        old, new = float(cast(float, a.median())), float(cast(float, b.median()))
        moved = beyond_relative_noise(new, old)
    elif math_.kind == "rate":
        n1, d1 = float(before[math_.numerator_column].sum()), float(before[math_.denominator_column].sum())
        n2, d2 = float(recent[math_.numerator_column].sum()), float(recent[math_.denominator_column].sum())
        if d1 <= 0 or d2 <= 0:
            return "unknown"
        old, new = n1 / d1, n2 / d2
        pooled = (n1 + n2) / (d1 + d2)
        se = math.sqrt(max(pooled * (1 - pooled), 0.0) * (1 / d1 + 1 / d2))
        moved = beyond_noise(new - old, se)
    else:
        pooled_old, pooled_new = sig.pooled_value(math_, before), sig.pooled_value(math_, recent)
        if pooled_old is None or pooled_new is None:
            return "unknown"
        old, new = pooled_old, pooled_new
        moved = beyond_relative_noise(new, old)
    if not moved:
        return "steady"
    got_worse = new > old if higher_is_bad else new < old
    return "worse" if got_worse else "better"


def signal_delta(frame: pl.DataFrame, baseline: pl.DataFrame, signal: str, now: datetime,
                 label: str = "") -> SignalDelta:
    math_ = sig.get(signal)
    bad_up = math_.direction != sig.LOWER_IS_WORSE
    if math_.kind == "quantile":
        base = _median_or_none(baseline, math_.value_column)
        during = _median_or_none(frame, math_.value_column)
        current = _median_or_none(frame.filter(pl.col("bucket") >= now - TREND_WINDOW), math_.value_column)
    else:
        base = sig.pooled_value(math_, baseline)
        during = sig.pooled_value(math_, frame)
        current = sig.pooled_value(math_, frame.filter(pl.col("bucket") >= now - TREND_WINDOW))
    return SignalDelta(
        signal=signal, baseline=base, during=during, worst=worst_trailing(frame, math_, bad_up),
        current=current, excess_events=excess_events(frame, math_, base, bad_up), event_label=label,
        trend=trend(frame, math_, now, bad_up), higher_is_bad=bad_up,
        changed=differs(frame, baseline, math_, base, during),
    )


def differs(frame: pl.DataFrame, baseline: pl.DataFrame, math_: sig.Signal, base: float | None,
            during: float | None) -> bool:
    """Window vs baseline beyond noise: two-proportion z for rates, a 5% relative move otherwise."""
    if base is None or during is None:
        return False
    if math_.kind != "rate":
        return beyond_relative_noise(during, base)
    d1 = float(baseline[math_.denominator_column].sum() or 0)
    d2 = float(frame[math_.denominator_column].sum() or 0)
    if d1 <= 0 or d2 <= 0:
        return False
    pooled = (base * d1 + during * d2) / (d1 + d2)
    se = math.sqrt(max(pooled * (1 - pooled), 0.0) * (1 / d1 + 1 / d2))
    return beyond_noise(during - base, se)


def compute_impact(frame: pl.DataFrame, baseline: pl.DataFrame, *, start: datetime, end: datetime,
                   now: datetime | None = None, filters: dict[str, str] | None = None,
                   requests_total: int | None = None, users_affected: int | None = None, users_bound: float = 0.0,
                   baseline_label: str = "baseline",
                   signals: tuple[str, ...] | None = None) -> Impact:
    """Impact of the window [start, end) of `frame` (the affected scope) against `baseline`.

    `frame` and `baseline` are per-bucket counts for the same filters;
    `requests_total` is every request in the window (for the share affected).
    """
    start, end = utc(start), utc(end)
    now = utc(now or end)
    scoped = window(utc_buckets(frame), start, end)
    baseline = utc_buckets(baseline)
    wanted = signals if signals is not None else DELTA_SIGNALS
    deltas = []
    for signal in wanted:
        math_ = sig.get(signal)
        if all(c in scoped.columns for c in math_.columns) and _has_samples(scoped, math_):
            deltas.append(signal_delta(scoped, baseline, signal, now, math_.excess_noun))
    return Impact(
        window_start=start, window_end=end, filters=dict(filters or {}), baseline_label=baseline_label,
        requests_affected=int(scoped["requests"].sum() or 0) if not scoped.is_empty() else 0,
        requests_total=requests_total, users_affected=users_affected, users_bound=users_bound,
        cost_usd=float(scoped["cost_usd"].sum() or 0) if "cost_usd" in scoped.columns else 0.0,
        extra_spend_usd=extra_over_baseline(scoped, baseline, "cost_usd"),
        extra_output_tokens=extra_over_baseline(scoped, baseline, "output_tokens"),
        deltas=tuple(deltas),
    )


def _has_samples(frame: pl.DataFrame, spec: sig.Signal) -> bool:
    """Whether the window holds any value of the signal (a signal the store lacks has none)."""
    if frame.is_empty():
        return False
    if spec.pooled:
        return float(frame[spec.denominator_column].fill_null(0).sum() or 0) > 0
    return frame[spec.value_column].null_count() < frame.height


def _median_or_none(frame: pl.DataFrame, column: str) -> float | None:
    if frame.is_empty() or column not in frame.columns:
        return None
    values = frame[column].drop_nulls()
    return None if values.is_empty() else float(cast(float, values.median()))


def _step(frame: pl.DataFrame) -> timedelta:
    buckets = frame["bucket"].unique().sort()
    if len(buckets) < 2:
        return timedelta(0)
    return buckets[1] - buckets[0]
