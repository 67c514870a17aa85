"""Impact of an incident, measured on the telemetry store (the I/O side of impact.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from dashboard.core.reporting.impact import (
    DELTA_SIGNALS,
    Impact,
    compute_impact,
    hour_before_window,
    previous_day_windows,
)
from dashboard.core.telemetry.query import Scope

IMPACT_BUCKET = timedelta(minutes=1)
MAX_BASELINE_DAYS = 7


def baseline_windows(store, start: datetime, end: datetime, method: str = "auto"
                     ) -> tuple[str, list[tuple[str, datetime, datetime]]]:
    """(label, named windows) for the baseline.

    "previous_days": the same clock minutes on each earlier day the data covers (up to a week);
    "hour_before": the hour before the regression start; "auto": previous days when there is at
    least one, else the hour before.
    """
    first, _, _ = store.time_range()
    if method not in ("auto", "previous_days", "hour_before"):
        raise ValueError(f"baseline must be auto, previous_days or hour_before, got {method!r}")
    if method in ("auto", "previous_days") and first is not None:
        days = [w for w in previous_day_windows(start, end, MAX_BASELINE_DAYS) if w[0] >= first]
        if days:
            label = ("same minutes on the previous day" if len(days) == 1
                     else f"same minutes on the previous {len(days)} days")
            return label, [(f"day-{i + 1}", a, b) for i, (a, b) in enumerate(days)]
        if method == "previous_days":
            raise ValueError("no earlier day in the data to compare with")
    a, b = hour_before_window(start)
    return "the hour before the regression started", [("hour-before", a, b)]


def distinct_users(store, start: datetime, end: datetime, filters: dict | None = None) -> int | None:
    """Distinct user ids in the window (within the store's DISTINCT_USERS_BOUND of the exact count:
    DuckDB merges the rollups' HyperLogLog); None when no request carries one."""
    row = store.run_sql("reporting_distinct_users", {}, Scope.of(start, end, filters)).row(0, named=True)
    return int(row["users"]) if row["requests_with_user"] else None


def measure_impact(store, *, start: datetime, end: datetime | None = None, filters: dict | None = None,
                   now: datetime | None = None, baseline: str = "auto") -> Impact:
    """Impact of [start, end) on the filtered traffic; `end` and `now` default to the data's clock."""
    now = now or store.now()
    if now is None:
        raise ValueError("no telemetry to measure impact on")
    end = min(end or now + timedelta(microseconds=1), now + timedelta(microseconds=1))
    label, windows = baseline_windows(store, start, end, baseline)
    base = store.window_totals(windows, filters=filters or None)
    frame = store.series(start, end, filters=filters or None, bucket=IMPACT_BUCKET)
    total = store.window_totals([("window", start, end)])
    requests_total = int(total["requests"].sum()) if not total.is_empty() else None
    return compute_impact(
        frame, base, start=start, end=end, now=now, filters={k: str(v) for k, v in (filters or {}).items()},
        requests_total=requests_total, users_affected=distinct_users(store, start, end, filters or None),
        users_bound=store.DISTINCT_USERS_BOUND,
        baseline_label=label, signals=tuple(n for n in DELTA_SIGNALS if n in set(store.signals())),
    )


def incident_window(state, now: datetime) -> tuple[datetime, datetime]:
    """Regression start (or detection, or opening) to the recorded end (or resolution, or now)."""
    start = state.window_start or state.detected_at or state.opened_at
    just_after_now = now + timedelta(microseconds=1)  # windows are [start, end): keep the newest row
    end = state.window_end or state.resolved_at or just_after_now
    return start, min(end, just_after_now)


def incident_impact(store, state, now: datetime | None = None, baseline: str = "auto") -> Impact:
    """Impact of an incident (an IncidentState) on its recorded segment."""
    now = now or store.now()
    start, end = incident_window(state, now)
    return measure_impact(store, start=start, end=end, filters=dict(state.segments) or None, now=now,
                          baseline=baseline)

