"""Same-minute cohort contrasts: stratified tests on hand-made strata."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dashboard.core import stats


def test_stratified_rate_difference_equals_plain_test_with_one_stratum():
    r = stats.stratified_rate_difference([40], [1000], [190], [1000])
    plain = stats.two_proportion_test(40, 1000, 190, 1000)
    assert r.effect == pytest.approx(plain.diff)
    assert r.z == pytest.approx(plain.z)
    assert r.strata == 1


def test_stratified_rate_difference_is_not_fooled_by_a_time_trend_during_a_ramp():
    # the rate doubles in the last minute for everyone while the new version ramps up;
    # the versions do not differ within any minute
    x_a, n_a = np.array([40, 40, 20]), np.array([1000, 1000, 250])   # 4%, 4%, 8%
    x_b, n_b = np.array([0, 10, 80]), np.array([0, 250, 1000])       # -, 4%, 8%
    pooled = stats.two_proportion_test(x_a.sum(), n_a.sum(), x_b.sum(), n_b.sum())
    strat = stats.stratified_rate_difference(x_a, n_a, x_b, n_b)
    assert pooled.p_value < 1e-3          # naive pooling blames the new version
    assert abs(strat.effect) < 0.005 and strat.p_value > 0.3
    assert strat.strata == 2              # the minute without the new version is skipped


def test_stratified_rate_difference_none_without_overlap():
    assert stats.stratified_rate_difference([5], [100], [0], [0]) is None


def test_stratified_mean_difference_recovers_a_known_shift():
    rng = np.random.default_rng(5)
    n_a, n_b, m_a, m_b, v_a, v_b = [], [], [], [], [], []
    for minute in range(20):
        level = 6.0 + 0.05 * minute              # drifting over time for both
        a = rng.normal(level, 0.5, 200)
        b = rng.normal(level + math.log(1.3), 0.5, 100)
        for n, m, v, sample in ((n_a, m_a, v_a, a), (n_b, m_b, v_b, b)):
            n.append(len(sample))
            m.append(sample.mean())
            v.append(sample.var(ddof=1))
    r = stats.stratified_mean_difference(n_a, m_a, v_a, n_b, m_b, v_b)
    assert r.ci_low < math.log(1.3) < r.ci_high
    assert r.p_value < 1e-10
