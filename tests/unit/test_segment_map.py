"""The root-cause heatmap's numbers on a small hand-made store: every segment value, before against after."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from dashboard.core.datadir import DataDir, atomic_write_parquet
from dashboard.core.diagnosis import data as D
from dashboard.core.diagnosis.segment_map import cell_change, segment_map, windows_around
from dashboard.core.telemetry.query import TelemetryStore
from tests.fixtures import request_rows

CHANGE = datetime(2025, 2, 18, 13, 0, tzinfo=UTC)


def requests() -> list[dict]:
    """Four requests a minute from 12:00 to 14:00: English refusals jump from 1 in 10 to 1 in 2 at 13:00.

    German traffic and latency do not move, except English latency doubles after the change.
    """
    out = []
    for minute in range(120):
        ts = CHANGE - timedelta(hours=1) + timedelta(minutes=minute)
        after = ts >= CHANGE
        for k in range(4):
            english = k % 2 == 0
            n = minute * 4 + k
            refused = (n % 4 == 0) if (after and english) else (n % 20 == 0)
            out.append({"ts": ts + timedelta(seconds=10 * k), "request_id": f"r{n}",
                        "region": "eu" if minute % 2 else "us", "language": "en" if english else "de",
                        "latency_ms": (2000.0 if after and english else 1000.0) * (1 + 0.1 * (n % 3)),
                        "refused": refused})
    return out


@pytest.fixture()
def store(tmp_path):
    data = DataDir(tmp_path / "data")
    atomic_write_parquet(request_rows(requests()), data.requests / "part.parquet")
    return TelemetryStore(data)


def test_the_refusal_jump_is_found_in_english_and_nowhere_else(store):
    before, after = windows_around(CHANGE, CHANGE + timedelta(hours=1))
    frame = segment_map(store, "refusal_rate", before, after, dimensions=["language", "region"])
    cells = {(r["dimension"], r["value"]): r for r in frame.iter_rows(named=True)}
    en, de = cells[("language", "en")], cells[("language", "de")]
    assert en["baseline"] == pytest.approx(0.10, abs=0.02) and en["current"] == pytest.approx(0.50, abs=0.02)
    assert en["change_text"].startswith("+4") and en["bad"] and en["z"] > 3
    assert abs(de["change"]) < 0.03 and not de["bad"]
    # the regions split English traffic evenly: both move, by half as much
    assert cells[("region", "eu")]["change"] == pytest.approx(cells[("region", "us")]["change"], abs=0.05)
    # worst first within a dimension
    assert frame.filter(pl.col("dimension") == "language")["value"].to_list() == ["en", "de"]
    assert en["baseline_n"] == 120 and en["current_n"] == 110


def test_latency_is_compared_as_a_ratio_of_geometric_means(store):
    before, after = windows_around(CHANGE, CHANGE + timedelta(hours=1))
    frame = segment_map(store, "latency_p50_ms", before, after, dimensions=["language"])
    en = frame.filter(pl.col("value") == "en").row(0, named=True)
    assert en["change"] == pytest.approx(1.0, abs=0.01) and en["change_text"] == "+100%" and en["bad"]
    assert frame.filter(pl.col("value") == "de")["change"][0] == pytest.approx(0.0, abs=1e-3)


def test_a_tail_percentile_is_compared_as_the_share_slower_than_the_baseline_p95(store):
    before, after = windows_around(CHANGE, CHANGE + timedelta(hours=1))
    frame = segment_map(store, "latency_p95_ms", before, after, dimensions=["language"])
    en = frame.filter(pl.col("value") == "en").row(0, named=True)
    de = frame.filter(pl.col("value") == "de").row(0, named=True)
    assert en["bad"] and en["change"] > 0.2 and en["change_text"].endswith(" pts")
    assert not de["bad"] and de["current"] <= 0.1


def test_a_segment_with_too_little_traffic_is_left_out():
    spec = D.signal_spec("refusal_rate")
    assert cell_change(spec, (29, 3, 0), (500, 250, 0)) is None
    base, cur, change, z = cell_change(spec, (100, 10, 0), (100, 40, 0))
    assert (base, cur) == (0.1, 0.4) and change == pytest.approx(0.3) and z > 4
    mean = D.signal_spec("quality_score")
    _, _, diff, t = cell_change(mean, (100, 0.8, 0.01), (100, 0.7, 0.01))
    assert diff == pytest.approx(-0.1) and t == pytest.approx(-0.1 / math.sqrt(0.0002))
