"""Per-leaf excess, noise model and abnormal labels for segment localization.

Every leaf gets an excess x (observed minus expected, in the metric's own
mass: value for additive metrics, events for ratio metrics), its expected mass
e, and a variance var = a * e + (b * e)^2: a count-noise term (Poisson-like,
right for request and event counts) plus a relative term (right for forecast
error, which grows with the leaf), estimated from the quiet leaves (see
`_variance`) so that the incident itself does not inflate the noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.stats import norm

from dashboard.core.diagnosis.localize_search import SearchInput

# 25th percentile of |N(0, 1)|: turns a lower-quartile spread into a standard deviation
_Q25_ABS_NORMAL = 0.3186


@dataclass(frozen=True)
class LeafScores:
    excess: np.ndarray     # observed - expected mass
    expected: np.ndarray   # expected mass
    variance: np.ndarray   # noise variance of the excess (for tests: z-scores, significance)
    weighting: np.ndarray  # the same noise, not computed from today's outcome (for fitting weights)
    weight: np.ndarray     # volume used for purity (expected value, or requests)
    label: np.ndarray      # -1 fell beyond the noise, +1 rose, 0 normal
    z_threshold: float     # the leaf threshold actually applied


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
        with np.errstate(invalid="ignore", divide="ignore"):
            leaf_rate = np.where(pd_ > 0, pn / pd_, overall)
        # expected events for the traffic the leaf actually got: mix shifts are not rate anomalies
        expected = rd * leaf_rate
        excess = rn - expected
        weight = rd
        count_unit = _two_sample_null_variance(rn, rd, pn, pd_, overall)
        # weights must not depend on today's count, or leaves that saw no event weigh more
        weighting_unit = _two_sample_null_variance(expected, rd, pn, pd_, overall)
    variance = _variance(excess, expected, count_unit)
    weighting = variance if weighting_unit is count_unit else _variance(excess, expected, weighting_unit)
    if z_threshold is None:
        z_threshold = multiple_testing_threshold(int(((expected > 0) | (excess != 0)).sum()))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(variance > 0, excess / np.sqrt(variance), 0.0)
        relative = np.where(expected > 0, np.abs(excess) / expected, np.inf)
    moved = (np.abs(z) >= z_threshold) & (relative >= min_relative_change) & (excess != 0)
    label = np.where(moved, np.sign(excess), 0).astype(np.int8)
    return LeafScores(excess, expected, variance, weighting, weight.astype(float), label, z_threshold)


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
        pooled = np.where(rd + pd_ > 0, (rn + pn) / (rd + pd_), overall)
        baseline_error = np.where(pd_ > 0, rd / pd_, 0.0)
    # a Bernoulli rate has variance p(1 - p); a ratio that exceeds 1 (cost per request) does not
    spread = pooled * (1 - pooled) if np.all(pooled <= 1) else pooled
    return rd * spread * (1 + baseline_error)


def _variance(excess: np.ndarray, expected: np.ndarray, count_unit: np.ndarray) -> np.ndarray:
    """var = a * u + b * e^2, in two passes (u: the count-noise unit, e for plain counts).

    Pass 1 (robust, conservative): a from the lower quartile of |x|/sqrt(e),
    b from the volume-weighted lower quartile of |x|/e; a quartile stays clean
    even when causes move most leaves. Pass 2 (accurate): leaves within 3
    sigma of pass 1 are the quiet ones, and a and b become their mean squared
    deviations, each fitted where it dominates (a over the smaller half, b over
    the largest quarter, each net of the other). Quantiles alone would overstate the noise
    of leaves expecting less than one event, whose counts are lumpy.
    """
    positive = expected > 0
    if not positive.any():
        return np.ones_like(excess)
    e = expected[positive]
    x = excess[positive]
    u = np.maximum(count_unit[positive], 1e-12 * e)
    count_var = (np.quantile(np.abs(x) / np.sqrt(u), 0.25) / _Q25_ABS_NORMAL) ** 2
    relative_var = (_weighted_quantile(np.abs(x) / e, e, 0.25) / _Q25_ABS_NORMAL) ** 2
    quiet = x**2 < 9 * (count_var * u + relative_var * e**2)
    small = quiet & (e <= np.quantile(e, 0.5))
    large = quiet & (e >= np.quantile(e, 0.75))
    if small.sum() >= 5 and large.sum() >= 5:
        relative_var = 0.0
        for _ in range(3):  # alternate: each term is estimated where it dominates
            count_var = max(float(np.mean((x[small] ** 2 - relative_var * e[small] ** 2) / u[small])), 0.0)
            relative_var = max(float(np.mean((x[large] ** 2 - count_var * u[large]) / e[large] ** 2)), 0.0)
    # leaves expected empty get the variance of a small leaf, not zero
    floor = float(np.quantile(e, 0.05))
    e_all = np.maximum(expected, floor)
    u_all = np.where(expected >= floor, count_unit, np.maximum(count_unit, floor))
    variance = count_var * u_all + relative_var * e_all**2
    # perfectly quiet data (a synthetic baseline equal to the observation) has no spread
    tiny = 1e-12 * max(float(e.mean()), 1.0) ** 2
    return np.maximum(variance, tiny)


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    if weights.sum() <= 0:
        return float(np.quantile(values, q))
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    index = int(np.searchsorted(cumulative, q * cumulative[-1]))
    return float(values[order][min(index, len(values) - 1)])
