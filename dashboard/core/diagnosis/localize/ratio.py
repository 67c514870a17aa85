"""Ratio metrics in segment localization: the rate/mix split and traffic-mix causes.

A rate R = sum(num) / sum(den) moves for two reasons: a segment's own rate
changed (rate effect) or the traffic moved toward segments whose usual rate
differs (mix effect). `ratio_contribution` splits a segment's contribution
exactly; `mix_causes` finds the segments whose traffic share moved.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from dashboard.core.diagnosis.localize.leaves import score_leaves

RATIO_COLUMNS = ("real_num", "real_den", "predict_num", "predict_den")


def ratio_totals(leaves: pl.DataFrame):
    """(real rate, expected rate, change, the four column sums)."""
    sums = tuple(float(leaves[c].sum()) for c in RATIO_COLUMNS)
    real, expected = safe_div(sums[0], sums[1]), safe_div(sums[2], sums[3])
    return real, expected, real - expected, sums


def ratio_contribution(seg_rn, seg_rd, seg_pn, seg_pd, rn, rd, pn, pd_) -> tuple[float, float, float]:
    """A segment's (rate effect, mix effect) on the overall rate, and the overall change.

    With w the segment's share of the denominator and r its rate (hat =
    expected): rate effect = w (r - r_hat), mix effect = (w - w_hat)(r_hat -
    R_hat). Summed over any partition they equal R - R_hat exactly, so a
    segment whose rate rose and a segment whose traffic grew while its usual
    rate is high are both credited with their real part of the change.
    """
    real_rate, expected_rate = safe_div(rn, rd), safe_div(pn, pd_)
    share, expected_share = safe_div(seg_rd, rd), safe_div(seg_pd, pd_)
    seg_expected_rate = safe_div(seg_pn, seg_pd) if seg_pd > 0 else expected_rate
    seg_real_rate = safe_div(seg_rn, seg_rd) if seg_rd > 0 else seg_expected_rate
    rate_effect = share * (seg_real_rate - seg_expected_rate)
    mix_effect = (share - expected_share) * (seg_expected_rate - expected_rate)
    return float(rate_effect), float(mix_effect), float(real_rate - expected_rate)


def safe_div(num, den) -> float:
    return float(num) / float(den) if den else 0.0


def mix_causes(layers, cube, options: dict, seen: set[str], *, search) -> list:
    """Segments whose share of the traffic moved enough to move the rate by itself.

    The denominator is localized as an additive metric against the baseline
    traffic rescaled to today's total (a busier hour is not a shift). Shares
    sum to one, so when one segment grows every other one shrinks by the same
    factor: after the largest shift is found, the others' baseline is rescaled
    to the traffic left to them and searched again, and only what still moved
    is reported. A segment is kept when its mix effect is at least a tenth of
    the rate change.
    """
    rd = cube.leaves["real_den"].to_numpy().astype(float)
    pd_ = cube.leaves["predict_den"].to_numpy().astype(float)
    total = ratio_totals(cube.leaves)[2]
    if pd_.sum() <= 0 or not total:
        return []

    def material(causes):
        return [c for c in causes if c.label not in seen and abs(c.mix_effect or 0.0) >= 0.1 * abs(total)]

    scale = np.full(len(rd), rd.sum() / pd_.sum())
    causes = material(_traffic_search(layers, cube, rd, pd_, scale, options, search))
    if not causes:
        return []
    top = max(causes, key=lambda c: abs(c.mix_effect or 0.0))
    inside = _mask_of(cube, top.combination)
    if pd_[~inside].sum() > 0:
        scale = np.where(inside, scale, rd[~inside].sum() / pd_[~inside].sum())
    rest = material(_traffic_search(layers, cube, rd, pd_, scale, options, search))
    return [top] + [c for c in rest if c.label != top.label]


def _traffic_search(layers, cube, rd, pd_, scale, options, search) -> list:
    traffic = pl.DataFrame({"real": rd, "predict": pd_ * scale})
    # both windows are counts: the baseline's own sampling noise enters the comparison
    two_sample = rd + scale**2 * pd_
    scores = score_leaves(traffic, "additive", z_threshold=options["z_threshold"],
                          min_relative_change=options["min_relative_change"], count_unit=two_sample)
    return search(layers, cube, scores, "mix", options)


def _mask_of(cube, combination: dict[str, str]) -> np.ndarray:
    mask = np.ones(cube.leaves.height, dtype=bool)
    for dim, value in combination.items():
        mask &= (cube.leaves[dim] == value).to_numpy()
    return mask


