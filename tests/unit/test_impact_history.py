"""Incident metrics across history: time to detect, acknowledge, mitigate, resolve; breakdowns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.core.incident.events import NewEvent
from dashboard.core.incident.state import fold
from dashboard.core.incident.store import IncidentStore
from dashboard.core.reporting.incident_metrics import (
    format_duration,
    incident_times,
    summarize_history,
    suspect_kind,
)

T = datetime(2025, 2, 18, 13, 30, tzinfo=UTC)


def minutes(n: float) -> datetime:
    return T + timedelta(minutes=n)


def record(store: IncidentStore, *, type_, signals, suspects, start, detected, opened,
           monitoring=None, soak=None, closed=None) -> str:
    events = [NewEvent.make("opened", {"title": f"{type_} case", "type": type_, "severity": "SEV2",
                                       "detected_at": detected, "window_start": start, "signals": signals,
                                       "suspects": suspects}, "ana", opened)]
    if monitoring is not None:
        events.append(NewEvent.make("status_changed", {"to": "monitoring"}, "ana", monitoring))
    if soak is not None:
        events.append(NewEvent.make("verification_defined", {"metrics": [
            {"signal": "refusal_rate", "comparator": "<=", "threshold": 0.06}]}, "ana", soak))
        events.append(NewEvent.make("soak_started", {}, "ana", soak))
    if closed is not None:
        events.append(NewEvent.make("override", {"reason": "test"}, "ana", closed))
        events.append(NewEvent.make("closed", {"via": "override"}, "ana", closed))
    return store.create(events)


@pytest.fixture()
def states(tmp_path):
    store = IncidentStore(tmp_path / "incidents.sqlite")
    record(store, type_="quality_regression", signals=["refusal_rate"], suspects=["prompt:prompt-v7", "index:kb"],
           start=minutes(0), detected=minutes(40), opened=minutes(45), monitoring=minutes(125),
           soak=minutes(120), closed=minutes(200))
    record(store, type_="latency_spike", signals=["latency_p95_ms"], suspects=["router=latency-aware-v2"],
           start=minutes(0), detected=minutes(14), opened=minutes(20), monitoring=minutes(100), closed=minutes(130))
    record(store, type_="tool_degradation", signals=[], suspects=[],
           start=minutes(0), detected=minutes(9), opened=minutes(30))
    return [fold(events) for events in store.all_events().values()]


def test_per_incident_durations_from_regression_start(states):
    first = incident_times(states[0])
    assert first.duration("detect") == timedelta(minutes=40)
    assert first.duration("acknowledge") == timedelta(minutes=45)
    # soak started at 120 before the move to monitoring at 125
    assert first.duration("mitigate") == timedelta(minutes=120)
    assert first.duration("resolve") == timedelta(minutes=200)
    assert first.detection_gap == timedelta(minutes=5)
    assert first.artifact_kind == "prompt"
    assert first.category == "safety"  # refusal rate sits in the registry's safety group


def test_open_incident_has_no_mitigation_or_resolution(states):
    third = incident_times(states[2])
    assert third.duration("mitigate") is None
    assert third.duration("resolve") is None
    assert third.artifact_kind == "external"  # tool degradation with no release suspect
    assert third.category == "reliability"


def test_medians_and_breakdowns(states):
    summary = summarize_history(states)
    assert summary.medians["detect"] == timedelta(minutes=14)  # 40, 14, 9
    assert summary.medians["acknowledge"] == timedelta(minutes=30)  # 45, 20, 30
    assert summary.medians["mitigate"] == timedelta(minutes=110)  # 120, 100
    assert summary.medians["resolve"] == timedelta(minutes=165)  # 200, 130
    assert summary.by_type == {"quality_regression": 1, "latency_spike": 1, "tool_degradation": 1}
    assert summary.by_artifact_kind == {"prompt": 1, "router": 1, "external": 1}
    assert summary.by_category == {"safety": 1, "latency": 1, "reliability": 1}


def test_empty_history():
    summary = summarize_history([])
    assert summary.medians["detect"] is None
    assert summary.by_type == {}


@pytest.mark.parametrize("text, kind", [
    ("prompt:prompt-v7", "prompt"), ("index=kb-2025-02-15", "index"), ("model support-3.3", "model"),
    ("kb-2025-02-15", None), ("external", "external"),
])
def test_suspect_kind(text, kind):
    assert suspect_kind(text) == kind


def test_format_duration():
    assert format_duration(timedelta(minutes=40)) == "40 min"
    assert format_duration(timedelta(minutes=65)) == "1 h 05 min"
    assert format_duration(timedelta(days=3, hours=2)) == "3 d 2 h"
    assert format_duration(None) == "—"
