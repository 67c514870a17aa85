"""Severity suggestion, playbooks, and comms: rendering per audience, cadence and overdue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.core.incident.comms import (
    SignalFact,
    comms_clock,
    facts_from_state,
    mitigation_from_state,
    render_update,
)
from dashboard.core.incident.events import AUDIENCES, INCIDENT_TYPES
from dashboard.core.incident.playbooks import PHASES, PLAYBOOKS, find_item, playbook_for
from dashboard.core.incident.service import Incidents
from dashboard.core.incident.severity import RUBRIC, ImpactMeasure, suggest_severity

T0 = datetime(2025, 2, 18, 14, 14, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# --- severity -------------------------------------------------------------------

def test_safety_at_scale_is_sev1():
    s = suggest_severity(ImpactMeasure(affected_share=0.13, safety_signal=True, safety_share=0.02))
    assert s.level == "SEV1" and "safety" in s.reasons[0]


def test_demo_incident_is_sev2_with_reasoning():
    # paid English is ~27 % of traffic; refusals 4 % -> 19 %, human agents are the workaround
    s = suggest_severity(ImpactMeasure(affected_share=0.27, signal="refusal rate", baseline=0.04, current=0.19,
                                       workaround=True))
    assert s.level == "SEV2"
    assert any("27% of traffic" in r for r in s.reasons)
    assert any("4.0% → 19.0%" in r and "major" in r for r in s.reasons)
    assert s.reasons[-1] == f"SEV2: {RUBRIC['SEV2']}"


def test_broad_major_without_workaround_is_sev1_and_small_things_are_sev4():
    assert suggest_severity(ImpactMeasure(affected_share=0.8, baseline=0.42, current=0.2)).level == "SEV1"
    small = suggest_severity(ImpactMeasure(affected_share=0.02, baseline=0.040, current=0.042))
    assert small.level == "SEV4"
    internal = suggest_severity(ImpactMeasure(affected_share=0.9, baseline=0.04, current=0.2, internal_only=True))
    assert internal.level == "SEV3"


def test_if_unsure_take_the_higher():
    unknown = suggest_severity(ImpactMeasure(baseline=0.04, current=0.05))
    assert any("unsure" in r for r in unknown.reasons)
    near = suggest_severity(ImpactMeasure(affected_share=0.09, baseline=0.04, current=0.2))  # just under 10 %
    sure = suggest_severity(ImpactMeasure(affected_share=0.03, baseline=0.04, current=0.2))
    assert int(near.level[3]) == int(sure.level[3]) - 1
    assert "if unsure, take the higher" in near.reasons[-2]


# --- playbooks ------------------------------------------------------------------

def test_every_type_has_a_playbook_with_stable_unique_ids():
    assert set(PLAYBOOKS) == set(INCIDENT_TYPES)
    ids = [i.id for pb in PLAYBOOKS.values() for i in pb.items]
    assert len(ids) == len(set(ids))
    for incident_type, pb in PLAYBOOKS.items():
        assert all(pb.phase(p) for p in PHASES), incident_type
        assert all(i.id.startswith(f"{incident_type}.{i.phase}.") for i in pb.items)
    assert playbook_for("tool_degradation").containment.text.startswith("Disable the failing tool path")
    assert find_item("quality_regression.rollback.rollback-index").phase == "rollback"
    with pytest.raises(KeyError, match="known"):
        playbook_for("meteor_strike")


# --- comms ----------------------------------------------------------------------

@pytest.fixture()
def incident(tmp_path):
    inc = Incidents(tmp_path / "incidents.sqlite")
    s = inc.open("Priya", "Support bot refusing", at=T0, type="quality_regression", severity="SEV2",
                 segments={"tier": "paid", "language": "en"}, suspects=["prompt:prompt-v7"],
                 window_start=at(-44), detected_at=at(-4))
    return inc, s


def test_cadence_follows_severity_and_marks_overdue(incident):
    inc, s = incident
    clock = comms_clock(s, at(30))
    assert clock.cadence_minutes == 60 and clock.due_at == at(60) and not clock.overdue
    s = inc.post_update(s.id, s.version, "Lena", "executives", "first", at=at(20))
    assert comms_clock(s, at(70)).due_at == at(80)
    assert comms_clock(s, at(85)).overdue and comms_clock(s, at(85)).minutes_left == pytest.approx(-5)
    s = inc.set_severity(s.id, s.version, "Priya", "SEV1", reason="safety", at=at(25))
    assert comms_clock(s, at(51)).overdue  # 30-minute cadence at SEV1, from the last update
    s = inc.set_severity(s.id, s.version, "Priya", "SEV4", at=at(26))
    assert comms_clock(s, at(51)).due_at == at(20 + 240)


def test_update_is_rendered_for_each_audience_from_the_same_facts(incident):
    inc, s = incident
    s = inc.check_item(s.id, s.version, "Marcus", "quality_regression.rollback.rollback-prompt", at=at(36))
    facts = facts_from_state(s, at(40), affected_share=0.27, signals=[
        SignalFact(signal="refusal_rate", label="refusal rate", current=0.19, baseline=0.04, sample_size=2400)])
    assert facts.next_update_at == at(100) and facts.owner == "Priya"
    assert "Roll back the prompt" in mitigation_from_state(s)
    for audience in AUDIENCES:
        text = render_update(facts, audience)
        for must in ("What users are seeing:", "refusal rate 19.0% (baseline 4.0%, n=2,400)",
                     "Started:** 2025-02-18 13:30 UTC", "tier=paid, language=en (27% of traffic)",
                     "Roll back the prompt", "Next update:** 2025-02-18 15:54 UTC", "Owner:** Priya"):
            assert must in text, (audience, must)
    assert "**Risk:**" in render_update(facts, "executives")
    assert "**Workaround:**" in render_update(facts, "support")
    assert "prompt:prompt-v7" in render_update(facts, "engineering")
    assert "**Notification triggers:**" in render_update(facts, "compliance")
    with pytest.raises(ValueError, match="unknown audience"):
        render_update(facts, "press")
    for audience in AUDIENCES:
        # every non-blank line is a heading or a bullet: consecutive plain lines would merge into one paragraph
        body = [line for line in render_update(facts, audience).splitlines()[2:] if line.strip()]
        assert all(line.lstrip().startswith("- ") for line in body), (audience, body)


def test_checklist_status_lists_the_playbook_with_marks(incident):
    from dashboard.core.incident.summary import checklist_status

    inc, s = incident
    s = inc.check_item(s.id, s.version, "Marcus", "quality_regression.rollback.rollback-prompt", note="v6",
                       at=at(36))
    phases = checklist_status(s)
    assert [p["phase"] for p in phases] == list(PHASES)
    items = {i["id"]: i for p in phases for i in p["items"]}
    assert set(items) == {i.id for i in playbook_for("quality_regression").items}
    assert items["quality_regression.rollback.rollback-prompt"]["by"] == "Marcus"
    assert sum(i["done"] for i in items.values()) == 1
