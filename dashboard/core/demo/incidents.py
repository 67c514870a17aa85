"""Record the demo week's incidents in the incident store, from truth.json.

The week's earlier incidents are written as resolved, with full records; the
support-bot incident is left open in monitoring, both rollbacks done, comms
posted on its SEV2 cadence, and the soak started at the index rollback. Every
event time is on the data's clock, derived from the injected timeline. Soaks
are judged on the generated telemetry, never asserted: a resolved incident
whose soak did not pass on the data is closed by a recorded override instead.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from dashboard.core.incident.comms import cadence_minutes
from dashboard.core.incident.playbooks import playbook_for
from dashboard.core.incident.service import Incidents
from dashboard.core.incident.soak import VerificationMetric
from dashboard.core.incident.state import IncidentState
from dashboard.core.incident.store_config import has_incident_store
from dashboard.core.incident.telemetry_adapter import VERIFIABLE_SIGNALS, evaluate_incident_soak, pooled_values
from dashboard.core.incident.verification import propose_verification
from dashboard.core.telemetry import signals as sig
from dashboard.core.timeutil import utc

ROSTERS: tuple[dict[str, str], ...] = (
    {"commander": "Priya Raman", "tech_lead": "Marcus Lee", "comms_lead": "Lena Vogel", "scribe": "Tom Okafor"},
    {"commander": "Jonas Berg", "tech_lead": "Aiko Tanaka", "comms_lead": "Lena Vogel", "scribe": "Sam Ortiz"},
    {"commander": "Marcus Lee", "tech_lead": "Ravi Shah", "comms_lead": "Nora Kim", "scribe": "Tom Okafor"},
    {"commander": "Aiko Tanaka", "tech_lead": "Jonas Berg", "comms_lead": "Nora Kim", "scribe": "Sam Ortiz"},
)
SOURCE_PREFIX = "demo:"


def _t(text: str) -> datetime:
    return utc(datetime.fromisoformat(text))


def _t_or_none(text: str | None) -> datetime | None:
    return _t(text) if text else None


def _min(moment: datetime, minutes: float) -> datetime:
    return moment + timedelta(minutes=minutes)


def _segments(truth_incident: dict) -> dict[str, str]:
    if truth_incident.get("headline_segment"):
        return dict(truth_incident["headline_segment"])
    merged: dict[str, str] = {}
    for seg in truth_incident.get("segments") or []:
        merged.update(seg)
    return merged


def _suspects(truth_incident: dict) -> list[str]:
    out = []
    for cause in [truth_incident["cause"], *truth_incident.get("contributing", [])]:
        if cause.get("kind") == "release" and cause.get("version"):
            out.append(f"{cause['artifact']}:{cause['version']}")
        else:
            out.append(f"external:{cause.get('artifact') or 'unknown'}")
    return out


class _Writer:
    """Appends one incident's events in order, always against the version it just wrote."""

    def __init__(self, incidents: Incidents, state: IncidentState):
        self.incidents = incidents
        self.state = state

    def __getattr__(self, command: str):
        method = getattr(self.incidents, command)

        def call(actor: str, *args, **kwargs):
            self.state = method(self.state.id, self.state.version, actor, *args, **kwargs)
            return self.state
        return call


def _open(incidents: Incidents, ti: dict, roster: dict[str, str], opened_at: datetime) -> _Writer:
    key_signals = [ti["metric"], *ti.get("also_moves", [])]
    cause = ti["cause"]
    summary = (f"{cause['artifact']} {cause['previous_version']} → {cause['version']}" if cause.get("version")
               else cause.get("note", ""))
    state = incidents.open(
        roster["commander"], ti["title"], at=opened_at, type=ti["type"], severity=ti.get("severity"),
        severity_reasons=["set at triage from the alert's measured impact"], service="support-bot",
        summary=summary, detected_at=_t_or_none(ti["detected_at"]), window_start=_t_or_none(ti["start"]),
        window_end=_t_or_none(ti["end"]),
        signals=key_signals, segments=_segments(ti), suspects=_suspects(ti), source=SOURCE_PREFIX + ti["id"])
    writer = _Writer(incidents, state)
    for i, role in enumerate(("tech_lead", "comms_lead", "scribe")):
        writer.assign_role(roster["commander"], role, roster[role], at=_min(opened_at, 1 + i))
    return writer


def _update(writer: _Writer, roster: dict, audience: str, at: datetime, message: str) -> None:
    writer.post_update(roster["comms_lead"], audience, message, at=at)


def _keep_cadence(w: _Writer, roster: dict, until: datetime, status_line: str) -> None:
    """Post holding updates so no gap since the last one exceeds the severity's cadence."""
    cadence = cadence_minutes(w.state.severity)
    if cadence is None:
        return
    while True:
        last = max(u.at for u in w.state.updates) if w.state.updates else w.state.opened_at
        due = _min(last, cadence - 2)  # posted a little before it is due, as a comms lead would
        if due >= until:
            return
        _update(w, roster, "executives", due, status_line)


