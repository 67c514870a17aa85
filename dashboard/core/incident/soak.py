"""Verification soak: did the numbers actually recover, and for long enough?

Each verification metric is judged minute by minute on a rolling window of
per-minute counts (numerator / denominator), so one noisy minute of a thin
segment does not reset the clock, while a real relapse does. A window with
fewer requests than the metric's minimum sample size is not judged: it is
neither a breach nor evidence that the metric held.

Pure: the caller supplies the counts (see telemetry_adapter.py for turning a
telemetry series into them) and the "now".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dashboard.core.stats import READING_Z
from dashboard.core.telemetry import signals as sig
from dashboard.core.timeutil import MINUTE, ceil_to, floor_to, utc

SoakStatus = Literal["not_started", "soaking", "broken", "passed"]


class VerificationMetric(BaseModel):
    """One condition that must hold for `soak_minutes` before the incident may close."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    signal: str = Field(min_length=1)  # a signal registry name, e.g. "refusal_rate"
    segment: dict[str, str] = Field(default_factory=dict)  # e.g. {"tier": "paid", "language": "en"}
    comparator: Literal["<=", ">="]
    threshold: float
    soak_minutes: int = Field(default=60, ge=1)
    window_minutes: int = Field(default=10, ge=1)
    min_samples: int = Field(default=200, ge=1)
    # A window counts as a breach only when it is past the threshold by more than
    # noise_z standard errors at its sample size (0: any excursion is a breach); the default
    # is the one reading rule of core/stats.py.
    noise_z: float = Field(default=READING_Z, ge=0)
    label: str | None = None  # what people call it, e.g. "deflection"

    @field_validator("threshold")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("threshold must be a finite number")
        return value

    @property
    def is_proportion(self) -> bool:
        """Rates (x_rate) and 0..1 scores, whose sampling noise the binomial bound covers."""
        spec = sig.BY_NAME.get(self.signal)
        return (spec is not None and (spec.kind == "rate" or spec.unit == "score")) or self.quantile is not None

    @property
    def key(self) -> str:
        """Stable identifier: signal plus segment filter."""
        seg = ",".join(f"{k}={v}" for k, v in sorted(self.segment.items()))
        return f"{self.signal}[{seg}]" if seg else self.signal

    @property
    def quantile(self) -> float | None:
        """0.95 for a p95 signal (latency_p95_ms, output_tokens_p95); None for signals that are not percentiles."""
        spec = sig.BY_NAME.get(self.signal)
        return spec.percentile if spec is not None and spec.kind == "quantile" else None

    @property
    def _above_limit(self) -> str:
        """"slower than 1500 ms" / "above 4000 tokens": what the judged share of requests is."""
        spec = sig.BY_NAME.get(self.signal)
        if spec is None:
            return f"above {self.threshold:g}"
        return f"{spec.exceeds} {self.threshold:g} {spec.unit}"

    @property
    def judged_threshold(self) -> float:
        """What the pooled ratio is compared with. Percentiles do not pool over a window,
        but "p95 <= L ms" holds exactly when at most 5 % of requests are slower than L,
        so a percentile condition is judged on the share of requests slower than L."""
        q = self.quantile
        return self.threshold if q is None else round(1 - q, 6)

    def value_text(self, value: float) -> str:
        if self.quantile is not None:
            return f"{value:.1%} of requests {self._above_limit}"
        return f"{value:.4g}"

    def holds(self, value: float) -> bool:
        t = self.judged_threshold
        return value <= t if self.comparator == "<=" else value >= t

    def excess(self, value: float) -> float:
        """How far past the threshold, in the bad direction (negative when it holds)."""
        t = self.judged_threshold
        return value - t if self.comparator == "<=" else t - value

    def noise_margin(self, sample_size: float) -> float:
        """Excursion explainable by sampling noise: noise_z binomial standard errors at the threshold.

        Only meaningful for proportions; for other ratios (cost per request) any excursion counts.
        """
        t = self.judged_threshold
        if self.noise_z == 0 or sample_size <= 0 or not self.is_proportion or not 0 < t < 1:
            return 0.0
        return self.noise_z * math.sqrt(t * (1 - t) / sample_size)

    def describe(self) -> str:
        seg = ", ".join(f"{k}={v}" for k, v in self.segment.items()) or "all traffic"
        name = self.label or self.signal
        judged = (f"; judged as {'at most' if self.comparator == '<=' else 'at least'} "
                  f"{self.judged_threshold:.0%} of requests {self._above_limit}"
                  if self.quantile is not None else "")
        return (f"{name} {self.comparator} {self.threshold:g} on {seg} for {self.soak_minutes} min "
                f"({self.window_minutes}-min rolling window, at least {self.min_samples} samples{judged})")


