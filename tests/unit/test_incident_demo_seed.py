"""The demo's incident record, as `warroom demo` writes it from truth.json."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from itertools import pairwise

import pytest

from dashboard.core.demo.incidents import seed_demo_incidents
from dashboard.core.incident.comms import comms_clock
from dashboard.core.incident.service import Incidents
from dashboard.core.incident.telemetry_adapter import evaluate_incident_soak
from dashboard.core.telemetry.query import TelemetryStore
from tests.fixtures import incident_truth, truth


@pytest.fixture(scope="module")
def record(demo_data):
    incidents = Incidents.for_data_dir(demo_data)
    store = TelemetryStore(demo_data)
    return incidents, store, {s.source: s for s in incidents.list()}


def test_every_injected_incident_is_recorded_once(demo_data, record):
    incidents, _, by_source = record
    ids = [i["id"] for i in truth(demo_data)["incidents"]]
    assert sorted(by_source) == sorted(f"demo:{i}" for i in ids)
    assert seed_demo_incidents(demo_data, truth(demo_data)) == 0  # re-running adds nothing
    assert len(incidents.list()) == len(ids)


def test_the_support_bot_incident_is_live_in_monitoring(demo_data, record):
    incidents, store, by_source = record
    ti = incident_truth(demo_data, "support-bot-refusals")
    s = by_source["demo:support-bot-refusals"]
    now = store.now()
    assert s.status == "monitoring" and s.severity == "SEV2" and s.is_open
    assert set(s.roles) == {"commander", "tech_lead", "comms_lead", "scribe"}
    assert s.detected_at == datetime.fromisoformat(ti["detected_at"])
    rollbacks = {r["artifact"]: datetime.fromisoformat(r["at"]) for r in ti["rollbacks"]}
    done = s.checklist_done
    assert done["quality_regression.rollback.rollback-prompt"].at == rollbacks["prompt"]
    assert done["quality_regression.rollback.rollback-index"].at == rollbacks["index"]
    assert s.soak.started_at == rollbacks["index"]
    assert [(m.signal, m.comparator, m.threshold, m.segment, m.soak_minutes) for m in s.verification] == [
        ("refusal_rate", "<=", 0.06, {"tier": "paid", "language": "en"}, 60),
        ("task_success_rate", ">=", 0.40, {"tier": "paid", "language": "en"}, 60)]
    # every event on the data's clock, none after the data ends
    assert all(e.at <= now for e in incidents.events(s.id))
    # comms kept the SEV2 cadence and the next update is not overdue at the data's "now"
    times = sorted(u.at for u in s.updates)
    assert len(times) >= 3 and all(b - a <= timedelta(minutes=60) for a, b in pairwise(times))
    assert not comms_clock(s, now).overdue
    # the soak is partly through: judged on the telemetry, not finished
    evaluation = evaluate_incident_soak(s, store)
    assert evaluation.status in ("soaking", "broken") and 0 < evaluation.progress < 1
    assert all(m.current_sample_size >= m.metric.min_samples for m in evaluation.metrics)


def test_the_other_incidents_are_resolved_with_full_records(record):
    _, _, by_source = record
    resolved = [s for src, s in by_source.items() if src != "demo:support-bot-refusals"]
    assert len(resolved) == 4
    for s in resolved:
        assert s.status == "resolved" and s.resolved_at is not None, s.id
        assert s.closed_via == "soak" and s.soak.evidence, s.id  # soaks judged on the generated telemetry
        assert s.verification and s.soak.started_at < s.resolved_at
        assert len(s.updates) >= 3 and s.actions and len(s.roles) == 4
        assert s.status_entered_at("monitoring") <= s.soak.started_at


def test_a_draft_from_a_finding_is_measured_on_the_telemetry(demo_data, record):
    from dashboard.core.incident.comms import render_update
    from dashboard.core.incident.drafting import comms_facts_for, draft_incident

    _, store, by_source = record
    ti = incident_truth(demo_data, "support-bot-refusals")
    start, detected = datetime.fromisoformat(ti["start"]), datetime.fromisoformat(ti["detected_at"])
    draft = draft_incident(store, "refusal_rate", ti["headline_segment"], start, detected,
                           suspects=["prompt:prompt-v7"], also_moves=["task_success_rate"])
    assert draft.type == "quality_regression" and draft.suggestion.level == ti["severity"]
    assert 0.2 < draft.impact.affected_share < 0.35  # paid English
    assert draft.impact.baseline == pytest.approx(0.04, abs=0.01) and draft.impact.current > 0.12
    assert [f.signal for f in draft.facts] == ["refusal_rate", "task_success_rate"]

    s = by_source["demo:support-bot-refusals"]
    facts = comms_facts_for(s, store, store.now())
    text = render_update(facts, "executives")
    assert "refusal rate" in text and re.search(r"\(2[0-9]% of traffic\)", text)
    assert facts.signals[0].sample_size > 1000
