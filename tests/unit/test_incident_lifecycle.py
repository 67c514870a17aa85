"""Lifecycle rules, roles and handovers, checklist, and the soak-gated close."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.core.incident.lifecycle import CloseRefused, LifecycleError, close_gate
from dashboard.core.incident.service import Incidents
from dashboard.core.incident.soak import MinuteCount, VerificationMetric, evaluate_soak

T0 = datetime(2025, 2, 18, 14, 10, tzinfo=UTC)
METRIC = VerificationMetric(signal="refusal_rate", segment={"tier": "paid"}, comparator="<=", threshold=0.06)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture()
def inc(tmp_path) -> Incidents:
    return Incidents(tmp_path / "incidents.sqlite")


def opened(inc: Incidents):
    return inc.open("ana", "Support bot refusing", at=T0, type="quality_regression", severity="SEV2")


def soaked(inc: Incidents):
    s = opened(inc)
    s = inc.define_verification(s.id, s.version, "ana", [METRIC], at=at(50))
    s = inc.set_status(s.id, s.version, "ana", "monitoring", at=at(60))
    return s


def healthy(minutes_after_start: int, rate: float = 0.04):
    counts = [MinuteCount(at(60 + i), rate * 300, 300.0) for i in range(minutes_after_start)]
    return {METRIC.key: counts}


def test_forward_path_and_relapse_are_allowed_but_resolving_needs_close(inc):
    s = opened(inc)
    for status in ("identified", "mitigating", "monitoring", "mitigating"):
        s = inc.set_status(s.id, s.version, "ana", status, at=at(10))
    assert [c.to_status for c in s.status_history] == [
        "investigating", "identified", "mitigating", "monitoring", "mitigating"]
    with pytest.raises(LifecycleError, match="goes through close"):
        inc.set_status(s.id, s.version, "ana", "resolved")
    with pytest.raises(LifecycleError, match="already mitigating"):
        inc.set_status(s.id, s.version, "ana", "mitigating")
    with pytest.raises(LifecycleError, match="not allowed"):
        inc.set_status(s.id, s.version, "ana", "postmortem")


def test_entering_monitoring_with_verification_starts_the_soak(inc):
    s = soaked(inc)
    assert s.status == "monitoring" and s.soak.started_at == at(60)
    # redefining verification restarts it: the old soak proved nothing about new conditions
    s = inc.define_verification(s.id, s.version, "bo", [METRIC.model_copy(update={"threshold": 0.05})], at=at(70))
    assert s.soak.started_at == at(70) and s.verification[0].threshold == 0.05
    assert s.verification_defined_by == "bo"


def test_close_is_refused_while_soaking_and_allowed_once_it_passed(inc):
    s = soaked(inc)
    soaking = evaluate_soak(s.verification, healthy(30), s.soak.started_at, at(90))
    with pytest.raises(CloseRefused) as err:
        inc.close(s.id, s.version, "bo", soaking, at=at(90))
    assert "30 min left" in str(err.value) and "override" in str(err.value)
    assert inc.get(s.id).status == "monitoring"

    relapse = evaluate_soak(s.verification, healthy(70, rate=0.15), s.soak.started_at, at(130))
    assert relapse.status == "broken"
    with pytest.raises(CloseRefused, match="soak broken"):
        inc.close(s.id, s.version, "bo", relapse, at=at(130))

    passed = evaluate_soak(s.verification, healthy(70), s.soak.started_at, at(130))
    s = inc.close(s.id, s.version, "bo", passed, at=at(130))
    assert s.status == "resolved" and s.closed_via == "soak" and s.resolved_by == "bo"
    assert s.soak.passed_at == at(130) and s.soak.evidence[0].sample_size == 70 * 300
    assert s.timeline[-1].tone == "success"
    with pytest.raises(CloseRefused, match="already resolved"):
        inc.close(s.id, s.version, "bo", passed)


def test_close_refused_without_verification_or_for_another_verification(inc):
    s = opened(inc)
    with pytest.raises(CloseRefused, match="no verification metrics"):
        inc.close(s.id, s.version, "ana", None)
    s = soaked(inc)
    other = METRIC.model_copy(update={"threshold": 0.5})
    lenient = evaluate_soak([other], {other.key: healthy(70)[METRIC.key]}, s.soak.started_at, at(130))
    assert lenient.passed
    assert not close_gate(s, lenient).allowed


def test_override_needs_the_commander_and_a_reason_and_is_marked(inc):
    s = soaked(inc)
    with pytest.raises(CloseRefused, match="only the incident commander"):
        inc.close(s.id, s.version, "bo", None, override_reason="customers confirmed fix")
    with pytest.raises(CloseRefused):
        inc.close(s.id, s.version, "ana", None, override_reason="   ")
    s = inc.close(s.id, s.version, "ana", None, override_reason="traffic too thin to soak overnight", at=at(80))
    assert s.status == "resolved" and s.closed_via == "override"
    assert s.override.reason == "traffic too thin to soak overnight" and s.override.by == "ana"
    assert [e.tone for e in s.timeline if e.kind in ("override", "closed")] == ["danger", "danger"]


def test_roles_and_handovers_are_recorded(inc):
    s = opened(inc)
    s = inc.assign_role(s.id, s.version, "ana", "tech_lead", "bo", at=at(1))
    s = inc.assign_role(s.id, s.version, "ana", "commander", "cy", at=at(2))
    assert s.commander == "cy" and s.roles["tech_lead"] == "bo"
    handover = s.role_history[-1]
    assert (handover.role, handover.previous, handover.person, handover.by) == ("commander", "ana", "cy", "ana")
    assert "handed over from ana to cy" in s.timeline[-1].text
    with pytest.raises(LifecycleError, match="already"):
        inc.assign_role(s.id, s.version, "ana", "commander", "cy")
    with pytest.raises(LifecycleError, match="unknown role"):
        inc.assign_role(s.id, s.version, "ana", "ceo", "dee")


def test_checklist_actions_and_comms_are_timeline_events(inc):
    s = opened(inc)
    s = inc.check_item(s.id, s.version, "bo", "quality_regression.rollback.rollback-prompt", note="v6", at=at(5))
    with pytest.raises(LifecycleError, match="already done by bo"):
        inc.check_item(s.id, s.version, "cy", "quality_regression.rollback.rollback-prompt")
    with pytest.raises(LifecycleError, match="unknown checklist item"):
        inc.check_item(s.id, s.version, "cy", "nope")
    s = inc.add_action(s.id, s.version, "ana", "refusal canary", owner="bo", term="short", at=at(6))
    s = inc.complete_action(s.id, s.version, "bo", "A1", at=at(7))
    s = inc.post_update(s.id, s.version, "cy", "support", "we are on it", at=at(8))
    with pytest.raises(LifecycleError, match="unknown audience"):
        inc.post_update(s.id, s.version, "cy", "press", "hi")
    assert s.checklist_done["quality_regression.rollback.rollback-prompt"].by == "bo"
    assert s.actions[0].done_by == "bo" and s.updates[0].severity == "SEV2"
    assert [e.kind for e in s.timeline] == [
        "opened", "checklist_item_done", "action_added", "action_done", "update_posted"]


def test_soak_breaches_are_recorded_once(inc):
    s = soaked(inc)
    counts = healthy(40)
    counts[METRIC.key][10:14] = [MinuteCount(at(70 + i), 60.0, 300.0) for i in range(4)]
    evaluation = evaluate_soak(s.verification, counts, s.soak.started_at, at(100))
    assert len(evaluation.breaches) == 1
    s = inc.record_soak(s.id, s.version, "monitor", evaluation)
    s = inc.record_soak(s.id, s.version, "monitor", evaluation)
    assert len(s.soak.breaches) == 1 and s.soak.breaches[0].observed > 0.06
    assert s.soak.breaches[0].breach_at == evaluation.breaches[0].first_at


def test_reopening_needs_a_new_soak_and_postmortem_is_final(inc):
    s = soaked(inc)
    s = inc.close(s.id, s.version, "ana", None, override_reason="quiet night", at=at(80))
    s = inc.set_status(s.id, s.version, "ana", "investigating", note="relapse", at=at(200))
    assert s.is_open and s.resolved_at is None and s.override is None and s.soak.started_at is None
    assert s.timeline[-1].text == "Reopened (resolved → investigating): relapse"
    with pytest.raises(CloseRefused, match="soak has not started"):
        inc.close(s.id, s.version, "ana", None)
    s = inc.close(s.id, s.version, "ana", None, override_reason="fixed for good", at=at(300))
    s = inc.set_status(s.id, s.version, "ana", "postmortem", at=at(400))
    with pytest.raises(LifecycleError, match="not allowed"):
        inc.set_status(s.id, s.version, "ana", "investigating")


def test_every_event_kind_has_its_handler_in_the_fold():
    from dashboard.core.incident import state
    from dashboard.core.incident.events import EVENT_KINDS

    assert set(state._HANDLERS) == set(EVENT_KINDS)


def test_a_correction_amends_the_record_and_keeps_what_it_said_before(inc):
    s = inc.open("ana", "Refusals up in eu-wst", at=T0, segments={"region": "eu-wst"}, signals=["refusal_rate"])
    s = inc.correct(s.id, s.version, "bo", "the region was mistyped", at=at(5),
                    title="Refusals up in eu-west", segments={"region": "eu-west", "tier": "paid"})
    assert (s.title, s.segments, s.signals) == ("Refusals up in eu-west", {"region": "eu-west", "tier": "paid"},
                                                ["refusal_rate"])
    assert [(c.by, c.reason, c.changes["segments"]) for c in s.corrections] == [
        ("bo", "the region was mistyped", {"region": "eu-west", "tier": "paid"})]
    line = s.timeline[-1]
    assert line.kind == "corrected" and "region=eu-wst → region=eu-west, tier=paid" in line.text
    assert "Refusals up in eu-wst → Refusals up in eu-west" in line.text
    # history is not rewritten: the opening event still says what was first recorded
    assert inc.events(s.id)[0].payload.segments == {"region": "eu-wst"}
    assert inc.audit(s.id).intact
    # an empty scope clears it; a correction that changes nothing is refused
    s = inc.correct(s.id, s.version, "bo", "it is all traffic", segments={})
    assert s.segments == {}
    with pytest.raises(LifecycleError, match="changes nothing"):
        inc.correct(s.id, s.version, "bo", "again", segments={}, title="Refusals up in eu-west")


def test_a_correction_needs_a_reason_and_is_a_version_checked_decision(inc):
    from dashboard.core.incident.events import EventError
    from dashboard.core.incident.store import StaleIncidentError

    s = inc.open("ana", "Latency up", at=T0)
    with pytest.raises(EventError, match="needs a reason"):
        inc.correct(s.id, s.version, "bo", "  ", title="Latency up on eu")
    seen = s.version
    inc.set_severity(s.id, s.version, "ana", "SEV2")
    with pytest.raises(StaleIncidentError):
        inc.correct(s.id, seen, "bo", "typo", title="Latency up on eu")
    inc.add_note(s.id, None, "cy", "looking")  # an append in between does not make it stale
    s = inc.get(s.id)
    assert inc.correct(s.id, s.version - 1, "bo", "typo", title="Latency up on eu").title == "Latency up on eu"
