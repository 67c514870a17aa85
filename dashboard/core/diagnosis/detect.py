"""Change detection on a signal's per-bucket aggregates.

Two families, both on sufficient statistics rather than per-bucket ratios:
- rate signals: events out of trials per bucket; the split statistic is the
  binomial likelihood ratio computed from cumulative counts;
- log-scale signals (latency, cost, tokens) and plain means (quality score):
  count, mean and variance per bucket; the split statistic is the reduction in
  the sum of squares of a two-level mean.

A daily-cycle baseline (the same minutes on previous days) is removed first, so
a level that is normal for the time of day does not look like a change. Known
release times are tried before a free search, so a change that lines up with a
release is placed at the release rather than a bucket or two later where noise
happens to peak. Binary segmentation then finds further changes (a second
release, the recovery after a rollback).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as sps

from dashboard.core import stats
from dashboard.core.diagnosis.series import (  # noqa: F401  (re-exported: callers build series here)
    Baseline,
    BucketSeries,
    SeriesKind,
    daily_baseline,
    deseasonalize,
)

TRIM = 0.98
# E[X | X below its 98th percentile] for X ~ chi-square(1): E[X; X < q] = F_chi2(3)(q)
_TRIMMED_CHI2_MEAN = float(sps.chi2.cdf(sps.chi2.ppf(TRIM, 1), 3) / TRIM)


@dataclass
class ChangePoint:
    ts: np.datetime64
    index: int
    before: float                       # level on the stretch before (rate or geometric mean)
    after: float
    effect: float                       # rate: after - before; log: after / before; mean: after - before
    effect_low: float
    effect_high: float
    effect_label: str                   # "difference" or "ratio"
    p_value: float
    statistic: float                    # chi-square(1) of the split, dispersion-adjusted
    aligned_release: str | None         # "prompt prompt-v7" when placed at a release time
    regression: bool                    # moved in the signal's bad direction
    minutes_before: float
    minutes_after: float
    per_minute: float                   # traffic (trials or observations) per minute after it
    mde: float                          # smallest shift detectable with an hour of that traffic
    minutes_to_detect: float            # traffic time needed to be sure of a shift this size
    notes: list[str] = field(default_factory=list)


def split_statistics(series: BucketSeries, lo: int, hi: int, min_buckets: int) -> np.ndarray:
    """Dispersion-adjusted chi-square statistic of every split of buckets [lo, hi).

    Entry j is the split at bucket lo + j (j = 0 .. hi - lo); -inf where a side is
    shorter than `min_buckets`.
    """
    n = series.count[lo:hi]
    v = series.value[lo:hi]
    if series.kind == "rate":
        llr = stats.binomial_split_scan(v, n, min_trials=1.0)
        stat = 2 * llr
    else:
        gain, _ = stats.gaussian_split_scan(n, v, series.variances[lo:hi])
        stat = gain / _within_variance(n, series.variances[lo:hi])
    j = np.arange(hi - lo + 1)
    stat = np.where((j >= min_buckets) & (hi - lo - j >= min_buckets), stat, -np.inf)
    return stat / robust_dispersion(series, lo, hi)


def _within_variance(n: np.ndarray, var: np.ndarray) -> float:
    dof = np.maximum(n - 1, 0)
    total = dof.sum()
    value = float((dof * np.nan_to_num(var)).sum() / total) if total > 0 else 1.0
    return value if value > 0 else 1.0


def robust_dispersion(series: BucketSeries, lo: int, hi: int) -> float:
    """How much noisier than chance the buckets are (>= 1), unmoved by level shifts.

    From first differences of standardized bucket deviations: a step changes
    one difference, noise changes all of them. Half the squared differences are
    chi-square(1) under pure noise; their mean with the largest 2% trimmed away
    (where steps land), divided by what trimming leaves of a chi-square(1) mean,
    estimates the noise alone. A mean, not a median, because counts are too
    discrete for a median of small numbers to be unbiased.
    """
    n = series.count[lo:hi]
    keep = n > (0 if series.kind == "rate" else 1)
    if keep.sum() < 6:
        return 1.0
    n = n[keep]
    if series.kind == "rate":
        x = series.value[lo:hi][keep]
        p = x.sum() / n.sum()
        if not 0 < p < 1:
            return 1.0
        z = (x - n * p) / np.sqrt(n * p * (1 - p))
    else:
        m = series.value[lo:hi][keep]
        within = _within_variance(n, series.variances[lo:hi][keep])
        z = (m - np.average(m, weights=n)) / np.sqrt(within / n)
    half_sq = np.diff(z) ** 2 / 2  # chi-square(1) under pure noise
    keep = half_sq <= np.quantile(half_sq, TRIM)
    return max(1.0, float(half_sq[keep].mean()) / _TRIMMED_CHI2_MEAN)


@dataclass(frozen=True)
class ReleaseMark:
    ts: np.datetime64
    label: str


def _best_split(series: BucketSeries, lo: int, hi: int, releases: list[tuple[int, str]],
                min_buckets: int, alpha: float, location_slack: float, align_buckets: int = 0,
                ) -> tuple[int, float, float, str | None] | None:
    stat = split_statistics(series, lo, hi, min_buckets)
    if not np.isfinite(stat).any():
        return None
    j_free = int(np.argmax(stat))
    free_stat = float(stat[j_free])
    inside = [(i, label) for i, label in releases if lo < i < hi and np.isfinite(stat[i - lo])]
    if inside:
        i_rel, label = max(inside, key=lambda r: stat[r[0] - lo])
        rel_stat = float(stat[i_rel - lo])
        p_rel = stats.chi2_pvalue(rel_stat, tests=len(inside))
        # keep the release split when it is significant and its fit is statistically
        # indistinguishable from the best free split (within a likelihood-ratio slack)
        # the free optimum sits inside the release's rollout, or just before it where a
        # short run of noise can pull a sparse rate's optimum
        ramping = -align_buckets * 1.5 <= lo + j_free - i_rel <= align_buckets
        if p_rel < alpha and (free_stat - rel_stat <= location_slack or ramping):
            return i_rel, rel_stat, p_rel, label
    p_free = stats.chi2_pvalue(free_stat, tests=hi - lo - 2 * min_buckets + 1)
    if p_free < alpha:
        return lo + j_free, free_stat, p_free, None
    return None


def find_change_points(series: BucketSeries, releases: list[ReleaseMark] | None = None,
                       baseline: Baseline | None = None, direction: int = 1, alpha: float = 1e-3,
                       max_changes: int = 6, min_buckets: int = 3, location_slack: float = 8.0,
                       min_relative: float = 0.0, merge_minutes: float = 10.0) -> list[ChangePoint]:
    """Change points of `series`, oldest first.

    `direction` is +1 when up is bad (refusals, latency), -1 when down is bad
    (task success). `min_relative` drops changes whose level moves by less
    than that fraction (0.05 = 5%) however significant they are: at high
    traffic a statistically certain 1% shift is rarely worth an investigation.
    A step that continues the previous one in the same direction within
    `merge_minutes` (a rollout ramping up) is folded into it, unless it sits at
    a release of its own.
    """
    adjusted = deseasonalize(series, baseline)
    marks = []
    for r in releases or []:
        i = int(np.searchsorted(series.ts, r.ts.astype("datetime64[us]"), side="left"))
        if 0 < i < len(series):
            marks.append((i, r.label))
    found: dict[int, tuple[float, float, str | None]] = {}
    stack = [(0, len(series))]
    while stack and len(found) < max_changes:
        # split the stretch whose best split is strongest first
        candidates = []
        for lo, hi in stack:
            best = _best_split(adjusted, lo, hi, marks, min_buckets, alpha, location_slack,
                               align_buckets=max(0, round(merge_minutes / series.bucket_minutes)))
            if best:
                candidates.append((best[1], lo, hi, best))
        if not candidates:
            break
        candidates.sort(key=lambda c: -c[0])
        _, lo, hi, (k, stat, p, label) = candidates[0]
        stack.remove((lo, hi))
        found[k] = (stat, p, label)
        stack += [(lo, k), (k, hi)]
    align = max(0, round(merge_minutes / series.bucket_minutes))
    cuts = _snap_to_releases(adjusted, sorted(found), found, marks, align, alpha)
    cuts = _prune(adjusted, cuts, found, alpha, min_buckets, align)
    cuts = _merge_ramps(adjusted, cuts, found, merge_buckets=max(1, round(merge_minutes / series.bucket_minutes)))
    while True:
        points = []
        for n, k in enumerate(cuts):
            lo = cuts[n - 1] if n > 0 else 0
            hi = cuts[n + 1] if n + 1 < len(cuts) else len(series)
            points.append(describe_change(series, adjusted, lo, k, hi, *found[k], direction=direction))
        small = [(abs(cp.after - cp.before) / max(abs(cp.before), 1e-12), n) for n, cp in enumerate(points)]
        small = [x for x in small if x[0] < min_relative]
        if not small:
            return points
        del cuts[min(small)[1]]  # drop the smallest, then re-describe its neighbours


def _snap_to_releases(series: BucketSeries, cuts: list[int], found: dict, marks: list[tuple[int, str]],
                      align: int, alpha: float) -> list[int]:
    """Move a free cut onto a release just after it (or into it) when the release split holds.

    With sparse events a short run of noise can pull the optimum a few minutes
    ahead of the release that really caused the change.
    """
    out = list(cuts)
    for k in cuts:
        if found[k][2] is not None or k not in out:
            continue
        near = [(i, label) for i, label in marks if -align <= k - i <= 0 or 0 <= k - i <= align]
        near.sort(key=lambda m: abs(m[0] - k))
        for i, label in near:
            if i in out:
                out.remove(k)
                break
            pos = sorted(out)
            n = pos.index(k)
            lo = pos[n - 1] if n > 0 else 0
            hi = pos[n + 1] if n + 1 < len(pos) else len(series)
            if not lo < i < hi:
                continue
            stat = split_statistics(series, lo, hi, 1)
            value = float(stat[i - lo]) if np.isfinite(stat[i - lo]) else 0.0
            if stats.chi2_pvalue(value, tests=len(near)) < alpha:
                out.remove(k)
                out.append(i)
                found[i] = (value, stats.chi2_pvalue(value, tests=len(near)), label)
                break
    return sorted(out)


def _prune(series: BucketSeries, cuts: list[int], found: dict, alpha: float, min_buckets: int,
           align: int = 0) -> list[int]:
    """Re-test every cut against its neighbours only; drop the weakest that no longer holds.

    A split made early in the segmentation (e.g. at a release hours before the
    real change) can look significant only because the later change sits on one
    side; once the later change has its own cut, the early one must stand alone.
    When the stretch before a cut is short (a rollout may still be ramping in
    it), only its second half is compared, so the tail of a ramp does not pass
    for a second change at the next release.
    """
    while cuts:
        bounds = [0, *cuts, len(series)]
        weakest, weakest_p = None, alpha
        for n, k in enumerate(cuts):
            lo, hi = bounds[n], bounds[n + 2]
            if n > 0 and k - lo <= 2 * align:
                lo = lo + (k - lo) // 2
            stat = split_statistics(series, lo, hi, 1)
            value = float(stat[k - lo]) if np.isfinite(stat[k - lo]) else 0.0
            p = stats.chi2_pvalue(value, tests=1 if found[k][2] else max(hi - lo - 2 * min_buckets + 1, 1))
            if p >= weakest_p:
                weakest, weakest_p = n, p
        if weakest is None:
            return cuts
        del cuts[weakest]
    return cuts


def _merge_ramps(series: BucketSeries, cuts: list[int], found: dict, merge_buckets: int) -> list[int]:
    """Drop a cut that continues the previous cut's move within `merge_buckets` (a ramp)."""
    changed = True
    while changed and len(cuts) > 1:
        changed = False
        bounds = [0, *cuts, len(series)]
        levels = [series.level(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]
        for n in range(1, len(cuts)):
            close = cuts[n] - cuts[n - 1] <= merge_buckets
            same_way = (levels[n] - levels[n - 1]) * (levels[n + 1] - levels[n]) > 0
            if close and same_way and found[cuts[n]][2] is None:
                del cuts[n]
                changed = True
                break
    return cuts


def describe_change(series: BucketSeries, adjusted: BucketSeries, lo: int, k: int, hi: int,
                    statistic: float, p_value: float, label: str | None, direction: int) -> ChangePoint:
    """Levels, effect with interval, and detectable-effect figures around a split at k."""
    minutes_before = (k - lo) * series.bucket_minutes
    minutes_after = (hi - k) * series.bucket_minutes
    per_minute = float(series.count[k:hi].sum() / max(minutes_after, 1e-9))
    notes: list[str] = []
    if series.kind == "rate":
        xa, na = adjusted.value[lo:k].sum(), series.count[lo:k].sum()
        xb, nb = adjusted.value[k:hi].sum(), series.count[k:hi].sum()
        c = stats.two_proportion_test(xa, na, xb, nb)
        before, after = series.level(lo, k), series.level(k, hi)
        effect, low, high, effect_label = c.diff, c.ci_low, c.ci_high, "difference"
        p0 = min(max(before, 1e-6), 1 - 1e-6)
        mde = stats.rate_mde(p0, per_minute, 60.0)
        shift = max(min(abs(effect), 0.999 - p0), 1e-9)
        to_detect = stats.rate_time_to_detect(p0, shift, per_minute) if 0 < p0 + shift < 1 else math.inf
    else:
        na, ma, va = stats.pool_log_stats(series.count[lo:k], adjusted.value[lo:k], series.variances[lo:k])
        nb, mb, vb = stats.pool_log_stats(series.count[k:hi], adjusted.value[k:hi], series.variances[k:hi])
        w = stats.welch_log_test(na, ma, va, nb, mb, vb)
        before, after = series.level(lo, k), series.level(k, hi)
        if series.kind == "log":
            effect, low, high, effect_label = w.ratio, w.ci_low, w.ci_high, "ratio"
            sd = math.sqrt(max(va, 1e-12))
            mde = stats.log_mde(sd, per_minute, 60.0)
            to_detect = stats.log_time_to_detect(sd, effect, per_minute)
        else:
            effect = mb - ma
            low, high = math.log(w.ci_low), math.log(w.ci_high)
            effect_label = "difference"
            sd = math.sqrt(max(va, 1e-12))
            mde = math.log(stats.log_mde(sd, per_minute, 60.0))
            to_detect = stats.log_time_to_detect(sd, math.exp(abs(effect)) if effect else 1.0, per_minute)
    up = effect > (1.0 if effect_label == "ratio" else 0.0)
    regression = up == (direction > 0)
    if minutes_after < to_detect:
        notes.append(f"only {minutes_after:.0f} min of traffic after the change; a shift this size needs "
                     f"about {to_detect:.0f} min to be certain")
    return ChangePoint(series.ts[k], k, before, after, float(effect), float(low), float(high), effect_label,
                       float(p_value), float(statistic), label, regression, minutes_before, minutes_after,
                       per_minute, float(mde), float(to_detect), notes)
