"""A cohort comparison that a coinciding change of another artifact's mix would confound."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from dashboard.core.datadir import DataDir, atomic_write_parquet
from dashboard.core.demo.engine import conform
from dashboard.core.telemetry.compare import cohort_comparison
from dashboard.core.telemetry.query import TelemetryStore

T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
REFUSAL_BY_MODEL = {"m-old": 0.04, "m-new": 0.15}  # the model moves refusals; the prompt does not


def _store(root, new_model_share: dict[str, float], prompt_effect: float = 0.0, per_minute: int = 40,
           seed: int = 3) -> TelemetryStore:
    """Two hours; in the second, half the requests get prompt v13, and the model mix follows the prompt."""
    rng = np.random.default_rng(seed)
    count = 2 * 60 * per_minute
    seconds = np.sort(rng.uniform(0, 7200, count))
    canary = (seconds >= 3600) & (rng.random(count) < 0.5)
    prompt = np.where(canary, "v13", "v12")
    share = np.where(canary, new_model_share["v13"], new_model_share["v12"])
    model = np.where(rng.random(count) < share, "m-new", "m-old")
    rate = np.vectorize(REFUSAL_BY_MODEL.get)(model) + np.where(canary, prompt_effect, 0.0)
    refused = rng.random(count) < rate
    rows = pl.DataFrame({
        "ts": [T0 + timedelta(seconds=float(s)) for s in seconds],
        "request_id": [f"r{i:06d}" for i in range(count)], "service": ["bot"] * count,
        "region": rng.choice(["eu", "us"], count), "prompt_version": prompt, "model_version": model,
        "latency_ms": rng.lognormal(6.5, 0.3, count), "input_tokens": rng.integers(100, 300, count),
        "output_tokens": rng.integers(50, 150, count), "refused": refused,
    })
    data = DataDir(root)
    atomic_write_parquet(conform(rows), data.requests / "rows.parquet")
    return TelemetryStore(data)


def _refusal(deltas: pl.DataFrame) -> dict:
    return deltas.filter((pl.col("signal") == "refusal_rate") & (pl.col("version") == "v13")).row(0, named=True)


def test_the_innocent_prompt_is_not_blamed_for_the_model_mix_it_came_with(tmp_path):
    # a router sent most canary traffic to the new model snapshot at the same time
    store = _store(tmp_path / "d", {"v12": 0.1, "v13": 0.9})
    _, deltas = cohort_comparison(store, "prompt", T0, T0 + timedelta(hours=2), names=["refusal_rate"], baseline="v12")
    row = _refusal(deltas)
    assert row["value"] > 2 * row["baseline"]  # pooled, v13 refuses far more: its mix, not its text
    assert row["adjusted_for"].startswith("model_version")
    assert "Cochran-Mantel-Haenszel" in row["test"]
    assert not row["beyond_noise"] and not row["worse"]
    assert row["p_value"] > 0.01


def test_when_no_stratum_holds_both_versions_the_comparison_says_it_cannot_separate(tmp_path):
    store = _store(tmp_path / "d", {"v12": 0.0, "v13": 1.0})
    _, deltas = cohort_comparison(store, "prompt", T0, T0 + timedelta(hours=2), names=["refusal_rate"], baseline="v12")
    row = _refusal(deltas)
    assert row["p_value"] is None and not row["beyond_noise"]
    assert "cannot separate" in row["test"] and "model_version" in row["test"]


def test_a_real_prompt_effect_survives_the_stratification(tmp_path):
    # the same confounded mix, and v13 itself refuses 8 points more on either model
    store = _store(tmp_path / "d", {"v12": 0.1, "v13": 0.9}, prompt_effect=0.08, per_minute=120)
    _, deltas = cohort_comparison(store, "prompt", T0, T0 + timedelta(hours=2), names=["refusal_rate"], baseline="v12")
    row = _refusal(deltas)
    assert row["adjusted_for"].startswith("model_version")
    assert row["beyond_noise"] and row["worse"] and row["p_value"] < 1e-4


def test_without_a_mix_difference_the_plain_test_stands(tmp_path):
    store = _store(tmp_path / "d", {"v12": 0.5, "v13": 0.5})
    _, deltas = cohort_comparison(store, "prompt", T0, T0 + timedelta(hours=2), names=["refusal_rate"], baseline="v12")
    row = _refusal(deltas)
    assert row["adjusted_for"] == "" and "Cochran" not in row["test"]
    assert not row["beyond_noise"]