def _seed_resolved(incidents: Incidents, ti: dict, roster: dict, store) -> None:
    detected, end = _t(ti["detected_at"]), _t(ti["end"])
    opened = _min(detected, 4)
    w = _open(incidents, ti, roster, opened)
    book = playbook_for(ti["type"])
    cmd, lead = roster["commander"], roster["tech_lead"]
    item_ids = {i.id.rsplit(".", 1)[1]: i.id for i in book.items}
    artifact = ti["cause"].get("artifact")
    rollback_item = item_ids.get(f"rollback-{artifact}") if ti["cause"].get("kind") == "release" else None

    _update(w, roster, "executives", _min(opened, 5),
            f"We are investigating: {ti['title']}. Scope: {_scope(ti)}. Next update on the "
            f"{w.state.severity} cadence.")
    w.check_item(lead, book.phase("diagnosis")[0].id, at=_min(opened, 8))
    w.check_item(lead, book.phase("diagnosis")[1].id, at=_min(opened, 14))
    w.set_status(cmd, "identified", note=f"cause: {', '.join(w.state.suspects)}", at=_min(opened, 16))
    w.set_status(cmd, "mitigating", at=_min(opened, 18))
    if rollback_item is None:
        # nothing to roll back (an external outage): contain first, then wait for the dependency
        w.check_item(lead, book.containment.id, at=_min(opened, 20))
    _keep_cadence(w, roster, _min(end, -1), "Mitigation in progress; impact unchanged since the last update.")
    metrics = _resolved_verification(ti, store)
    if metrics:
        w.define_verification(cmd, metrics, at=_min(end, -1))
    done = rollback_item or book.phase("rollback")[0].id
    w.check_item(lead, done, note="mitigation in place", at=end)
    w.set_status(cmd, "monitoring", note="mitigation in place; verifying recovery", at=end)
    _update(w, roster, "support", _min(end, 2), "Mitigation is in place; we are verifying recovery before closing.")
    soak_end = _min(end, (metrics[0].soak_minutes if metrics else 60) + 1)
    _keep_cadence(w, roster, soak_end, "Recovery holding so far; the verification soak is running.")
    evaluation = evaluate_incident_soak(w.state, store, soak_end) if metrics and store is not None else None
    if evaluation is not None:
        w.record_soak(cmd, evaluation)
    if evaluation is not None and evaluation.passed:
        w.close(cmd, evaluation, at=soak_end, note="verification held for the soak window")
    else:
        why = evaluation.summary() if evaluation is not None else "no telemetry to judge the soak on"
        w.close(cmd, evaluation, override_reason=f"closed without a passed soak: {why}", at=soak_end)
    _update(w, roster, "executives", _min(soak_end, 2), f"Resolved: {ti['title']}. Postmortem to follow.")
    w.add_action(cmd, f"Add a canary check on {ti['metric']} for {artifact} releases", owner=lead,
                 due=(soak_end + timedelta(days=7)).date(), term="short", at=_min(soak_end, 5))


def _scope(ti: dict) -> str:
    seg = _segments(ti)
    return ", ".join(f"{k}={v}" for k, v in seg.items()) or "all traffic"


def _resolved_verification(ti: dict, store) -> list[VerificationMetric]:
    """The incident's key metric, threshold from the 3 hours before it started, on its segment."""
    key = ti["metric"]
    if key not in VERIFIABLE_SIGNALS or store is None:
        return []
    start = _t(ti["start"])
    baselines = pooled_values(store, [key], start - timedelta(hours=3), start, _segments(ti))
    if key not in baselines:
        return []
    return propose_verification(key, baselines, _segments(ti))


