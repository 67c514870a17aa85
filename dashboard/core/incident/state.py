"""The current state of an incident, folded from its events (a pure function)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from dashboard.core.errors import WarroomError
from dashboard.core.incident import events as ev
from dashboard.core.incident.events import Event
from dashboard.core.incident.soak import VerificationMetric


class RoleChange(BaseModel):
    role: str
    person: str
    previous: str | None  # set when this was a handover
    at: datetime
    by: str


class StatusChange(BaseModel):
    from_status: str | None
    to_status: str
    at: datetime
    by: str
    note: str = ""


class CommsUpdate(BaseModel):
    seq: int
    audience: str
    message: str
    at: datetime
    by: str
    severity: str | None  # severity when it was posted


class ChecklistMark(BaseModel):
    item_id: str
    at: datetime
    by: str
    note: str = ""


class ActionItem(BaseModel):
    action_id: str
    title: str
    owner: str | None
    due: date | None
    term: str
    added_at: datetime
    added_by: str
    done_at: datetime | None = None
    done_by: str | None = None


class SoakBreachRecord(BaseModel):
    metric: str
    breach_at: datetime
    observed: float
    threshold: float
    sample_size: int
    recorded_by: str


class SoakRecord(BaseModel):
    started_at: datetime | None = None
    started_by: str | None = None
    breaches: list[SoakBreachRecord] = Field(default_factory=list)
    passed_at: datetime | None = None
    evidence: list[ev.MetricEvidence] = Field(default_factory=list)


class OverrideRecord(BaseModel):
    reason: str
    at: datetime
    by: str


class Correction(BaseModel):
    seq: int
    at: datetime
    by: str
    reason: str
    changes: dict[str, Any]  # field -> the value it was corrected to


class TimelineEntry(BaseModel):
    seq: int
    at: datetime
    actor: str
    kind: str
    text: str
    tone: str = "normal"  # "danger" for overrides and soak breaks, "success" for soak passed / closed


class IncidentState(BaseModel):
    id: str
    version: int  # number of events; every write names the version it was based on
    title: str
    type: str | None
    service: str | None
    summary: str
    status: str
    severity: str | None
    severity_reason: str = ""
    opened_at: datetime
    opened_by: str
    detected_at: datetime | None
    window_start: datetime | None
    window_end: datetime | None
    signals: list[str]
    segments: dict[str, str]
    suspects: list[str]
    source: str | None
    roles: dict[str, str]  # role -> person
    role_history: list[RoleChange]
    status_history: list[StatusChange]
    updates: list[CommsUpdate]
    checklist_done: dict[str, ChecklistMark]
    actions: list[ActionItem]
    verification: list[VerificationMetric]
    verification_defined_at: datetime | None
    verification_defined_by: str | None
    soak: SoakRecord
    override: OverrideRecord | None
    resolved_at: datetime | None
    resolved_by: str | None
    closed_via: str | None
    notes: list[TimelineEntry]
    corrections: list[Correction]
    timeline: list[TimelineEntry]
    last_event_at: datetime

    @property
    def commander(self) -> str | None:
        return self.roles.get("commander")

    @property
    def is_open(self) -> bool:
        return self.status in ev.ACTIVE_STATUSES

    @property
    def last_update_at(self) -> datetime | None:
        # by event time: an update may be recorded after a later-dated event
        return max(u.at for u in self.updates) if self.updates else None

    def status_entered_at(self, status: str) -> datetime | None:
        """When the incident first entered `status` (None if it never did)."""
        for change in self.status_history:
            if change.to_status == status:
                return change.at
        return None


class CorruptIncidentError(WarroomError, ValueError):
    pass


def fold(events: Sequence[Event]) -> IncidentState:
    """Derive the incident's state from its events, oldest first."""
    if not events:
        raise CorruptIncidentError("an incident needs at least its 'opened' event")
    first = events[0]
    if first.kind != "opened" or first.seq != 1:
        raise CorruptIncidentError(f"{first.incident_id}: first event is {first.kind!r}, expected 'opened'")
    opened: ev.Opened = first.payload  # type: ignore[assignment]
    commander = opened.commander or first.actor
    st = IncidentState(
        id=first.incident_id, version=0, title=opened.title, type=opened.type, service=opened.service,
        summary=opened.summary, status="investigating", severity=opened.severity,
        severity_reason="; ".join(opened.severity_reasons), opened_at=first.at, opened_by=first.actor,
        detected_at=opened.detected_at, window_start=opened.window_start, window_end=opened.window_end,
        signals=list(opened.signals), segments=dict(opened.segments), suspects=list(opened.suspects),
        source=opened.source, roles={"commander": commander},
        role_history=[RoleChange(role="commander", person=commander, previous=None, at=first.at, by=first.actor)],
        status_history=[StatusChange(from_status=None, to_status="investigating", at=first.at, by=first.actor)],
        updates=[], checklist_done={}, actions=[], verification=[], verification_defined_at=None,
        verification_defined_by=None, soak=SoakRecord(), override=None, resolved_at=None, resolved_by=None,
        closed_via=None, notes=[], corrections=[], timeline=[], last_event_at=first.at,
    )
    for event in events:
        _apply(st, event)
        st.version = event.seq
        st.last_event_at = max(st.last_event_at, event.at)
    # events carry their own time (a breach is recorded after it happened): read in time order
    st.timeline.sort(key=lambda e: (e.at, e.seq))
    return st


