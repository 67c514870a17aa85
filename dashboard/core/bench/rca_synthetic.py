"""Synthetic rate-incident cases in Squeeze's derived layout, to score localization on rates.

The public B0 cases are additive with 1% noise; a production rate (refusals /
requests) is binomial, with a few events per leaf and a baseline that is
itself a noisy count. This writes cases of that kind so `warroom bench rca`
can score them with the same exact-match protocol:

    warroom bench rca --synthetic OUT_DIR [--seed N]

Each case: 180 leaves (region 4 x tier 3 x language 5 x channel 3), lognormal
traffic shares, a 4% base rate varying by leaf (12% on the api channel), a
baseline window three times as long. Settings `rate_{R}rpl_layer{L}`: one or
two causes of L dimensions whose rate triples, at R requests per leaf;
`mix_{R}rpl`: no rate moves, one channel's traffic triples (truth: that channel).
Files per case: `{ts}.a.csv` (refusals) and `{ts}.b.csv` (requests), each
`real,predict,<dims>`; `predict` is the baseline scaled to the window.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import polars as pl

DIMENSIONS = {"region": ["us", "eu", "ap", "sa"], "tier": ["free", "paid", "ent"],
              "language": ["en", "de", "fr", "es", "ja"], "channel": ["web", "app", "api"]}
REQUESTS_PER_LEAF = (300, 60, 20)
CASES_PER_SETTING = 10
BASELINE_WINDOWS = 3
RATE_FACTOR = 3.0


def write_dataset(out: Path, seed: int = 0) -> list[str]:
    """Write every setting under `out`; returns the setting names."""
    rng = np.random.default_rng(seed)
    leaves = _leaves()
    settings = []
    for per_leaf in REQUESTS_PER_LEAF:
        for order in (1, 2, 3):
            name = f"rate_{per_leaf}rpl_layer{order}"
            cases = [_rate_case(rng, leaves, per_leaf, order) for _ in range(CASES_PER_SETTING)]
            _write_setting(out / name, leaves, cases)
            settings.append(name)
        name = f"mix_{per_leaf}rpl"
        _write_setting(out / name, leaves, [_mix_case(rng, leaves, per_leaf) for _ in range(CASES_PER_SETTING)])
        settings.append(name)
    return settings


def _leaves() -> pl.DataFrame:
    rows = list(itertools.product(*DIMENSIONS.values()))
    return pl.DataFrame({d: [r[i] for r in rows] for i, d in enumerate(DIMENSIONS)})


def _random_cause(rng, order: int) -> dict[str, str]:
    dims = sorted(rng.choice(list(DIMENSIONS), size=order, replace=False), key=list(DIMENSIONS).index)
    return {d: str(rng.choice(DIMENSIONS[d])) for d in dims}


def _mask(leaves: pl.DataFrame, cause: dict[str, str]) -> np.ndarray:
    mask = np.ones(leaves.height, dtype=bool)
    for dim, value in cause.items():
        mask &= (leaves[dim] == value).to_numpy()
    return mask


def _baseline(rng, leaves: pl.DataFrame, per_leaf: int):
    share = rng.lognormal(0, 0.8, leaves.height)
    share /= share.sum()
    rate = 0.04 * rng.lognormal(0, 0.3, leaves.height)
    rate = np.where(_mask(leaves, {"channel": "api"}), 0.12, rate)
    total = per_leaf * leaves.height
    base_requests = rng.poisson(share * total * BASELINE_WINDOWS)
    base_events = rng.binomial(base_requests, rate)
    return share, rate, total, base_requests / BASELINE_WINDOWS, base_events / BASELINE_WINDOWS


def _rate_case(rng, leaves, per_leaf: int, order: int):
    share, rate, total, predict_b, predict_a = _baseline(rng, leaves, per_leaf)
    n_causes = int(rng.integers(1, 3))
    causes: list[dict[str, str]] = []
    while len(causes) < n_causes:
        cause = _random_cause(rng, order)
        # overlapping causes would make the exact answer ambiguous
        if not any((_mask(leaves, cause) & _mask(leaves, other)).any() for other in causes):
            causes.append(cause)
    real_rate = rate.copy()
    for cause in causes:
        real_rate = np.where(_mask(leaves, cause), rate * RATE_FACTOR, real_rate)
    real_b = rng.poisson(share * total)
    real_a = rng.binomial(real_b, np.minimum(real_rate, 1.0))
    return causes, real_a, predict_a, real_b, predict_b


def _mix_case(rng, leaves, per_leaf: int):
    share, rate, total, predict_b, predict_a = _baseline(rng, leaves, per_leaf)
    cause = {"channel": "api"}  # the channel with the high base rate: its growth moves the overall rate
    real_share = np.where(_mask(leaves, cause), share * 3, share)
    real_share /= real_share.sum()
    real_b = rng.poisson(real_share * total)
    real_a = rng.binomial(real_b, rate)
    return [cause], real_a, predict_a, real_b, predict_b


def _write_setting(folder: Path, leaves: pl.DataFrame, cases: list) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    info = []
    for index, (causes, real_a, predict_a, real_b, predict_b) in enumerate(cases):
        ts = 1_700_000_000 + 300 * index
        for suffix, real, predict in (("a", real_a, predict_a), ("b", real_b, predict_b)):
            leaves.with_columns(pl.Series("real", real, dtype=pl.Float64),
                                pl.Series("predict", predict, dtype=pl.Float64)).select(
                "real", "predict", *DIMENSIONS).write_csv(folder / f"{ts}.{suffix}.csv")
        label = ";".join("&".join(f"{k}={v}" for k, v in cause.items()) for cause in causes)
        info.append({"set": label, "timestamp": ts})
    pl.DataFrame(info).write_csv(folder / "injection_info.csv")