class MinuteCount(NamedTuple):
    minute: datetime  # bucket start, UTC
    numerator: float
    denominator: float


class Breach(BaseModel):
    """A run of consecutive judged windows that broke the threshold."""

    metric: str
    first_at: datetime  # end of the first breaching window
    last_at: datetime  # end of the last breaching window
    worst_value: float
    threshold: float
    comparator: str
    excess: float  # how far past the threshold at worst (always positive)
    sample_size: int  # requests in the worst window


class MetricSoak(BaseModel):
    metric: VerificationMetric
    status: SoakStatus
    held_since: datetime | None  # start of the current unbroken run
    held_minutes: int
    time_left_minutes: int
    progress: float  # 0..1
    current_value: float | None  # latest judged window
    current_sample_size: int  # requests in the latest window (judged or not)
    run_value: float | None  # pooled over the current run
    run_sample_size: int
    breaches: list[Breach]
    thin_windows: int  # full windows below min_samples since the soak started (each restarts the run)
    note: str


class SoakEvaluation(BaseModel):
    status: SoakStatus
    started_at: datetime | None
    now: datetime
    progress: float
    time_left_minutes: int
    metrics: list[MetricSoak]

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def breaches(self) -> list[Breach]:
        return [b for m in self.metrics for b in m.breaches]

    def summary(self) -> str:
        if self.status == "not_started":
            return "soak not started"
        if self.status == "passed":
            return "soak passed: every metric held for its whole window"
        left = f"{self.time_left_minutes} min left"
        if self.status == "broken":
            return f"soak broken: a metric is over its threshold now ({left} once it recovers)"
        return f"soaking: {self.progress:.0%} done, {left}"


def _dense_counts(counts: Iterable[MinuteCount | tuple], first: datetime, n: int) -> tuple[list[float], list[float]]:
    """Per-minute numerators and denominators for minutes first .. first+n-1; absent minutes are zero."""
    num = [0.0] * n
    den = [0.0] * n
    for row in counts:
        minute, a, b = row
        index = int((floor_to(utc(minute), MINUTE) - first) / MINUTE)
        if 0 <= index < n:
            num[index] += float(a or 0)
            den[index] += float(b or 0)
    return num, den


