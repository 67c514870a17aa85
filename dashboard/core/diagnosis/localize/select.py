"""Calibrated forward selection of root-cause combinations on production-shaped data.

Returns the few combinations whose leaves share a shift, each significant
against the noise, against leaf-level drift, and against what the earlier
picks already explain, at the coarsest granularity the data allows.

Why a random-effects test: in production many leaves move for their own
reasons (a tenant's bug, a bot), and a combination dominated by one such leaf
looks as significant as a real cause under a test that assumes every leaf
shares one shift. Each combination S is therefore tested the way a
random-effects meta-analysis tests a pooled effect: every leaf i has a
relative shift y_i = x_i / e_i with sampling variance s_i^2 = v_i / e_i^2
(from the leaf noise model), leaves differ by a between-leaf variance tau^2
estimated within S (DerSimonian-Laird), and S's shift
delta = sum(w_i y_i) / sum(w_i) with w_i = 1 / (s_i^2 + tau^2) gets
z = delta * sqrt(sum w_i). A shift many leaves share is homogeneous and keeps
its z; one drifting leaf among quiet ones makes tau^2 large and z small. A
combination must also keep its shift without its largest contributor
(|z| >= `LEAVE_ONE_OUT_Z` for the rest), so a one-leaf combination cannot pass.

Stopping rule: a pick's |z| must pass the Bonferroni threshold over every
candidate of its layer, with `alpha` split equally over the layers, computed
on the residual after the earlier picks' shifts are removed: the family of
all tests holds a false answer to about `alpha` per case (0.05 by default),
and an extra pick must explain a significant part of what the earlier ones
leave unexplained.

Granularity: the pick is the candidate with the largest |z|, then
- widened to a parent while the parent's other leaves shifted the same way
  (z >= `WIDEN_Z`) and do not reject the pick's shift (|difference| < `REJECT_Z`);
- narrowed to a child when the rest of the pick's leaves reject the child's
  shift and show no shift of their own (z < `WIDEN_Z`), and the child alone
  passes the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from dashboard.core.diagnosis.localize.search import Cuboid

LEAVE_ONE_OUT_Z = 2.5
WIDEN_Z = 2.0
REJECT_Z = 3.0


@dataclass(frozen=True)
class SharedPick:
    cuboid: Cuboid
    element: int
    shift: float   # random-effects relative shift delta
    z: float       # its significance


@dataclass(frozen=True)
class _Stats:
    shift: np.ndarray
    z: np.ndarray
    loo_z: np.ndarray


def layer_thresholds(layers: list[list[Cuboid]], alpha: float) -> list[float]:
    """|z| a combination must pass, per layer: Bonferroni over its candidates, alpha split over layers."""
    share = alpha / max(len(layers), 1)
    return [float(norm.isf(share / (2 * max(sum(c.n_elements for c in layer), 1)))) for layer in layers]


def shared_shift(cuboid: Cuboid, excess: np.ndarray, expected: np.ndarray, weighting: np.ndarray,
                 variance: np.ndarray, active: np.ndarray) -> _Stats:
    """Per element: the fitted relative shift, the pooled z and the z without the largest contributor.

    The shift is the weighted least-squares relative change (weights from
    `weighting`, noise not computed from today's outcome); the z is the
    pooled excess over the pooled test variance (sums of counts are close to
    normal even when each leaf holds a fraction of an event); the
    leave-one-out z drops the leaf with the largest excess in the element's
    direction from both sums.
    """
    n = cuboid.n_elements
    elem = cuboid.leaf_element
    use = active & (expected > 0)
    x = np.where(use, excess, 0.0)
    v = np.where(use, variance, 0.0)

    def total(values):
        return np.bincount(elem, weights=values, minlength=n)

    with np.errstate(invalid="ignore", divide="ignore"):
        info = total(np.where(use, expected**2 / weighting, 0.0))
        shift = np.where(info > 0, total(np.where(use, x * expected / weighting, 0.0)) / info, 0.0)
        sx, sv = total(x), total(v)
        z = np.where(sv > 0, sx / np.sqrt(sv), 0.0)
        signed = np.where(use, x * np.sign(sx)[elem], -np.inf)
        top = np.full(n, -np.inf)
        np.maximum.at(top, elem, signed)
        is_top = use & (signed == top[elem])
        leaf_of_top = np.full(n, -1)
        leaf_of_top[elem[is_top]] = np.flatnonzero(is_top)  # ties: any one of them
        has_top = leaf_of_top >= 0
        top_x, top_v = np.zeros(n), np.zeros(n)
        top_x[has_top] = x[leaf_of_top[has_top]]
        top_v[has_top] = v[leaf_of_top[has_top]]
        rest_v = sv - top_v
        loo_z = np.where(rest_v > 1e-9 * sv, np.sign(sx) * (sx - top_x) / np.sqrt(np.maximum(rest_v, 1e-300)), 0.0)
    return _Stats(shift, z, loo_z)


def select_causes(layers: list[list[Cuboid]], excess: np.ndarray, expected: np.ndarray,
                  weighting: np.ndarray, variance: np.ndarray, *, min_relative_change: float, max_picks: int,
                  alpha: float = 0.05) -> list[SharedPick]:
    """Forward selection with the stopping rule, widening and narrowing described above."""
    thresholds = layer_thresholds(layers, alpha)
    active = expected > 0
    residual = excess.astype(float).copy()
    excluded = [[np.zeros(c.n_elements, dtype=bool) for c in layer] for layer in layers]
    by_dims = {c.dims: (li, ci) for li, layer in enumerate(layers) for ci, c in enumerate(layer)}
    picks: list[SharedPick] = []
    while len(picks) < max_picks:
        stats = [[shared_shift(c, residual, expected, weighting, variance, active) for c in layer] for layer in layers]

        def passes(li, ci, element, stats=stats):
            s = stats[li][ci]
            return (abs(s.z[element]) >= thresholds[li] and abs(s.shift[element]) >= min_relative_change
                    and s.loo_z[element] >= LEAVE_ONE_OUT_Z and not excluded[li][ci][element])

        best = None
        for li, layer in enumerate(layers):
            for ci, _ in enumerate(layer):
                s = stats[li][ci]
                eligible = ((np.abs(s.z) >= thresholds[li]) & (np.abs(s.shift) >= min_relative_change)
                            & (s.loo_z >= LEAVE_ONE_OUT_Z) & ~excluded[li][ci])
                if not eligible.any():
                    continue
                element = int(np.argmax(np.where(eligible, np.abs(s.z), -np.inf)))
                if best is None or abs(s.z[element]) > best[0]:
                    best = (abs(s.z[element]), li, ci, element)
        if best is None:
            break
        _, li, ci, element = best
        li, ci, element = _narrow(layers, stats, by_dims, residual, expected, variance, li, ci, element, passes)
        li, ci, element = _widen(layers, by_dims, residual, expected, variance, li, ci, element, stats)
        cuboid = layers[li][ci]
        members = cuboid.leaf_element == element
        shift = float(stats[li][ci].shift[element])
        picks.append(SharedPick(cuboid, element, shift, float(stats[li][ci].z[element])))
        residual[members] -= shift * expected[members]
        _exclude_related(layers, excluded, cuboid, members)
    return picks


def _pooled(mask, residual, expected, variance) -> tuple[float, float, float]:
    """Fixed-effect relative shift of the leaves in `mask`, its standard error and z."""
    info = float((expected[mask] ** 2 / variance[mask]).sum())
    if info <= 0:
        return 0.0, np.inf, 0.0
    shift = float((residual[mask] * expected[mask] / variance[mask]).sum()) / info
    return shift, 1.0 / np.sqrt(info), shift * np.sqrt(info)


def _rejects(rest, shift, residual, expected, variance) -> bool:
    """The leaves of `rest` did not move by `shift`: their own shift differs by >= REJECT_Z."""
    rest_shift, rest_se, _ = _pooled(rest, residual, expected, variance)
    return bool(np.isfinite(rest_se) and abs(rest_shift - shift) >= REJECT_Z * rest_se)


def _stayed(rest, shift, residual, expected, variance) -> bool:
    """The leaves of `rest` reject `shift` and show no shift of their own in its direction."""
    _, _, rest_z = _pooled(rest, residual, expected, variance)
    return np.sign(shift) * rest_z < WIDEN_Z and _rejects(rest, shift, residual, expected, variance)


def _narrow(layers, stats, by_dims, residual, expected, variance, li, ci, element, passes):
    """A child replaces the pick when the pick's other leaves reject the child's shift."""
    while li + 1 < len(layers):
        cuboid = layers[li][ci]
        members = cuboid.leaf_element == element
        best = None
        for child_li, child_ci in _children(layers, by_dims, cuboid):
            child = layers[child_li][child_ci]
            s = stats[child_li][child_ci]
            for child_element in np.unique(child.leaf_element[members]):
                child_element = int(child_element)
                if not passes(child_li, child_ci, child_element):
                    continue
                inside = child.leaf_element == child_element
                rest = members & ~inside & (expected > 0)
                if rest.any() and _stayed(rest, s.shift[child_element], residual, expected, variance):
                    if best is None or abs(s.z[child_element]) > best[0]:
                        best = (abs(s.z[child_element]), child_li, child_ci, child_element)
        if best is None:
            break
        # a child is preferred only when it keeps most of the pick's evidence
        if best[0] < 0.5 * abs(stats[li][ci].z[element]):
            break
        _, li, ci, element = best
    return li, ci, element


def _widen(layers, by_dims, residual, expected, variance, li, ci, element, stats):
    """A parent replaces the pick while its other leaves moved alike and do not reject the shift."""
    while li > 0:
        cuboid = layers[li][ci]
        members = cuboid.leaf_element == element
        shift = float(stats[li][ci].shift[element])
        best = None
        for dropped in cuboid.dims:
            pli, pci = by_dims[tuple(d for d in cuboid.dims if d != dropped)]
            parent = layers[pli][pci]
            parent_element = int(parent.leaf_element[members][0])
            rest = (parent.leaf_element == parent_element) & ~members & (expected > 0)
            if not rest.any():
                continue
            _, _, rest_z = _pooled(rest, residual, expected, variance)
            if np.sign(shift) * rest_z >= WIDEN_Z and not _rejects(rest, shift, residual, expected, variance):
                if best is None or np.sign(shift) * rest_z > best[0]:
                    best = (np.sign(shift) * rest_z, pli, pci, parent_element)
        if best is None:
            break
        _, li, ci, element = best
    return li, ci, element


def _children(layers, by_dims, cuboid: Cuboid):
    for dim in range(max(max(c.dims) for layer in layers for c in layer) + 1):
        if dim not in cuboid.dims:
            key = tuple(sorted((*cuboid.dims, dim)))
            if key in by_dims:
                yield by_dims[key]


def _exclude_related(layers, excluded, cuboid: Cuboid, members: np.ndarray) -> None:
    """A pick's refinements and generalisations are not further causes (its unevenness is not a cause)."""
    picked = set(cuboid.dims)
    for li, layer in enumerate(layers):
        for ci, other in enumerate(layer):
            dims = set(other.dims)
            if picked <= dims:
                excluded[li][ci][np.unique(other.leaf_element[members])] = True
            elif dims < picked:
                excluded[li][ci][int(other.leaf_element[members][0])] = True


def empirical_null_scale(layers, excess, expected, weighting, variance, active) -> list[float]:
    """Per layer, the spread of the combinations' z-scores around zero (Efron's empirical null).

    Most combinations did not change; if their z-scores scatter wider than
    N(0, 1) (drifting leaves, a forecast noisier than its model), every
    threshold is scaled by that spread: 1.4826 times the median |z| of the
    combinations with any expected volume, never below 1.
    """
    scales = []
    for layer in layers:
        zs = []
        use = active & (expected > 0)
        x, v = np.where(use, excess, 0.0), np.where(use, variance, 0.0)
        for cuboid in layer:
            sx = np.bincount(cuboid.leaf_element, weights=x, minlength=cuboid.n_elements)
            sv = np.bincount(cuboid.leaf_element, weights=v, minlength=cuboid.n_elements)
            zs.append(np.abs(sx[sv > 0]) / np.sqrt(sv[sv > 0]))
        values = np.concatenate(zs) if zs else np.zeros(0)
        scales.append(max(1.0, 1.4826 * float(np.median(values))) if len(values) >= 20 else 1.0)
    return scales


def confirm(layers: list[list[Cuboid]], candidates: list[tuple[Cuboid, int]], excess: np.ndarray,
            expected: np.ndarray, weighting: np.ndarray, variance: np.ndarray, *,
            alpha: float = 0.05) -> list[int]:
    """The stopping rule applied to another engine's answers: the indices kept, most significant first.

    Greedily, the most significant remaining candidate is tested on what the kept ones leave
    unexplained: the leaves no kept candidate covers. A kept cause's leaves are
    set aside whole rather than debited its fitted shift, because a cause whose
    leaves moved unevenly (only some of them, or by different amounts) leaves
    a residual of both signs behind, and a combination crossing it would pass
    on that unevenness (a cause's internal unevenness is not another cause).
    A candidate is kept when its pooled |z| passes its layer's Bonferroni
    threshold (scaled by the empirical null), on those leaves and on its own
    data alike, and its shift survives without its largest leaf (a drifting
    leaf is not a cause; a combination of every dimension is a single leaf and
    exempt).
    """
    active = expected > 0
    # the null spread is read with every candidate's shift taken out: a coarse cause crosses
    # every other combination and would otherwise pass for spread
    cleaned = excess.astype(float).copy()
    for cuboid, element in candidates:
        members = cuboid.leaf_element == element
        cleaned[members] -= shared_shift(cuboid, cleaned, expected, weighting, variance, active).shift[element] \
            * expected[members]
    scales = empirical_null_scale(layers, cleaned, expected, weighting, variance, active)
    thresholds = [t * s for t, s in zip(layer_thresholds(layers, alpha), scales, strict=True)]
    layer_of = {c.dims: li for li, layer in enumerate(layers) for c in layer}
    unexplained = active.copy()
    raw = [shared_shift(c, excess, expected, weighting, variance, active).z[e] for c, e in candidates]
    kept = [False] * len(candidates)
    order: list[int] = []
    while True:
        best = None
        for index, (cuboid, element) in enumerate(candidates):
            if kept[index]:
                continue
            threshold = thresholds[layer_of[cuboid.dims]]
            stats = shared_shift(cuboid, excess, expected, weighting, variance, unexplained)
            z = stats.z[element]
            # a combination of every dimension is one leaf by definition: nothing to leave out
            is_leaf = len(cuboid.dims) == len(layers[0])
            # significant on its own data too, the same way: removing an overlapping pick's
            # shift must not make a combination look like it moved the other way
            ok = (abs(z) >= threshold and abs(raw[index]) >= threshold and np.sign(raw[index]) == np.sign(z)
                  and (is_leaf or stats.loo_z[element] >= LEAVE_ONE_OUT_Z))
            if ok and (best is None or abs(z) > best[0]):
                best = (abs(z), index)
        if best is None:
            break
        index = best[1]
        kept[index] = True
        order.append(index)
        cuboid, element = candidates[index]
        unexplained &= cuboid.leaf_element != element
    return order
