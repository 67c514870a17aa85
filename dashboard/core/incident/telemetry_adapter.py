"""From telemetry to what the incident logic judges: per-minute counts, baselines, "now".

`evaluate_soak` and `propose_verification` stay independent of the store;
this module is the only place in incident/ that reads telemetry, through the
TelemetryStore's `series` (per-bucket counts and sums).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import polars as pl

from dashboard.core.incident.soak import MinuteCount, SoakEvaluation, VerificationMetric, evaluate_soak
from dashboard.core.incident.state import IncidentState
from dashboard.core.incident.verification import propose_verification
from dashboard.core.telemetry import signals as sig
from dashboard.core.timeutil import MINUTE, utc

# Pooled signals (rates, means) are verified on their registry counts per minute.
# Percentiles (latency, tokens) do not pool, so they are verified on their own counts
# (requests above the limit, see queries/incident_slow_share.sql and
# VerificationMetric.judged_threshold).
POOLED_SIGNALS: tuple[str, ...] = tuple(s.name for s in sig.SIGNALS if s.pooled)
PERCENTILE_SIGNALS: tuple[str, ...] = tuple(
    s.name for s in sig.SIGNALS if s.kind == "quantile" and s.percentile is not None and s.measure is not None)
VERIFIABLE_SIGNALS: tuple[str, ...] = (*POOLED_SIGNALS, *PERCENTILE_SIGNALS)


def ratio_columns(signal: str) -> tuple[str, str]:
    """(numerator, denominator) count columns of a pooled signal."""
    spec = sig.BY_NAME.get(signal)
    if spec is None or not spec.pooled:
        raise ValueError(f"signal {signal!r} cannot be verified on pooled per-minute counts; "
                         f"use one of: {', '.join(POOLED_SIGNALS)}")
    return spec.numerator_column, spec.denominator_column


def check_verifiable(signal: str) -> str:
    if signal not in VERIFIABLE_SIGNALS:
        raise ValueError(f"signal {signal!r} cannot be a verification metric; "
                         f"use one of: {', '.join(VERIFIABLE_SIGNALS)}")
    return signal


def slow_counts(store, metric: VerificationMetric, start: datetime, end: datetime) -> list[MinuteCount]:
    """Per minute: requests above the metric's limit (latency, tokens), out of all requests carrying the measure."""
    from dashboard.core.telemetry.query import Scope

    origin = utc(start).replace(second=0, microsecond=0)
    frame = store.run_sql("incident_slow_share",
                          {"bucket_us": int(MINUTE.total_seconds() * 1_000_000), "origin": origin,
                           "measure": sig.get(metric.signal).measure, "limit": float(metric.threshold)},
                          Scope.of(origin, utc(end) + MINUTE, metric.segment or None))
    return [MinuteCount(utc(b), float(n or 0), float(d or 0))
            for b, n, d in frame.select("bucket", "slower", "requests").iter_rows()]


def minute_counts(frame: pl.DataFrame, signal: str) -> list[MinuteCount]:
    """(minute, numerator, denominator) per bucket of a `TelemetryStore.series` frame."""
    num_col, den_col = ratio_columns(signal)
    missing = [c for c in ("bucket", num_col, den_col) if c not in frame.columns]
    if missing:
        raise ValueError(f"series frame lacks column(s) {missing} needed for {signal}")
    rows = frame.select("bucket", pl.col(num_col).fill_null(0), pl.col(den_col).fill_null(0)).iter_rows()
    return [MinuteCount(utc(b), float(n), float(d)) for b, n, d in rows]


def telemetry_now(store) -> datetime:
    """The data's clock (newest telemetry timestamp); the wall clock when there is no telemetry."""
    newest = store.now() if store is not None else None
    return utc(newest) if newest is not None else datetime.now(UTC)


def soak_counts(store, metrics: Sequence[VerificationMetric], start: datetime,
                end: datetime) -> dict[str, list[MinuteCount]]:
    """Per-minute counts for every metric, one series query per distinct segment filter."""
    origin = utc(start).replace(second=0, microsecond=0)
    frames: dict[tuple, pl.DataFrame] = {}
    out: dict[str, list[MinuteCount]] = {}
    for metric in metrics:
        check_verifiable(metric.signal)  # refuse unsupported signals before querying
        if metric.quantile is not None:
            out[metric.key] = slow_counts(store, metric, start, end)
            continue
        seg = tuple(sorted(metric.segment.items()))
        if seg not in frames:
            frames[seg] = store.series(origin, utc(end) + MINUTE, filters=dict(seg) or None, bucket=MINUTE)
        out[metric.key] = minute_counts(frames[seg], metric.signal)
    return out


def evaluate_incident_soak(state: IncidentState, store, now: datetime | None = None) -> SoakEvaluation:
    """The incident's soak, judged on telemetry up to `now` (default: the data's clock)."""
    now = utc(now) if now is not None else telemetry_now(store)
    started = state.soak.started_at
    if started is None or not state.verification or now < started:
        return evaluate_soak(state.verification, {}, None, now)
    counts = soak_counts(store, state.verification, started, now)
    return evaluate_soak(state.verification, counts, started, now)


def pooled_values(store, signals: Sequence[str], start: datetime, end: datetime,
                  segment: dict[str, str] | None = None) -> dict[str, float]:
    """Each signal pooled over [start, end) on a segment (signals with no samples are left out)."""
    frame = store.window_totals([("w", utc(start), utc(end))], filters=segment or None)
    out: dict[str, float] = {}
    if frame.is_empty():
        return out
    row = frame.row(0, named=True)
    have = set(store.signals())  # a signal the store lacks has no baseline (it would read as 0)
    for signal in signals:
        if signal not in have:
            continue
        if signal in PERCENTILE_SIGNALS:  # over one whole-window bucket the percentile is exact
            if row.get(signal) is not None:
                out[signal] = float(row[signal])
            continue
        num_col, den_col = ratio_columns(signal)
        den = row.get(den_col) or 0
        if den:
            out[signal] = float(row.get(num_col) or 0) / float(den)
    return out


def propose_for_incident(state: IncidentState, store, baseline_hours: float = 3.0,
                         soak_minutes: int = 60) -> list[VerificationMetric]:
    """Default verification for an incident: its first signal on its segment, thresholds from the
    `baseline_hours` before the regression started."""
    key = next((s for s in state.signals if s in VERIFIABLE_SIGNALS), None) or "error_rate"
    # without a known regression start, step back an hour from detection so the
    # baseline is less likely to contain the regression itself
    start = state.window_start or (state.detected_at or state.opened_at) - timedelta(hours=1)
    signals = list(dict.fromkeys([key, "policy_violation_rate", "refusal_rate", "task_success_rate"]))
    baselines = pooled_values(store, signals, start - timedelta(hours=baseline_hours), start, state.segments)
    return propose_verification(key, baselines, state.segments, soak_minutes=soak_minutes)
