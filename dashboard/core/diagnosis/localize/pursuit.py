"""Pooled search for root causes when single leaves are too small to judge.

Leaf labels (`localize.search`) need every leaf of a cause to show its shift
on its own; with a refusal rate of 4% and a few dozen requests per leaf they
do not. Here the evidence is pooled per combination instead: the model says
every leaf of a root cause moved by the same relative amount delta (the
ripple effect), so for a combination S with leaf excess x, expected e and
noise variance v,

    delta_S = sum(x e / v) / sum(e^2 / v),   gain_S = sum(x e / v)^2 / sum(e^2 / v),

the gain being the drop in chi-square when S is allowed its own shift. A
forward selection keeps the combination with the largest gain above the
penalty of its layer (the Bonferroni chi-square over that layer's
combinations, so a finer layer, having more candidates, must explain more),
removes the shift it explains from the leaves, excludes its own descendants
(a cause's internal unevenness is not another cause), and repeats. A coarse
combination whose leaves all moved beats each of its children, which carry
only part of its evidence: the succinctness rule falls out of the sums.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

from dashboard.core.diagnosis.localize.search import Cuboid


@dataclass(frozen=True)
class PooledPick:
    cuboid: Cuboid
    element: int
    shift: float   # fitted relative change delta
    gain: float    # chi-square explained


def layer_penalties(layers: list[list[Cuboid]], alpha: float = 0.05) -> list[float]:
    """Chi-square a combination must explain, per layer (Bonferroni over every candidate).

    Each layer gets an equal part of `alpha`, spread over its combinations, so
    the family of all layers holds a false alarm to about `alpha`.
    """
    share = alpha / max(len(layers), 1)
    return [float(chi2.isf(share / max(sum(c.n_elements for c in layer), 1), df=1)) for layer in layers]


def pooled_pursuit(layers: list[list[Cuboid]], excess: np.ndarray, expected: np.ndarray,
                   variance: np.ndarray, *, test_variance: np.ndarray | None = None,
                   min_relative_change: float, max_picks: int,
                   active: np.ndarray | None = None, alpha: float = 0.05) -> list[PooledPick]:
    """Forward selection of combinations; leaves outside `active` are already explained.

    `variance` weighs the leaves in the fit; `test_variance`, if given, is the
    variance a pick's pooled excess must also clear its layer's threshold
    against (a score-test variance that grows with today's count guards the
    upper tail of small counts, which the Gaussian fit understates).
    """
    penalties = layer_penalties(layers, alpha)
    keep = np.ones(len(excess), dtype=bool) if active is None else active
    residual = np.where(keep, excess, 0.0).astype(float)
    information = np.where(keep, expected**2 / variance, 0.0)  # how much a leaf tells about a relative shift
    excluded = [[np.zeros(c.n_elements, dtype=bool) for c in layer] for layer in layers]
    tested = np.where(keep, variance if test_variance is None else test_variance, 0.0)
    element_test_variance = [[np.bincount(c.leaf_element, weights=tested, minlength=c.n_elements)
                              for c in layer] for layer in layers]
    element_information = [[np.bincount(c.leaf_element, weights=information, minlength=c.n_elements)
                            for c in layer] for layer in layers]
    picks: list[PooledPick] = []
    while len(picks) < max_picks:
        score = residual * expected / variance
        best = None
        for layer_index, layer in enumerate(layers):
            for cuboid_index, cuboid in enumerate(layer):
                a = np.bincount(cuboid.leaf_element, weights=score, minlength=cuboid.n_elements)
                b = element_information[layer_index][cuboid_index]
                with np.errstate(invalid="ignore", divide="ignore"):
                    shift = np.where(b > 0, a / b, 0.0)
                    gain = np.where(b > 0, a * shift, 0.0)
                net = gain - penalties[layer_index]
                pooled = np.bincount(cuboid.leaf_element, weights=residual, minlength=cuboid.n_elements)
                passes_test = pooled**2 >= penalties[layer_index] * element_test_variance[layer_index][cuboid_index]
                net[excluded[layer_index][cuboid_index] | (np.abs(shift) < min_relative_change)
                    | ~passes_test] = -np.inf
                element = int(np.argmax(net))
                if net[element] > 0 and (best is None or net[element] > best[0]):
                    best = (float(net[element]), cuboid, element, float(shift[element]), float(gain[element]))
        if best is None:
            break
        _, cuboid, element, picked_shift, picked_gain = best
        members = cuboid.leaf_element == element
        residual[members] -= picked_shift * expected[members]
        picks.append(PooledPick(cuboid, element, picked_shift, picked_gain))
        _exclude_descendants(layers, excluded, cuboid, members)
    return picks


def _exclude_descendants(layers, excluded, cuboid: Cuboid, members: np.ndarray) -> None:
    picked_dims = set(cuboid.dims)
    for layer_index, layer in enumerate(layers):
        for cuboid_index, other in enumerate(layer):
            if picked_dims <= set(other.dims):
                excluded[layer_index][cuboid_index][np.unique(other.leaf_element[members])] = True
