"""What a localized answer says: `RootCause`, and how one is described from the leaves it covers.

`describe` gives a combination its share of the change, its shift beyond what all
traffic shared, its surprise in noise units, its real and expected values and
(ratio metrics) its rate and mix effects; `describe_everything` the shift all
traffic shared (combination {}).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Literal, cast

import numpy as np
import polars as pl

from dashboard.core.diagnosis.localize.leaves import LeafScores
from dashboard.core.diagnosis.localize.ratio import RATIO_COLUMNS, ratio_contribution, ratio_totals, safe_div
from dashboard.core.diagnosis.localize.search import Pick

Kind = Literal["additive", "ratio"]


@dataclass(frozen=True)
class RootCause:
    """One localized combination.

    `real` / `expected` are sums for additive metrics and rates for ratio ones.
    `share_of_change` (explanatory power) is this combination's contribution
    to the total change (1.0 = all of it; negative = it moved the other way).
    `surprise` is its pooled shift in noise standard deviations; `deviation`
    the relative change (real - expected) / expected. When all traffic
    shifted together, one cause with `combination == {}` (label "(all)")
    reports that shared shift, and the other causes' `deviation` and
    `surprise` are measured beyond it (their `share_of_change` stays their
    whole contribution, shared part included). `support_rows` counts
    leaves, `support_volume` the expected volume (additive) or observed
    denominator, e.g. requests (ratio). `purity` is the share of its volume in
    leaves that moved in `direction`. `effect` says what moved: "value"
    (additive metric), "rate" (the segment's own rate; `deviation` and
    `surprise` are of its events against its expected rate) or "mix" (its
    share of the traffic; `deviation` and `surprise` are of its traffic
    against the baseline share). Ratio only: `rate_effect` + `mix_effect` =
    its contribution to the rate change, in rate units.
    """

    combination: dict[str, str]
    direction: Literal["up", "down"]
    share_of_change: float
    surprise: float
    deviation: float
    real: float
    expected: float
    support_rows: int
    support_volume: float
    purity: float
    effect: Literal["value", "rate", "mix"] = "value"
    rate_effect: float | None = None
    mix_effect: float | None = None
    alternative: bool = False

    @property
    def label(self) -> str:
        """`dim=value&dim=value`, the format of the public benchmarks; `(all)` for everything."""
        return "&".join(f"{k}={v}" for k, v in self.combination.items()) or "(all)"

    def to_json_dict(self) -> dict:
        return {"label": self.label, **asdict(self)}


@dataclass(frozen=True)
class Cube:
    """The leaves being localized, with each dimension's values as codes."""

    dims: list[str]
    values: list[np.ndarray]
    cardinalities: list[int]
    leaves: pl.DataFrame
    kind: Kind


def describe_everything(cube: Cube, scores: LeafScores, effect: str) -> RootCause:
    """The shift all traffic shared (combination {}): its numbers are the whole cube's."""
    everything = Pick(cuboid=None, element=0, purity=1.0, covered_weight=0.0, strict=True)
    cause = describe(everything, np.ones(cube.leaves.height, dtype=bool),
                      1 if scores.global_shift > 0 else -1, cube, scores, effect, combination={})
    shared = scores.global_shift * float(scores.expected.sum())
    total = shared + float(scores.excess.sum())
    # what is left after the segment causes: the shared shift's part of the change
    return replace(cause, deviation=scores.global_shift, share_of_change=shared / total if total else 0.0)


def describe(pick, mask, direction, cube: Cube, scores: LeafScores, effect: str, combination=None) -> RootCause:
    if combination is None:
        value_codes = pick.cuboid.decode(pick.element, cube.cardinalities)
        combination = {cube.dims[d]: str(cube.values[d][code])
                       for d, code in zip(pick.cuboid.dims, value_codes, strict=True)}
    excess = float(scores.excess[mask].sum())
    # against the expectation after the shift all traffic shared, if there was one
    deviation = _relative(excess, float(scores.expected[mask].sum()) * (1 + scores.global_shift))
    common = dict(combination=combination, direction="down" if direction < 0 else "up",
                  surprise=excess / float(np.sqrt(scores.variance[mask].sum()) or 1.0),
                  deviation=deviation, support_rows=int(mask.sum()), effect=effect,
                  purity=safe_div(scores.weight[mask & (scores.label == direction)].sum(),
                                   scores.weight[mask].sum()))
    leaves = cube.leaves
    if cube.kind == "additive":
        real = float(leaves["real"].to_numpy()[mask].sum())
        expected = float(leaves["predict"].to_numpy()[mask].sum())
        total_change = float(cast(float, leaves["real"].sum()) - cast(float, leaves["predict"].sum()))  # Float64
        return RootCause(share_of_change=_share(real - expected, total_change), real=real,
                         expected=expected, support_volume=expected, **common)
    rn, rd, pn, pd_ = (leaves[c].to_numpy() for c in RATIO_COLUMNS)
    rate_effect, mix_effect, total_change = ratio_contribution(
        rn[mask].sum(), rd[mask].sum(), pn[mask].sum(), pd_[mask].sum(), *ratio_totals(leaves)[3])
    return RootCause(share_of_change=_share(rate_effect + mix_effect, total_change),
                     real=safe_div(rn[mask].sum(), rd[mask].sum()),
                     expected=safe_div(pn[mask].sum(), pd_[mask].sum()),
                     support_volume=float(rd[mask].sum()),
                     rate_effect=rate_effect, mix_effect=mix_effect, **common)


def _relative(change: float, base: float) -> float:
    return change / base if base else float("inf") if change else 0.0


def _share(part: float, total: float) -> float:
    return part / total if total else 0.0
