"""SLO evaluation: attainment, error budget and multi-window burn-rate alerts.

Everything here is a pure function of a per-bucket count frame (one row per
time bucket, a `bucket` column holding the bucket start) so it can be checked
on hand-made data; `slo_store.py` fetches those frames from the telemetry.

Two ways of counting good and bad events, chosen per SLO in the config:

* **requests** (request-based): each request is an event, bad when it is one
  the rate counts (an error) for `<=`, or one it does not (no deflection) for
  `>=`. Right when every bad request is a failure a user sees and the healthy
  bad share is near zero, e.g. errors: the budget is the failures tolerated.
  Only rate signals qualify: a quantile or a mean is not a property of one
  request.
* **windows** (window-based): each window (e.g. 5 minutes) is an event, good
  when the signal over that window meets the threshold. Right for quantiles
  and means (p95 latency, cost per request), and for rates whose healthy level
  is well above zero (refusals at 4%, deflection at 42%): there the objective
  is about the level, since some refusals are correct answers, so counting
  each refusal as a failure would spend most of the budget on healthy traffic.
  Windows with fewer than `min_requests` requests are not judged either way.

Burn rate = observed bad share over a window / allowed bad share. A burn rate
of 1 spends exactly the budget over the SLO period. Alerts follow the SRE
workbook's multi-window, multi-burn-rate policy: an alert fires only when
both a long window (the budget really is being spent) and a short window
(it is still being spent now, so the alert resets soon after a fix) burn
faster than the factor:

* fast burn: 1 h and 5 min at 14.4x. 14.4 = 2% of a 30-day budget spent in
  one hour (0.02 x 720 h). Pages.
* slow burn: 6 h and 30 min at 6x. 6 = 5% of a 30-day budget in six hours
  (0.05 x 720 h / 6 h). Pages.

The factors are the workbook's, kept as published for a 28-day period too
(where they mean 2.1% and 5.4% of the budget): they are thresholds people
know, and the difference is smaller than the noise of a short window.

"now" is given by the caller: the newest telemetry timestamp for recorded data.
A window of length L ending at now holds the buckets that start at or after
now - L.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

import polars as pl

from dashboard.core.reporting.slo_config import SloDecl
from dashboard.core.telemetry import signals as sig
from dashboard.core.timeutil import utc, utc_buckets


@dataclass(frozen=True)
class BurnPolicy:
    name: str
    long: timedelta
    short: timedelta
    factor: float
    action: str = "page"


FAST_BURN = BurnPolicy("fast burn", timedelta(hours=1), timedelta(minutes=5), 14.4)
SLOW_BURN = BurnPolicy("slow burn", timedelta(hours=6), timedelta(minutes=30), 6.0)
DEFAULT_POLICIES: tuple[BurnPolicy, ...] = (FAST_BURN, SLOW_BURN)


@dataclass(frozen=True)
class BurnAlert:
    policy: BurnPolicy
    long_burn: float | None
    short_burn: float | None

    @property
    def firing(self) -> bool:
        return (self.long_burn is not None and self.short_burn is not None
                and self.long_burn >= self.policy.factor and self.short_burn >= self.policy.factor)


@dataclass(frozen=True)
class SloStatus:
    slo: SloDecl
    period_start: datetime | None
    period_end: datetime | None
    good: int
    bad: int
    attainment: float | None  # share of judged events that were good
    budget_remaining: float | None  # 1 = untouched, 0 = spent, < 0 = overspent
    alerts: tuple[BurnAlert, ...] = ()
    current_value: float | None = None  # the signal over the fast policy's long window
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def firing(self) -> tuple[BurnAlert, ...]:
        return tuple(a for a in self.alerts if a.firing)

    @property
    def met(self) -> bool | None:
        return None if self.attainment is None else self.attainment >= self.slo.target

    @property
    def state(self) -> str:
        """'burning' (an alert fires), 'exhausted' (budget spent), 'ok' or 'no data'."""
        if self.attainment is None:
            return "no data"
        if self.firing:
            return "burning"
        if self.budget_remaining is not None and self.budget_remaining <= 0:
            return "exhausted"
        return "ok"


def slo_events(frame: pl.DataFrame, slo: SloDecl, math: sig.Signal | None = None) -> pl.DataFrame:
    """Per bucket: `bucket`, `good`, `bad` event counts for this SLO.

    For method "windows" the frame's buckets must be the SLO's window; each
    judged bucket is one event. For method "requests", requests are events.
    """
    math = math or sig.get(slo.signal)
    _require(frame, ["bucket", "requests", *math.columns])
    if slo.method == "requests":
        if math.kind != "rate":
            raise ValueError(f"SLO {slo.name}: method 'requests' needs a rate signal; "
                             f"{slo.signal} is a {math.kind}")
        num = pl.col(math.numerator_column).fill_null(0).cast(pl.Int64)
        den = pl.col(math.denominator_column).fill_null(0).cast(pl.Int64)
        bad = num if slo.higher_is_bad else den - num
        return frame.select("bucket", (den - bad).alias("good"), bad.alias("bad")).sort("bucket")
    value = sig.expression(math)
    meets = value <= slo.threshold if slo.higher_is_bad else value >= slo.threshold
    judged = (pl.col("requests").fill_null(0) >= slo.min_requests) & value.is_not_null()
    return frame.select(
        "bucket",
        (judged & meets).cast(pl.Int64).alias("good"),
        (judged & ~meets).cast(pl.Int64).alias("bad"),
    ).sort("bucket")


def window_totals(events: pl.DataFrame, now: datetime, length: timedelta) -> tuple[int, int]:
    """(good, bad) over the buckets starting at or after now - length, up to now."""
    now = utc(now)
    events = utc_buckets(events)
    inside = events.filter((pl.col("bucket") >= now - length) & (pl.col("bucket") <= now))
    return int(inside["good"].sum() or 0), int(inside["bad"].sum() or 0)


def burn_rate(events: pl.DataFrame, now: datetime, length: timedelta, allowed_bad_fraction: float) -> float | None:
    """Bad share over the window divided by the allowed bad share; None without events."""
    good, bad = window_totals(events, now, length)
    if good + bad == 0:
        return None
    return (bad / (good + bad)) / allowed_bad_fraction


def burn_alerts(events: pl.DataFrame, now: datetime, allowed_bad_fraction: float,
                policies: tuple[BurnPolicy, ...] = DEFAULT_POLICIES) -> tuple[BurnAlert, ...]:
    return tuple(
        BurnAlert(p, burn_rate(events, now, p.long, allowed_bad_fraction),
                  burn_rate(events, now, p.short, allowed_bad_fraction))
        for p in policies
    )


def burn_rate_series(events: pl.DataFrame, length: timedelta, allowed_bad_fraction: float) -> pl.DataFrame:
    """Burn rate over a trailing window at every bucket: `bucket`, `burn_rate` (for charts)."""
    if events.is_empty():
        return pl.DataFrame(schema={"bucket": events.schema["bucket"], "burn_rate": pl.Float64})
    ordered = events.sort("bucket").set_sorted("bucket")
    period = f"{int(length.total_seconds())}s"
    rolled = ordered.rolling("bucket", period=period, offset=f"-{int(length.total_seconds())}s",
                             closed="both").agg(pl.col("good").sum(), pl.col("bad").sum())
    total = pl.col("good") + pl.col("bad")
    return rolled.select(
        "bucket",
        pl.when(total > 0).then(pl.col("bad") / total / allowed_bad_fraction).otherwise(None).alias("burn_rate"),
    )


def evaluate_slo(frame: pl.DataFrame, slo: SloDecl, now: datetime, period: timedelta = timedelta(days=28),
                 policies: tuple[BurnPolicy, ...] = DEFAULT_POLICIES,
                 math: sig.Signal | None = None) -> SloStatus:
    """Attainment and budget over `period` ending at `now` (or the data available), plus alerts."""
    math = math or sig.get(slo.signal)
    now = utc(now)
    in_period = utc_buckets(frame).filter((pl.col("bucket") >= now - period) & (pl.col("bucket") <= now))
    events = slo_events(in_period, slo, math)
    good, bad = int(events["good"].sum() or 0), int(events["bad"].sum() or 0)
    notes: list[str] = []
    if in_period.is_empty():
        return SloStatus(slo, None, None, 0, 0, None, None, notes=("no telemetry in the period",))
    # a Datetime column's min and max are datetimes (Polars types them as any scalar)
    start, end = cast(datetime, in_period["bucket"].min()), cast(datetime, in_period["bucket"].max())
    if start > now - period + timedelta(days=1):
        days = (now - start).total_seconds() / 86400
        notes.append(f"only {days:.1f} days of data; attainment and budget cover those")
    attainment = good / (good + bad) if good + bad else None
    budget = None
    if good + bad:
        budget = 1.0 - bad / (slo.allowed_bad_fraction * (good + bad))
    fast_window = policies[0].long if policies else timedelta(hours=1)
    recent = in_period.filter(pl.col("bucket") >= now - fast_window)
    current = _current_value(recent, math)
    return SloStatus(slo, start, end, good, bad, attainment, budget,
                     burn_alerts(events, now, slo.allowed_bad_fraction, policies), current, tuple(notes))


def _current_value(recent: pl.DataFrame, math: sig.Signal) -> float | None:
    if recent.is_empty():
        return None
    if math.kind == "quantile":
        # Quantiles do not pool; the request-weighted mean of bucket quantiles is a readable summary.
        weights = recent["requests"].cast(pl.Float64)
        values = recent[math.value_column].cast(pl.Float64)
        mask = values.is_not_null()
        if not mask.any() or float(weights.filter(mask).sum()) <= 0:
            return None
        weighted = cast(float, (values.filter(mask) * weights.filter(mask)).sum())  # Float64 sums
        return float(weighted / cast(float, weights.filter(mask).sum()))
    return sig.pooled_value(math, recent)


def _require(frame: pl.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"count frame lacks column(s) {missing}; has {frame.columns}")
