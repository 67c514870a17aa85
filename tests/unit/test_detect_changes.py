"""Change detection on hand-made per-bucket series."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dashboard.core.diagnosis.detect import (
    BucketSeries,
    ReleaseMark,
    daily_baseline,
    describe_change,
    deseasonalize,
    find_change_points,
    robust_dispersion,
)

T0 = np.datetime64("2025-02-18T10:00", "us")


def minutes(n):
    return T0 + np.arange(n).astype("timedelta64[m]")


def rate_series(p, n=600, seed=0):
    rng = np.random.default_rng(seed)
    trials = rng.poisson(n, len(p))
    return BucketSeries("rate", minutes(len(p)), trials, rng.binomial(trials, p))


def test_two_steps_and_a_recovery_are_found_at_their_releases():
    p = np.full(360, 0.04)
    p[210:] += 0.05
    p[220:] += 0.03
    p[290:] -= 0.05
    s = rate_series(p)
    ts = s.ts
    marks = [ReleaseMark(ts[210], "prompt v7"), ReleaseMark(ts[220], "index kb"), ReleaseMark(ts[290], "prompt v6")]
    cps = find_change_points(s, marks, direction=1)
    assert [cp.index for cp in cps] == [210, 220, 290]
    assert [cp.aligned_release for cp in cps] == ["prompt v7", "index kb", "prompt v6"]
    assert [cp.regression for cp in cps] == [True, True, False]
    first = cps[0]
    assert first.before == pytest.approx(0.04, abs=0.004) and first.after == pytest.approx(0.09, abs=0.006)
    assert first.effect_low < 0.05 < first.effect_high
    assert first.p_value < 1e-10


def test_a_free_change_far_from_any_release_is_found_where_it_is():
    p = np.full(300, 0.05)
    p[137:] = 0.09
    s = rate_series(p, seed=3)
    cps = find_change_points(s, [ReleaseMark(s.ts[40], "app v2")], direction=1)
    assert len(cps) == 1
    assert abs(cps[0].index - 137) <= 2 and cps[0].aligned_release is None


def test_a_rollout_ramp_is_one_change_at_the_release():
    share = np.clip((np.arange(300) - 150) / 8, 0, 1)  # the new version ramps over 8 minutes
    s = rate_series(0.04 + 0.08 * share, seed=4)
    cps = find_change_points(s, [ReleaseMark(s.ts[150], "prompt v7")], direction=1)
    assert [(cp.index, cp.aligned_release) for cp in cps] == [(150, "prompt v7")]


def test_an_early_release_is_not_credited_with_a_later_change():
    p = np.full(360, 0.01)
    p[180:270] = 0.12  # an outside degradation from 13:00 to 14:30
    s = rate_series(p, seed=5)
    cps = find_change_points(s, [ReleaseMark(s.ts[60], "app v18")], direction=1)
    assert [cp.index for cp in cps] == [180, 270]
    assert all(cp.aligned_release is None for cp in cps)


def test_no_change_in_pure_noise():
    for seed in range(5):
        s = rate_series(np.full(360, 0.03), seed=seed)
        assert find_change_points(s, [ReleaseMark(s.ts[100], "x")], direction=1) == []


def test_evening_peak_is_not_a_regression_against_the_daily_baseline():
    # the rate rises every evening; today is the same as yesterday and the day before
    clock = np.arange(360)
    p = 0.03 + 0.03 / (1 + np.exp(-(clock - 200) / 10))
    today = rate_series(p, seed=10)
    history = [rate_series(p, seed=11 + d) for d in range(3)]
    assert find_change_points(today, direction=1), "without a baseline the peak looks like a change"
    baseline = daily_baseline(today, history)
    assert baseline.days == 3
    assert find_change_points(today, baseline=baseline, direction=1) == []
    # a real regression on top of the peak is still found
    bumped = p.copy()
    bumped[250:] += 0.04
    cps = find_change_points(rate_series(bumped, seed=12), baseline=baseline, direction=1)
    assert [abs(cp.index - 250) <= 2 for cp in cps] == [True]


def test_deseasonalize_keeps_counts_within_trials():
    s = rate_series(np.full(60, 0.5), seed=1)
    hist = [rate_series(np.linspace(0.2, 0.8, 60), seed=2)]
    adjusted = deseasonalize(s, daily_baseline(s, hist, smooth_buckets=2))
    assert np.all(adjusted.value <= adjusted.count) and np.all(adjusted.value >= 0)


def test_log_scale_latency_change_reports_a_ratio_and_detectability():
    rng = np.random.default_rng(7)
    n = rng.poisson(300, 240).astype(float)
    level = np.where(np.arange(240) < 120, math.log(800), math.log(800 * 1.3))
    mean = level + rng.normal(0, 0.5 / np.sqrt(n))
    var = np.full(240, 0.25)
    s = BucketSeries("log", minutes(240), n, mean, var)
    cps = find_change_points(s, [ReleaseMark(s.ts[120], "model m2")], direction=1)
    assert len(cps) == 1
    cp = cps[0]
    assert cp.effect_label == "ratio" and cp.effect_low < 1.3 < cp.effect_high
    assert cp.before == pytest.approx(800, rel=0.02) and cp.after == pytest.approx(1040, rel=0.02)
    assert cp.regression and cp.aligned_release == "model m2"
    assert 1.0 < cp.mde < 1.05  # an hour at 300/min sees a few percent
    assert cp.minutes_to_detect < 1


def test_direction_decides_regression_or_recovery():
    p = np.full(200, 0.40)
    p[100:] = 0.30
    s = rate_series(p, seed=8)
    down_is_bad = find_change_points(s, direction=-1)
    up_is_bad = find_change_points(s, direction=1)
    assert down_is_bad[0].regression and not up_is_bad[0].regression


def test_short_tail_says_how_long_is_needed():
    # 2% -> 2.6% at 200 requests a minute: about an hour is needed, only 10 minutes exist
    trials = np.full(130, 200.0)
    events = np.concatenate([np.full(120, 4.0), np.full(10, 5.2)])
    s = BucketSeries("rate", minutes(130), trials, events)
    cp = describe_change(s, s, 0, 120, 130, statistic=1.0, p_value=0.5, label=None, direction=1)
    assert cp.effect == pytest.approx(0.006)
    assert 40 <= cp.minutes_to_detect <= 75
    assert cp.notes and "needs about" in cp.notes[0]
    assert 0.004 < cp.mde < 0.006  # an hour of this traffic just sees a 0.6-point shift


def test_robust_dispersion_sees_noise_but_not_steps():
    calm = rate_series(np.full(400, 0.05), n=400, seed=20)
    assert robust_dispersion(calm, 0, 400) == pytest.approx(1.0, abs=0.25)
    stepped = np.full(400, 0.05)
    stepped[200:] = 0.15  # a big step is one outlying difference, not noise
    assert robust_dispersion(rate_series(stepped, n=400, seed=21), 0, 400) < 1.3
    rng = np.random.default_rng(22)
    bursty = rate_series(rng.choice([0.01, 0.09], size=400), n=400, seed=23)
    assert robust_dispersion(bursty, 0, 400) > 3
