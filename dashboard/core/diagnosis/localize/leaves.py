"""Per-leaf excess, noise model and abnormal labels for segment localization.

Every leaf gets an excess x (observed minus expected, in the metric's own
mass: value for additive metrics, events for ratio metrics), its expected mass
e, and a variance var = a * u + b * e^2: a count-noise term (Poisson-like,
right for request and event counts; u = e, or the two-proportion null
variance for rates) plus a relative term (right for forecast error, which
grows with the leaf), fitted to the quiet leaves (see `_variance`) so that
the incident itself does not inflate the noise. A shift that nearly every
leaf shares is taken out first and reported on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.stats import chi2, norm

from dashboard.core.diagnosis.localize.search import SearchInput

# 25th percentile of |N(0, 1)|: turns a lower-quartile spread into a standard deviation
_Q25_ABS_NORMAL = 0.3186
_EVERYTHING_SHARE = 0.85
_WINSOR_CHI2 = float(chi2.ppf(0.99, 1))
# mean of a chi-square(1) variable capped at its 99th percentile
_WINSOR_MEAN = float(chi2.expect(lambda t: min(t, _WINSOR_CHI2), args=(1,)))


@dataclass(frozen=True)
class LeafScores:
    excess: np.ndarray     # observed - expected mass
    expected: np.ndarray   # expected mass
    variance: np.ndarray   # noise variance of the excess (for tests: z-scores, significance)
    weighting: np.ndarray  # the same noise, not computed from today's outcome (for fitting weights)
    weight: np.ndarray     # volume used for purity (expected value, or requests)
    label: np.ndarray      # -1 fell beyond the noise, +1 rose, 0 normal
    z_threshold: float     # the leaf threshold actually applied
    global_shift: float = 0.0  # relative change shared by the typical leaf, removed from `excess`


def multiple_testing_threshold(n_leaves: int, alpha: float = 0.05, floor: float = 3.0) -> float:
    """|z| a leaf must pass so that, over all leaves, a false alarm has chance `alpha`.

    Bonferroni over the leaves: about 3.8 for 360 leaves, 4.6 for 14,000. A
    fixed threshold would flag a handful of noise leaves in a large cube, and
    each can surface as a spurious fine-grained "root cause".
    """
    return max(floor, float(norm.isf(alpha / (2 * max(n_leaves, 1)))))


def score_leaves(leaves: pl.DataFrame, kind: str, *, z_threshold: float | None,
                 min_relative_change: float, count_unit: np.ndarray | None = None) -> LeafScores:
    """Excess, noise and labels per leaf.

    `count_unit` (additive only) replaces the expected value as the unit of
    count noise, e.g. when the expectation is itself a noisy count.
    """
    if kind == "additive":
        real = leaves["real"].to_numpy()
        expected = leaves["predict"].to_numpy()
        excess = real - expected
        # a leaf that was expected empty still carries its observed volume
        weight = np.where(expected > 0, expected, real)
        if count_unit is None:
            count_unit = expected
        weighting_unit = count_unit
    else:
        rn, rd, pn, pd_ = (leaves[c].to_numpy() for c in ("real_num", "real_den", "predict_num", "predict_den"))
        overall = pn.sum() / pd_.sum() if pd_.sum() > 0 else (rn.sum() / rd.sum() if rd.sum() > 0 else 0.0)
        pn, pd_ = shrunk_baseline(leaves, pn, pd_, overall)
        with np.errstate(invalid="ignore", divide="ignore"):
            leaf_rate = np.where(pd_ > 0, pn / pd_, overall)
        # expected events for the traffic the leaf actually got: mix shifts are not rate anomalies
        expected = rd * leaf_rate
        excess = rn - expected
        weight = rd
        count_unit = _two_sample_null_variance(rn, rd, pn, pd_, overall)
        # weights must not depend on today's count, or leaves that saw no event weigh more
        weighting_unit = _two_sample_null_variance(expected, rd, pn, pd_, overall)
    if z_threshold is None:
        z_threshold = multiple_testing_threshold(int(((expected > 0) | (excess != 0)).sum()))
    shift = _typical_shift(excess, expected)
    # binomial counts are never less noisy than binomial: overdispersion only adds
    floor = 1.0 if kind == "ratio" else 0.0
    variance = _variance(excess - shift * expected, expected, count_unit, floor)
    # a shift every leaf shares (an index change that touched all traffic) is a finding of its
    # own, not noise: left in, it would inflate the noise and hide the segments that moved more
    if abs(shift) < min_relative_change or abs(shift) * expected.sum() < z_threshold * np.sqrt(variance.sum()):
        shift = 0.0
        variance = _variance(excess, expected, count_unit, floor)
    excess = excess - shift * expected
    weighting = variance if weighting_unit is count_unit else _variance(excess, expected, weighting_unit, floor)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(variance > 0, excess / np.sqrt(variance), 0.0)
        relative = np.where(expected > 0, np.abs(excess) / expected, np.inf)
    moved = (np.abs(z) >= z_threshold) & (relative >= min_relative_change) & (excess != 0)
    label = np.where(moved, np.sign(excess), 0).astype(np.int8)
    return LeafScores(excess, expected, variance, weighting, weight.astype(float), label, z_threshold, shift)


def shrunk_baseline(leaves: pl.DataFrame, pn: np.ndarray, pd_: np.ndarray, overall: float):
    """Baseline events and trials per leaf with an empirical-Bayes prior added (beta-binomial).

    A leaf's own baseline rate from a few minutes is noisy, and zero for most
    small leaves: alone, it makes those leaves expected empty (and untested)
    while the leaves that happened to see an event are expected too high, so
    a quiet cube looks as if it fell. Each leaf's rate is shrunk toward a
    prior, the independence model of the one-dimension baseline rates
    (overall rate times each value's relative rate), with a prior weight of
    m requests, the beta concentration whose spread matches how far the
    leaves' baseline rates scatter around the prior beyond sampling
    (method of moments). Returns (events + m * prior, trials + m).
    """
    dims = [c for c in leaves.columns if c not in ("real_num", "real_den", "predict_num", "predict_den")]
    if pd_.sum() <= 0 or overall <= 0 or not dims:
        return pn, pd_
    log_prior = np.full(len(pn), np.log(overall))
    for dim in dims:
        code = (leaves[dim].rank("dense").cast(pl.Int64) - 1).to_numpy()
        num, den = np.bincount(code, weights=pn), np.bincount(code, weights=pd_)
        # a value with little baseline gets the overall rate (half an event of prior)
        value_rate = (num + 0.5) / (den + 0.5 / overall)
        log_prior += np.log(value_rate / overall)[code]
    prior = np.minimum(np.exp(log_prior), 1.0 if overall <= 1 else np.inf)
    spread = prior * (1 - prior) if overall <= 1 else prior
    excess2 = (pn - pd_ * prior) ** 2 - pd_ * spread
    information = (pd_ * prior) ** 2
    scatter = max(float(excess2.sum()) / float(information.sum()), 0.0) if information.sum() > 0 else 0.0
    with np.errstate(divide="ignore"):
        weight = np.where(scatter > 0, spread / np.maximum(scatter * prior**2, 1e-300), 1e9)
    weight = np.minimum(weight, 1e9)
    return pn + weight * prior, pd_ + weight


def _typical_shift(excess: np.ndarray, expected: np.ndarray, min_expected: float = 3.0) -> float:
    """Median relative change over the leaves large enough to show one (expected >= 3).

    The median leaf, not the total: a cause holding most of the volume must
    not pass for a shift of everything. Zero unless `_EVERYTHING_SHARE` of
    those leaves moved the same way.
    """
    sized = expected >= min_expected
    if sized.sum() < 10:
        return 0.0
    relative = excess[sized] / expected[sized]
    shift = float(np.median(relative))
    # "everything moved" only if nearly every leaf moved that way; two causes that
    # happen to cover most leaves are still two causes
    if np.mean(np.sign(relative) == np.sign(shift)) < _EVERYTHING_SHARE:
        return 0.0
    return shift


def direction_input(scores: LeafScores, direction: int, *, compatible_z: float = 2.0) -> SearchInput:
    """The search arrays for one direction, with the leaves the data cannot decide set aside.

    The typical shift is the volume-weighted median relative change of the
    abnormal leaves. A normal leaf counts against an element's purity only if
    its observation is incompatible with that shift (beyond `compatible_z`);
    otherwise (a leaf too small to show the shift) it is undecided.
    """
    abnormal = scores.label == direction
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = np.where(scores.expected > 0, scores.excess / scores.expected, 0.0)
    typical = _weighted_quantile(relative[abnormal], scores.weight[abnormal], 0.5) if abnormal.any() else 0.0
    distance = np.abs(scores.excess - typical * scores.expected) / np.sqrt(scores.variance)
    decided = abnormal | (distance >= compatible_z)
    return SearchInput(scores.weight, abnormal, decided, scores.excess, scores.variance, direction)


def _two_sample_null_variance(rn, rd, pn, pd_, overall: float) -> np.ndarray:
    """Variance of rn - rd * pn / pd if both windows shared one rate (the two-proportion test).

    The rate is pooled over both windows, as under the null hypothesis, and
    the baseline's own sampling error enters through rd / pd. Using the
    baseline rate alone would make a leaf whose baseline saw 2 events in 50
    requests look certain about its expectation, and a handful of events
    today look like an incident.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        # a leaf without a baseline is expected at the overall rate, and tested against it
        pooled = np.where(pd_ > 0, (rn + pn) / (rd + pd_), overall)
        baseline_error = np.where(pd_ > 0, rd / pd_, 0.0)
    # a Bernoulli rate has variance p(1 - p); a ratio that exceeds 1 (cost per request) does not
    bernoulli = np.all(pooled <= 1)
    spread = pooled * (1 - pooled) if bernoulli else pooled
    # the upper tail of a small count: one event where 0.01 were expected is not 10 sigma,
    # so the events' variance is at least today's count (Poisson-like)
    events = np.maximum(rd * spread, rn * (1 - pooled) if bernoulli else rn)
    return events * (1 + baseline_error)


def _variance(excess: np.ndarray, expected: np.ndarray, count_unit: np.ndarray,
              min_count_var: float = 0.0) -> np.ndarray:
    """var = a * u + b * e^2 (u: the count-noise unit, e for plain counts).

    Start from below: count noise only, from the lower quartile of x^2 / u
    (a quartile stays clean even when causes move most of the leaves). Then
    repeatedly take the leaves within 3 sigma as the quiet ones and fit both
    terms to them jointly (`_fit_jointly`). Growing the noise from below stops
    at the first consistent fit; starting from above would admit a cause's
    leaves as quiet and never shed them.
    """
    positive = expected > 0
    if not positive.any():
        return np.ones_like(excess)
    e = expected[positive]
    x2 = excess[positive] ** 2
    u = np.maximum(count_unit[positive], 1e-12 * e)
    count_var, relative_var = max(_robust_mean(x2 / u), min_count_var), 0.0
    if len(e) < 10 and min_count_var > 0:
        # too few leaves to tell overdispersion from the change itself (in a cube of six
        # leaves, four of which moved, the lower quartile is a moved leaf): counts are binomial
        count_var = min_count_var
    for _ in range(6):
        quiet = x2 < 9 * (count_var * u + relative_var * e**2)
        if quiet.sum() < 10:
            break
        fitted = _fit_jointly(x2[quiet], u[quiet], e[quiet], count_var, relative_var, min_count_var)
        if np.allclose(fitted, (count_var, relative_var), rtol=1e-3):
            break
        count_var, relative_var = fitted
    # leaves expected empty get the variance of a small leaf, not zero
    floor = float(np.quantile(e, 0.05))
    e_all = np.maximum(expected, floor)
    u_all = np.where(expected >= floor, count_unit, np.maximum(count_unit, floor))
    variance = count_var * u_all + relative_var * e_all**2
    # perfectly quiet data (a synthetic baseline equal to the observation) has no spread
    tiny = 1e-12 * max(float(e.mean()), 1.0) ** 2
    return np.maximum(variance, tiny)


def _fit_jointly(x2, u, e, count_var, relative_var, min_count_var: float = 0.0) -> tuple[float, float]:
    """Both terms at once by iteratively reweighted least squares (the Gaussian likelihood).

    Each leaf's squared deviation, winsorized at the 99th percentile of its
    chi-square and corrected for it, is regressed on (u, e^2) with weights
    1 / var^2; non-negative least squares keeps both terms >= 0. Fitting them
    jointly lets leaves of every size speak to both terms; a cut-off squared
    deviation bounds what the edge of a cause can do to the fit.
    """
    count_var, relative_var = max(count_var, 0.0), max(relative_var, 0.0)
    e2 = e**2
    for _ in range(8):
        variance = np.maximum(count_var * u + relative_var * e2, 1e-300)
        capped = np.minimum(x2, _WINSOR_CHI2 * variance) / _WINSOR_MEAN
        w = 1.0 / variance**2
        count_var, relative_var = _nonnegative_two_term_fit(u, e2, capped, w)
        if count_var < min_count_var:
            # the count term at its floor; the relative term fitted to what is left
            count_var = min_count_var
            sqq = (w * e2 * e2).sum()
            relative_var = max(float((w * e2 * (capped - count_var * u)).sum() / sqq), 0.0) if sqq > 0 else 0.0
        if count_var == 0 and relative_var == 0:
            break
    return float(count_var), float(relative_var)


def _nonnegative_two_term_fit(p, q, y, w) -> tuple[float, float]:
    """Weighted least squares y ~ a p + b q with a, b >= 0 (closed form, 2 x 2)."""
    spp, sqq, spq = (w * p * p).sum(), (w * q * q).sum(), (w * p * q).sum()
    spy, sqy = (w * p * y).sum(), (w * q * y).sum()
    det = spp * sqq - spq**2
    if det > 0:
        a, b = (spy * sqq - sqy * spq) / det, (sqy * spp - spy * spq) / det
        if a >= 0 and b >= 0:
            return float(a), float(b)
    # the unconstrained optimum has a negative term: the best fit uses the other term alone
    only_a = max(spy / spp, 0.0) if spp > 0 else 0.0
    only_b = max(sqy / sqq, 0.0) if sqq > 0 else 0.0
    loss_a = (w * (y - only_a * p) ** 2).sum()
    loss_b = (w * (y - only_b * q) ** 2).sum()
    return (float(only_a), 0.0) if loss_a <= loss_b else (0.0, float(only_b))


def _robust_mean(values: np.ndarray) -> float:
    """Mean of a chi-square-like sample from its lower quartile (q25 of chi2(1) = 0.1015)."""
    return float(np.quantile(values, 0.25)) / _Q25_ABS_NORMAL**2 if len(values) else 0.0


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    if weights.sum() <= 0:
        return float(np.quantile(values, q))
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    index = int(np.searchsorted(cumulative, q * cumulative[-1]))
    return float(values[order][min(index, len(values) - 1)])
