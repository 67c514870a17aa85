"""Lifecycle rules: which changes an incident in a given state accepts.

Each `decide_*` function is pure: given the current state it returns the
events to append, or raises LifecycleError saying why not. The service
(service.py) appends them against the version the state was loaded at.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from pydantic import BaseModel

from dashboard.core.errors import WarroomError
from dashboard.core.incident import events as ev
from dashboard.core.incident.events import NewEvent
from dashboard.core.incident.playbooks import find_item
from dashboard.core.incident.soak import SoakEvaluation, VerificationMetric
from dashboard.core.incident.state import IncidentState

# Forward is the normal path; going back (a relapse) is allowed while open.
# "resolved" is reached only through close (the soak gate), never a plain status change.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "investigating": ("identified", "mitigating", "monitoring"),
    "identified": ("investigating", "mitigating", "monitoring"),
    "mitigating": ("investigating", "identified", "monitoring"),
    "monitoring": ("investigating", "identified", "mitigating"),
    "resolved": ("postmortem", "investigating"),  # investigating = reopened
    "postmortem": (),
}


class LifecycleError(WarroomError):
    """The change is not allowed in the incident's current state."""


class CloseRefused(LifecycleError):
    def __init__(self, incident_id: str, reasons: list[str]):
        super().__init__(f"{incident_id} cannot be resolved yet: " + "; ".join(reasons))
        self.reasons = reasons


class CloseGate(BaseModel):
    allowed: bool
    via: str | None  # "soak" when the evidence allows it
    reasons: list[str]  # why not (or why yes)


def _one(kind: str, payload: dict, actor: str, at: datetime | None) -> list[NewEvent]:
    return [NewEvent.make(kind, payload, actor, at)]


def _require_open(state: IncidentState, what: str) -> None:
    if not state.is_open:
        raise LifecycleError(f"{state.id} is {state.status}: cannot {what}")


def decide_status(state: IncidentState, to: str, actor: str, at: datetime | None = None,
                  note: str = "") -> list[NewEvent]:
    if to not in ev.STATUSES:
        raise LifecycleError(f"unknown status {to!r}; known: {', '.join(ev.STATUSES)}")
    if to == "resolved":
        raise LifecycleError(f"{state.id}: resolving goes through close, which checks the verification soak")
    if to == state.status:
        raise LifecycleError(f"{state.id} is already {to}")
    if to not in TRANSITIONS[state.status]:
        allowed = ", ".join(TRANSITIONS[state.status]) or "nothing"
        raise LifecycleError(f"{state.id}: {state.status} → {to} is not allowed (from {state.status}: {allowed})")
    out = _one("status_changed", {"to": to, "note": note}, actor, at)
    if to == "monitoring" and state.verification and state.soak.started_at is None:
        # the soak clock starts when mitigation is in place and the conditions are known
        out.append(NewEvent.make("soak_started", {"note": "entered monitoring"}, actor, at))
    return out


def decide_severity(state: IncidentState, severity: str, actor: str, at: datetime | None = None,
                    reason: str = "") -> list[NewEvent]:
    _require_open(state, "change severity")
    if severity == state.severity and not reason:
        raise LifecycleError(f"{state.id} is already {severity}")
    return _one("severity_set", {"severity": severity, "reason": reason}, actor, at)


def decide_role(state: IncidentState, role: str, person: str, actor: str,
                at: datetime | None = None) -> list[NewEvent]:
    if role not in ev.ROLES:
        raise LifecycleError(f"unknown role {role!r}; known: {', '.join(ev.ROLES)}")
    person = (person or "").strip()
    if not person:
        raise LifecycleError("a role needs a named person")
    if state.roles.get(role) == person:
        raise LifecycleError(f"{person} already is {ev.ROLE_LABELS[role].lower()} of {state.id}")
    return _one("role_assigned", {"role": role, "person": person}, actor, at)


