"""The incident event store: append-only, versioned, safe with several writing processes."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from dashboard.core.incident.events import EventError, NewEvent
from dashboard.core.incident.service import Incidents
from dashboard.core.incident.state import fold
from dashboard.core.incident.store import IncidentNotFound, IncidentStore, IncidentStoreError, StaleIncidentError

T0 = datetime(2025, 2, 18, 14, 10, tzinfo=timezone.utc)


@pytest.fixture()
def incidents(tmp_path) -> Incidents:
    return Incidents(tmp_path / "incidents.sqlite")


def test_ids_are_allocated_in_order_and_state_is_folded(incidents):
    first = incidents.open("ana", "refusals up", at=T0, severity="SEV2")
    second = incidents.open("bo", "latency up", at=T0 + timedelta(minutes=5), commander="cy")
    assert (first.id, second.id) == ("INC-1", "INC-2")
    assert first.version == 1 and first.status == "investigating" and first.commander == "ana"
    assert second.commander == "cy" and second.opened_by == "bo"
    assert [s.id for s in incidents.list()] == ["INC-1", "INC-2"]
    events = incidents.events("INC-1")
    assert events[0].at == T0 and events[0].actor == "ana" and events[0].kind == "opened"


def test_stale_write_is_refused_and_nothing_is_lost(incidents):
    s = incidents.open("ana", "refusals up", at=T0)
    loaded_by_bo = s.version
    s = incidents.post_update(s.id, s.version, "ana", "executives", "first update", at=T0)
    with pytest.raises(StaleIncidentError) as err:
        incidents.set_status(s.id, loaded_by_bo, "bo", "identified", at=T0)
    assert str(err.value) == "INC-1 changed since you loaded it (version 1, now 2): reload and retry"
    after = incidents.get(s.id)
    assert after.version == 2 and after.status == "investigating"
    assert [u.message for u in after.updates] == ["first update"]


def test_store_level_version_check_inside_the_transaction(tmp_path):
    store = IncidentStore(tmp_path / "i.sqlite")
    incident_id = store.create([NewEvent.make("opened", {"title": "t"}, "ana", T0)])
    note = NewEvent.make("note", {"text": "x"}, "ana", T0)
    assert store.append(incident_id, 1, [note, note]) == 3
    with pytest.raises(StaleIncidentError):
        store.append(incident_id, 1, [note])
    with pytest.raises(IncidentNotFound):
        store.append("INC-9", 3, [note])
    with pytest.raises(IncidentStoreError, match="bad incident id"):
        store.append("incident one", 3, [note])
    assert store.version(incident_id) == 3


def test_events_cannot_be_updated_or_deleted(tmp_path):
    store = IncidentStore(tmp_path / "i.sqlite")
    store.create([NewEvent.make("opened", {"title": "t"}, "ana", T0)])
    conn = sqlite3.connect(tmp_path / "i.sqlite")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE events SET actor = 'mallory'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM events")
    conn.close()
    assert IncidentStore(tmp_path / "i.sqlite").events("INC-1")[0].actor == "ana"


def test_nothing_is_written_anonymously_or_with_a_bad_payload(incidents):
    with pytest.raises(EventError, match="named person"):
        incidents.open("  ", "refusals up", at=T0)
    s = incidents.open("ana", "refusals up", at=T0)
    with pytest.raises(EventError, match="named person"):
        incidents.add_note(s.id, s.version, "", "hello")
    with pytest.raises(EventError, match="severity"):
        NewEvent.make("severity_set", {"severity": "SEV9"}, "ana", T0)
    with pytest.raises(EventError, match="unknown event kind"):
        NewEvent.make("deleted", {}, "ana", T0)
    assert incidents.get(s.id).version == 1


def test_event_time_defaults_to_wall_clock_and_accepts_the_data_clock(incidents):
    s = incidents.open("ana", "refusals up")
    assert abs((s.opened_at - datetime.now(timezone.utc)).total_seconds()) < 60
    s = incidents.add_note(s.id, s.version, "ana", "on the data clock", at=datetime(2025, 2, 18, 15, 0))
    assert s.notes[-1].at == datetime(2025, 2, 18, 15, 0, tzinfo=timezone.utc)


# --- several processes at once --------------------------------------------------

N_PROCS = 4
NOTES_EACH = 15


def _race_status(path: str, version: int, barrier, results) -> None:
    incidents = Incidents(path)
    barrier.wait()
    try:
        incidents.set_status("INC-1", version, f"writer-{mp.current_process().name}", "identified", at=T0)
        results.put("ok")
    except StaleIncidentError:
        results.put("stale")


def _append_notes(path: str, worker: int, barrier, results) -> None:
    incidents = Incidents(path)
    barrier.wait()
    retries = 0
    for k in range(NOTES_EACH):
        while True:
            state = incidents.get("INC-1")
            try:
                incidents.add_note("INC-1", state.version, f"w{worker}", f"note {worker}-{k}", at=T0)
                break
            except StaleIncidentError:
                retries += 1  # someone wrote in between: reload and retry, as a person would
    results.put(retries)


def _run(target, args_for) -> list:
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(N_PROCS)
    results = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args_for(i), barrier, results)) for i in range(N_PROCS)]
    for p in procs:
        p.start()
    out = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    return out


def test_several_processes_writing_one_incident(tmp_path):
    path = str(tmp_path / "incidents.sqlite")
    opened = Incidents(path).open("ana", "refusals up", at=T0)

    # everyone loaded version 1 and tries the same status change: exactly one wins
    outcomes = _run(_race_status, lambda i: (path, opened.version))
    assert sorted(outcomes) == ["ok"] + ["stale"] * (N_PROCS - 1)
    state = Incidents(path).get("INC-1")
    assert state.status == "identified" and state.version == 2

    # everyone appends notes at once, retrying on stale: none lost, none doubled
    _run(_append_notes, lambda i: (path, i))
    events = IncidentStore(path).events("INC-1")
    assert len(events) == 2 + N_PROCS * NOTES_EACH
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    texts = sorted(e.payload.text for e in events if e.kind == "note")
    assert texts == sorted(f"note {w}-{k}" for w in range(N_PROCS) for k in range(NOTES_EACH))
    assert fold(events).version == len(events)
