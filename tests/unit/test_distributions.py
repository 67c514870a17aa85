"""Distributions of a measure: percentiles per bucket and histogram counts on hand-written rows.

Both read the rollups' quantile sketch, so values are within sketch.RELATIVE_ERROR and counts exact.
"""

from datetime import timedelta

import pytest

from dashboard.core.telemetry.distributions import distribution_measures, histogram, percentiles
from dashboard.core.telemetry.sketch import RELATIVE_ERROR
from tests.fixtures import build_outside_store, tiny_store


def test_percentiles_per_bucket_and_histogram(tmp_path):
    store, t0 = tiny_store(tmp_path)
    end = t0 + timedelta(minutes=3)
    frame = percentiles(store, "latency_ms", t0, end, bucket=timedelta(minutes=1))
    # minute 0 holds 100, 200, 300 ms; minute 1 holds 400, 500; minute 2 holds 600
    assert frame["n"].to_list() == [3, 2, 1]
    assert frame["p50"].to_list() == pytest.approx([200.0, 450.0, 600.0], rel=RELATIVE_ERROR)
    hist = histogram(store, "latency_ms", t0, end, bins=5)
    assert hist["requests"].sum() == 6
    assert hist["lo"][0] == pytest.approx(100.0, rel=RELATIVE_ERROR)
    assert hist["hi"][-1] == pytest.approx(600.0, rel=RELATIVE_ERROR)
    narrow = histogram(store, "latency_ms", t0, end, {"region": ["eu"]}, bins=5)
    assert narrow["requests"].sum() == 3


def test_only_measures_the_store_has_are_offered(tmp_path):
    from dashboard.core.telemetry.query import TelemetryStore

    store = TelemetryStore(build_outside_store("token_only", tmp_path / "data"))
    assert distribution_measures(store) == ["input_tokens", "output_tokens"]
