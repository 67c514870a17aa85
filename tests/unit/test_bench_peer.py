"""The query benchmark's in-memory Polars peer answers as the project does, on the store's own clock."""

from __future__ import annotations

from datetime import timedelta

from dashboard.core.bench import query_peer
from dashboard.core.bench.query import PAID_ENGLISH, incident_day
from dashboard.core.telemetry.query import TelemetryStore


def test_the_peer_counts_what_the_project_counts_on_the_incident_day(demo_data):
    store = TelemetryStore(demo_data, cache=False)
    frame, _ = query_peer.load(demo_data)
    start, now = incident_day(store)  # the store's clock: times as the engine returns them
    for filters in (None, PAID_ENGLISH):
        ours = store.series(start, now, filters, bucket=timedelta(minutes=1))
        peer = query_peer.series(frame, start, now, timedelta(minutes=1), filters)
        assert peer["requests"].to_list() == ours["requests"].to_list()
        assert peer["refused"].to_list() == ours["refused"].cast(peer["refused"].dtype).to_list()
