"""Incidents: the commands the war room page and the CLI call.

Every command names the version the caller loaded (`expected_version`) and
the person acting. The rule check runs on the state at that version and the
resulting events are appended only if nobody else wrote in between, so two
people changing the same incident cannot silently overwrite each other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path

from dashboard.core.incident import lifecycle as lc
from dashboard.core.incident.events import Event, NewEvent, Opened, check_actor
from dashboard.core.incident.soak import SoakEvaluation, VerificationMetric
from dashboard.core.incident.state import IncidentState, fold
from dashboard.core.incident.store import IncidentStore, StaleIncidentError, check_incident_id


class Incidents:
    def __init__(self, store: IncidentStore | str | Path):
        self.store = store if isinstance(store, IncidentStore) else IncidentStore(store)

    @classmethod
    def for_data_dir(cls, data_dir) -> "Incidents":
        """`data_dir`: a DataDir (its incidents_db is used)."""
        return cls(IncidentStore(data_dir.incidents_db))

    # --- reading -------------------------------------------------------------

    def get(self, incident_id: str) -> IncidentState:
        return fold(self.store.events(incident_id))

    def events(self, incident_id: str) -> list[Event]:
        return self.store.events(incident_id)

    def list(self, include_closed: bool = True) -> list[IncidentState]:
        states = [fold(events) for events in self.store.all_events().values()]
        return [s for s in states if include_closed or s.is_open]

    # --- writing -------------------------------------------------------------

    def open(self, actor: str, title: str, *, at: datetime | None = None, type: str | None = None,
             severity: str | None = None, severity_reasons: Sequence[str] = (), commander: str | None = None,
             service: str | None = None, summary: str = "", detected_at: datetime | None = None,
             window_start: datetime | None = None, window_end: datetime | None = None,
             signals: Sequence[str] = (), segments: dict[str, str] | None = None,
             suspects: Sequence[str] = (), source: str | None = None) -> IncidentState:
        """Open a new incident (INC-<next>); the opener is commander unless `commander` is named."""
        payload = Opened(title=title, type=type, service=service, summary=summary, severity=severity,
                         severity_reasons=list(severity_reasons), commander=(commander or "").strip() or None,
                         detected_at=detected_at, window_start=window_start, window_end=window_end,
                         signals=list(signals), segments=dict(segments or {}), suspects=list(suspects),
                         source=source)
        incident_id = self.store.create([NewEvent.make("opened", payload, actor, at)])
        return self.get(incident_id)

    def _apply(self, incident_id: str, expected_version: int, actor: str,
               decide: Callable[[IncidentState], list[NewEvent]]) -> IncidentState:
        check_actor(actor)
        incident_id = check_incident_id(incident_id)
        state = self.get(incident_id)
        if state.version != expected_version:
            # decide on the state the caller saw, never on a newer one they have not seen
            raise StaleIncidentError(incident_id, expected_version, state.version)
        new_events = decide(state)
        if new_events:
            self.store.append(incident_id, expected_version, new_events)
        return self.get(incident_id)

    def set_status(self, incident_id: str, expected_version: int, actor: str, to: str, *,
                   note: str = "", at: datetime | None = None) -> IncidentState:
        return self._apply(incident_id, expected_version, actor,
                           lambda s: lc.decide_status(s, to, actor, at, note))

    def set_severity(self, incident_id: str, expected_version: int, actor: str, severity: str, *,
                     reason: str = "", at: datetime | None = None) -> IncidentState:
        return self._apply(incident_id, expected_version, actor,
                           lambda s: lc.decide_severity(s, severity, actor, at, reason))

    def assign_role(self, incident_id: str, expected_version: int, actor: str, role: str, person: str, *,
                    at: datetime | None = None) -> IncidentState:
        return self._apply(incident_id, expected_version, actor,
                           lambda s: lc.decide_role(s, role, person, actor, at))

    def post_update(self, incident_id: str, expected_version: int, actor: str, audience: str, message: str, *,
                    at: datetime | None = None) -> IncidentState:
        return self._apply(incident_id, expected_version, actor,
                           lambda s: lc.decide_update(s, audience, message, actor, at))

    def check_item(self, incident_id: str, expected_version: int, actor: str, item_id: str, *,
                   note: str = "", at: datetime | None = None) -> IncidentState:
        return self._apply(incident_id, expected_version, actor,
                           lambda s: lc.decide_check_item(s, item_id, actor, at, note))

    def add_action(self, incident_id: str, expected_version: int, actor: str, title: str, *,
                   owner: str | None = None, due: date | None = None, term: str = "short",
                   at: datetime | None = None) -> IncidentState:
        return self._apply(incident_id, expected_version, actor,
                           lambda s: lc.decide_add_action(s, title, actor, at, owner, due, term))

    def complete_action(self, incident_id: str, expected_version: int, actor: str, action_id: str, *,
                        note: str = "", at: datetime | None = None) -> IncidentState:
        return self._apply(incident_id, expected_version, actor,
                           lambda s: lc.decide_action_done(s, action_id, actor, at, note))

    def define_verification(self, incident_id: str, expected_version: int, actor: str,
                            metrics: Sequence[VerificationMetric], *, start_soak: bool | None = None,
                            at: datetime | None = None) -> IncidentState:
        return self._apply(incident_id, expected_version, actor,
                           lambda s: lc.decide_verification(s, metrics, actor, at, start_soak))

    def start_soak(self, incident_id: str, expected_version: int, actor: str, *, note: str = "",
                   at: datetime | None = None) -> IncidentState:
        return self._apply(incident_id, expected_version, actor,
                           lambda s: lc.decide_start_soak(s, actor, at, note))

    def record_soak(self, incident_id: str, expected_version: int, actor: str, evaluation: SoakEvaluation, *,
                    at: datetime | None = None) -> IncidentState:
        """Put breaches the evaluation found on the timeline (idempotent: known ones are skipped)."""
        return self._apply(incident_id, expected_version, actor,
                           lambda s: lc.decide_soak_observations(s, evaluation, actor, at))

    def close(self, incident_id: str, expected_version: int, actor: str, evaluation: SoakEvaluation | None, *,
              override_reason: str | None = None, note: str = "", at: datetime | None = None) -> IncidentState:
        """Resolve: refused (CloseRefused) unless the soak passed or the commander overrides with a reason."""
        return self._apply(incident_id, expected_version, actor,
                           lambda s: lc.decide_close(s, actor, evaluation, at, override_reason, note))

    def add_note(self, incident_id: str, expected_version: int, actor: str, text: str, *,
                 at: datetime | None = None) -> IncidentState:
        return self._apply(incident_id, expected_version, actor,
                           lambda s: [NewEvent.make("note", {"text": text}, actor, at)])

    def set_type(self, incident_id: str, expected_version: int, actor: str, incident_type: str, *,
                 at: datetime | None = None) -> IncidentState:
        return self._apply(incident_id, expected_version, actor,
                           lambda s: [NewEvent.make("type_set", {"type": incident_type}, actor, at)])