def _seed_support_bot(incidents: Incidents, ti: dict, roster: dict, store) -> None:
    detected = _t(ti["detected_at"])
    rollbacks = {r["artifact"]: _t(r["at"]) for r in ti.get("rollbacks", [])}
    prompt_rb, index_rb = rollbacks.get("prompt"), rollbacks.get("index")
    opened = _min(detected, 4)
    w = _open(incidents, ti, roster, opened)
    cmd, lead = roster["commander"], roster["tech_lead"]
    book = playbook_for(ti["type"])
    item = {i.id.rsplit(".", 1)[1]: i.id for i in book.items}
    phases = ti.get("phases") or []
    levels = ""
    if len(phases) >= 2:
        base, bad = phases[0], phases[1]
        levels = (f" (refusals ~{bad['refusal_rate']:.0%} vs {base['refusal_rate']:.0%}, "
                  f"deflection ~{bad['task_success_rate']:.0%} vs {base['task_success_rate']:.0%})")
    _update(w, roster, "executives", _min(opened, 6),
            f"Support bot is refusing questions it can answer for paid English customers{levels}. More tickets "
            f"reach human agents. Started {_t(ti['start']):%H:%M} UTC. No code deploy involved; suspects: "
            f"{', '.join(w.state.suspects)}.")
    _update(w, roster, "support", _min(opened, 7),
            "Expect more escalations from paid English customers; the bot refuses answerable questions. "
            "Handle them as usual; no customer data affected.")
    w.check_item(lead, item["what-changed"], note="prompt-v7 13:30, kb-2025-02-15 13:40; no app or model deploy",
                 at=_min(opened, 10))
    w.check_item(lead, item["canary-vs-baseline"], note="prompt-v7 vs prompt-v6 in the same minutes: v7 refuses more",
                 at=_min(opened, 20))
    w.set_status(cmd, "identified", note="prompt-v7 wording refuses English questions", at=_min(opened, 22))
    w.set_status(cmd, "mitigating", note="rolling back the prompt first", at=_min(opened, 24))
    if prompt_rb:
        w.check_item(lead, item["rollback-prompt"], note="prompt-v6 restored", at=prompt_rb)
        w.check_item(lead, item["rollback-lkg"], at=_min(prompt_rb, 1))
        w.add_note(roster["scribe"], "Refusals down after the prompt rollback but still above baseline in every "
                   "language, not only English: the index is the second suspect", at=_min(prompt_rb, 12))
    first_update = w.state.updates[0].at
    after = next((p for p in phases if p["label"] == "prompt rolled back"), None)
    levels = (f" (refusal ~{after['refusal_rate']:.0%}, deflection ~{after['task_success_rate']:.0%})"
              if after else "")
    _update(w, roster, "engineering", _min(first_update, 58),
            f"Prompt rollback recovered most of it{levels}. Residual lift in every language points at the "
            "index release (dropped articles). Index rollback next.")
    _update(w, roster, "executives", _min(first_update, 60),
            "Partial recovery after rolling back the prompt; rolling back the knowledge-base index next.")
    if index_rb:
        w.check_item(lead, item["inspect-retrieval"], note="kb-2025-02-15 is missing refreshed articles",
                     at=_min(index_rb, -10))
        verification = ti.get("verification") or {}
        metrics = [VerificationMetric(signal=m["signal"], segment=dict(m.get("filters") or {}),
                                      comparator=m["comparator"], threshold=m["threshold"],
                                      soak_minutes=verification.get("soak_minutes", 60),
                                      label=m.get("label") or sig.get(m["signal"]).phrase)
                   for m in verification.get("metrics", [])]
        if metrics:
            w.define_verification(cmd, metrics, at=_min(index_rb, -3))
        w.check_item(lead, item["rollback-index"], note="kb-2025-02-01 restored", at=index_rb)
        w.set_status(cmd, "monitoring", note="both rollbacks done; soaking", at=index_rb)
        if store is not None and w.state.soak.started_at is not None:
            # breaches the soak saw so far go on the timeline at the minute they happened
            w.record_soak(cmd, evaluate_incident_soak(w.state, store))
        w.check_item(roster["scribe"], item["capture-samples"], at=_min(index_rb, 10))
    w.add_action(cmd, "Gate prompt releases on a refusal-rate canary per language", owner=lead,
                 due=(detected + timedelta(days=7)).date(), term="short", at=_min(opened, 30))
    w.add_action(cmd, "Check index refreshes for dropped articles before rollout", owner="search-infra",
                 due=(detected + timedelta(days=21)).date(), term="medium", at=_min(opened, 31))


def seed_demo_incidents(data_dir, truth: dict | None = None) -> int:
    """Write the demo's incidents into `data_dir`'s incident store; returns how many were recorded.

    `data_dir` is a DataDir (or a folder path); `truth` defaults to its truth.json.
    Incidents already seeded (same truth id) are left alone, so re-running the
    demo does not duplicate them.
    """
    from dashboard.core.datadir import DataDir

    data = data_dir if isinstance(data_dir, DataDir) else DataDir(Path(data_dir))
    if truth is None:
        truth = json.loads(data.truth.read_text())
    incidents = Incidents.for_data_dir(data)
    store = None
    if data.has_requests():
        from dashboard.core.telemetry.query import TelemetryStore

        store = TelemetryStore(data)
    existing = ({s.source for s in incidents.list()} if has_incident_store(data) else set())
    items = sorted(truth.get("incidents", []), key=lambda i: i["detected_at"])
    recorded = 0
    for n, ti in enumerate(items):
        if SOURCE_PREFIX + ti["id"] in existing:
            continue
        roster = ROSTERS[n % len(ROSTERS)] if ti.get("end") else ROSTERS[0]
        if ti.get("end") is None:
            _seed_support_bot(incidents, ti, roster, store)
        else:
            _seed_resolved(incidents, ti, roster, store)
        recorded += 1
    return recorded
