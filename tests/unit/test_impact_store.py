"""Impact measured through the telemetry store on a small hand-made data folder; summary cards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from dashboard.core.datadir import DataDir, atomic_write_parquet
from dashboard.core.incident.events import NewEvent
from dashboard.core.incident.store import IncidentStore
from dashboard.core.reporting.impact_store import baseline_windows, measure_impact
from dashboard.core.reporting.slo import evaluate_slo
from dashboard.core.reporting.slo_config import SloDecl
from dashboard.core.reporting.summary import open_incident_cards, slo_offers, what_users_see
from dashboard.core.telemetry.query import TelemetryStore
from tests.fixtures import request_rows

START = datetime(2025, 2, 18, 13, 0, tzinfo=UTC)


def rows(day_offset: int, refused_every: int, hours: float = 2.0) -> list[dict]:
    """One request a minute from 12:00 on a day for `hours`; English ones refused every Nth after 13:00."""
    out = []
    base = START - timedelta(hours=1) + timedelta(days=day_offset)
    for i in range(int(hours * 60)):
        ts = base + timedelta(minutes=i)
        english = i % 2 == 0
        incident = day_offset == 0 and ts >= START
        out.append({"ts": ts, "request_id": f"d{day_offset}-{i}", "user_id": f"u{i % 7}",
                    "language": "en" if english else "de", "cost_usd": 0.002 if incident and english else 0.001,
                    "refused": english and (incident or i % refused_every == 0)})
    return out


@pytest.fixture()
def data(tmp_path):
    d = DataDir(tmp_path / "data")
    frame = request_rows(rows(-1, 10) + rows(0, 10))
    atomic_write_parquet(frame, d.requests / "part.parquet")
    return d


def test_measure_impact_against_the_previous_day(data):
    store = TelemetryStore(data)
    impact = measure_impact(store, start=START, filters={"language": "en"})
    # 13:00-13:59 on the incident day: 30 English requests, all refused; 60 requests in total
    assert impact.requests_affected == 30
    assert impact.requests_total == 60
    assert impact.share_affected == pytest.approx(0.5)
    assert impact.users_affected == 7  # u0..u6 on even minutes
    assert impact.baseline_label == "same minutes on the previous day"
    refusal = impact.delta("refusal_rate")
    # previous day 13:00-13:59 English: i in 60..118 even, refused when i % 10 == 0 -> 6 of 30
    assert refusal.baseline == pytest.approx(6 / 30)
    assert refusal.during == pytest.approx(1.0)
    assert refusal.excess_events == pytest.approx(30 - 6)
    # English cost doubled: 30 x $0.001 extra
    assert impact.extra_spend_usd == pytest.approx(0.03)


def test_hour_before_when_no_earlier_day(data):
    store = TelemetryStore(data)
    label, windows = baseline_windows(store, START - timedelta(days=1), START - timedelta(days=1, minutes=-30))
    assert label == "the hour before the regression started"
    assert windows[0][1:] == (START - timedelta(days=1, hours=1), START - timedelta(days=1))
    with pytest.raises(ValueError, match="no earlier day"):
        baseline_windows(store, START - timedelta(days=1), START, "previous_days")


def test_open_incident_cards_measure_each_open_incident(data):
    store = IncidentStore(data.incidents_db)
    store.create([NewEvent.make("opened", {"title": "refusals", "severity": "SEV2", "window_start": START,
                                           "segments": {"language": "en"}, "signals": ["refusal_rate"]},
                                "ana", START + timedelta(minutes=10)),
                  NewEvent.make("update_posted", {"audience": "executives",
                                                  "message": "Bot refuses English questions. More later."},
                                "lena", START + timedelta(minutes=15))])
    cards = open_incident_cards(data)
    assert len(cards) == 1
    card = cards[0]
    assert card.users_see == "Bot refuses English questions."
    assert card.impact.requests_affected == 30
    labels = [f.label for f in card.figures]
    assert labels[:2] == ["Requests affected", "Users affected"]
    refusal = next(f for f in card.figures if f.label == "Refusal rate")
    assert refusal.value == "20.0% → 100.0%" and "24 extra refusals" in refusal.detail
    assert card.clock.due_at is not None
    assert "Bot refuses English questions." in what_users_see(card.state)


def test_slo_offers_only_uncovered_burning_slos():
    slo = SloDecl(name="refusals", title="", signal="refusal_rate", op="<=", threshold=0.06)
    buckets = [START + timedelta(minutes=5 * i) for i in range(24)]
    frame = pl.DataFrame({"bucket": buckets, "requests": [100] * 24, "refused": [4] * 12 + [30] * 12})
    status = evaluate_slo(frame, slo, buckets[-1] + timedelta(minutes=4))
    assert status.firing
    assert slo_offers([status], []) == [status]

    class Open:
        is_open = True
        signals = ["refusal_rate"]
        verification = []
    assert slo_offers([status], [Open()]) == []
