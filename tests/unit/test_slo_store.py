"""SLOs evaluated through the telemetry store: bucket alignment, segment filters, config choice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from dashboard.core.datadir import DataDir, atomic_write_parquet
from dashboard.core.reporting.slo_config import SloConfigError
from dashboard.core.reporting.slo_store import evaluate_slos, load_slos, slo_counts
from dashboard.core.telemetry.query import TelemetryStore
from tests.fixtures import request_rows

T0 = datetime(2025, 2, 18, 10, 0, tzinfo=UTC)


def requests(hours: int = 8) -> pl.DataFrame:
    """Eight requests a minute; German ones refused in the last hour, English never."""
    rows = []
    end = T0 + timedelta(hours=hours)
    for i in range(hours * 60 * 8):
        ts = T0 + timedelta(seconds=7.5 * i)
        german = i % 2 == 1
        rows.append({"ts": ts, "request_id": f"r{i}", "language": "de" if german else "en",
                     "refused": german and ts >= end - timedelta(hours=1)})
    return request_rows(rows, app_version="a", model_version="m", prompt_version="p", index_version="k",
                        router_policy="r", policy_version="g", latency_ms=900.0, input_tokens=10,
                        output_tokens=10, quality_score=None)


SLOS = """
[defaults]
period_days = 1

[[slo]]
name = "refusals-de"
signal = "refusal_rate"
op = "<="
threshold = 0.06
method = "windows"
objective = 0.99
window = "5m"
segment = { language = "de" }

[[slo]]
name = "refusals-en"
signal = "refusal_rate"
op = "<="
threshold = 0.06
method = "windows"
objective = 0.99
window = "5m"
segment = { language = "en" }
"""


@pytest.fixture()
def data(tmp_path):
    d = DataDir(tmp_path / "data")
    atomic_write_parquet(requests(), d.requests / "part.parquet")
    d.slos.write_text(SLOS)
    return d


def test_buckets_end_at_now_so_the_last_window_is_whole(data):
    store = TelemetryStore(data)
    config = load_slos(data)
    now = store.now()
    frame = slo_counts(store, config.slos[0], now, config.period)
    last = frame.sort("bucket").tail(1)
    # the newest bucket holds the last five minutes: 20 German requests
    assert last["requests"][0] == 20
    assert frame["requests"].sum() == 8 * 60 * 4


def test_segment_filtered_slos_judge_only_their_segment(data):
    store = TelemetryStore(data)
    de, en = evaluate_slos(store, load_slos(data))
    assert (de.good, de.bad) == (84, 12)  # 8 h of 5-minute windows, the last hour all refused
    assert de.alerts[0].long_burn == pytest.approx(100.0) and de.alerts[0].firing
    assert de.alerts[1].long_burn == pytest.approx(12 / 72 / 0.01)
    assert en.bad == 0 and not en.firing
    assert en.state == "ok" and de.state == "burning"


def test_bad_config_in_data_folder_names_the_file(data):
    data.slos.write_text('[[slo]]\nname = "x"\nsignal = "refusal_rate"\nop = "<="\nthreshold = "six"\n')
    with pytest.raises(SloConfigError, match=r"slos.toml: \[\[slo\]\] #1 \(x\): field 'threshold'"):
        load_slos(data)
