"""The four kinds of evidence that tie a regression to a release.

Each function returns an `Evidence` with a score in [-1, 1] (positive points at
the release, negative clears it, 0 says nothing) and a line a person can check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from dashboard.core import stats
from dashboard.core.diagnosis.detect import BucketSeries, ChangePoint
from dashboard.core.diagnosis.models import Evidence
from dashboard.core.telemetry.signals import Signal
from dashboard.core.timeutil import as_utc

MAX_LAG_MIN = 45.0        # a regression starting later than this after a release is not its doing
LAG_SCALE_MIN = 15.0      # timing score halves every ~10 minutes of lag
SIGNIFICANT = 0.01
SUGGESTIVE = 0.05


@dataclass(frozen=True)
class Release:
    ts: datetime
    artifact: str
    version: str
    previous_version: str | None
    scope: str | None = None
    note: str = ""
    # "logged", or "inferred" from the version's first appearance in the requests (release_timeline)
    origin: str = "logged"
    flag: str | None = None  # e.g. "served since 12:30, logged 12:38": ts is then when it started serving

    @property
    def label(self) -> str:
        return f"{self.artifact} {self.version}"

    def scope_filters(self) -> dict[str, tuple[str, ...]]:
        """"region=eu-west|us-east&tier=paid" -> {"region": ("eu-west", "us-east"), "tier": ("paid",)}."""
        out: dict[str, tuple[str, ...]] = {}
        for part in (self.scope or "").replace(",", "&").split("&"):
            if "=" in part:
                key, values = part.split("=", 1)
                out[key.strip()] = tuple(v.strip() for v in values.split("|") if v.strip())
        return out


@dataclass
class Regression:
    """What is being explained: the regression change points and their combined size."""

    spec: Signal
    points: list[ChangePoint]
    total: float                    # summed size in effect units: rate points, or log ratio
    baseline_level: float
    peak_level: float
    recoveries: list[ChangePoint] = field(default_factory=list)


def effect_units(cp: ChangePoint) -> float:
    """A change's size on an additive scale: rate difference, log ratio, mean difference."""
    return math.log(cp.effect) if cp.effect_label == "ratio" else cp.effect


def hhmm(ts) -> str:
    return as_utc(ts).strftime("%H:%M")


def release_log_evidence(release: Release) -> Evidence | None:
    """How the release is known, when that is not a plain log entry: shown, never scored."""
    if release.origin == "inferred":
        return Evidence(kind="release log", score=0.0,
                        text=f"no release was logged: inferred from {release.version} first serving at "
                             f"{hhmm(release.ts)}", numbers={"origin": "inferred"})
    if release.flag:
        return Evidence(kind="release log", score=0.0,
                        text=f"{release.flag}: timed from when it started serving", numbers={"origin": "logged"})
    return None


def timing_evidence(release: Release, reg: Regression, all_points: list[ChangePoint],
                    bucket_minutes: float) -> Evidence:
    tol = max(2 * bucket_minutes, 2.0)
    rts = as_utc(release.ts)
    after = [cp for cp in reg.points if (as_utc(cp.ts) - rts).total_seconds() / 60 >= -tol]
    aligned = [cp for cp in reg.points if cp.aligned_release == release.label]
    earlier = [cp for cp in reg.points if (as_utc(cp.ts) - rts).total_seconds() / 60 < -tol]
    if aligned:
        cp, lag = aligned[0], 0.0
    elif after:
        cp = min(after, key=lambda c: abs((as_utc(c.ts) - rts).total_seconds()))
        lag = max((as_utc(cp.ts) - rts).total_seconds() / 60, 0.0)
    else:
        cp, lag = None, math.inf
    if cp is None or lag > MAX_LAG_MIN:
        if earlier:
            first = earlier[0]
            text = (f"{reg.spec.phrase} had already moved at {hhmm(first.ts)} "
                    f"({reg.spec.format_level(first.before)} → {reg.spec.format_level(first.after)}), "
                    f"before this release at {hhmm(rts)}, and no further regression followed it")
            return Evidence(kind="timing", score=-1.0, text=text, numbers={"lag_minutes": None})
        return Evidence(kind="timing", score=-0.5,
                        text=f"no regression began within {MAX_LAG_MIN:.0f} min after the release at {hhmm(rts)}",
                        numbers={"lag_minutes": None})
    score = math.exp(-lag / LAG_SCALE_MIN)
    where = "at the release" if lag == 0 else f"{lag:.0f} min after the release"
    text = (f"{reg.spec.phrase} changed at {hhmm(cp.ts)}, {where} ({hhmm(rts)}): "
            f"{reg.spec.format_level(cp.before)} → {reg.spec.format_level(cp.after)} "
            f"({reg.spec.format_effect(cp.effect, cp.effect_label)}, p={_p(cp.p_value)})")
    return Evidence(kind="timing", score=round(score, 3), text=text,
                    numbers={"lag_minutes": lag, "change_at": as_utc(cp.ts).isoformat()})