def evaluate_metric(metric: VerificationMetric, counts: Iterable[MinuteCount | tuple],
                    soak_started_at: datetime, now: datetime) -> MetricSoak:
    """Judge one metric over the complete minutes between the soak start and `now`."""
    first = ceil_to(utc(soak_started_at), MINUTE)  # a minute straddling the start holds pre-fix traffic
    end = floor_to(utc(now), MINUTE)  # the current minute is still filling up
    n = max(0, int((end - first) / MINUTE))
    num, den = _dense_counts(counts, first, n)
    w = metric.window_minutes

    breaches: list[Breach] = []
    run_start = 0  # index of the first minute of the current unbroken run
    thin = 0
    current_value: float | None = None
    current_sample = 0
    currently_breaching = False
    open_breach: Breach | None = None
    win_num = win_den = 0.0
    for i in range(n):
        win_num += num[i]
        win_den += den[i]
        if i >= w:
            win_num -= num[i - w]
            win_den -= den[i - w]
        window_end = first + (i + 1) * MINUTE
        current_sample = int(round(win_den))
        if win_den < metric.min_samples or win_den <= 0:
            currently_breaching = False
            open_breach = None
            if i >= w - 1:
                # a full window too thin to judge: the run so far cannot count as verified
                thin += 1
                run_start = i + 1
            continue
        value = win_num / win_den
        current_value = value
        excess = metric.excess(value)
        if excess <= metric.noise_margin(win_den):
            # holds, or past the threshold by no more than noise explains: not a breach
            currently_breaching = False
            open_breach = None
            continue
        currently_breaching = True
        run_start = i + 1
        if open_breach is None:
            open_breach = Breach(metric=metric.key, first_at=window_end, last_at=window_end, worst_value=value,
                                 threshold=metric.judged_threshold, comparator=metric.comparator, excess=excess,
                                 sample_size=current_sample)
            breaches.append(open_breach)
        else:
            open_breach.last_at = window_end
            if excess > open_breach.excess:
                open_breach.worst_value, open_breach.excess = value, excess
                open_breach.sample_size = current_sample

    held = n - run_start
    held_since = first + run_start * MINUTE if n else first
    time_left = max(0, metric.soak_minutes - held)
    run_den = sum(den[run_start:n])
    run_value = sum(num[run_start:n]) / run_den if run_den > 0 else None
    # the whole run, pooled, must hold on the point estimate: staying just inside
    # the noise band for an hour is not a recovery
    run_holds = run_value is not None and run_den >= metric.min_samples and metric.holds(run_value)
    if held >= metric.soak_minutes and run_holds and run_value is not None:  # run_holds: it is set
        status: SoakStatus = "passed"
        note = f"held for {held} min (pooled {metric.value_text(run_value)}, n={int(run_den)})"
    elif held >= metric.soak_minutes and not currently_breaching:
        status = "soaking"
        pooled = ("no judged samples" if run_value is None
                  else f"pooled value {metric.value_text(run_value)} (n={int(run_den)})")
        note = (f"no breach for {held} min, but the {pooled} does not meet "
                f"{metric.comparator} {metric.judged_threshold:g}: not a pass")
    elif currently_breaching and current_value is not None:  # a breach is judged on a value
        status = "broken"
        note = (f"over the threshold now: {metric.value_text(current_value)} vs "
                f"{metric.comparator} {metric.judged_threshold:g}")
    else:
        status = "soaking"
        note = f"held for {held} of {metric.soak_minutes} min"
        if n and current_sample < metric.min_samples:
            note += (f"; latest window has only {current_sample} samples (needs {metric.min_samples}), "
                     "so it is not judged and the clock waits")
    return MetricSoak(
        metric=metric, status=status, held_since=held_since, held_minutes=held,
        time_left_minutes=time_left, progress=min(1.0, held / metric.soak_minutes),
        current_value=current_value, current_sample_size=current_sample,
        run_value=run_value, run_sample_size=int(run_den), breaches=breaches,
        thin_windows=thin, note=note,
    )


def evaluate_soak(verification_metrics: Sequence[VerificationMetric],
                  per_minute_counts: Mapping[str, Iterable[MinuteCount | tuple]],
                  soak_started_at: datetime | None, now: datetime) -> SoakEvaluation:
    """Judge every metric; `per_minute_counts` maps VerificationMetric.key to its minute counts.

    Passed only when every metric passed; broken when any metric is over its
    threshold in its latest judged window; otherwise soaking (progress is the
    slowest metric's).
    """
    now = utc(now)
    if soak_started_at is None or utc(soak_started_at) > now or not verification_metrics:
        return SoakEvaluation(status="not_started", started_at=soak_started_at and utc(soak_started_at),
                              now=now, progress=0.0,
                              time_left_minutes=max((m.soak_minutes for m in verification_metrics), default=0),
                              metrics=[])
    results = []
    for metric in verification_metrics:
        if metric.key not in per_minute_counts:
            raise KeyError(f"no per-minute counts for verification metric {metric.key!r}")
        results.append(evaluate_metric(metric, per_minute_counts[metric.key], soak_started_at, now))
    if all(r.status == "passed" for r in results):
        status: SoakStatus = "passed"
    elif any(r.status == "broken" for r in results):
        status = "broken"
    else:
        status = "soaking"
    return SoakEvaluation(
        status=status, started_at=utc(soak_started_at), now=now,
        progress=min(r.progress for r in results),
        time_left_minutes=max(r.time_left_minutes for r in results),
        metrics=results,
    )
