"""Unconfounded cohort comparisons: what else differs between two versions' traffic, and a test within it.

Two versions of one artifact (prompt v12 and v13) rarely serve the same
traffic: in the same minutes another artifact may have changed too (a model
snapshot rolling out), or one version may serve more of a segment (a canary
in one region). A pooled comparison then blames the version for its mix.
`confounders` finds the columns whose mix differs between the versions (a
chi-square test of independence on requests, with a minimum effect size so a
huge sample does not make a trivial imbalance count); `stratified_rate_test`
compares the versions within every combination of those columns
(Cochran-Mantel-Haenszel, statsmodels' `StratifiedTable`, a maintained
implementation of the textbook test) and says when no stratum holds both
versions, in which case the data cannot separate the version from its mix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.stats import chi2_contingency

from dashboard.core.stats import SCREENING_ALPHA

MIX_ALPHA = SCREENING_ALPHA  # the mix differs beyond chance, screened like the comparison it qualifies
MIN_CRAMERS_V = 0.1     # and by enough to matter (Cramer's V: 0 same mix, 1 disjoint)
MAX_STRATA_COLUMNS = 3  # more would leave few requests per stratum


@dataclass(frozen=True)
class StratifiedResult:
    p_value: float | None   # None: the versions cannot be separated
    sign: int               # sign of the pooled log odds ratio (version against baseline)
    strata: int             # strata holding both versions
    test: str


def confounders(leaves: pl.DataFrame, column: str, candidates: list[str], versions: list[str]) -> list[str]:
    """The candidate columns whose request mix differs between `versions`, strongest first."""
    rows = leaves.filter(pl.col(column).is_in(versions))
    found = []
    for candidate in candidates:
        table = (rows.group_by(column, candidate).agg(pl.col("requests").sum())
                 .pivot(on=candidate, index=column, values="requests").fill_null(0))
        counts = table.drop(column).to_numpy().astype(float)
        counts = counts[:, counts.sum(axis=0) > 0]
        if counts.shape[0] < 2 or counts.shape[1] < 2:
            continue
        statistic, p_value, _, _ = chi2_contingency(counts, correction=False)
        cramers_v = np.sqrt(statistic / counts.sum() / (min(counts.shape) - 1))
        if p_value < MIX_ALPHA and cramers_v >= MIN_CRAMERS_V:
            found.append((cramers_v, candidate))
    return [name for _, name in sorted(found, reverse=True)[:MAX_STRATA_COLUMNS]]


def stratified_rate_test(leaves: pl.DataFrame, column: str, strata: list[str], baseline: str, version: str,
                         numerator: str, denominator: str) -> StratifiedResult:
    """Cochran-Mantel-Haenszel test of `version` against `baseline` within the `strata` columns."""
    from statsmodels.stats.contingency_tables import StratifiedTable

    sides: list[pl.DataFrame] = []
    for name in (version, baseline):
        sides.append(leaves.filter(pl.col(column) == name).group_by(strata)
                     .agg(pl.col(numerator).sum().alias(f"x_{len(sides)}"),
                          pl.col(denominator).sum().alias(f"n_{len(sides)}")))
    both = sides[0].join(sides[1], on=strata, how="inner", nulls_equal=True).filter(
        (pl.col("n_0") > 0) & (pl.col("n_1") > 0))
    described = " × ".join(strata)
    if both.height == 0:
        return StratifiedResult(None, 0, 0, f"cannot separate the version from {described}: "
                                            "no stratum served both versions")
    x0, n0, x1, n1 = (both[c].to_numpy().astype(float) for c in ("x_0", "n_0", "x_1", "n_1"))
    tables = np.stack([np.stack([x0, n0 - x0], axis=-1), np.stack([x1, n1 - x1], axis=-1)], axis=1)
    table = StratifiedTable(tables.transpose(1, 2, 0))
    if x0.sum() + x1.sum() == 0 or (n0 - x0).sum() + (n1 - x1).sum() == 0:
        return StratifiedResult(1.0, 0, both.height, f"Cochran-Mantel-Haenszel within {described}")
    p_value = float(table.test_null_odds(correction=True).pvalue)
    log_odds = float(table.logodds_pooled)
    sign = 0 if not np.isfinite(log_odds) or log_odds == 0 else int(np.sign(log_odds))
    return StratifiedResult(p_value, sign, both.height,
                            f"Cochran-Mantel-Haenszel within {described} ({both.height} strata)")
