"""A change of only the slowest (longest) requests, in one segment: found on the p99 itself, timed and localized.

The same story twice, as data: latency (a timeout path) and output tokens (a model that rambles on a few
answers); the typical value stays flat in both, so only the test on the percentile sees it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from dashboard.core.datadir import DataDir, atomic_write_parquet
from dashboard.core.demo.engine import conform
from dashboard.core.diagnosis.investigate import investigate
from dashboard.core.diagnosis.segment_map import segment_map
from dashboard.core.telemetry import signals as sig
from dashboard.core.telemetry.contract import TelemetrySchema, write_schema
from dashboard.core.telemetry.query import TelemetryStore

T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
AT = T0 + timedelta(hours=2)


CASES = {  # measure -> (p50, p95, p99 signals, how a limit on it is said)
    "latency_ms": ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "slower than", " ms"),
    "output_tokens": ("output_tokens_per_request", "output_tokens_p95", "output_tokens_p99", "above", " tokens"),
}


def _store(root, slow_share: float, seed: int = 11, measure: str = "latency_ms") -> TelemetryStore:
    """Four hours, 60 requests a minute over three regions; from AT, in eu only, `slow_share` of
    requests take 6x (latency or output tokens) and the others 5% less, so the log mean of eu stays
    where it was."""
    rng = np.random.default_rng(seed)
    count = 4 * 60 * 60
    seconds = np.sort(rng.uniform(0, 4 * 3600, count))
    region = rng.choice(["eu", "us", "ap"], count, p=[0.4, 0.4, 0.2])
    tier = rng.choice(["free", "paid"], count)
    values = {"latency_ms": rng.lognormal(6.5, 0.35, count), "output_tokens": rng.lognormal(5.0, 0.35, count)}
    hit = (seconds >= 7200) & (region == "eu")
    slow = hit & (rng.random(count) < slow_share)
    values[measure] = np.where(slow, values[measure] * 6, np.where(hit, values[measure] * 0.95, values[measure]))
    rows = pl.DataFrame({
        "ts": [T0 + timedelta(seconds=float(s)) for s in seconds],
        "request_id": [f"r{i:06d}" for i in range(count)], "service": ["bot"] * count,
        "region": region, "tier": tier, "latency_ms": values["latency_ms"],
        "input_tokens": rng.integers(100, 300, count), "output_tokens": np.rint(values["output_tokens"]).astype(int),
    })
    data = DataDir(root)
    write_schema(data, TelemetrySchema(segments=["region", "tier"], artifacts={}))
    atomic_write_parquet(conform(rows), data.requests / "rows.parquet")
    return TelemetryStore(data)


@pytest.fixture(scope="module", params=list(CASES))
def measure(request):
    return request.param


@pytest.fixture(scope="module")
def slow_tail(tmp_path_factory, measure):
    return _store(tmp_path_factory.mktemp("tail") / "d", slow_share=0.04, measure=measure)


def test_a_tail_only_slowdown_in_one_segment_is_found_on_the_p99_and_localized(slow_tail, measure):
    _, _, p99, exceeds, unit = CASES[measure]
    inv = investigate(slow_tail, p99, T0, T0 + timedelta(hours=4))
    regressions = [cp for cp in inv.change_points if cp.regression]
    assert regressions, inv.verdict
    # within ten minutes, as the release scenarios and the demo are held to (sparse tail events place it loosely)
    assert abs((regressions[0].ts - AT).total_seconds()) <= 600, regressions[0].ts
    # reported in the p99's own units either side, the share test beside it
    assert regressions[0].after > 1.3 * regressions[0].before
    assert f"of requests {exceeds} " in regressions[0].effect_text and unit in regressions[0].effect_text
    assert regressions[0].before_text == sig.get(p99).format(regressions[0].before)
    assert any("tested on the percentile itself" in note for note in inv.notes)
    assert inv.segments and inv.segments[0]["combination"] == {"region": "eu"}, \
        [s["label"] for s in inv.segments]


def test_the_same_slowdown_leaves_the_typical_value_flat(slow_tail, measure):
    # the log-mean test (what p50 and tokens per request are judged on) does not see it: only a tail test can
    inv = investigate(slow_tail, CASES[measure][0], T0, T0 + timedelta(hours=4))
    assert not [cp for cp in inv.change_points if cp.regression], inv.verdict


def test_the_segment_map_counts_the_tail_against_the_baseline_p99(slow_tail, measure):
    frame = segment_map(slow_tail, CASES[measure][2], (AT - timedelta(hours=1), AT),
                        (AT + timedelta(minutes=5), AT + timedelta(hours=1)), dimensions=["region"])
    cells = {r["value"]: r for r in frame.iter_rows(named=True)}
    assert cells["eu"]["bad"] and cells["eu"]["change"] > 0.02
    assert not cells["us"]["bad"] and not cells["ap"]["bad"]
    assert cells["eu"]["change_text"].endswith("pts")


@pytest.mark.parametrize("measure_name", list(CASES))
def test_no_tail_change_finds_no_regression(tmp_path, measure_name):
    store = _store(tmp_path / "d", slow_share=0.0, measure=measure_name)
    for signal in CASES[measure_name][1:3]:
        inv = investigate(store, signal, T0, T0 + timedelta(hours=4))
        assert not [cp for cp in inv.change_points if cp.regression], (signal, inv.verdict)


def test_a_window_without_data_has_no_regression_rather_than_an_error(slow_tail, measure):
    p95 = CASES[measure][1]
    inv = investigate(slow_tail, p95, T0 - timedelta(hours=5), T0 - timedelta(hours=1))
    assert inv.change_points == [] and inv.verdict == f"no regression of {sig.get(p95).phrase} in this window"