def actor_label(event: Event) -> str:
    """The author, with a name they claimed beside it (the CLI's --as): 'deploy (cli) as Ana'."""
    claimed = ((event.identity or {}).get("claims") or {}).get("as")
    return f"{event.actor} as {claimed}" if claimed else event.actor


def _entry(event: Event, text: str, tone: str = "normal") -> TimelineEntry:
    return TimelineEntry(seq=event.seq, at=event.at, actor=actor_label(event), kind=event.kind, text=text, tone=tone)


# One handler per event kind, each typed by its payload; `_apply` dispatches on the kind.

def _opened(st: IncidentState, event: Event, p: ev.Opened) -> None:
    sev = f" at {p.severity}" if p.severity else ""
    text = f"Opened{sev}: {p.title}" + (f" (from {p.source})" if p.source else "")
    st.timeline.append(_entry(event, text))
    if p.commander and p.commander != event.actor:
        st.timeline.append(_entry(event, f"{p.commander} is incident commander"))


def _severity_set(st: IncidentState, event: Event, p: ev.SeveritySet) -> None:
    before = st.severity
    st.severity, st.severity_reason = p.severity, p.reason
    change = f"{before} → {p.severity}" if before and before != p.severity else p.severity
    st.timeline.append(_entry(event, f"Severity {change}" + (f": {p.reason}" if p.reason else "")))


def _role_assigned(st: IncidentState, event: Event, p: ev.RoleAssigned) -> None:
    previous = st.roles.get(p.role)
    st.roles[p.role] = p.person
    st.role_history.append(RoleChange(role=p.role, person=p.person, previous=previous, at=event.at, by=event.actor))
    label = ev.ROLE_LABELS[p.role]
    text = (f"{label} handed over from {previous} to {p.person}" if previous and previous != p.person
            else f"{p.person} is {label.lower()}")
    st.timeline.append(_entry(event, text))


def _status_changed(st: IncidentState, event: Event, p: ev.StatusChanged) -> None:
    st.status_history.append(StatusChange(from_status=st.status, to_status=p.to, at=event.at,
                                          by=event.actor, note=p.note))
    reopened = st.status == "resolved" and p.to in ev.ACTIVE_STATUSES
    text = f"Reopened ({st.status} → {p.to})" if reopened else f"Status {st.status} → {p.to}"
    st.timeline.append(_entry(event, text + (f": {p.note}" if p.note else ""), "danger" if reopened else "normal"))
    st.status = p.to
    if reopened:
        # the earlier close no longer stands: it needs a new soak (the timeline keeps the history)
        st.resolved_at = st.resolved_by = st.closed_via = None
        st.override = None
        st.soak = SoakRecord()


def _update_posted(st: IncidentState, event: Event, p: ev.UpdatePosted) -> None:
    st.updates.append(CommsUpdate(seq=event.seq, audience=p.audience, message=p.message, at=event.at,
                                  by=event.actor, severity=st.severity))
    st.timeline.append(_entry(event, f"Update to {p.audience} posted"))


def _checklist_item_done(st: IncidentState, event: Event, p: ev.ChecklistItemDone) -> None:
    st.checklist_done[p.item_id] = ChecklistMark(item_id=p.item_id, at=event.at, by=event.actor, note=p.note)
    st.timeline.append(_entry(event, f"Checklist: {_checklist_label(p.item_id)} done"
                              + (f" ({p.note})" if p.note else "")))


def _action_added(st: IncidentState, event: Event, p: ev.ActionAdded) -> None:
    st.actions.append(ActionItem(action_id=p.action_id, title=p.title, owner=p.owner, due=p.due, term=p.term,
                                 added_at=event.at, added_by=event.actor))
    st.timeline.append(_entry(event, f"Action added: {p.title}" + (f" (owner {p.owner})" if p.owner else "")))


