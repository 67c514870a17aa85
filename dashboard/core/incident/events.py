"""Incident events: the kinds, their validated payloads, and the event record.

An incident is nothing but its append-only list of events; the current state is
folded from them (see state.py). Every payload is a pydantic model so a bad
write is refused before it reaches the store, with the field named.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dashboard.core.errors import WarroomError
from dashboard.core.incident.soak import VerificationMetric
from dashboard.core.timeutil import utc, utc_now

Severity = Literal["SEV1", "SEV2", "SEV3", "SEV4"]
SEVERITIES: tuple[str, ...] = ("SEV1", "SEV2", "SEV3", "SEV4")

Status = Literal["investigating", "identified", "mitigating", "monitoring", "resolved", "postmortem"]
STATUSES: tuple[str, ...] = ("investigating", "identified", "mitigating", "monitoring", "resolved", "postmortem")
ACTIVE_STATUSES: tuple[str, ...] = ("investigating", "identified", "mitigating", "monitoring")

IncidentType = Literal["quality_regression", "latency_spike", "cost_blowup", "tool_degradation", "safety_pressure"]
INCIDENT_TYPES: tuple[str, ...] = (
    "quality_regression", "latency_spike", "cost_blowup", "tool_degradation", "safety_pressure",
)

Role = Literal["commander", "tech_lead", "comms_lead", "scribe"]
ROLES: tuple[str, ...] = ("commander", "tech_lead", "comms_lead", "scribe")
ROLE_LABELS: dict[str, str] = {
    "commander": "Incident commander",
    "tech_lead": "Tech lead",
    "comms_lead": "Comms lead",
    "scribe": "Scribe",
}

Audience = Literal["executives", "support", "engineering", "compliance"]
AUDIENCES: tuple[str, ...] = ("executives", "support", "engineering", "compliance")


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Opened(Payload):
    title: str = Field(min_length=1)
    type: IncidentType | None = None
    service: str | None = None
    summary: str = ""
    severity: Severity | None = None
    severity_reasons: list[str] = Field(default_factory=list)
    commander: str | None = None  # defaults to the person opening it
    detected_at: datetime | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    signals: list[str] = Field(default_factory=list)
    segments: dict[str, str] = Field(default_factory=dict)
    suspects: list[str] = Field(default_factory=list)
    source: str | None = None  # where it was opened from: "regression-finder", "alert", ...

    @field_validator("title")
    @classmethod
    def _title_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("title must not be blank")
        return value.strip()


class SeveritySet(Payload):
    severity: Severity
    reason: str = ""


class RoleAssigned(Payload):
    role: Role
    person: str = Field(min_length=1)


class StatusChanged(Payload):
    to: Status
    note: str = ""


class UpdatePosted(Payload):
    audience: Audience
    message: str = Field(min_length=1)


class ChecklistItemDone(Payload):
    item_id: str = Field(min_length=1)
    note: str = ""


class ActionAdded(Payload):
    action_id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    owner: str | None = None
    due: date | None = None
    term: Literal["short", "medium", "long"] = "short"


class ActionDone(Payload):
    action_id: str = Field(min_length=1)
    note: str = ""


class VerificationDefined(Payload):
    metrics: list[VerificationMetric] = Field(min_length=1)


class SoakStarted(Payload):
    note: str = ""


class SoakBroken(Payload):
    metric: str  # VerificationMetric.key
    breach_at: datetime
    observed: float
    threshold: float
    sample_size: int


class MetricEvidence(Payload):
    metric: str
    held_minutes: int
    value: float | None
    sample_size: int


class SoakPassed(Payload):
    evidence: list[MetricEvidence] = Field(min_length=1)


class Closed(Payload):
    via: Literal["soak", "override"]
    note: str = ""


class Override(Payload):
    reason: str = Field(min_length=1)

    @field_validator("reason")
    @classmethod
    def _reason_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("an override needs a reason")
        return value.strip()


class Note(Payload):
    text: str = Field(min_length=1)


class TypeSet(Payload):
    type: IncidentType


# what a correction may amend: the record's facts, not its decisions (those have their own events)
CORRECTABLE: tuple[str, ...] = ("title", "summary", "service", "signals", "segments", "suspects",
                                "detected_at", "window_start", "window_end")


class Corrected(Payload):
    """A wrong field of the record amended; the earlier value stays in the log (nothing is rewritten).

    Only the fields given change; `segments` replaces the whole scope ({} clears it).
    """

    reason: str = Field(min_length=1)
    title: str | None = None
    summary: str | None = None
    service: str | None = None
    signals: list[str] | None = None
    segments: dict[str, str] | None = None
    suspects: list[str] | None = None
    detected_at: datetime | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None

    @field_validator("reason")
    @classmethod
    def _reason_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a correction needs a reason")
        return value.strip()

    @field_validator("title")
    @classmethod
    def _title_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("title must not be blank")
        return value.strip() if value is not None else None

    def changes(self) -> dict[str, Any]:
        """The amended fields and their new values."""
        return {name: getattr(self, name) for name in CORRECTABLE if getattr(self, name) is not None}


PAYLOADS: dict[str, type[Payload]] = {
    "opened": Opened,
    "severity_set": SeveritySet,
    "role_assigned": RoleAssigned,
    "status_changed": StatusChanged,
    "update_posted": UpdatePosted,
    "checklist_item_done": ChecklistItemDone,
    "action_added": ActionAdded,
    "action_done": ActionDone,
    "verification_defined": VerificationDefined,
    "soak_started": SoakStarted,
    "soak_broken": SoakBroken,
    "soak_passed": SoakPassed,
    "closed": Closed,
    "override": Override,
    "note": Note,
    "type_set": TypeSet,
    "corrected": Corrected,
}
EVENT_KINDS: tuple[str, ...] = tuple(PAYLOADS)


class EventError(WarroomError, ValueError):
    """An event that cannot be recorded as given (unknown kind, bad payload, no actor)."""


def validate_payload(kind: str, payload: BaseModel | dict[str, Any]) -> Payload:
    model = PAYLOADS.get(kind)
    if model is None:
        raise EventError(f"unknown event kind {kind!r}; known: {', '.join(EVENT_KINDS)}")
    if isinstance(payload, model):
        return payload
    raw = payload.model_dump() if isinstance(payload, BaseModel) else payload
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or kind}: {err['msg']}" for err in exc.errors()
        )
        raise EventError(f"invalid {kind} event: {problems}") from None


def check_actor(actor: str | None) -> str:
    name = (actor or "").strip()
    if not name:
        raise EventError("every incident change needs a named person (actor); nothing is written anonymously")
    return name


@dataclass(frozen=True)
class NewEvent:
    """An event about to be appended: validated, with who and when."""

    kind: str
    payload: Payload
    actor: str
    at: datetime
    identity: dict[str, Any] | None = None  # how the actor was established (see identity.py)

    @classmethod
    def make(cls, kind: str, payload: BaseModel | dict[str, Any], actor: str,
             at: datetime | None = None) -> NewEvent:
        return cls(kind, validate_payload(kind, payload), check_actor(actor), utc(at) if at else utc_now())


@dataclass(frozen=True)
class Event:
    """A recorded event. `seq` counts from 1 per incident; `at` is the event time
    (possibly the data's clock), `recorded_at` the wall clock when it was written."""

    incident_id: str
    seq: int
    at: datetime
    actor: str
    kind: str
    payload: Payload
    recorded_at: datetime
    identity: dict[str, Any] | None = None  # subject, e-mail, how signed in, claims (None: written before)
    hash: str | None = None  # this event's link in the chain (chain.py)