def decide_correction(state: IncidentState, changes: dict, reason: str, actor: str,
                      at: datetime | None = None) -> list[NewEvent]:
    """Amend wrong facts of the record (title, scope, signals, window, ...); refused when nothing differs.

    Allowed on a closed incident too: a postmortem needs the record right. References
    (signals, segments) are checked by the caller against the telemetry, as at open.
    """
    unknown = sorted(set(changes) - set(ev.CORRECTABLE))
    if unknown:
        raise LifecycleError(f"cannot correct {', '.join(unknown)}; correctable: {', '.join(ev.CORRECTABLE)}")
    differing = {name: value for name, value in changes.items()
                 if value is not None and _comparable(value) != _comparable(getattr(state, name))}
    if not differing:
        raise LifecycleError(f"{state.id}: the correction changes nothing (the record already says that)")
    return _one("corrected", {"reason": reason, **differing}, actor, at)


def _comparable(value):
    if isinstance(value, datetime):
        return ev.utc(value)
    if isinstance(value, str):
        return value.strip()
    return value


def decide_update(state: IncidentState, audience: str, message: str, actor: str,
                  at: datetime | None = None) -> list[NewEvent]:
    if audience not in ev.AUDIENCES:
        raise LifecycleError(f"unknown audience {audience!r}; known: {', '.join(ev.AUDIENCES)}")
    if not (message or "").strip():
        raise LifecycleError("an update needs a message")
    return _one("update_posted", {"audience": audience, "message": message.strip()}, actor, at)


def decide_check_item(state: IncidentState, item_id: str, actor: str, at: datetime | None = None,
                      note: str = "") -> list[NewEvent]:
    if find_item(item_id) is None:
        raise LifecycleError(f"unknown checklist item {item_id!r}")
    if item_id in state.checklist_done:
        mark = state.checklist_done[item_id]
        raise LifecycleError(f"{item_id} was already done by {mark.by} at {mark.at:%H:%M}")
    return _one("checklist_item_done", {"item_id": item_id, "note": note}, actor, at)


def decide_add_action(state: IncidentState, title: str, actor: str, at: datetime | None = None,
                      owner: str | None = None, due: date | None = None, term: str = "short") -> list[NewEvent]:
    action_id = f"A{len(state.actions) + 1}"
    return _one("action_added", {"action_id": action_id, "title": title, "owner": owner, "due": due,
                                 "term": term}, actor, at)


def decide_action_done(state: IncidentState, action_id: str, actor: str, at: datetime | None = None,
                       note: str = "") -> list[NewEvent]:
    item = next((a for a in state.actions if a.action_id == action_id), None)
    if item is None:
        raise LifecycleError(f"{state.id} has no action {action_id!r}")
    if item.done_at is not None:
        raise LifecycleError(f"action {action_id} was already done by {item.done_by}")
    return _one("action_done", {"action_id": action_id, "note": note}, actor, at)


def decide_verification(state: IncidentState, metrics: Sequence[VerificationMetric], actor: str,
                        at: datetime | None = None, start_soak: bool | None = None) -> list[NewEvent]:
    """Define the verification metrics. Redefining restarts the soak; in monitoring it starts at once."""
    _require_open(state, "define verification")
    if not metrics:
        raise LifecycleError("verification needs at least one metric")
    keys = [m.key for m in metrics]
    if len(set(keys)) != len(keys):
        raise LifecycleError(f"the same metric is listed twice: {keys}")
    out = _one("verification_defined", {"metrics": [m.model_dump() for m in metrics]}, actor, at)
    if start_soak if start_soak is not None else state.status == "monitoring":
        out.append(NewEvent.make("soak_started", {"note": "verification defined"}, actor, at))
    return out


def decide_start_soak(state: IncidentState, actor: str, at: datetime | None = None,
                      note: str = "") -> list[NewEvent]:
    _require_open(state, "start a soak")
    if not state.verification:
        raise LifecycleError(f"{state.id}: define the verification metrics before starting the soak")
    return _one("soak_started", {"note": note}, actor, at)


def decide_soak_observations(state: IncidentState, evaluation: SoakEvaluation, actor: str,
                             at: datetime | None = None) -> list[NewEvent]:
    """Events recording breaches the evaluation found and the timeline does not have yet."""
    if state.soak.started_at is None:
        return []
    seen = {(b.metric, b.breach_at) for b in state.soak.breaches}
    out = []
    for breach in evaluation.breaches:
        if (breach.metric, breach.first_at) in seen:
            continue
        out.append(NewEvent.make("soak_broken", {
            "metric": breach.metric, "breach_at": breach.first_at, "observed": breach.worst_value,
            "threshold": breach.threshold, "sample_size": breach.sample_size}, actor, at or breach.first_at))
    return out