def _p(p: float) -> str:
    return "<1e-12" if p < 1e-12 else f"{p:.2g}"


def cohort_contrast(spec: Signal, new: BucketSeries | None, old: BucketSeries | None):
    """Stratified same-bucket contrast of new against old; None when they never share a bucket."""
    if new is None or old is None:
        return None
    if spec.scale == "rate":
        return stats.stratified_rate_difference(old.value, old.count, new.value, new.count)
    return stats.stratified_mean_difference(old.count, old.value, old.var, new.count, new.value, new.var)


def cohort_evidence(release: Release, reg: Regression, contrast, window_text: str,
                    target: float | None = None) -> Evidence:
    """`target` is the size of the step this release lines up with (default: the whole regression)."""
    spec = reg.spec
    target = reg.total if target is None else target
    prev = release.previous_version or "the previous version"
    if contrast is None or contrast.n_a < 30 or contrast.n_b < 30:
        n_new = contrast.n_b if contrast else 0
        n_old = contrast.n_a if contrast else 0
        return Evidence(kind="cohort", score=0.0,
                        text=f"no same-minute comparison of {release.version} with {prev}: the two versions "
                             f"shared too few minutes ({n_new} vs {n_old} requests)",
                        numbers={"available": False})
    bad = contrast.z * spec.direction
    if spec.scale == "log":
        lvl = f"{spec.format(math.exp(contrast.level_b))} vs {spec.format(math.exp(contrast.level_a))}"
        eff = f"{100 * (math.exp(contrast.effect) - 1):+.1f}% [{100 * (math.exp(contrast.ci_low) - 1):+.1f}, " \
              f"{100 * (math.exp(contrast.ci_high) - 1):+.1f}]"
    elif spec.scale == "rate":
        lvl = f"{spec.format_level(contrast.level_b)} vs {spec.format_level(contrast.level_a)}"
        eff = f"{100 * contrast.effect:+.1f} pts [{100 * contrast.ci_low:+.1f}, {100 * contrast.ci_high:+.1f}]"
    else:
        lvl = f"{contrast.level_b:.3f} vs {contrast.level_a:.3f}"
        eff = f"{contrast.effect:+.3f} [{contrast.ci_low:+.3f}, {contrast.ci_high:+.3f}]"
    base = (f"same minutes ({contrast.strata} buckets, {window_text}): {release.version} {lvl} on {prev} "
            f"({contrast.n_b} vs {contrast.n_a} requests), {eff}, p={_p(contrast.p_value)}")
    # how much of the regression the interval still allows, in the bad direction
    worst = max(contrast.ci_low * spec.direction, contrast.ci_high * spec.direction)
    bad_effect = contrast.effect * spec.direction
    if contrast.p_value < SIGNIFICANT and bad > 0:
        score = min(1.0, bad / 5.0 + 0.4)
        text = f"cohort contrast points at it — {base}"
    elif contrast.p_value < SUGGESTIVE and bad > 0:
        score, text = 0.4, f"cohort contrast leans toward it — {base}"
    elif contrast.p_value < SIGNIFICANT and bad < 0:
        score, text = -1.0, f"cohort contrast clears it: the new version is better — {base}"
    elif target > 0 and worst < 0.25 * target:
        score, text = -0.8, f"cohort contrast clears it: no difference, and at most a quarter of the change " \
                            f"fits the interval — {base}"
    elif target > 0 and bad_effect < 0.33 * target and worst < 0.6 * target:
        score = -0.6
        text = f"cohort contrast clears it: the new version's own effect is too small to explain the " \
               f"regression — {base}"
    else:
        score, text = 0.0, f"cohort contrast inconclusive — {base}"
    return Evidence(kind="cohort", score=round(score, 3), text=text,
                    numbers={"available": True, "effect": contrast.effect, "ci_low": contrast.ci_low,
                             "ci_high": contrast.ci_high, "p_value": contrast.p_value,
                             "n_new": contrast.n_b, "n_old": contrast.n_a, "strata": contrast.strata})


