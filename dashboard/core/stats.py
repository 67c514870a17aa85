"""The statistics behind detection, attribution and the explorer's comparisons, on per-bucket aggregates.

Rates are handled as counts (events out of trials), never as per-bucket
ratios: a bucket of 3 requests and a bucket of 3,000 must not weigh the same.
Latency, cost and token signals are handled on the log scale through per-bucket
sufficient statistics (count, mean and variance of the log), which makes a
multiplicative slowdown an additive shift and tames the heavy right tail.

Everything here is plain numpy/scipy on arrays so it can be checked on
hand-made numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

# ---------------------------------------------------------------- beyond noise
# The app's "beyond noise" rules, in one place. They differ on purpose, and are
# named for it:
# - READING_Z: one number a person reads (an impact trend, a window against its
#   baseline, a soak window against its threshold) moves only past two standard
#   errors (about 5% two-sided) - one question, asked once.
# - SCREENING_ALPHA: the explorer tests every signal and segment at once; at
#   p < 0.01 a screen of a few dozen comparisons rarely shows a false one.
# - RELATIVE_NOISE: a value without a variance to test (a median, a pooled mean)
#   moves only by at least 5% of itself.
READING_Z = 2.0
SCREENING_ALPHA = 0.01
RELATIVE_NOISE = 0.05


def beyond_noise(difference: float, standard_error: float, z: float = READING_Z) -> bool:
    """|difference| past z standard errors; with no error to scale by, any difference counts."""
    return abs(difference) > z * standard_error if standard_error > 0 else difference != 0


def beyond_relative_noise(new: float, old: float) -> bool:
    """A move of at least RELATIVE_NOISE of the old value (for values without a variance)."""
    return abs(new - old) > RELATIVE_NOISE * max(abs(old), 1e-12)


# ---------------------------------------------------------------- rates


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x * log(y) with 0 * log(0) = 0."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    out = np.zeros(np.broadcast(x, y).shape)
    mask = np.broadcast_to(x > 0, out.shape)
    out[mask] = (np.broadcast_to(x, out.shape)[mask]
                 * np.log(np.broadcast_to(y, out.shape)[mask]))
    return out


def binomial_loglik(events, trials) -> np.ndarray:
    """Maximised binomial log-likelihood of `events` out of `trials` (rate = events/trials)."""
    x = np.asarray(events, dtype=float)
    n = np.asarray(trials, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, x / np.where(n > 0, n, 1), 0.0)
    return _xlogy(x, p) + _xlogy(n - x, 1 - p)


def binomial_split_scan(events, trials, min_trials: float = 1.0) -> np.ndarray:
    """Log-likelihood ratio of "the rate changed at bucket k" against "one rate".

    Entry k is the split with buckets [0, k) before and [k, T) after; entries
    whose either side has fewer than `min_trials` trials are -inf. Computed from
    cumulative counts, so a full scan costs O(T).
    """
    x = np.asarray(events, dtype=float)
    n = np.asarray(trials, dtype=float)
    cx = np.concatenate([[0.0], np.cumsum(x)])
    cn = np.concatenate([[0.0], np.cumsum(n)])
    before = binomial_loglik(cx, cn)
    after = binomial_loglik(cx[-1] - cx, cn[-1] - cn)
    llr = before + after - binomial_loglik(cx[-1], cn[-1])
    ok = (cn >= min_trials) & (cn[-1] - cn >= min_trials)
    return np.where(ok, np.maximum(llr, 0.0), -np.inf)


@dataclass(frozen=True)
class RateContrast:
    """Rate of group b against group a: difference with its interval and test."""

    rate_a: float
    rate_b: float
    diff: float            # rate_b - rate_a
    ci_low: float
    ci_high: float
    z: float
    p_value: float
    n_a: int
    n_b: int
    test: str              # "two-proportion z" or "Fisher exact"


def two_proportion_test(x_a: float, n_a: float, x_b: float, n_b: float,
                        confidence: float = 0.95) -> RateContrast:
    """Two-sided test that two rates differ, with a Wald interval on the difference.

    Uses the pooled two-proportion z-test, or Fisher's exact test when an
    expected cell count is under 5 (where the normal approximation misleads).
    """
    if n_a <= 0 or n_b <= 0:
        raise ValueError("both groups need at least one trial")
    if not (0 <= x_a <= n_a and 0 <= x_b <= n_b):
        raise ValueError("events must lie between 0 and the number of trials")
    p_a, p_b = x_a / n_a, x_b / n_b
    diff = p_b - p_a
    pooled = (x_a + x_b) / (n_a + n_b)
    se_pooled = math.sqrt(max(pooled * (1 - pooled) * (1 / n_a + 1 / n_b), 0.0))
    z = diff / se_pooled if se_pooled > 0 else 0.0
    expected = min(pooled * n_a, pooled * n_b, (1 - pooled) * n_a, (1 - pooled) * n_b)
    if expected < 5:
        table = [[int(round(x_a)), int(round(n_a - x_a))], [int(round(x_b)), int(round(n_b - x_b))]]
        p_value = float(sps.fisher_exact(table).pvalue)
        test = "Fisher exact"
    else:
        p_value = float(2 * sps.norm.sf(abs(z)))
        test = "two-proportion z"
    zc = sps.norm.ppf(0.5 + confidence / 2)
    se = math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    return RateContrast(p_a, p_b, diff, diff - zc * se, diff + zc * se, z, p_value,
                        int(n_a), int(n_b), test)


# ---------------------------------------------------------------- log-scale measures


def pool_log_stats(count, mean, var) -> tuple[float, float, float]:
    """Combine per-bucket (count, mean, sample variance) into one (count, mean, variance)."""
    n = np.asarray(count, dtype=float)
    m = np.asarray(mean, dtype=float)
    v = np.nan_to_num(np.asarray(var, dtype=float), nan=0.0)
    keep = n > 0
    n, m, v = n[keep], m[keep], v[keep]
    total = n.sum()
    if total == 0:
        return 0.0, float("nan"), float("nan")
    mu = float((n * m).sum() / total)
    ss = float(((n - 1) * v).sum() + (n * (m - mu) ** 2).sum())
    return float(total), mu, ss / max(total - 1, 1)


def gaussian_split_scan(count, mean, var, min_count: float = 2.0) -> tuple[np.ndarray, float]:
    """Reduction in sum of squares from splitting the mean at bucket k, and the residual variance.

    Returns (gain, sigma2): gain[k] = n1 n2 / (n1 + n2) * (mean1 - mean2)^2 for
    the split [0, k) | [k, T), -inf where a side has fewer than `min_count`;
    gain / sigma2 is then a chi-square(1) statistic under "no change".
    """
    n = np.asarray(count, dtype=float)
    m = np.nan_to_num(np.asarray(mean, dtype=float))
    v = np.nan_to_num(np.asarray(var, dtype=float))
    cn = np.concatenate([[0.0], np.cumsum(n)])
    cs = np.concatenate([[0.0], np.cumsum(n * m)])
    n1, n2 = cn, cn[-1] - cn
    with np.errstate(divide="ignore", invalid="ignore"):
        m1 = np.where(n1 > 0, cs / np.where(n1 > 0, n1, 1), 0.0)
        m2 = np.where(n2 > 0, (cs[-1] - cs) / np.where(n2 > 0, n2, 1), 0.0)
        gain = np.where((n1 >= min_count) & (n2 >= min_count),
                        n1 * n2 / np.where(cn[-1] > 0, cn[-1], 1) * (m1 - m2) ** 2, -np.inf)
    _, _, sigma2 = pool_log_stats(n, m, v)
    return gain, float(sigma2) if np.isfinite(sigma2) and sigma2 > 0 else 1.0


@dataclass(frozen=True)
class LogContrast:
    """Geometric-mean ratio of group b to group a (on the log scale: Welch's t-test)."""

    mean_a: float          # mean of the log in group a
    mean_b: float
    ratio: float           # exp(mean_b - mean_a): 1.25 = 25% higher
    ci_low: float          # interval on the ratio
    ci_high: float
    t: float
    df: float
    p_value: float
    n_a: int
    n_b: int
    test: str = "Welch t on log scale"


def welch_log_test(n_a: float, mean_a: float, var_a: float, n_b: float, mean_b: float,
                   var_b: float, confidence: float = 0.95) -> LogContrast:
    """Welch's unequal-variance t-test on log-scale summary statistics."""
    if n_a < 2 or n_b < 2:
        raise ValueError("each group needs at least two observations")
    se2_a, se2_b = max(var_a, 0.0) / n_a, max(var_b, 0.0) / n_b
    se = math.sqrt(se2_a + se2_b)
    diff = mean_b - mean_a
    if se == 0:
        t, df, p_value = (0.0 if diff == 0 else math.copysign(math.inf, diff)), float(n_a + n_b - 2), \
            (1.0 if diff == 0 else 0.0)
        half = 0.0
    else:
        t = diff / se
        df = (se2_a + se2_b) ** 2 / (se2_a ** 2 / (n_a - 1) + se2_b ** 2 / (n_b - 1)) \
            if (se2_a + se2_b) > 0 else float(n_a + n_b - 2)
        p_value = float(2 * sps.t.sf(abs(t), df))
        half = float(sps.t.ppf(0.5 + confidence / 2, df)) * se
    return LogContrast(mean_a, mean_b, math.exp(diff), math.exp(diff - half), math.exp(diff + half),
                       float(t), float(df), p_value, int(n_a), int(n_b))


# ---------------------------------------------------------------- power: what can be seen, and when


def _z(alpha: float, power: float) -> tuple[float, float]:
    return float(sps.norm.ppf(1 - alpha / 2)), float(sps.norm.ppf(power))


def _rate_n(p0: float, delta: float, za: float, zb: float) -> float:
    p1 = p0 + delta
    pbar = (p0 + p1) / 2
    root = za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p0 * (1 - p0) + p1 * (1 - p1))
    return root ** 2 / delta ** 2