def soak_passed_at(evaluation: SoakEvaluation) -> datetime:
    """When the last metric completed its soak (the evaluation may come well after that)."""
    ends = [m.held_since + timedelta(minutes=m.metric.soak_minutes) for m in evaluation.metrics
            if m.held_since is not None]
    return min(evaluation.now, max(ends)) if ends else evaluation.now


def decide_soak_findings(state: IncidentState, evaluation: SoakEvaluation, actor: str,
                         at: datetime | None = None) -> list[NewEvent]:
    """New breaches, or the pass once it happened and is not on the timeline yet (nothing if known)."""
    if not state.is_open or not _evaluation_matches(state, evaluation):
        return []
    out = decide_soak_observations(state, evaluation, actor, at)
    if not out and evaluation.passed and state.soak.passed_at is None:
        out.append(NewEvent.make("soak_passed", {"evidence": _evidence(evaluation)}, actor,
                                 soak_passed_at(evaluation)))
    return out


def _evidence(evaluation: SoakEvaluation) -> list[dict]:
    return [{"metric": m.metric.key, "held_minutes": m.held_minutes, "value": m.run_value,
             "sample_size": m.run_sample_size} for m in evaluation.metrics]


def _evaluation_matches(state: IncidentState, evaluation: SoakEvaluation) -> bool:
    judged = {m.metric.key: m.metric for m in evaluation.metrics}
    return (bool(state.verification) and evaluation.started_at == state.soak.started_at
            and all(judged.get(m.key) == m for m in state.verification))


def close_gate(state: IncidentState, evaluation: SoakEvaluation | None) -> CloseGate:
    """May the incident be resolved on the evidence? (An override is the other way.)"""
    if not state.is_open:
        return CloseGate(allowed=False, via=None, reasons=[f"it is already {state.status}"])
    if not state.verification:
        return CloseGate(allowed=False, via=None, reasons=["no verification metrics are defined"])
    if state.soak.started_at is None:
        return CloseGate(allowed=False, via=None, reasons=["the verification soak has not started"])
    if evaluation is None:
        if state.soak.passed_at is not None:
            return CloseGate(allowed=True, via="soak", reasons=["the soak passed (recorded)"])
        return CloseGate(allowed=False, via=None, reasons=["no telemetry to evaluate the soak on"])
    if not _evaluation_matches(state, evaluation):
        return CloseGate(allowed=False, via=None,
                         reasons=["the soak evaluation is not for this incident's current verification"])
    if evaluation.passed:
        return CloseGate(allowed=True, via="soak", reasons=[evaluation.summary()])
    reasons = [evaluation.summary()]
    for metric in evaluation.metrics:
        if metric.status != "passed":
            reasons.append(f"{metric.metric.label or metric.metric.key}: {metric.note}")
    return CloseGate(allowed=False, via=None, reasons=reasons)


def decide_close(state: IncidentState, actor: str, evaluation: SoakEvaluation | None,
                 at: datetime | None = None, override_reason: str | None = None,
                 note: str = "", may_override: bool | None = None) -> list[NewEvent]:
    """Resolve on a passed soak, or by the commander's override with a reason; else CloseRefused.

    `may_override`: whether this actor may override (the service decides it from
    their role); by default only the incident's commander, by name.
    """
    gate = close_gate(state, evaluation)
    if not state.is_open:
        raise CloseRefused(state.id, gate.reasons)
    if gate.allowed:
        out = []
        if state.soak.passed_at is None and evaluation is not None:
            out.append(NewEvent.make("soak_passed", {"evidence": _evidence(evaluation)}, actor, at))
        return out + _one("closed", {"via": "soak", "note": note}, actor, at)
    if override_reason is not None and override_reason.strip():
        commander = state.commander
        if may_override is None:
            may_override = ev.check_actor(actor) == commander
        if not may_override:
            raise CloseRefused(state.id, gate.reasons + [
                f"only the incident commander ({commander}) or an admin can override the soak gate, not {actor}"])
        return [NewEvent.make("override", {"reason": override_reason}, actor, at),
                *_one("closed", {"via": "override", "note": note}, actor, at)]
    raise CloseRefused(state.id, gate.reasons + [
        f"or the incident commander ({state.commander}) can override with a reason"])
