"""Each statistic of dashboard.core.stats against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from dashboard.core import stats


def test_binomial_split_scan_peaks_at_the_true_split_and_matches_hand_llr():
    events = np.array([2, 2, 2, 2, 10, 10, 10])
    trials = np.array([100] * 7)
    llr = stats.binomial_split_scan(events, trials)
    assert int(np.argmax(llr)) == 4
    # by hand: before 8/400, after 30/300, pooled 38/700
    def ll(x, n):
        p = x / n
        return x * math.log(p) + (n - x) * math.log(1 - p)
    expected = ll(8, 400) + ll(30, 300) - ll(38, 700)
    assert llr[4] == pytest.approx(expected, rel=1e-9)
    assert llr[0] == -np.inf and llr[7] == -np.inf  # an empty side is not a split


def test_binomial_split_scan_uses_counts_not_bucket_ratios():
    # a 1-request bucket with a 100% rate must not create a change point
    events = np.array([4, 4, 4, 1, 4, 4])
    trials = np.array([100, 100, 100, 1, 100, 100])
    llr = stats.binomial_split_scan(events, trials)
    assert llr[np.isfinite(llr)].max() < 3.0


def test_two_proportion_test_matches_textbook_z():
    r = stats.two_proportion_test(40, 1000, 190, 1000)
    pooled = 230 / 2000
    z = (0.19 - 0.04) / math.sqrt(pooled * (1 - pooled) * (2 / 1000))
    assert r.z == pytest.approx(z)
    assert r.diff == pytest.approx(0.15)
    assert r.ci_low < 0.15 < r.ci_high
    assert r.test == "two-proportion z" and r.p_value < 1e-20


def test_two_proportion_test_switches_to_fisher_on_small_counts():
    r = stats.two_proportion_test(0, 20, 4, 20)
    assert r.test == "Fisher exact"
    assert r.p_value == pytest.approx(sps.fisher_exact([[0, 20], [4, 16]]).pvalue)


def test_two_proportion_test_rejects_impossible_counts():
    with pytest.raises(ValueError):
        stats.two_proportion_test(5, 4, 1, 10)


def test_pool_log_stats_equals_stats_of_the_raw_values():
    rng = np.random.default_rng(2)
    chunks = [rng.normal(5, 0.5, size=k) for k in (10, 25, 7)]
    n = [len(c) for c in chunks]
    m = [c.mean() for c in chunks]
    v = [c.var(ddof=1) for c in chunks]
    total, mu, var = stats.pool_log_stats(n, m, v)
    allv = np.concatenate(chunks)
    assert total == 42 and mu == pytest.approx(allv.mean()) and var == pytest.approx(allv.var(ddof=1))


def test_welch_log_test_matches_scipy_on_raw_values():
    rng = np.random.default_rng(3)
    a = rng.normal(6.0, 0.4, 300)
    b = rng.normal(6.2, 0.6, 200)
    r = stats.welch_log_test(len(a), a.mean(), a.var(ddof=1), len(b), b.mean(), b.var(ddof=1))
    ref = sps.ttest_ind(b, a, equal_var=False)
    assert r.t == pytest.approx(ref.statistic) and r.p_value == pytest.approx(ref.pvalue)
    assert r.ratio == pytest.approx(math.exp(b.mean() - a.mean()))
    assert r.ci_low < r.ratio < r.ci_high


def test_gaussian_split_scan_finds_a_shift_in_bucket_means():
    n = np.full(10, 50)
    mean = np.array([5.0] * 6 + [5.3] * 4)
    var = np.full(10, 0.25)
    gain, sigma2 = stats.gaussian_split_scan(n, mean, var)
    assert int(np.argmax(gain)) == 6
    assert gain[6] == pytest.approx(300 * 200 / 500 * 0.3 ** 2)
    assert sigma2 > 0.25  # the shift itself adds to the pooled variance


def test_time_to_detect_matches_the_rule_of_thumb():
    # "a 0.6-point shift in a 2% rate at 200 requests a minute needs about an hour"
    minutes = stats.rate_time_to_detect(0.02, 0.006, trials_per_minute=200)
    assert 40 <= minutes <= 75
    # ten times the traffic: a tenth of the time
    assert stats.rate_time_to_detect(0.02, 0.006, 2000) == pytest.approx(minutes / 10)


def test_rate_mde_inverts_time_to_detect():
    minutes = stats.rate_time_to_detect(0.02, 0.006, 200)
    assert stats.rate_mde(0.02, 200, minutes) == pytest.approx(0.006, rel=1e-4)
    assert stats.rate_mde(0.02, 200, 10) > 0.006  # less time, only bigger shifts


def test_log_mde_and_time_to_detect_agree():
    minutes = stats.log_time_to_detect(0.5, 1.1, samples_per_minute=100)
    assert stats.log_mde(0.5, 100, minutes) == pytest.approx(1.1, rel=1e-6)


def test_chi2_pvalue_bonferroni():
    assert stats.chi2_pvalue(3.841458820694124) == pytest.approx(0.05)
    assert stats.chi2_pvalue(3.841458820694124, tests=4) == pytest.approx(0.2)
    assert stats.chi2_pvalue(0.1, tests=100) == 1.0
