"""Status updates: one set of facts, rendered for each audience, on a cadence.

Every update answers the same six questions (what users see, since when,
scope, mitigation running, next update, owner); audiences differ in what
they get on top. Facts are measured by the caller from telemetry and passed
in as a `CommsFacts`; nothing here queries anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from dashboard.core.incident.playbooks import find_item
from dashboard.core.incident.state import IncidentState

CADENCE_MINUTES: dict[str, int | None] = {"SEV1": 30, "SEV2": 60, "SEV3": 120, "SEV4": 240}
AUDIENCE_LABELS: dict[str, str] = {
    "executives": "Executives",
    "support": "Support",
    "engineering": "Engineering",
    "compliance": "Compliance / customers",
}


class SignalFact(BaseModel):
    signal: str  # registry name, e.g. "refusal_rate"
    label: str  # what readers call it, e.g. "refusal rate"
    current: float
    baseline: float
    unit: str = "%"  # "%" renders 0.19 as 19.0%; anything else is appended to the number
    sample_size: int | None = None

    def fmt(self, value: float) -> str:
        if self.unit == "%":
            return f"{value:.1%}"
        if self.unit == "$":
            return f"${value:.4f}"
        if self.unit in ("score", ""):
            return f"{value:.3f}"
        return f"{value:,.0f} {self.unit}" if abs(value) >= 100 else f"{value:.3g} {self.unit}"

    def sentence(self) -> str:
        n = f", n={self.sample_size:,}" if self.sample_size else ""
        return f"{self.label} {self.fmt(self.current)} (baseline {self.fmt(self.baseline)}{n})"


class CommsFacts(BaseModel):
    incident_id: str
    title: str
    service: str | None = None
    severity: str | None = None
    status: str
    owner: str | None  # the incident commander
    started_at: datetime | None = None
    detected_at: datetime | None = None
    as_of: datetime
    scope: str = "all traffic"
    affected_share: float | None = Field(default=None, ge=0, le=1)
    signals: list[SignalFact] = Field(default_factory=list)
    what_users_see: str | None = None  # None: said from the signals
    suspects: list[str] = Field(default_factory=list)
    mitigation: str = "investigating; no mitigation in place yet"
    workaround: str | None = None
    next_update_at: datetime | None = None
    soak: str | None = None  # soak summary line, when one is running


class CommsClock(BaseModel):
    cadence_minutes: int | None
    last_update_at: datetime | None
    due_at: datetime | None
    minutes_left: float | None  # negative when overdue
    overdue: bool


def cadence_minutes(severity: str | None) -> int | None:
    """Minutes between updates for a severity; an unset severity is treated as SEV2 (take the higher)."""
    return CADENCE_MINUTES.get(severity or "SEV2")


def comms_clock(state: IncidentState, now: datetime) -> CommsClock:
    """When the next update is due, counted from the last update (or the opening), against `now`."""
    cadence = cadence_minutes(state.severity)
    last = state.last_update_at
    if cadence is None or not state.is_open:
        return CommsClock(cadence_minutes=cadence, last_update_at=last, due_at=None, minutes_left=None,
                          overdue=False)
    due = (last or state.opened_at) + timedelta(minutes=cadence)
    left = (due - now).total_seconds() / 60
    return CommsClock(cadence_minutes=cadence, last_update_at=last, due_at=due, minutes_left=left,
                      overdue=left < 0)


def mitigation_from_state(state: IncidentState) -> str:
    """What is running, from the checklist items done in containment and rollback."""
    moves = []
    for item_id, mark in sorted(state.checklist_done.items(), key=lambda kv: kv[1].at):
        item = find_item(item_id)
        if item and item.phase in ("containment", "rollback"):
            moves.append(f"{item.text} (done {mark.at:%H:%M} UTC)")
    if not moves:
        return "investigating; no mitigation in place yet"
    if state.status == "monitoring":
        moves.append("now monitoring recovery against the verification metrics")
    return "; ".join(moves)


def facts_from_state(state: IncidentState, now: datetime, *, signals: Sequence[SignalFact] = (),
                     affected_share: float | None = None, scope: str | None = None,
                     what_users_see: str | None = None, workaround: str | None = None,
                     soak: str | None = None) -> CommsFacts:
    """Prefill facts from the incident record; the measured parts come from the caller."""
    cadence = cadence_minutes(state.severity)
    seg_scope = ", ".join(f"{k}={v}" for k, v in state.segments.items())
    return CommsFacts(
        incident_id=state.id, title=state.title, service=state.service, severity=state.severity,
        status=state.status, owner=state.commander, started_at=state.window_start or state.opened_at,
        detected_at=state.detected_at, as_of=now, scope=scope or (seg_scope or "all traffic"),
        affected_share=affected_share, signals=list(signals), what_users_see=what_users_see,
        suspects=list(state.suspects), mitigation=mitigation_from_state(state), workaround=workaround,
        next_update_at=now + timedelta(minutes=cadence) if cadence else None, soak=soak,
    )


def _t(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "unknown"


def _users_see(f: CommsFacts) -> str:
    if f.what_users_see:
        return f.what_users_see
    if not f.signals:
        return "degraded answers; measurements pending"
    return "; ".join(s.sentence() for s in f.signals)


def render_update(facts: CommsFacts, audience: str) -> str:
    """The update as Markdown for chat or email."""
    if audience not in AUDIENCE_LABELS:
        raise ValueError(f"unknown audience {audience!r}; known: {', '.join(AUDIENCE_LABELS)}")
    f = facts
    share = f" ({f.affected_share:.0%} of traffic)" if f.affected_share is not None else ""
    head = [
        f"**{f.incident_id} · {f.severity or 'severity not set'} · {f.status}** — {f.title}",
        f"_Update for {AUDIENCE_LABELS[audience]}, as of {_t(f.as_of)}_",
        "",
        f"- **What users are seeing:** {_users_see(f)}",
        f"- **Started:** {_t(f.started_at)}" + (f"; detected {_t(f.detected_at)}" if f.detected_at else ""),
        f"- **Scope:** {f.scope}{share}" + (f" on {f.service}" if f.service else ""),
        f"- **Mitigation running:** {f.mitigation}",
    ]
    if f.soak:
        head.append(f"- **Verification:** {f.soak}")
    head += [
        f"- **Next update:** {_t(f.next_update_at) if f.next_update_at else 'none scheduled'}",
        f"- **Owner:** {f.owner or 'unassigned'} (incident commander)",
    ]
    extra: list[str] = []
    if audience == "executives":
        risk = {"SEV1": "broad user harm or regulatory risk", "SEV2": "major degradation with a workaround",
                "SEV3": "partial degradation", "SEV4": "minor anomaly"}.get(f.severity or "", "being assessed")
        eta = ("recovery is being verified; resolution once the soak holds" if f.status == "monitoring"
               else "no ETA yet; next update at the time above")
        extra = [f"**Risk:** {risk}.", f"**ETA:** {eta}."]
    elif audience == "support":
        extra = ["**Talking points:** we are aware answers are degraded and are working on it; "
                 "no customer data is affected unless stated below.",
                 f"**Workaround:** {f.workaround or 'route affected customers to a human agent'}."]
    elif audience == "engineering":
        lines = ["**Suspects:** " + (", ".join(f.suspects) if f.suspects else "none identified yet")]
        if f.signals:
            lines.append("**Evidence:**")
            lines += [f"  - {s.signal}: {s.fmt(s.baseline)} → {s.fmt(s.current)}"
                      + (f" (n={s.sample_size:,})" if s.sample_size else "") for s in f.signals]
        extra = lines
    elif audience == "compliance":
        extra = ["**Evidence handling:** affected requests and their artifact versions are preserved for "
                 "the postmortem reproducer.",
                 "**Notification triggers:** " + (
                     "safety or regulatory exposure — assess notification obligations now."
                     if f.severity == "SEV1" else "none triggered at this severity; reassessed at each update.")]
    # one bullet per line: plain lines joined by single newlines would run together into one paragraph
    extra = [line if line.startswith(("- ", "  - ")) else f"- {line}" for line in extra]
    return "\n".join(head + ([""] + extra if extra else [])) + "\n"