def exposure_evidence(release: Release, reg: Regression, shares: dict[tuple[str, str], float],
                      segment_effects: dict[tuple[str, str], tuple[float, float]]) -> Evidence:
    """Does the regression sit in the segments the new version served?

    `shares[(dim, value)]` is the share of that segment's requests served by the
    new version after the release; `segment_effects[(dim, value)]` is the
    segment's (effect, z) around the change, effect in rate points or log ratio.
    """
    spec = reg.spec
    dims = sorted({d for d, _ in shares})
    best = None
    for dim in dims:
        # by name: `shares` comes from a grouped query, whose row order is the engine's
        values = sorted((v, s) for (d, v), s in shares.items() if d == dim)
        exposed = [v for v, s in values if s >= 0.5]
        unexposed = [v for v, s in values if s <= 0.05]
        if not exposed or not unexposed:
            continue
        ex = [e for v in exposed if (e := segment_effects.get((dim, v)))]
        un = [e for v in unexposed if (e := segment_effects.get((dim, v)))]
        if not ex or not un:
            continue
        ex_eff = max(e[0] * spec.direction for e in ex)
        ex_z = max(e[1] * spec.direction for e in ex)
        un_eff = max(e[0] * spec.direction for e in un)
        un_z = max(e[1] * spec.direction for e in un)
        ex_names = ", ".join(f"{dim}={v}" for v in exposed)
        un_names = ", ".join(f"{dim}={v}" for v in unexposed)
        if ex_z > 3 and un_z < 3:
            score = 1.0
            text = (f"regression sits where it was served: {_fmt_eff(spec, ex_eff)} in {ex_names} "
                    f"(served there), {_fmt_eff(spec, un_eff)} in {un_names} (never served)")
        elif un_z > 3 and un_eff > 0.5 * max(ex_eff, 1e-12):
            score = -1.0
            text = (f"regression also where it never served: {_fmt_eff(spec, un_eff)} in {un_names}, "
                    f"{_fmt_eff(spec, ex_eff)} in {ex_names} where it did")
        else:
            score = 0.0
            text = (f"exposure inconclusive: {_fmt_eff(spec, ex_eff)} where served ({ex_names}), "
                    f"{_fmt_eff(spec, un_eff)} elsewhere")
        if best is None or abs(score) > abs(best.score):
            best = Evidence(kind="exposure", score=score, text=text,
                            numbers={"dimension": dim, "exposed": exposed, "unexposed": unexposed})
    if best is not None:
        return best
    full = [s for s in shares.values()]
    if full and min(full) >= 0.5:
        return Evidence(kind="exposure", score=0.0,
                        text=(f"{release.version} served all traffic in every segment after the release"
                              if min(full) >= 0.995 else
                              f"{release.version} served every segment after the release (at least "
                              f"{100 * min(full):.0f}% of each)") + ", so exposure cannot separate it",
                        numbers={"min_share": min(full)})
    return Evidence(kind="exposure", score=0.0, text="exposure by segment not informative",
                    numbers={})


def _fmt_eff(spec: Signal, eff_bad: float) -> str:
    signed = eff_bad * spec.direction
    if spec.scale == "log":
        return f"{100 * (math.exp(signed) - 1):+.1f}%"
    if spec.scale == "rate":
        return f"{100 * signed:+.1f} pts"
    return f"{signed:+.3f}"


def rollback_evidence(release: Release, rollback: Release | None, reg: Regression,
                      before: tuple[float, float, float] | None, after: tuple[float, float, float] | None
                      ) -> tuple[Evidence, float | None, float | None]:
    """Did the signal recover when the release was rolled back? Returns (evidence, level before, after)."""
    spec = reg.spec
    if rollback is None:
        return Evidence(kind="rollback", score=0.0, text="not rolled back in this window", numbers={}), None, None
    if not before or not after or before[0] < 30 or after[0] < 30:
        return Evidence(kind="rollback", score=0.0,
                        text=f"rolled back to {rollback.version} at {hhmm(rollback.ts)}, too little traffic "
                             f"since to judge", numbers={}), None, None
    if spec.scale == "rate":
        c = stats.two_proportion_test(before[1], before[0], after[1], after[0])
        lvl_b, lvl_a, z, p = c.rate_a, c.rate_b, c.z, c.p_value
        eff_text = f"{100 * c.diff:+.1f} pts"
        change = c.diff
    else:
        w = stats.welch_log_test(before[0], before[1], before[2], after[0], after[1], after[2])
        lvl_b = math.exp(before[1]) if spec.scale == "log" else before[1]
        lvl_a = math.exp(after[1]) if spec.scale == "log" else after[1]
        z, p = w.t, w.p_value
        eff_text = f"{100 * (w.ratio - 1):+.1f}%" if spec.scale == "log" else f"{after[1] - before[1]:+.3f}"
        change = math.log(w.ratio) if spec.scale == "log" else after[1] - before[1]
    good = -z * spec.direction
    base = (f"after rollback to {rollback.version} at {hhmm(rollback.ts)}: {spec.format_level(lvl_b)} → "
            f"{spec.format_level(lvl_a)} ({eff_text}, p={_p(p)})")
    if p < SIGNIFICANT and good > 0:
        share = min(1.0, abs(change) / reg.total) if reg.total > 0 else 0.0
        score = min(1.0, 0.5 + 0.5 * share)
        text = f"signal recovered on rollback — {base}, {100 * share:.0f}% of the regression"
    elif p < SIGNIFICANT and good < 0:
        score, text = -0.5, f"signal got worse on rollback — {base}"
    else:
        score, text = -0.6, f"no recovery on rollback — {base}"
    return Evidence(kind="rollback", score=round(score, 3), text=text,
                    numbers={"rolled_back_at": as_utc(rollback.ts).isoformat(), "before": lvl_b,
                             "after": lvl_a, "p_value": p}), lvl_b, lvl_a

