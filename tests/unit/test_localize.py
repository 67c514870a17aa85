"""Segment localization on hand-made cubes with a known answer."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest

from dashboard.core.diagnosis.localize import RootCause, localize
from dashboard.core.diagnosis.localize.ratio import ratio_contribution

DIMS = {"region": ["us", "eu", "ap", "sa"], "tier": ["free", "paid", "ent"],
        "language": ["en", "de", "fr", "es", "ja"], "channel": ["web", "app", "api"]}


def _leaves() -> pl.DataFrame:
    rows = list(itertools.product(*DIMS.values()))
    return pl.DataFrame({name: [r[i] for r in rows] for i, name in enumerate(DIMS)})


def _mask(frame: pl.DataFrame, **where: str) -> np.ndarray:
    mask = np.ones(frame.height, dtype=bool)
    for dim, value in where.items():
        mask &= (frame[dim] == value).to_numpy()
    return mask


def additive_cube(seed: int, changes: list[tuple[dict, float]]) -> pl.DataFrame:
    """Forecast per leaf, observed = forecast with 1% noise, times (1 + change) inside each cause."""
    rng = np.random.default_rng(seed)
    frame = _leaves()
    predict = rng.lognormal(4, 1, frame.height)
    real = predict * (1 + rng.normal(0, 0.01, frame.height))
    for where, change in changes:
        real = np.where(_mask(frame, **where), real * (1 + change), real)
    return frame.with_columns(pl.Series("real", real), pl.Series("predict", predict))


def ratio_cube(seed: int, requests_per_leaf: float, rate_factor: list[tuple[dict, float]] = (),
               traffic_factor: list[tuple[dict, float]] = ()) -> pl.DataFrame:
    """Refusals / requests: baseline from a window three times as long, both Poisson/binomial."""
    rng = np.random.default_rng(seed)
    frame = _leaves()
    share = rng.lognormal(0, 0.8, frame.height)
    share /= share.sum()
    base_rate = 0.04 * rng.lognormal(0, 0.3, frame.height)
    base_rate = np.where(_mask(frame, channel="api"), 0.12, base_rate)
    total = requests_per_leaf * frame.height
    predict_den = rng.poisson(share * total * 3)
    predict_num = rng.binomial(predict_den, base_rate)
    rate, real_share = base_rate.copy(), share.copy()
    for where, factor in rate_factor:
        rate = np.where(_mask(frame, **where), rate * factor, rate)
    for where, factor in traffic_factor:
        real_share = np.where(_mask(frame, **where), real_share * factor, real_share)
    real_share /= real_share.sum()
    real_den = rng.poisson(real_share * total)
    real_num = rng.binomial(real_den, np.minimum(rate, 1.0))
    return frame.with_columns(pl.Series("real_num", real_num), pl.Series("real_den", real_den),
                              pl.Series("predict_num", predict_num), pl.Series("predict_den", predict_den))


def labels(causes: list[RootCause]) -> list[str]:
    return [c.label for c in causes]


def test_single_additive_cause_is_found_with_its_numbers():
    frame = additive_cube(1, [({"language": "de"}, -0.5)])
    causes = localize(frame, list(DIMS))
    assert labels(causes) == ["language=de"]
    cause = causes[0]
    inside = _mask(frame, language="de")
    assert cause.direction == "down"
    assert cause.real == pytest.approx(frame["real"].to_numpy()[inside].sum())
    assert cause.expected == pytest.approx(frame["predict"].to_numpy()[inside].sum())
    assert cause.deviation == pytest.approx(-0.5, abs=0.02)
    assert cause.share_of_change == pytest.approx(1.0, abs=0.05)
    assert cause.surprise < -10
    assert cause.support_rows == int(inside.sum())
    assert cause.effect == "value" and cause.rate_effect is None


def test_two_causes_in_opposite_directions_are_both_returned():
    frame = additive_cube(2, [({"region": "eu", "tier": "paid"}, -0.6), ({"channel": "api", "language": "ja"}, 0.8)])
    causes = localize(frame, list(DIMS))
    assert sorted(labels(causes)) == ["language=ja&channel=api", "region=eu&tier=paid"]
    by_label = {c.label: c for c in causes}
    assert by_label["region=eu&tier=paid"].direction == "down"
    assert by_label["language=ja&channel=api"].direction == "up"


def test_coarse_combination_is_preferred_when_the_whole_segment_moved():
    frame = additive_cube(3, [({"language": "en"}, -0.4)])
    assert labels(localize(frame, list(DIMS))) == ["language=en"]


def test_specific_combination_is_returned_when_only_it_moved():
    frame = additive_cube(3, [({"language": "en", "tier": "paid"}, -0.4)])
    assert labels(localize(frame, list(DIMS))) == ["tier=paid&language=en"]


def test_max_order_bounds_the_combination_size():
    frame = additive_cube(4, [({"region": "ap", "tier": "ent", "channel": "web"}, -0.7)])
    assert labels(localize(frame, list(DIMS))) == ["region=ap&tier=ent&channel=web"]
    assert all(len(c.combination) <= 2 for c in localize(frame, list(DIMS), max_order=2))


def test_no_change_returns_nothing():
    assert localize(additive_cube(5, []), list(DIMS)) == []
    assert localize(ratio_cube(5, 300), list(DIMS), kind="ratio") == []


def test_ratio_rate_rise_in_one_segment():
    frame = ratio_cube(6, 300, rate_factor=[({"language": "en"}, 4.75)])
    causes = localize(frame, list(DIMS), kind="ratio")
    assert labels(causes) == ["language=en"]
    cause = causes[0]
    inside = _mask(frame, language="en")
    assert cause.effect == "rate" and cause.direction == "up"
    assert cause.real == pytest.approx(frame["real_num"].to_numpy()[inside].sum()
                                       / frame["real_den"].to_numpy()[inside].sum())
    assert cause.real > 3 * cause.expected
    assert cause.support_volume == frame["real_den"].to_numpy()[inside].sum()
    assert cause.share_of_change == pytest.approx(1.0, abs=0.1)
    assert cause.rate_effect > 0 and abs(cause.mix_effect) < 0.1 * cause.rate_effect


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_ratio_cause_found_from_pooled_evidence_when_leaves_are_small(seed):
    # ~60 requests per leaf at a 4% rate: a few events each, no leaf is significant alone
    frame = ratio_cube(seed, 60, rate_factor=[({"language": "en", "tier": "paid"}, 3.0)])
    causes = localize(frame, list(DIMS), kind="ratio")
    assert labels(causes)[0] == "tier=paid&language=en"


def test_traffic_mix_shift_is_reported_as_mix():
    frame = ratio_cube(10, 300, traffic_factor=[({"channel": "api"}, 3.0)])
    causes = localize(frame, list(DIMS), kind="ratio")
    # the other channels shrank only because api grew: their mirror image is not reported
    assert labels(causes) == ["channel=api"]
    assert causes[0].effect == "mix" and causes[0].direction == "up"
    assert causes[0].mix_effect > 0.5 * (frame["real_num"].sum() / frame["real_den"].sum()
                                         - frame["predict_num"].sum() / frame["predict_den"].sum())


def test_ratio_contribution_sums_to_the_total_change_over_a_partition():
    # two segments: A's rate doubles, B's traffic share grows
    segments = {"A": (30, 300, 10, 200), "B": (8, 700, 2, 200)}  # real_num, real_den, predict_num, predict_den
    totals = [sum(s[i] for s in segments.values()) for i in range(4)]
    parts = [ratio_contribution(*s, *totals) for s in segments.values()]
    total_change = parts[0][2]
    assert total_change == pytest.approx(38 / 1000 - 12 / 400)
    assert sum(rate + mix for rate, mix, _ in parts) == pytest.approx(total_change)
    rate_a, mix_a, _ = parts[0]
    assert rate_a == pytest.approx(0.3 * (0.1 - 0.05))          # A's share x its rate change
    assert mix_a == pytest.approx((0.3 - 0.5) * (0.05 - 0.03))  # A lost share while above average


def test_duplicate_leaf_rows_are_summed():
    frame = additive_cube(11, [({"region": "sa"}, -0.5)])
    doubled = pl.concat([frame, frame])
    single, twice = localize(frame, list(DIMS)), localize(doubled, list(DIMS))
    assert labels(single) == labels(twice) == ["region=sa"]
    assert twice[0].real == pytest.approx(2 * single[0].real)


@pytest.mark.parametrize("mutate, message", [
    (lambda f: f.drop("predict"), "predict"),
    (lambda f: f.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(-1.0)
                              .otherwise(pl.col("real")).alias("real")), "row 3"),
    (lambda f: f.with_columns(pl.when(pl.int_range(pl.len()) == 5).then(None)
                              .otherwise(pl.col("real")).alias("real")), "null at row 5"),
    (lambda f: f.with_columns(pl.col("real").cast(pl.String)), "numeric"),
])
def test_bad_input_is_rejected_with_the_column_and_row(mutate, message):
    with pytest.raises(ValueError, match=message):
        localize(mutate(additive_cube(12, [])), list(DIMS))


def test_unknown_kind_and_missing_dimension_are_rejected():
    frame = additive_cube(13, [])
    with pytest.raises(ValueError, match="kind"):
        localize(frame, list(DIMS), kind="mean")
    with pytest.raises(ValueError, match="country"):
        localize(frame, ["country"])


def test_a_shift_of_all_traffic_is_reported_once_and_the_segment_beyond_it_still_found():
    # every rate doubles (a change that touched all traffic) and English rises further
    frame = ratio_cube(14, 300, rate_factor=[({}, 2.0), ({"language": "en"}, 2.5)])
    causes = {c.label: c for c in localize(frame, list(DIMS), kind="ratio")}
    assert set(causes) == {"(all)", "language=en"}
    everything = causes["(all)"]
    assert everything.combination == {} and everything.support_rows == frame.height
    assert everything.deviation == pytest.approx(1.0, abs=0.15)  # the shared doubling
    assert causes["language=en"].deviation == pytest.approx(1.5, abs=0.3)  # 2.5x on top of it


def test_two_causes_covering_most_leaves_are_not_mistaken_for_everything():
    frame = ratio_cube(15, 300, rate_factor=[({"channel": "app"}, 3.0), ({"tier": "free"}, 3.0)])
    assert "(all)" not in labels(localize(frame, list(DIMS), kind="ratio"))


def _realistic(seed: int, order: int, partial: bool = False):
    from dashboard.core.bench.rca_realistic import _leaves as realistic_leaves
    from dashboard.core.bench.rca_realistic import make_case

    rng = np.random.default_rng(seed)
    leaves = realistic_leaves()
    case = make_case(rng, leaves, order=order, partial=partial)
    frame = leaves.with_columns(pl.Series("real_num", case.real_num), pl.Series("real_den", case.real_den),
                                pl.Series("predict_num", case.predict_num),
                                pl.Series("predict_den", case.predict_den))
    return frame, [d for d in leaves.columns], case.causes


def test_noise_and_drifting_leaves_alone_give_few_answers():
    # production-shaped null cases: noisy few-minute baselines, Zipf leaves, 2% of leaves drifting
    answers = 0
    for seed in range(6):
        frame, dims, causes = _realistic(100 + seed, order=0)
        assert causes == []
        answers += len(localize(frame, dims, kind="ratio"))
    assert answers <= 2


def test_a_cause_among_drifting_leaves_is_found_with_alternatives_after_it():
    frame, dims, causes = _realistic(7, order=1)
    found = localize(frame, dims, kind="ratio", alternatives=True)
    answers = [c for c in found if not c.alternative]
    truth = {"&".join(f"{k}={v}" for k, v in cause.items()) for cause in causes}
    assert truth <= {c.label for c in answers}
    alternatives = [c for c in found if c.alternative]
    assert alternatives and found.index(alternatives[0]) == len(answers)  # answers first
    first = set(answers[0].combination.items())
    # an alternative is one dimension coarser or finer than an answer
    assert any(abs(len(set(a.combination.items()) ^ first)) == 1 for a in alternatives)
