"""One call from a signal and a window to change points, ranked suspects and a rollback plan.

`investigate(store, signal, start, end, filters)` is what the root-cause page
and `warroom investigate` both call.

A tail percentile (p95, p99) is investigated on the percentile itself: every
step (detection, cohorts, exposure, rollback, segments) counts the requests
slower than the percentile's value before the change, a binomial count, so a
slowdown of the slowest requests that leaves the typical latency flat is found,
timed and localized. Its change points are reported in milliseconds of the
percentile on either side, with the share slower than that limit beside them.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from dashboard.core.diagnosis import data as D
from dashboard.core.diagnosis.attribute import Reader, attribute, rollback_plan
from dashboard.core.diagnosis.detect import ChangePoint, ReleaseMark, daily_baseline, find_change_points
from dashboard.core.diagnosis.evidence import Release
from dashboard.core.diagnosis.models import ChangePointResult, Investigation
from dashboard.core.diagnosis.segment_map import segment_map, windows_around
from dashboard.core.errors import WarroomError
from dashboard.core.telemetry import signals as sig
from dashboard.core.telemetry.query import Scope, TelemetryStore, choose_bucket
from dashboard.core.telemetry.release_timeline import release_timeline
from dashboard.core.timeutil import as_utc, utc

DEFAULT_WINDOW = timedelta(hours=6)
BASELINE_DAYS = 3
MAX_BUCKETS = 720
SEGMENT_WINDOW = timedelta(minutes=60)
MIN_RELATIVE = 0.05  # level changes under 5% are not reported, however significant


class InvestigationError(WarroomError, ValueError):
    """The question cannot be asked of this store (no requests, an empty window)."""


def load_releases(store: TelemetryStore, start: datetime, end: datetime) -> list[Release]:
    """Logged releases (at the time their version started serving) and inferred ones (release_timeline)."""
    frame = release_timeline(store, start, end)
    return [Release(utc(r["ts"]), r["artifact"], r["version"], r["previous_version"], r["scope"], r["note"] or "",
                    r["origin"], r["flag"])
            for r in frame.sort("ts").iter_rows(named=True)]


def describe(spec: sig.Signal, cp: ChangePoint) -> ChangePointResult:
    if spec.scale == "rate":
        mde_text = f"{100 * cp.mde:.2f} pts"
    elif cp.effect_label == "ratio":
        mde_text = f"{100 * (cp.mde - 1):.1f}%"
    else:
        mde_text = f"{cp.mde:.3g}"
    effect_text = spec.format_effect(cp.effect, cp.effect_label)
    if spec.scale == "rate":
        effect_text += f" [{100 * cp.effect_low:+.1f}, {100 * cp.effect_high:+.1f}]"
    elif cp.effect_label == "ratio":
        effect_text += f" [{100 * (cp.effect_low - 1):+.1f}%, {100 * (cp.effect_high - 1):+.1f}%]"
    if not math.isfinite(cp.minutes_to_detect):
        to_detect = "more traffic than this window holds"
    elif cp.minutes_to_detect < 1:
        to_detect = "under a minute"
    else:
        to_detect = f"about {cp.minutes_to_detect:.0f} min"
    detectability = (f"at {cp.per_minute:.0f} per minute, an hour of traffic detects a shift of {mde_text}; "
                     f"a shift of {spec.format_effect(cp.effect, cp.effect_label)} needs {to_detect} to be certain")
    return ChangePointResult(
        ts=datetime.fromisoformat(str(cp.ts)).replace(tzinfo=UTC), before=cp.before, after=cp.after,
        before_text=spec.format(cp.before), after_text=spec.format(cp.after), effect=cp.effect,
        effect_low=cp.effect_low, effect_high=cp.effect_high, effect_kind=cp.effect_label, effect_text=effect_text,
        p_value=cp.p_value, regression=cp.regression, aligned_release=cp.aligned_release, mde=cp.mde,
        minutes_to_detect=cp.minutes_to_detect if math.isfinite(cp.minutes_to_detect) else -1.0,
        detectability=detectability, notes=cp.notes)


def describe_tail(store: TelemetryStore, spec: sig.Signal, cp: ChangePoint, result: ChangePointResult,
                  filters: dict, limit: float) -> ChangePointResult:
    """A tail percentile's change in its own units either side, the share test it was found on beside it."""
    at = as_utc(cp.ts)
    before = D.window_quantile(store, spec, at - timedelta(minutes=cp.minutes_before), at, filters)
    after = D.window_quantile(store, spec, at, at + timedelta(minutes=cp.minutes_after), filters)
    nan = float("nan")
    return result.model_copy(update={
        "before": before if before is not None else nan, "after": after if after is not None else nan,
        "before_text": spec.format(before), "after_text": spec.format(after),
        "effect_text": (f"{cp.before:.1%} → {cp.after:.1%} of requests {spec.beyond(limit)} "
                        f"(the {spec.percentile_label} before the change): {result.effect_text}")})


