"""Incidents: the commands the war room page, the CLI and the HTTP endpoint call.

Every write runs under the incident's write lock (store.py) and is attributed
to an Identity (identity.py; a plain name is a local identity). Two kinds of
change, one rule each:

- Appends (comms posts, notes, checklist ticks, action items) depend on
  nothing a person saw: they are decided on the latest state inside the lock
  and are never refused for staleness. `expected_version` is accepted for
  symmetry and ignored.
- Decisions (status, severity, roles, verification, soak, close, corrections) depend on
  the state the person saw: refused with StaleIncidentError when a change of
  that kind was recorded after `expected_version`. Appends in between do not
  make a decision stale.

Soak findings (breaches, the pass) are attributed to the system, not to
whoever has the page open, and are idempotent under the lock: however many
pages evaluate the soak, each finding is written once.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

from dashboard.core.incident import lifecycle as lc
from dashboard.core.incident.chain import ChainReport
from dashboard.core.incident.events import Event, NewEvent, Opened, check_actor
from dashboard.core.incident.identity import (
    SYSTEM,
    Identity,
    PermissionDenied,
    as_identity,
    may_act_as_commander,
    require,
)
from dashboard.core.incident.soak import SoakEvaluation, VerificationMetric
from dashboard.core.incident.state import IncidentState, fold
from dashboard.core.incident.store import EventStore, IncidentStore, StaleIncidentError, check_incident_id

# kinds that only add to the record: they never make someone's decision stale
APPEND_KINDS = frozenset({"update_posted", "note", "checklist_item_done", "action_added", "action_done"})

Actor = str | Identity
Decision = Callable[[IncidentState], list[NewEvent]]


class Incidents:
    def __init__(self, store: EventStore | str | Path):
        self.store = store if isinstance(store, EventStore) else IncidentStore(store)

    @classmethod
    def for_data_dir(cls, data_dir) -> Incidents:
        """`data_dir`: a DataDir; its configured store (SQLite in the folder, or Postgres)."""
        from dashboard.core.incident.store_config import open_store

        return cls(open_store(data_dir))

    # --- reading -------------------------------------------------------------

    def get(self, incident_id: str) -> IncidentState:
        return fold(self.store.events(incident_id))

    def events(self, incident_id: str) -> list[Event]:
        return self.store.events(incident_id)

    def list(self, include_closed: bool = True) -> list[IncidentState]:
        states = [fold(events) for events in self.store.all_events().values()]
        return [s for s in states if include_closed or s.is_open]

    def audit(self, incident_id: str) -> ChainReport:
        """The incident's hash chain walked: intact, or the first broken link."""
        return self.store.audit(incident_id)

    def audit_all(self) -> builtins.list[ChainReport]:
        return self.store.audit_all()

    # --- writing -------------------------------------------------------------

    def open(self, actor: Actor, title: str, *, at: datetime | None = None, type: str | None = None,
             severity: str | None = None, severity_reasons: Sequence[str] = (), commander: str | None = None,
             service: str | None = None, summary: str = "", detected_at: datetime | None = None,
             window_start: datetime | None = None, window_end: datetime | None = None,
             signals: Sequence[str] = (), segments: dict[str, str] | None = None,
             suspects: Sequence[str] = (), source: str | None = None) -> IncidentState:
        """Open a new incident (INC-<next>); the opener is commander unless `commander` is named."""
        who = as_identity(actor)
        require(who, "commander", "opening an incident")
        payload = Opened(title=title, type=type, service=service, summary=summary, severity=severity,
                         severity_reasons=list(severity_reasons), commander=(commander or "").strip() or None,
                         detected_at=detected_at, window_start=window_start, window_end=window_end,
                         signals=list(signals), segments=dict(segments or {}), suspects=list(suspects),
                         source=source)
        incident_id = self.store.create(_signed([NewEvent.make("opened", payload, who.name, at)], who))
        return self.get(incident_id)

    def _append(self, incident_id: str, who: Identity, decide: Decision) -> IncidentState:
        """An append: decided on the latest state under the lock; never stale."""
        require(who, "responder", "writing to an incident")
        self.store.append_decided(check_incident_id(incident_id),
                                  lambda events: _signed(decide(fold(events)), who))
        return self.get(incident_id)

    def _decide(self, incident_id: str, expected_version: int, who: Identity, decide: Decision,
                role: str = "responder", what: str = "changing an incident") -> IncidentState:
        """A decision: refused if a non-append change was recorded after the version the caller saw."""
        require(who, role, what)
        incident_id = check_incident_id(incident_id)

        def checked(events: builtins.list[Event]) -> builtins.list[NewEvent]:
            newer = [e for e in events if e.seq > expected_version and e.kind not in APPEND_KINDS]
            if expected_version > len(events) or newer:
                what_changed = ", ".join(sorted({e.kind.replace("_", " ") for e in newer}))
                raise StaleIncidentError(incident_id, expected_version, len(events), what_changed)
            return _signed(decide(fold(events)), who)

        self.store.append_decided(incident_id, checked)
        return self.get(incident_id)

    def set_status(self, incident_id: str, expected_version: int, actor: Actor, to: str, *,
                   note: str = "", at: datetime | None = None) -> IncidentState:
        who = as_identity(actor)
        return self._decide(incident_id, expected_version, who,
                            lambda s: lc.decide_status(s, to, who.name, at, note))

    def set_severity(self, incident_id: str, expected_version: int, actor: Actor, severity: str, *,
                     reason: str = "", at: datetime | None = None) -> IncidentState:
        who = as_identity(actor)
        return self._decide(incident_id, expected_version, who,
                            lambda s: lc.decide_severity(s, severity, who.name, at, reason))

    def assign_role(self, incident_id: str, expected_version: int, actor: Actor, role: str, person: str, *,
                    at: datetime | None = None) -> IncidentState:
        who = as_identity(actor)

        def decide(state: IncidentState) -> builtins.list[NewEvent]:
            if role == "commander" and who.role is not None and not may_act_as_commander(who, state.commander):
                raise PermissionDenied(f"only the incident commander ({state.commander}) or an admin can hand "
                                       f"over command of {state.id}, not {who.name} (nothing was written)")
            return lc.decide_role(state, role, person, who.name, at)
        return self._decide(incident_id, expected_version, who, decide)

    def post_update(self, incident_id: str, expected_version: int | None, actor: Actor, audience: str,
                    message: str, *, at: datetime | None = None) -> IncidentState:
        who = as_identity(actor)
        return self._append(incident_id, who, lambda s: lc.decide_update(s, audience, message, who.name, at))

    def check_item(self, incident_id: str, expected_version: int | None, actor: Actor, item_id: str, *,
                   note: str = "", at: datetime | None = None) -> IncidentState:
        who = as_identity(actor)
        return self._append(incident_id, who, lambda s: lc.decide_check_item(s, item_id, who.name, at, note))

    def add_action(self, incident_id: str, expected_version: int | None, actor: Actor, title: str, *,
                   owner: str | None = None, due: date | None = None, term: str = "short",
                   at: datetime | None = None) -> IncidentState:
        who = as_identity(actor)
        return self._append(incident_id, who,
                            lambda s: lc.decide_add_action(s, title, who.name, at, owner, due, term))

    def complete_action(self, incident_id: str, expected_version: int | None, actor: Actor, action_id: str, *,
                        note: str = "", at: datetime | None = None) -> IncidentState:
        who = as_identity(actor)
        return self._append(incident_id, who, lambda s: lc.decide_action_done(s, action_id, who.name, at, note))

    def add_note(self, incident_id: str, expected_version: int | None, actor: Actor, text: str, *,
                 at: datetime | None = None) -> IncidentState:
        who = as_identity(actor)
        return self._append(incident_id, who, lambda s: [NewEvent.make("note", {"text": text}, who.name, at)])

    def define_verification(self, incident_id: str, expected_version: int, actor: Actor,
                            metrics: Sequence[VerificationMetric], *, start_soak: bool | None = None,
                            at: datetime | None = None) -> IncidentState:
        who = as_identity(actor)
        return self._decide(incident_id, expected_version, who,
                            lambda s: lc.decide_verification(s, metrics, who.name, at, start_soak))

    def start_soak(self, incident_id: str, expected_version: int, actor: Actor, *, note: str = "",
                   at: datetime | None = None) -> IncidentState:
        who = as_identity(actor)
        return self._decide(incident_id, expected_version, who,
                            lambda s: lc.decide_start_soak(s, who.name, at, note))

    def record_soak(self, incident_id: str, expected_version: int | None, actor: Actor | None,
                    evaluation: SoakEvaluation, *, at: datetime | None = None) -> IncidentState:
        """Put what the evaluation found (new breaches, the pass) on the timeline, as the system.

        Decided under the lock on the latest state, so each finding is written
        once however many processes evaluate the same soak. The findings are the
        telemetry's, not the caller's: `actor` and `expected_version` are ignored.
        """
        return self._append(incident_id, SYSTEM, lambda s: lc.decide_soak_findings(s, evaluation, SYSTEM.name, at))

    def close(self, incident_id: str, expected_version: int, actor: Actor, evaluation: SoakEvaluation | None, *,
              override_reason: str | None = None, note: str = "", at: datetime | None = None) -> IncidentState:
        """Resolve: refused (CloseRefused) unless the soak passed or the commander overrides with a reason."""
        who = as_identity(actor)

        def decide(state: IncidentState) -> builtins.list[NewEvent]:
            if not override_reason and state.commander != who.name:
                require(who, "commander", "closing an incident")
            may_override = (who.role == "admin" or who.name == state.commander)
            return lc.decide_close(state, who.name, evaluation, at, override_reason, note, may_override=may_override)
        return self._decide(incident_id, expected_version, who, decide)

    def correct(self, incident_id: str, expected_version: int, actor: Actor, reason: str, *,
                at: datetime | None = None, **changes) -> IncidentState:
        """Amend facts of the record (a `corrected` event): the earlier values stay in the log.

        A decision: refused as stale if the record changed since the caller saw it,
        so a correction is made against the values the person read.
        """
        who = as_identity(actor)
        return self._decide(incident_id, expected_version, who,
                            lambda s: lc.decide_correction(s, changes, reason, who.name, at),
                            what="correcting an incident")

    def set_type(self, incident_id: str, expected_version: int, actor: Actor, incident_type: str, *,
                 at: datetime | None = None) -> IncidentState:
        who = as_identity(actor)
        return self._decide(incident_id, expected_version, who,
                            lambda s: [NewEvent.make("type_set", {"type": incident_type}, who.name, at)])


def _signed(events: list[NewEvent], who: Identity) -> list[NewEvent]:
    """Each event carries how its author was established (stored beside the name, covered by the chain)."""
    check_actor(who.name)
    record = who.record()
    return [replace(e, identity=record) for e in events]
