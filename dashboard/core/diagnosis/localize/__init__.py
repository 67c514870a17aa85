"""Segment localization: which dimension combinations carry a change.

`localize(frame, dims, kind=...)` takes one row per leaf (a full combination
of dimension values) with the observed and the expected value, and returns the
ranked root-cause combinations, each with its share of the total change, how
surprising its shift is, its real and expected values and its support.

Two metric kinds:
- additive (`real`, `predict`): traffic, cost, error counts. A leaf's excess
  is `real - predict`.
- ratio (`real_num`, `real_den`, `predict_num`, `predict_den`): a rate such as
  refusals / requests. A leaf's excess is the events beyond what its expected
  rate predicts for the traffic it actually received, so a pure traffic-mix
  shift does not look like a rate anomaly; each returned combination reports
  its rate effect and its mix effect separately, and they sum over a partition
  to the total change of the rate.

Method:
1. Per leaf, the excess in noise units: a z-score under a variance with a
   count term and a relative term, fitted to the quiet leaves
   (`localize.leaves`), so it suits event counts and forecast error alike;
   for rates the count term is the two-proportion test's null variance.
2. Leaf labels (`localize.search`): leaves beyond the Bonferroni threshold
   are abnormal; coarse-first, the combinations nearly all of whose decided
   volume moved ("pure") are kept, so `language=en` is returned rather than
   `language=en&tier=paid` when all English moved; a child is widened to its
   parent when the parent's other leaves, pooled, moved alike.
3. When the leaves are too small to decide one by one (labels needed a
   looser purity, or pooled evidence remains outside what they explain), a
   pooled forward selection decides instead (`localize.pursuit`): each
   combination gets one fitted relative shift and must explain more
   chi-square than its layer's Bonferroni penalty.
4. Ratio metrics also get traffic-mix causes (`localize.ratio`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

import numpy as np
import polars as pl

from dashboard.core.diagnosis.localize.answer import Cube, Kind, RootCause, describe, describe_everything
from dashboard.core.diagnosis.localize.leaves import LeafScores, direction_input, score_leaves
from dashboard.core.diagnosis.localize.pursuit import pooled_pursuit
from dashboard.core.diagnosis.localize.ratio import RATIO_COLUMNS, mix_causes
from dashboard.core.diagnosis.localize.search import Pick, build_cuboids, cover_abnormal
from dashboard.core.diagnosis.localize.select import confirm, select_causes

ADDITIVE_COLUMNS = ("real", "predict")


def localize(
    frame: pl.DataFrame,
    dims: Sequence[str],
    *,
    kind: Kind = "additive",
    max_order: int = 3,
    z_threshold: float | None = None,
    min_relative_change: float = 0.02,
    purity: float = 0.98,
    max_causes: int = 10,
    method: Literal["auto", "labels", "pooled", "shared"] = "auto",
    alternatives: bool = False,
) -> list[RootCause]:
    """Ranked root-cause combinations of the change between expected and real.

    `frame` has one row per leaf; rows sharing all `dims` values are summed.
    Returns at most `max_causes` combinations of at most `max_order` dims,
    largest share of the change first; an empty list when no leaf moved
    beyond the noise. `z_threshold` is the leaf-level |z| for "moved"
    (default: Bonferroni over the leaves at 5%); `min_relative_change` the
    smallest relative shift worth reporting; `purity` the share of an element's
    decided volume that must have moved for the element to be a root cause
    (looser levels are tried only when the strict one explains too little).
    `method` forces one engine ("labels", "pooled" or "shared", the
    random-effects forward selection of `localize.select`); "auto" picks per
    case. Every engine's answers pass the same stopping rule
    (`localize.select.confirm`). `alternatives=True` appends, after the
    answers, each answer's most likely parent or child (one dimension coarser
    or finer, the one whose own shift is most significant), flagged
    `alternative=True`, so the top three show the plausible granularities.
    Raises ValueError naming the column (and row) on malformed input.
    """
    dims = list(dims)
    leaves = _prepare(frame, dims, kind)
    if leaves.height == 0:
        return []
    codes, values = [], []
    for dim in dims:
        # dense rank = index into the sorted distinct values (numpy's unique sorts Python strings: slow)
        column = leaves[dim]
        values.append(column.unique().sort().to_numpy())
        codes.append((column.rank("dense").cast(pl.Int64) - 1).to_numpy())
    cube = Cube(dims, values, [len(v) for v in values], leaves, kind)
    layers = build_cuboids(codes, cube.cardinalities, max_order)
    options = dict(z_threshold=z_threshold, min_relative_change=min_relative_change,
                   purity=purity, max_causes=max_causes, method=method)

    effect = "rate" if kind == "ratio" else "value"
    scores = score_leaves(leaves, kind, z_threshold=z_threshold, min_relative_change=min_relative_change)
    found = _search(layers, cube, scores, effect, options)
    if scores.global_shift:
        found.append(describe_everything(cube, scores, effect))
    if kind == "ratio":
        found += mix_causes(layers, cube, options, {c.label for c in found}, search=_search)
    found.sort(key=lambda c: -abs(c.share_of_change))
    found = found[:max_causes]
    if alternatives:
        found += _alternatives(layers, cube, scores, effect, found)
    return found


def _search(layers, cube: Cube, scores: LeafScores, effect: str, options: dict) -> list[RootCause]:
    """Leaf labels when the leaves are decisive, pooled evidence when they are not.

    Leaf labels are exact when every leaf of a cause shows the shift on its
    own (large leaves, small noise), and they tolerate causes whose leaves
    moved by different amounts. They are decisive when (1) every combination
    was found at the strict purity level and (2) the leaves they leave
    unexplained hold no pooled evidence of another cause. Otherwise (small
    leaves, e.g. a rate over a few dozen requests each) the pooled search
    decides on all leaves.
    """
    method = options["method"]
    if method == "shared":
        picks = [(p.cuboid, p.element, 1 if p.shift > 0 else -1)
                 for p in select_causes(layers, scores.excess, scores.expected, scores.weighting, scores.variance,
                                        min_relative_change=options["min_relative_change"],
                                        max_picks=options["max_causes"])]
    else:
        picks = None
        if method in ("auto", "labels"):
            labelled = _label_search(layers, scores, options)
            explained = _covered([pick for pick, _ in labelled], np.zeros(cube.leaves.height, dtype=bool))
            decisive = method == "labels" or (
                all(pick.strict for pick, _ in labelled)
                and not _pooled(layers, scores, options, active=~explained))
            if decisive:
                picks = [(pick.cuboid, pick.element, direction) for pick, direction in _widen(layers, scores, labelled)]
        if picks is None:
            picks = [(p.cuboid, p.element, 1 if p.shift > 0 else -1) for p in _pooled(layers, scores, options)]
    picks = _confirmed(layers, picks or [], scores)  # every branch above set it
    return _drop_descendants([
        describe(Pick(cuboid, element, 0.0, 0.0, True), cuboid.leaf_element == element, direction, cube, scores, effect)
        for cuboid, element, direction in picks])


def _confirmed(layers, picks: list[tuple], scores: LeafScores) -> list[tuple]:
    """The stopping rule (`localize.select.confirm`), largest excess first."""
    def size(pick):
        return -abs(float(scores.excess[pick[0].leaf_element == pick[1]].sum()))

    ranked = sorted(picks, key=size)
    kept = confirm(layers, [(c, e) for c, e, _ in ranked], scores.excess, scores.expected,
                   scores.weighting, scores.variance)
    return [ranked[index] for index in kept]


def _alternatives(layers, cube: Cube, scores: LeafScores, effect: str, answers: list[RootCause]) -> list[RootCause]:
    """Per segment answer, its parent and child with the most significant shift, the better first."""
    index = {d: i for i, d in enumerate(cube.dims)}
    seen = {c.label for c in answers}
    extra = []
    for answer in answers:
        if not answer.combination or answer.effect == "mix":
            continue
        dims = sorted(index[d] for d in answer.combination)
        mask = _mask(cube, answer.combination)
        options = []
        for cuboid in (c for layer in layers for c in layer):
            related = set(cuboid.dims)
            if not ((related < set(dims) and len(related) == len(dims) - 1)
                    or (set(dims) < related and len(related) == len(dims) + 1)):
                continue
            elements = np.unique(cuboid.leaf_element[mask]) if len(related) > len(dims) else \
                [int(cuboid.leaf_element[mask][0])]
            for element in elements:
                inside = cuboid.leaf_element == element
                z = float(scores.excess[inside].sum()) / float(np.sqrt(scores.variance[inside].sum()) or 1.0)
                options.append((abs(z), cuboid, int(element), inside, 1 if z > 0 else -1))
        for best in sorted(options, key=lambda o: -o[0])[:2]:
            _, cuboid, element, inside, direction = best
            cause = replace(describe(Pick(cuboid, element, 0.0, 0.0, True), inside, direction, cube, scores, effect),
                            alternative=True)
            if cause.label not in seen:
                seen.add(cause.label)
                extra.append(cause)
    return extra


def _mask(cube: Cube, combination: dict[str, str]) -> np.ndarray:
    mask = np.ones(cube.leaves.height, dtype=bool)
    for dim, value in combination.items():
        mask &= (cube.leaves[dim] == value).to_numpy()
    return mask


def _label_search(layers, scores: LeafScores, options: dict) -> list[tuple]:
    magnitude = {d: float(scores.weight[scores.label == d].sum()) for d in (-1, 1)}
    # a direction holding a sliver of the abnormal volume is noise around the real change
    directions = [d for d in (-1, 1) if magnitude[d] > 0.02 * max(magnitude.values())]
    tau = options["purity"]

    def search(direction, set_aside):
        leaves = direction_input(scores, direction)
        leaves = replace(leaves, decided=leaves.decided & ~set_aside)
        return cover_abnormal(layers, leaves, purity_levels=(tau, tau - 0.1, tau - 0.25),
                              min_z=scores.z_threshold, fallback_leftover=0.05,
                              max_picks=options["max_causes"])

    nothing = np.zeros(len(scores.label), dtype=bool)
    picks = {d: search(d, nothing) for d in directions}
    if len(directions) == 2:
        # a leaf inside a fall and a rise nets out either way; neither search may hold it against the other
        covered = {d: _covered(picks[d], nothing) for d in directions}
        picks = {d: search(d, covered[-d]) for d in directions}
    return [(pick, d) for d in directions for pick in picks[d]]


def _widen(layers, scores: LeafScores, picks: list[tuple], *, min_z: float = 3.0,
           min_ratio: float = 0.5) -> list[tuple]:
    """Replace a combination by its parent when the rest of the parent moved the same way.

    Leaf labels can split one cause into children when some of its leaves are
    too small to pass the leaf threshold on their own. If the parent's other
    leaves, pooled, moved significantly (|z| >= `min_z`) and by at least
    `min_ratio` of the child's relative shift, the change lives in the parent.
    A sibling cause of a different size (two causes under one parent) does not
    qualify: pooled with the parent's normal leaves its shift is diluted.
    """
    by_dims = {c.dims: c for layer in layers for c in layer}
    widened = []
    for pick, direction in picks:
        while len(pick.cuboid.dims) > 1:
            mask = pick.cuboid.leaf_element == pick.element
            shift = scores.excess[mask].sum() / max(scores.expected[mask].sum(), 1e-300)
            best = None
            for dropped in pick.cuboid.dims:
                parent = by_dims[tuple(d for d in pick.cuboid.dims if d != dropped)]
                element = int(parent.leaf_element[mask][0])
                rest = (parent.leaf_element == element) & ~mask
                expected = scores.expected[rest].sum()
                if expected <= 0:
                    continue
                z = direction * scores.excess[rest].sum() / np.sqrt(scores.variance[rest].sum())
                if z >= min_z and scores.excess[rest].sum() / expected / shift >= min_ratio:
                    if best is None or z > best[0]:
                        best = (z, parent, element)
            if best is None:
                break
            _, parent, element = best
            pick = replace(pick, cuboid=parent, element=element)
        widened.append((pick, direction))
    return widened


def _covered(picks, start: np.ndarray) -> np.ndarray:
    covered = start.copy()
    for pick in picks:
        covered |= pick.cuboid.leaf_element == pick.element
    return covered


def _pooled(layers, scores: LeafScores, options: dict, active=None):
    return pooled_pursuit(layers, scores.excess, scores.expected, scores.weighting,
                          test_variance=scores.variance, min_relative_change=options["min_relative_change"],
                          max_picks=options["max_causes"], active=active)


def _drop_descendants(causes: list[RootCause]) -> list[RootCause]:
    """Keep the coarsest: a combination refining another one in the answer adds nothing."""
    unique = list({c.label: c for c in reversed(causes)}.values())[::-1]  # first of duplicates
    items = [set(c.combination.items()) for c in unique]
    return [c for c, mine in zip(unique, items, strict=True) if not any(other < mine for other in items)]


def _prepare(frame: pl.DataFrame, dims: list[str], kind: Kind) -> pl.DataFrame:
    if kind not in ("additive", "ratio"):
        raise ValueError(f"kind must be 'additive' or 'ratio', got {kind!r}")
    if not dims:
        raise ValueError("localize needs at least one dimension")
    measures = ADDITIVE_COLUMNS if kind == "additive" else RATIO_COLUMNS
    missing = [c for c in (*dims, *measures) if c not in frame.columns]
    if missing:
        raise ValueError(f"{kind} localization needs column(s) {missing}; frame has {frame.columns}")
    for col in measures:
        if not frame.schema[col].is_numeric():
            raise ValueError(f"column {col!r} must be numeric, got {frame.schema[col]}")
        values = frame[col]
        if values.null_count():
            row = values.is_null().arg_max() or 0  # there is a null: arg_max finds it
            raise ValueError(f"column {col!r} is null at row {row}")
        if (values < 0).any() or values.cast(pl.Float64).is_nan().any():
            row = ((values < 0) | values.cast(pl.Float64).is_nan()).arg_max() or 0
            raise ValueError(f"column {col!r} must be a non-negative number; row {row} has {values[row]}")
    keys = [pl.col(d).cast(pl.String).fill_null("(null)") for d in dims]
    return (frame.lazy().group_by(keys)
            .agg([pl.col(c).cast(pl.Float64).sum() for c in measures])
            .collect())
