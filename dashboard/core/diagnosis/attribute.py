"""Rank the releases that could explain a regression, and plan the rollback.

Every release in the window is a candidate, whatever its artifact kind. Each
gets four pieces of evidence (timing, same-minute cohort contrast, segment
exposure, rollback response); a release is blamed only when timing fits and at
least one independent piece backs it, and nothing clears it. Blamed releases
are ranked by confidence weighted by how much of the regression their own
measured effect accounts for, which is what orders two real causes (the
demo's prompt before its index).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from dashboard.core.diagnosis.detect import BucketSeries, ChangePoint
from dashboard.core.diagnosis.evidence import (
    MAX_LAG_MIN,
    Regression,
    Release,
    cohort_contrast,
    cohort_evidence,
    effect_units,
    exposure_evidence,
    hhmm,
    release_log_evidence,
    rollback_evidence,
    timing_evidence,
)
from dashboard.core.diagnosis.models import Evidence, RollbackStep, Suspect, suspect_brief
from dashboard.core.telemetry.signals import Signal
from dashboard.core.timeutil import as_utc

COHORT_HORIZON = timedelta(hours=3)
ROLLBACK_WINDOW = timedelta(minutes=30)
RAMP_SETTLE = timedelta(minutes=5)
EXPOSURE_WINDOW = timedelta(minutes=60)
START_TOLERANCE = 0.05  # "back where the window started": within 5% of that level (the smallest shift reported)


@dataclass
class Reader:
    """How attribution reads more data; a thin layer over the store so tests can use real data."""

    cohorts: Callable[[str, datetime, datetime, dict], dict[str, BucketSeries]]
    exposure: Callable[[str, str, datetime, datetime, dict], dict[tuple[str, str], float]]
    segment_effects: Callable[[datetime, dict], dict[tuple[str, str], tuple[float, float]]]
    artifact_columns: dict[str, str]


def summarize_regression(spec: Signal, series: BucketSeries, points: list[ChangePoint]) -> Regression | None:
    # a move in the bad direction that only returns the signal to where the window started
    # (e.g. undoing an improvement) is not a regression to explain
    start_level = points[0].before if points else float("nan")
    regressions = [cp for cp in points if cp.regression
                   and not (math.isfinite(start_level)
                            and (cp.after - start_level) * spec.direction <= START_TOLERANCE * abs(start_level))]
    if not regressions:
        return None
    total = sum(abs(effect_units(cp)) for cp in regressions)
    first = regressions[0]
    peak = max((cp.after for cp in regressions), key=lambda v: v * spec.direction)
    return Regression(spec, regressions, total, first.before, peak, [cp for cp in points if not cp.regression])


def merge_filters(filters: dict | None, extra: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    out = {k: (v,) if isinstance(v, str) else tuple(v) for k, v in (filters or {}).items()}
    for k, v in extra.items():
        out[k] = tuple(x for x in out[k] if x in v) if k in out else v
    return out


def _pool(series: BucketSeries, a: datetime, b: datetime) -> tuple[float, float, float] | None:
    lo = int(np.searchsorted(series.ts, np.datetime64(a.replace(tzinfo=None), "us")))
    hi = int(np.searchsorted(series.ts, np.datetime64(b.replace(tzinfo=None), "us")))
    if hi <= lo:
        return None
    if series.kind == "rate":
        return float(series.count[lo:hi].sum()), float(series.value[lo:hi].sum()), 0.0
    from dashboard.core.stats import pool_log_stats
    return pool_log_stats(series.count[lo:hi], series.value[lo:hi], series.variances[lo:hi])


def find_rollback(release: Release, releases: list[Release]) -> Release | None:
    for later in releases:
        if later.artifact == release.artifact and as_utc(later.ts) > as_utc(release.ts):
            if later.version == release.previous_version or later.previous_version == release.version:
                return later if later.version != release.version else None
            return None  # a newer forward release replaced it first
    return None


def _next_same_artifact(release: Release, releases: list[Release]) -> datetime | None:
    later = [as_utc(r.ts) for r in releases
             if r.artifact == release.artifact and as_utc(r.ts) > as_utc(release.ts)]
    return min(later) if later else None


def evaluate_release(release: Release, releases: list[Release], reg: Regression, series: BucketSeries,
                     points: list[ChangePoint], reader: Reader, filters: dict | None) -> Suspect:
    spec = reg.spec
    end = as_utc(series.ts[-1]) + timedelta(minutes=series.bucket_minutes)
    evidence: list[Evidence] = [timing_evidence(release, reg, points, series.bucket_minutes)]

    # cohort: the new and the old version in the same minutes (within the rollout scope)
    column = reader.artifact_columns.get(release.artifact)
    scope = release.scope_filters()
    cohort_filters = merge_filters(filters, scope)
    stop = min(x for x in (_next_same_artifact(release, releases), as_utc(release.ts) + COHORT_HORIZON, end)
               if x is not None)
    new_share = None
    contrast = None
    if column is None:
        evidence.append(Evidence(kind="cohort", score=0.0,
                                 text=f"requests carry no {release.artifact} version, so no cohort contrast",
                                 numbers={"available": False}))
    else:
        cohorts = reader.cohorts(column, as_utc(release.ts), stop, cohort_filters)
        new, old = cohorts.get(release.version), cohorts.get(release.previous_version or "")
        contrast = cohort_contrast(spec, new, old)
        where = f"{hhmm(release.ts)}–{hhmm(stop)}" + (f", {release.scope}" if release.scope else "")
        evidence.append(cohort_evidence(release, reg, contrast, where, _aligned_size(evidence[0], reg)))
        if new is not None:
            settled = _pool(new, as_utc(release.ts) + RAMP_SETTLE, stop)
            overall = _pool(series, as_utc(release.ts) + RAMP_SETTLE, stop)
            if settled and overall and overall[0] > 0:
                new_share = min(1.0, settled[0] / overall[0])

    # exposure: only informative when the version reached some segments and not others
    if column is not None:
        shares = reader.exposure(column, release.version, as_utc(release.ts) + RAMP_SETTLE,
                                 min(as_utc(release.ts) + RAMP_SETTLE + EXPOSURE_WINDOW, stop),
                                 filters or {})
        partial = any(s <= 0.05 for s in shares.values())
        effects = reader.segment_effects(_change_time(evidence[0], release), filters or {}) if partial else {}
        evidence.append(exposure_evidence(release, reg, shares, effects))

    # rollback response
    rollback = find_rollback(release, releases)
    before = after = None
    if rollback is not None:
        rts = as_utc(rollback.ts)
        before = _pool(series, max(rts - ROLLBACK_WINDOW, as_utc(release.ts) + RAMP_SETTLE), rts)
        after = _pool(series, rts + RAMP_SETTLE, min(rts + RAMP_SETTLE + ROLLBACK_WINDOW, end))
    rb_ev, _, _ = rollback_evidence(release, rollback, reg, before, after)
    evidence.append(rb_ev)
    logged = release_log_evidence(release)
    if logged is not None:
        evidence.append(logged)

    return _combine(release, evidence, reg, contrast, new_share)


def _aligned_size(timing: Evidence, reg: Regression) -> float | None:
    """Size of the regression step the release lines up with, in effect units."""
    at = timing.numbers.get("change_at")
    for cp in reg.points:
        if at and as_utc(cp.ts).isoformat() == at:
            return abs(effect_units(cp))
    return None


def _change_time(timing: Evidence, release: Release) -> datetime:
    at = timing.numbers.get("change_at")
    return datetime.fromisoformat(at) if at else as_utc(release.ts)


def _combine(release: Release, evidence: list[Evidence], reg: Regression, contrast, new_share) -> Suspect:
    by = {e.kind: e for e in evidence}
    t, c, e, r = (by[k].score if k in by else 0.0 for k in ("timing", "cohort", "exposure", "rollback"))
    cohort_known = bool(by.get("cohort") and by["cohort"].numbers.get("available")) and c != 0.0
    if cohort_known:
        confidence = 0.25 * t + 0.45 * c + 0.15 * e + 0.15 * r
    else:
        confidence = 0.5 * t + 0.3 * r + 0.2 * e
    blamed = (t >= 0.3 and c > -0.5 and e > -0.5 and r > -0.5
              and (c > 0.25 or (not cohort_known and (r > 0.25 or e > 0.25 or t >= 0.8))))
    # timing alone (no cohort, no rollback, no exposure) is the weakest case: it can make a
    # release a suspect but not outrank one whose own effect was measured
    timing_only = blamed and not cohort_known and r <= 0.25 and e <= 0.25
    if timing_only:
        confidence = min(confidence, 0.3)
    confidence = max(0.0, min(1.0, confidence)) if blamed else 0.0
    expected = None
    if contrast is not None and c > 0.25:
        share = new_share if new_share is not None else 1.0
        expected = abs(contrast.effect) * share
    elif blamed and r > 0.25:  # its effect as measured by its rollback
        numbers = by["rollback"].numbers
        before, after = numbers.get("before"), numbers.get("after")
        if before and after and before > 0 and after > 0:
            expected = abs(math.log(before / after)) if reg.spec.scale == "log" else abs(before - after)
    explained = min(1.0, expected / reg.total) if (expected is not None and reg.total > 0) else 0.0
    score = confidence * (0.5 + 0.5 * explained)
    return Suspect(artifact=release.artifact, version=release.version, previous_version=release.previous_version,
                   released_at=as_utc(release.ts), scope=release.scope, score=round(score, 4),
                   confidence=round(confidence, 4), explained_share=round(explained, 4),
                   expected_effect=expected, evidence=evidence)


def attribute(spec: Signal, series: BucketSeries, points: list[ChangePoint], releases: list[Release],
              reader: Reader, filters: dict | None = None,
              ) -> tuple[list[Suspect], list[Suspect], str, Regression | None]:
    """(blamed suspects best first, releases considered and cleared, verdict, the regression)."""
    reg = summarize_regression(spec, series, points)
    if reg is None:
        bad = [cp for cp in points if cp.regression]
        if bad:
            return [], [], (f"{spec.phrase} moved the bad way at {', '.join(hhmm(cp.ts) for cp in bad)} but only "
                            f"back to where the window started ({spec.format_level(points[0].before)}): "
                            f"no regression to explain"), None
        return [], [], f"no regression of {spec.phrase} in this window", None
    first = as_utc(series.ts[0])
    last_regression = max(as_utc(cp.ts) for cp in reg.points)
    # releases up to MAX_LAG after the last regression step are shown too, cleared with the reason
    candidates = [r for r in releases
                  if first <= as_utc(r.ts) <= last_regression + timedelta(minutes=MAX_LAG_MIN)]
    evaluated = [evaluate_release(r, releases, reg, series, points, reader, filters) for r in candidates]
    blamed = sorted([s for s in evaluated if s.score > 0], key=lambda s: -s.score)
    cleared = [s for s in evaluated if s.score <= 0]
    if not blamed:
        verdict = (f"No release explains this: {spec.phrase} regressed at "
                   f"{', '.join(hhmm(cp.ts) for cp in reg.points)} and "
                   + (f"none of the {len(candidates)} releases in the window fits the evidence"
                      if candidates else "no release happened in the window"))
    else:
        top = blamed[0]
        verdict = (f"{top.artifact} {top.version} is the most likely cause "
                   f"({suspect_brief(top.score, top.explained_share, top.expected_effect is not None)})")
        if len(blamed) > 1:
            verdict += "; also " + ", ".join(f"{s.artifact} {s.version} (score {s.score:.2f} of 1)"
                                             for s in blamed[1:])
    return blamed, cleared, verdict, reg


def rollback_plan(spec: Signal, suspects: list[Suspect], releases: list[Release],
                  reg: Regression | None) -> list[RollbackStep]:
    """Roll back the suspects in rank order, each to its last-known-good version.

    The expected level after each step removes that suspect's measured effect
    from the peak level; a step already taken in the window is marked done.
    """
    if reg is None or not suspects:
        return []
    steps: list[RollbackStep] = []
    level = reg.peak_level
    # measured effects are noisy and need not add up: scale them to the regression actually seen;
    # suspects without a measured effect share what the measured ones leave unexplained
    claimed = sum(s.expected_effect or 0.0 for s in suspects)
    scale = min(1.0, reg.total / claimed) if claimed > 0 else 1.0
    unmeasured = [s for s in suspects if s.expected_effect is None]
    remainder = max(reg.total - claimed * scale, 0.0) / len(unmeasured) if unmeasured else 0.0
    previous = {(x.artifact, x.version): x.previous_version for x in suspects}
    for order, s in enumerate(suspects, start=1):
        good = s.previous_version or "previous version"
        seen = set()
        while (s.artifact, good) in previous and good not in seen:  # skip versions that are suspects too
            seen.add(good)
            good = previous[(s.artifact, good)] or good
        measured = s.expected_effect is not None
        delta = s.expected_effect * scale if s.expected_effect is not None else remainder
        if spec.scale == "log":
            level = level / math.exp(delta) if spec.direction > 0 else level * math.exp(delta)
        else:
            level = level - delta * spec.direction
        # never promise better than the pre-regression level
        level = min(level, reg.baseline_level) if spec.direction < 0 else max(level, reg.baseline_level)
        how = "its measured effect" if measured else "the part of the regression no measured suspect explains"
        expected_text = f"{spec.phrase} expected to return to about {spec.format_level(level)} (removing {how})"
        rb = next((e for e in s.evidence if e.kind == "rollback" and e.numbers.get("rolled_back_at")), None)
        status = f"done at {hhmm(rb.numbers['rolled_back_at'])}" if rb else "to do"
        observed = rb.text if rb else None
        steps.append(RollbackStep(order=order, artifact=s.artifact, from_version=s.version, to_version=good,
                                  expected_level=level,
                                  expected_text=expected_text + f"; baseline {spec.format_level(reg.baseline_level)}",
                                  status=status, observed_text=observed))
    return steps