def _action_done(st: IncidentState, event: Event, p: ev.ActionDone) -> None:
    for item in st.actions:
        if item.action_id == p.action_id:
            item.done_at, item.done_by = event.at, event.actor
            st.timeline.append(_entry(event, f"Action done: {item.title}"))


def _verification_defined(st: IncidentState, event: Event, p: ev.VerificationDefined) -> None:
    st.verification = list(p.metrics)
    st.verification_defined_at, st.verification_defined_by = event.at, event.actor
    st.soak = SoakRecord()  # new conditions mean the old soak proves nothing about them
    st.timeline.append(_entry(event, "Verification defined: " + "; ".join(m.describe() for m in p.metrics)))


def _soak_started(st: IncidentState, event: Event, p: ev.SoakStarted) -> None:
    st.soak = SoakRecord(started_at=event.at, started_by=event.actor)
    st.timeline.append(_entry(event, "Verification soak started" + (f": {p.note}" if p.note else "")))


def _soak_broken(st: IncidentState, event: Event, p: ev.SoakBroken) -> None:
    st.soak.breaches.append(SoakBreachRecord(metric=p.metric, breach_at=p.breach_at, observed=p.observed,
                                             threshold=p.threshold, sample_size=p.sample_size,
                                             recorded_by=event.actor))
    st.timeline.append(_entry(event, f"Soak broken: {p.metric} at {p.observed:.4g} vs threshold "
                              f"{p.threshold:g} (n={p.sample_size}); clock restarted", "danger"))


def _soak_passed(st: IncidentState, event: Event, p: ev.SoakPassed) -> None:
    st.soak.passed_at = event.at
    st.soak.evidence = list(p.evidence)
    held = ", ".join(f"{e.metric} held {e.held_minutes} min (n={e.sample_size})" for e in p.evidence)
    st.timeline.append(_entry(event, f"Soak passed: {held}", "success"))


def _override(st: IncidentState, event: Event, p: ev.Override) -> None:
    st.override = OverrideRecord(reason=p.reason, at=event.at, by=event.actor)
    st.timeline.append(_entry(event, f"Close override by {event.actor}: {p.reason}", "danger"))


def _closed(st: IncidentState, event: Event, p: ev.Closed) -> None:
    st.status_history.append(StatusChange(from_status=st.status, to_status="resolved", at=event.at,
                                          by=event.actor, note=p.note))
    st.status = "resolved"
    st.resolved_at, st.resolved_by, st.closed_via = event.at, event.actor, p.via
    how = "after the verification soak passed" if p.via == "soak" else "by override"
    st.timeline.append(_entry(event, f"Resolved {how}" + (f": {p.note}" if p.note else ""),
                              "success" if p.via == "soak" else "danger"))


def _note(st: IncidentState, event: Event, p: ev.Note) -> None:
    entry = _entry(event, p.text)
    st.notes.append(entry)
    st.timeline.append(entry)


def _type_set(st: IncidentState, event: Event, p: ev.TypeSet) -> None:
    st.type = p.type
    st.timeline.append(_entry(event, f"Incident type set to {p.type}"))


def _corrected(st: IncidentState, event: Event, p: ev.Corrected) -> None:
    said = []
    for name, value in p.changes().items():
        before = getattr(st, name)
        setattr(st, name, dict(value) if isinstance(value, dict) else list(value) if isinstance(value, list)
                else value)
        said.append(f"{name.replace('_', ' ')} {_shown(before)} → {_shown(value)}")
    st.corrections.append(Correction(seq=event.seq, at=event.at, by=event.actor, reason=p.reason,
                                     changes=p.changes()))
    st.timeline.append(_entry(event, "Corrected " + "; ".join(said) + f": {p.reason}"))


def _shown(value) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "(none)"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M} UTC"
    return str(value)


_HANDLERS: dict[str, Callable[[IncidentState, Event, Any], None]] = {
    "opened": _opened, "severity_set": _severity_set, "role_assigned": _role_assigned,
    "status_changed": _status_changed, "update_posted": _update_posted,
    "checklist_item_done": _checklist_item_done, "action_added": _action_added, "action_done": _action_done,
    "verification_defined": _verification_defined, "soak_started": _soak_started, "soak_broken": _soak_broken,
    "soak_passed": _soak_passed, "override": _override, "closed": _closed, "note": _note, "type_set": _type_set,
    "corrected": _corrected,
}


def _apply(st: IncidentState, event: Event) -> None:
    _HANDLERS[event.kind](st, event, event.payload)


def _checklist_label(item_id: str) -> str:
    from dashboard.core.incident.playbooks import find_item

    item = find_item(item_id)
    return item.text if item else item_id