def _described(store: TelemetryStore, spec: sig.Signal, points: list[ChangePoint], filters: dict,
               limit: float | None) -> tuple[list[ChangePoint], list[ChangePointResult]]:
    """The change points worth reporting, with their descriptions."""
    described = [describe(spec, cp) for cp in points]
    if limit is None:
        return points, described
    described = [describe_tail(store, spec, cp, r, filters, limit) for cp, r in zip(points, described, strict=True)]
    # the 5% floor on what is worth reporting applies to the percentile itself, not to the share
    kept = [n for n, r in enumerate(described) if _percentile_moved(r)]
    return [points[n] for n in kept], [described[n] for n in kept]


def _percentile_moved(result: ChangePointResult) -> bool:
    """Whether a tail percentile moved by at least MIN_RELATIVE in milliseconds (unknown sides count as moved)."""
    if not (math.isfinite(result.before) and math.isfinite(result.after)) or result.before <= 0:
        return True
    return abs(result.after / result.before - 1) >= MIN_RELATIVE


def make_reader(store: TelemetryStore, spec: sig.Signal, bucket: timedelta, window_end: datetime,
                limit: float | None = None) -> Reader:
    schema = store.schema

    def cohorts(column, a, b, filters):
        return D.load_cohorts(store, spec, column, a, b, filters, bucket, limit=limit)

    def exposure(column, version, a, b, filters):
        if b <= a or not schema.segments:
            return {}
        frame = D.load_exposure(store, column, list(schema.segments), a, b, filters)
        shares: dict[tuple[str, str], float] = {}
        for (dim, value), part in frame.group_by("dim", "value"):
            total = part["requests"].sum()
            served = part.filter(part["version"] == version)["requests"].sum()
            if total:
                shares[(dim, value)] = served / total
        return shares

    def segment_effects(at, filters):
        baseline, current = windows_around(at, window_end, int(SEGMENT_WINDOW.total_seconds() // 60))
        frame = segment_map(store, spec.name, baseline, current, filters, limit=limit)
        # attribution works on additive effects: points for rates, log ratios for log signals
        return {(r["dimension"], r["value"]): (math.log1p(r["change"]) if spec.scale == "log" else r["change"],
                                               r["z"]) for r in frame.iter_rows(named=True)}

    return Reader(cohorts, exposure, segment_effects, dict(schema.artifacts))


LOCALIZE_WINDOW = timedelta(minutes=60)


def localized_segments(store: TelemetryStore, spec: sig.Signal, start: datetime, end: datetime,
                       points: list[ChangePoint], filters: dict,
                       regressions: list[ChangePoint] | None = None) -> tuple[list[dict], list[str]]:
    """Which segments carry the regression: the hour before it against its worst stretch.

    `regressions` are the steps attribution explains (default: every bad-direction step).
    """
    if regressions is None:
        regressions = [cp for cp in points if cp.regression]
    if not regressions:
        return [], []
    latency = spec.localize == "slow_share"
    if spec.localize is None:
        return [], [f"segment localization works on counts; {spec.phrase} has none to localize"]
    from dashboard.core.diagnosis.localize import localize  # noqa: PLC0415

    first = utc(datetime.fromisoformat(str(regressions[0].ts)))
    last = utc(datetime.fromisoformat(str(regressions[-1].ts)))
    recoveries = [utc(datetime.fromisoformat(str(cp.ts))) for cp in points
                  if not cp.regression and utc(datetime.fromisoformat(str(cp.ts))) > last]
    cur_start = last + timedelta(minutes=3)
    cur_end = min([cur_start + LOCALIZE_WINDOW, end, *recoveries])
    base_start = max(start, first - LOCALIZE_WINDOW)
    if cur_end <= cur_start or first <= base_start:
        return [], ["too little data on one side of the change to localize it"]
    dims = list(store.schema.segments)
    if not dims:
        return [], ["this data declares no segments, so there is nothing to localize the change in"]
    windows = [("baseline", base_start, first), ("current", cur_start, cur_end)]
    if latency:
        # a latency (or token-tail) regression localized as the share of requests above the baseline's p95
        # (a tail percentile: above its own baseline value, so a p99 change is sought in the p99's tail)
        threshold = D.window_quantile(store, spec, base_start, first, filters, q=spec.quantile or 0.95) or 0.0
        num, den = "slow", "requests"
        leaves = store.run_sql("diagnosis_slow_leaves", {"dims": dims, "measure": spec.measure, "threshold": threshold},
                               Scope.of(base_start, cur_end, filters, windows=windows))
    else:
        num, den = spec.numerator_column, spec.denominator_column
        leaves = store.segment_leaves(windows, dims, filters)
    if leaves.height == 0:
        return [], []
    wide = (leaves.group_by([*dims, "grp"]).agg(pl.col(num).cast(pl.Float64).sum().alias("num"),
                                                  pl.col(den).cast(pl.Float64).sum().alias("den"))
            .pivot(on="grp", index=dims, values=["num", "den"]).fill_null(0.0))
    for col in ("num_current", "den_current", "num_baseline", "den_baseline"):
        if col not in wide.columns:
            wide = wide.with_columns(pl.lit(0.0).alias(col))
    frame = wide.select(*dims, pl.col("num_current").alias("real_num"), pl.col("den_current").alias("real_den"),
                        pl.col("num_baseline").alias("predict_num"), pl.col("den_baseline").alias("predict_den"))
    causes = localize(frame, dims, kind="ratio")
    rows = []
    for c in causes:
        row = c.to_json_dict()
        row["baseline_window"] = [base_start.isoformat(), first.isoformat()]
        row["current_window"] = [cur_start.isoformat(), cur_end.isoformat()]
        rows.append(row)
    return rows, []


def _tail_limit(store: TelemetryStore, spec: sig.Signal, start: datetime, end: datetime,
                filters: dict) -> float:
    """The percentile over the window; 0 when no request in it carries the measure (every count is 0 then)."""
    limit = D.window_quantile(store, spec, start, end, filters)
    return 0.0 if limit is None else limit


def investigate(store: TelemetryStore, signal: str, start: datetime | None = None, end: datetime | None = None,
                filters: dict | None = None, baseline_days: int = BASELINE_DAYS,
                with_segments: bool = True) -> Investigation:
    spec = D.signal_spec(signal)
    first, last, _ = store.time_range()
    if last is None:
        raise InvestigationError("the store holds no requests")
    end = utc(end) if end else utc(last) + timedelta(microseconds=1)
    start = utc(start) if start else end - DEFAULT_WINDOW
    if end <= start:
        raise InvestigationError(f"the window is empty: start {start.isoformat()} is not before end {end.isoformat()}")
    bucket = choose_bucket(start, end, MAX_BUCKETS)
    filters = {k: (v,) if isinstance(v, str) else tuple(v) for k, v in (filters or {}).items()}
    releases = load_releases(store, start - timedelta(hours=12), end)
    marks = [ReleaseMark(np.datetime64(r.ts.replace(tzinfo=None), "us"), f"{r.artifact} {r.version}")
             for r in releases if start <= r.ts < end]
    # a tail percentile is counted against the window's value first, then against its value
    # before the first regression found, so "slower than the baseline p95" means what it says
    limit = _tail_limit(store, spec, start, end, filters) if spec.tail else None
    series, baseline, points = _detect(store, spec, start, end, filters, bucket, baseline_days, first, marks, limit)
    bad = [cp for cp in points if cp.regression]
    if limit is not None and bad:
        before = D.window_quantile(store, spec, start, as_utc(bad[0].ts), filters)
        if before is not None:
            limit = before
            series, baseline, points = _detect(store, spec, start, end, filters, bucket, baseline_days, first,
                                               marks, limit)
    points, described = _described(store, spec, points, filters, limit)
    reader = make_reader(store, spec, bucket, end, limit)
    suspects, cleared, verdict, reg = attribute(spec, series, points, releases, reader, filters)
    # a change placed at a release that its own cohort contrast then clears was only near it:
    # place it again without that release, so its time is where the data puts it
    disowned = {f"{s.artifact} {s.version}" for s in cleared
                if any(e.kind == "cohort" and e.score <= -0.5 for e in s.evidence)}
    if disowned & {cp.aligned_release for cp in points}:
        marks = [m for m in marks if m.label not in disowned]
        points = find_change_points(series, marks, baseline, direction=spec.direction, min_relative=MIN_RELATIVE)
        points, described = _described(store, spec, points, filters, limit)
        suspects, cleared, verdict, reg = attribute(spec, series, points, releases, reader, filters)
    plan = rollback_plan(spec, suspects, releases, reg)
    notes = []
    if baseline is None:
        notes.append("no earlier days at the same clock times: compared within the window only")
    if limit:
        notes.append(f"{spec.phrase} is tested on the percentile itself: the share of requests "
                     f"{spec.beyond(limit)} (its {spec.percentile_label} before the change), a binomial count")
    segments: list[dict] = []
    if with_segments and reg is not None:
        segments, seg_notes = localized_segments(store, spec, start, end, points, filters, reg.points)
        notes += seg_notes
    return Investigation(
        signal=spec.name, signal_label=spec.phrase, start=start, end=end,
        filters={k: list(v) for k, v in filters.items()}, bucket_minutes=bucket.total_seconds() / 60,
        baseline_days=baseline.days if baseline else 0, change_points=described,
        suspects=suspects, ruled_out=cleared, verdict=verdict, rollback_plan=plan, segments=segments, notes=notes)


def _detect(store: TelemetryStore, spec: sig.Signal, start: datetime, end: datetime, filters: dict,
            bucket: timedelta, baseline_days: int, first: datetime | None, marks: list[ReleaseMark],
            limit: float | None):
    """(series, daily baseline or None, change points) of the signal over the window."""
    series = D.load_series(store, spec, start, end, filters, bucket, limit=limit)
    # the same clock minutes on earlier days only make a baseline for windows shorter than a day
    history = D.load_history(store, spec, start, end, filters, bucket, baseline_days, first, limit=limit) \
        if end - start <= timedelta(days=1) else []
    baseline = daily_baseline(series, history) if history else None
    points = find_change_points(series, marks, baseline, direction=spec.direction, min_relative=MIN_RELATIVE)
    return series, baseline, points
