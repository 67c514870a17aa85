"""Coarse-first search for the combinations that cover the abnormal leaves.

The search sees only three per-leaf arrays: an integer code per dimension, a
volume weight, and a direction label (-1 fell, 0 normal, +1 rose). It knows
nothing about additive versus ratio metrics; `localize` prepares those arrays.

Idea (the common ground of HotSpot, Squeeze and RiskLoc): a root cause is a
combination whose leaves deviate *together*. We call an element *pure* when
nearly all of its volume sits in leaves that moved in the searched direction.
Scanning from one dimension to `max_order` dimensions, we greedily keep the
pure element that covers the most still-unexplained abnormal volume, mark its
leaves explained, and go on. Because coarser layers are scanned first, a whole
`language=en` is returned before any of its `language=en&tier=...` children,
and a child is only returned when its parent is not pure, i.e. when the data
really says the problem is narrower (the succinctness rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np


@dataclass(frozen=True)
class Cuboid:
    """One set of dimensions and the element id of every leaf in it."""

    dims: tuple[int, ...]
    leaf_element: np.ndarray  # int64 element id per leaf
    n_elements: int

    def decode(self, element: int, cardinalities: list[int]) -> tuple[int, ...]:
        """Element id -> the value code of each of `dims`."""
        codes = []
        for dim in reversed(self.dims):
            codes.append(element % cardinalities[dim])
            element //= cardinalities[dim]
        return tuple(reversed(codes))


def build_cuboids(codes: list[np.ndarray], cardinalities: list[int], max_order: int) -> list[list[Cuboid]]:
    """Cuboids grouped by layer (layer 0 holds the one-dimension cuboids)."""
    layers: list[list[Cuboid]] = []
    for order in range(1, min(max_order, len(codes)) + 1):
        layer = []
        for dims in combinations(range(len(codes)), order):
            element = np.zeros(len(codes[0]), dtype=np.int64)
            size = 1
            for dim in dims:
                element = element * cardinalities[dim] + codes[dim]
                size *= cardinalities[dim]
            layer.append(Cuboid(dims, element, size))
        layers.append(layer)
    return layers


@dataclass(frozen=True)
class Pick:
    cuboid: Cuboid | None  # None: the shift all traffic shared (combination {})
    element: int
    purity: float
    covered_weight: float
    strict: bool  # found at the strictest purity level, not by a fallback


@dataclass(frozen=True)
class SearchInput:
    """Per-leaf arrays for one direction of change.

    `abnormal`: leaves that moved in the searched direction. `decided`: leaves
    whose data can tell moved from unmoved (abnormal ones, and normal ones
    whose observation is incompatible with the typical shift); a tiny leaf that
    fits both stories is left out of purity instead of diluting it. `excess`
    and `variance` give each element's pooled significance.
    """

    weight: np.ndarray
    abnormal: np.ndarray
    decided: np.ndarray
    excess: np.ndarray
    variance: np.ndarray
    direction: int


def cover_abnormal(
    layers: list[list[Cuboid]],
    leaves: SearchInput,
    *,
    purity_levels: tuple[float, ...],
    min_z: float,
    fallback_leftover: float,
    max_picks: int,
) -> list[Pick]:
    """Pick pure elements, coarsest layer first, until the abnormal volume is explained.

    An element qualifies at purity level `tau` when the abnormal share of its
    decided volume is at least `tau`, it still covers unexplained abnormal
    volume, and its pooled shift is significant (|z| >= `min_z` in the searched
    direction). If the strictest level leaves more than `fallback_leftover` of
    the abnormal volume unexplained (noisy leaves, a cause finer than the
    deepest layer), the next, looser level is tried on what remains, so the
    answer degrades gracefully instead of going silent.
    """
    abnormal_weight = np.where(leaves.abnormal, leaves.weight, 0.0)
    decided_weight = np.where(leaves.decided, leaves.weight, 0.0)
    total = float(abnormal_weight.sum())
    if total <= 0:
        return []

    def per_element(values):
        return [[np.bincount(c.leaf_element, weights=values, minlength=c.n_elements) for c in layer]
                for layer in layers]

    # element totals never change; computing them once keeps each step cheap
    purity = []
    for dec_layer, abn_layer in zip(per_element(decided_weight), per_element(abnormal_weight), strict=True):
        with np.errstate(invalid="ignore", divide="ignore"):
            purity.append([np.where(d > 0, a / d, 0.0) for d, a in zip(dec_layer, abn_layer, strict=True)])
    significant = []
    for exc_layer, var_layer in zip(per_element(leaves.excess), per_element(leaves.variance), strict=True):
        significant.append([leaves.direction * e >= min_z * np.sqrt(v)
                            for e, v in zip(exc_layer, var_layer, strict=True)])

    unexplained = abnormal_weight.copy()
    picks: list[Pick] = []
    for level, tau in enumerate(purity_levels):
        if level and unexplained.sum() <= fallback_leftover * total:
            break
        for layer_index, layer in enumerate(layers):
            while len(picks) < max_picks and unexplained.sum() > 0:
                best = _best_pure_element(layer, purity[layer_index], significant[layer_index],
                                          unexplained, tau)
                if best is None:
                    break
                cuboid, element, element_purity, gain = best
                picks.append(Pick(cuboid, element, element_purity, gain, strict=level == 0))
                unexplained[cuboid.leaf_element == element] = 0.0
    return picks


def _best_pure_element(layer, purity, significant, unexplained, tau):
    best = None
    for cuboid, element_purity, element_significant in zip(layer, purity, significant, strict=True):
        gain = np.bincount(cuboid.leaf_element, weights=unexplained, minlength=cuboid.n_elements)
        eligible = (element_purity >= tau) & element_significant & (gain > 0)
        if not eligible.any():
            continue
        # most unexplained volume first; purity breaks near-ties between overlapping candidates
        score = np.where(eligible, gain * (1.0 + 1e-3 * element_purity), -np.inf)
        element = int(np.argmax(score))
        if best is None or score[element] > best[4]:
            best = (cuboid, element, float(element_purity[element]), float(gain[element]), float(score[element]))
    return None if best is None else best[:4]
