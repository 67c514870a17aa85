"""Rate incidents shaped like production, in Squeeze's derived layout, to score localization.

`rca_synthetic` and B0 are clean: every leaf is sizeable, the forecast is
exact or from a long window, nothing moves but the cause. Production rates
(errors / requests per minute, split by five segment columns) are not. Each
case written here has:

- five dimensions of very different cardinality (2, 3, 6, 12 and 40 values;
  17,280 leaves of which only a third carry traffic: a tenant uses a few
  regions and languages);
- heavy-tailed traffic: Zipf-like value popularity per dimension (exponent
  0.6 to 1.4) times a lognormal leaf factor, so a few leaves hold most
  requests and most hold a handful or none;
- a forecast that is the mean of 3 to 6 baseline minutes, each minute noisy
  (traffic and rate both vary minute to minute beyond Poisson/binomial);
- background drift: about 2% of the active leaves change rate in the
  incident minute for reasons nobody labels (a tenant's own bug), up or down;
- one to three non-overlapping causes of `L` dimensions, each holding at
  least 1% of the traffic (what an operator would label) and together at
  most 60% (beyond that it is a change of everything), whose rate rises
  2 to 6 times (one case in five: falls to a tenth to a half), leaf by leaf
  with its own spread; in the `part` settings only 50% to 90% of the cause's
  traffic (a random subset of its leaves) is affected; every cause moves its
  segment's expected errors by at least 5 standard deviations of their count
  noise (an operator labels what was noticed; a change inside the noise is
  not an incident anyone could label);
- null cases: noise and drift only; the truth is "no root cause".

Settings: `layer{L}_whole`, `layer{L}_part` for L = 1, 2, 3, and `null`.
Files per case: `{ts}.a.csv` (errors) and `{ts}.b.csv` (requests), each
`real,predict,<dims>`, only leaves with traffic in some minute. A null
case's `set` in `injection_info.csv` is empty.

    warroom bench rca --realistic OUT_DIR [--seed N] [--cases N]   # writes the cases once, then scores them
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

CARDINALITIES = {"platform": 2, "tier": 3, "region": 6, "language": 12, "tenant": 40}
CASES_PER_SETTING = 15
ACTIVE_SHARE = 0.35          # leaves that carry any traffic
DRIFT_SHARE = 0.02           # active leaves whose rate moves for an unlabelled reason
MIN_CAUSE_SHARE = 0.01       # an operator labels what holds at least 1% of the traffic
MAX_CAUSES_SHARE = 0.6       # causes that cover nearly everything are one change of everything
VISIBLE_SD = 5.0             # a labelled cause moved its segment's errors beyond this many sd
SETTINGS = [f"layer{order}_{extent}" for order in (1, 2, 3) for extent in ("whole", "part")] + ["null"]


def dimension_values() -> dict[str, list[str]]:
    return {dim: [f"{dim[:3]}{i:02d}" for i in range(n)] for dim, n in CARDINALITIES.items()}


@dataclass(frozen=True)
class Case:
    causes: list[dict[str, str]]
    real_num: np.ndarray
    predict_num: np.ndarray
    real_den: np.ndarray
    predict_den: np.ndarray


def write_dataset(out: Path, seed: int = 0, cases_per_setting: int = CASES_PER_SETTING) -> list[str]:
    """Write every setting under `out`; returns the setting names."""
    rng = np.random.default_rng(seed)
    leaves = _leaves()
    for name in SETTINGS:
        if name == "null":
            cases = [make_case(rng, leaves, order=0, partial=False) for _ in range(cases_per_setting)]
        else:
            order, partial = int(name[5]), name.endswith("part")
            cases = [make_case(rng, leaves, order=order, partial=partial) for _ in range(cases_per_setting)]
        _write_setting(out / name, leaves, cases)
    return list(SETTINGS)


def _leaves() -> pl.DataFrame:
    values = dimension_values()
    rows = list(itertools.product(*values.values()))
    return pl.DataFrame({d: [r[i] for r in rows] for i, d in enumerate(values)})


def make_case(rng: np.random.Generator, leaves: pl.DataFrame, *, order: int, partial: bool) -> Case:
    """One case; `order` 0 makes a null case (no cause)."""
    dims = list(CARDINALITIES)
    codes = [(leaves[d].rank("dense").cast(pl.Int64) - 1).to_numpy() for d in dims]
    share = _traffic_shares(rng, codes)
    rate = _base_rates(rng, codes)
    requests_per_minute = float(np.exp(rng.uniform(np.log(20_000), np.log(150_000))))
    minutes = int(rng.integers(3, 7))
    base_num, base_den = np.zeros(len(share)), np.zeros(len(share))
    for _ in range(minutes):
        num, den = _minute(rng, share, rate, requests_per_minute)
        base_num += num
        base_den += den
    active = share > 0
    incident_rate = rate.copy()
    drifting = active & (rng.random(len(share)) < DRIFT_SHARE)
    drift = np.where(rng.random(len(share)) < 0.5, rng.uniform(1.5, 4.0, len(share)), rng.uniform(0.2, 0.6, len(share)))
    incident_rate[drifting] *= drift[drifting]
    causes: list[dict[str, str]] = []
    if order:
        taken = np.zeros(len(share), dtype=bool)
        for _ in range(int(rng.integers(1, 4))):
            picked = _pick_cause(rng, leaves, codes, share, order, taken)
            if picked is None:
                break
            cause, mask = picked
            for _ in range(20):
                affected = _affected_leaves(rng, mask, share) if partial else mask
                up = rng.random() >= 0.2
                factor = rng.uniform(2.0, 6.0) if up else rng.uniform(0.1, 0.5)
                moved = rate * factor * rng.lognormal(0.0, 0.2, len(share))
                # noticed and labelled: the segment's errors moved beyond 5 sd of their count noise
                change = (share * requests_per_minute * (moved - rate))[affected].sum()
                noise = np.sqrt((share * requests_per_minute * rate)[mask].sum() * (1 + 1 / minutes))
                if abs(change) >= VISIBLE_SD * noise:
                    break
            else:
                continue
            taken |= mask
            causes.append(cause)
            incident_rate[affected] = moved[affected]
    real_num, real_den = _minute(rng, share, np.minimum(incident_rate, 0.95), requests_per_minute)
    return Case(causes, real_num, base_num / minutes, real_den, base_den / minutes)


def _traffic_shares(rng, codes: list[np.ndarray]) -> np.ndarray:
    weight = np.ones(len(codes[0]))
    for code in codes:
        n = int(code.max()) + 1
        popularity = 1.0 / np.arange(1, n + 1) ** rng.uniform(0.6, 1.4)
        weight *= rng.permutation(popularity)[code]
    weight *= rng.lognormal(0.0, 1.0, len(weight))
    weight[rng.random(len(weight)) >= ACTIVE_SHARE] = 0.0
    return weight / weight.sum()


def _base_rates(rng, codes: list[np.ndarray]) -> np.ndarray:
    log_rate = np.log(rng.uniform(0.01, 0.05)) + rng.normal(0, 0.3, len(codes[0]))
    for code in codes:
        log_rate += rng.normal(0, 0.35, int(code.max()) + 1)[code]
    return np.minimum(np.exp(log_rate), 0.5)


def _minute(rng, share, rate, requests_per_minute) -> tuple[np.ndarray, np.ndarray]:
    """One minute of (errors, requests): traffic and rate vary beyond Poisson and binomial."""
    traffic = share * requests_per_minute * rng.lognormal(0.0, 0.15, len(share))
    den = rng.poisson(traffic)
    minute_rate = np.minimum(rate * rng.lognormal(0.0, 0.15, len(share)), 1.0)
    return rng.binomial(den, minute_rate).astype(float), den.astype(float)


def _pick_cause(rng, leaves, codes, share, order: int, taken: np.ndarray):
    """A combination of `order` dims holding >= 1% of traffic, not overlapping earlier causes."""
    dims = list(CARDINALITIES)
    for _ in range(200):
        chosen = sorted(rng.choice(len(dims), size=order, replace=False))
        # a value drawn by traffic: operators see the segments that carry users
        anchor = int(rng.choice(len(share), p=share))
        mask = np.ones(len(share), dtype=bool)
        for d in chosen:
            mask &= codes[d] == codes[d][anchor]
        if (share[mask].sum() < MIN_CAUSE_SHARE or (mask & taken).any()
                or share[mask | taken].sum() > MAX_CAUSES_SHARE):
            continue
        return {dims[d]: str(leaves[dims[d]][anchor]) for d in chosen}, mask
    return None


def _affected_leaves(rng, mask: np.ndarray, share: np.ndarray) -> np.ndarray:
    """A random subset of the cause's leaves holding 50% to 90% of its traffic."""
    target = rng.uniform(0.5, 0.9) * share[mask].sum()
    members = rng.permutation(np.flatnonzero(mask & (share > 0)))
    cumulative = np.cumsum(share[members])
    affected = np.zeros(len(mask), dtype=bool)
    affected[members[: int(np.searchsorted(cumulative, target)) + 1]] = True
    return affected


def _write_setting(folder: Path, leaves: pl.DataFrame, cases: list[Case]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    info = []
    for index, case in enumerate(cases):
        ts = 1_700_000_000 + 60 * index
        seen = (case.real_den + case.predict_den) > 0
        for suffix, real, predict in (("a", case.real_num, case.predict_num), ("b", case.real_den, case.predict_den)):
            leaves.with_columns(pl.Series("real", real), pl.Series("predict", np.round(predict, 3))).filter(
                pl.Series(seen)).select("real", "predict", *CARDINALITIES).write_csv(folder / f"{ts}.{suffix}.csv")
        label = ";".join("&".join(f"{k}={v}" for k, v in cause.items()) for cause in case.causes)
        info.append({"set": label, "timestamp": ts})
    pl.DataFrame(info, schema={"set": pl.String, "timestamp": pl.Int64}).write_csv(folder / "injection_info.csv")