def rate_samples_needed(p0: float, delta: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Trials needed in EACH of two equal windows (before, after) to detect p0 -> p0 + delta.

    The standard two-proportion sample size: a before/after split compares the
    new window against an equally long window of the old rate.
    """
    p1 = p0 + delta
    if not (0 < p0 < 1 and 0 < p1 < 1) or delta == 0:
        raise ValueError("need 0 < p0, p0 + delta < 1 and a non-zero delta")
    return _rate_n(p0, delta, *_z(alpha, power))


def rate_time_to_detect(p0: float, delta: float, trials_per_minute: float,
                        alpha: float = 0.05, power: float = 0.8) -> float:
    """Minutes of traffic after a shift before a shift of `delta` in rate `p0` is reliably seen."""
    if trials_per_minute <= 0:
        return math.inf
    return rate_samples_needed(p0, delta, alpha, power) / trials_per_minute


def rate_mde(p0: float, trials_per_minute: float, minutes: float,
             alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest upward shift of rate `p0` detectable with `minutes` of traffic on each side."""
    n = trials_per_minute * minutes
    if n <= 0 or not 0 < p0 < 1:
        return math.inf
    za, zb = _z(alpha, power)
    lo, hi = 1e-9, 1 - p0 - 1e-9
    if _rate_n(p0, hi, za, zb) > n:
        return math.inf
    for _ in range(60):  # bisection: samples needed falls as delta grows
        mid = (lo + hi) / 2
        if _rate_n(p0, mid, za, zb) > n:
            lo = mid
        else:
            hi = mid
    return hi


def log_time_to_detect(sd_log: float, ratio: float, samples_per_minute: float,
                       alpha: float = 0.05, power: float = 0.8) -> float:
    """Minutes before a multiplicative shift `ratio` (1.2 = +20%) of a log-normal measure is seen."""
    if samples_per_minute <= 0 or ratio <= 0 or ratio == 1:
        return math.inf
    za, zb = _z(alpha, power)
    n = 2 * (za + zb) ** 2 * sd_log ** 2 / math.log(ratio) ** 2
    return n / samples_per_minute


def log_mde(sd_log: float, samples_per_minute: float, minutes: float,
            alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest multiplicative increase (as a ratio) detectable with `minutes` on each side."""
    n = samples_per_minute * minutes
    if n <= 0:
        return math.inf
    za, zb = _z(alpha, power)
    return math.exp((za + zb) * sd_log * math.sqrt(2 / n))


def chi2_pvalue(statistic: float, tests: int = 1) -> float:
    """p-value of a chi-square(1) statistic, Bonferroni-corrected for `tests` looks."""
    if not np.isfinite(statistic):
        return 0.0 if statistic > 0 else 1.0
    return float(min(1.0, sps.chi2.sf(max(statistic, 0.0), 1) * max(tests, 1)))


# ---------------------------------------------------------------- same-minute cohort contrasts


@dataclass(frozen=True)
class StratifiedContrast:
    """Group b against group a compared within strata (time buckets), then combined.

    Comparing within each minute removes whatever else changed over time (another
    release, the daily cycle) from a cohort contrast whose mix shifts during a
    ramp. `effect` is a rate difference, or a log-mean difference for log data.
    """

    level_a: float          # pooled level of group a over the compared strata
    level_b: float
    effect: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float
    n_a: int
    n_b: int
    strata: int


def _combine(d: np.ndarray, var: np.ndarray, w: np.ndarray, confidence: float):
    sw = w.sum()
    est = float((w * d).sum() / sw)
    se = float(math.sqrt((w ** 2 * var).sum()) / sw)
    z = est / se if se > 0 else (0.0 if est == 0 else math.copysign(math.inf, est))
    zc = float(sps.norm.ppf(0.5 + confidence / 2))
    return est, est - zc * se, est + zc * se, z, float(2 * sps.norm.sf(abs(z)))


def stratified_rate_difference(x_a, n_a, x_b, n_b, confidence: float = 0.95) -> StratifiedContrast | None:
    """Mantel-Haenszel-weighted rate difference (b - a) over strata where both groups have trials."""
    x_a, n_a, x_b, n_b = (np.asarray(v, dtype=float) for v in (x_a, n_a, x_b, n_b))
    keep = (n_a > 0) & (n_b > 0)
    if not keep.any():
        return None
    x_a, n_a, x_b, n_b = x_a[keep], n_a[keep], x_b[keep], n_b[keep]
    p_a, p_b = x_a / n_a, x_b / n_b
    pooled = (x_a + x_b) / (n_a + n_b)
    # the null variance per stratum keeps empty-looking strata (0 events) from claiming zero noise
    var = np.maximum(pooled * (1 - pooled), 0.25 / (n_a + n_b)) * (1 / n_a + 1 / n_b)
    w = n_a * n_b / (n_a + n_b)
    est, lo, hi, z, p = _combine(p_b - p_a, var, w, confidence)
    return StratifiedContrast(float(x_a.sum() / n_a.sum()), float(x_b.sum() / n_b.sum()), est, lo, hi, z, p,
                              int(n_a.sum()), int(n_b.sum()), int(keep.sum()))


def stratified_mean_difference(n_a, m_a, v_a, n_b, m_b, v_b, confidence: float = 0.95) -> StratifiedContrast | None:
    """Precision-weighted difference of means (b - a) over strata where both groups have 2+ observations."""
    n_a, m_a, v_a, n_b, m_b, v_b = (np.nan_to_num(np.asarray(v, dtype=float)) for v in (n_a, m_a, v_a, n_b, m_b, v_b))
    keep = (n_a > 1) & (n_b > 1)
    if not keep.any():
        return None
    n_a, m_a, v_a, n_b, m_b, v_b = (v[keep] for v in (n_a, m_a, v_a, n_b, m_b, v_b))
    _, _, common = pool_log_stats(np.concatenate([n_a, n_b]), np.concatenate([m_a, m_b]),
                                  np.concatenate([v_a, v_b]))
    var = np.maximum(v_a, 1e-3 * common) / n_a + np.maximum(v_b, 1e-3 * common) / n_b
    w = 1 / var
    est, lo, hi, z, p = _combine(m_b - m_a, var, w, confidence)
    return StratifiedContrast(float((n_a * m_a).sum() / n_a.sum()), float((n_b * m_b).sum() / n_b.sum()),
                              est, lo, hi, z, p, int(n_a.sum()), int(n_b.sum()), int(keep.sum()))
