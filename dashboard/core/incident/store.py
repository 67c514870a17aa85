"""The incident event store: one SQLite file, append-only, safe for several processes.

The app, the CLI and the live simulator may all write at once. SQLite in WAL
mode lets readers proceed during a write; `BEGIN IMMEDIATE` takes the write
lock before the version is read, so the version check and the append happen
atomically. A write names the version (event count) it was based on; if
someone else appended in between, it is refused and nothing is written.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from dashboard.core.incident.events import PAYLOADS, Event, NewEvent, utc_now, validate_payload

BUSY_TIMEOUT_MS = 30_000
ID_PREFIX = "INC-"
_ID_PATTERN = re.compile(r"^INC-[1-9][0-9]*$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    incident_id TEXT NOT NULL,
    seq         INTEGER NOT NULL CHECK (seq >= 1),
    ts          TEXT NOT NULL,               -- event time, ISO 8601 UTC
    actor       TEXT NOT NULL CHECK (length(trim(actor)) > 0),
    kind        TEXT NOT NULL,
    payload     TEXT NOT NULL CHECK (json_valid(payload)),
    recorded_at TEXT NOT NULL,               -- wall clock when written
    PRIMARY KEY (incident_id, seq)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'incident events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'incident events are append-only'); END;
"""


class IncidentStoreError(Exception):
    """Base for problems a user can act on."""


class IncidentNotFound(IncidentStoreError):
    def __init__(self, incident_id: str):
        super().__init__(f"no incident {incident_id!r}")
        self.incident_id = incident_id


class StaleIncidentError(IncidentStoreError):
    """The incident changed after the caller loaded it; nothing was written."""

    def __init__(self, incident_id: str, expected: int, actual: int):
        super().__init__(f"{incident_id} changed since you loaded it (version {expected}, now {actual}): "
                         "reload and retry")
        self.incident_id = incident_id
        self.expected = expected
        self.actual = actual


def check_incident_id(incident_id: str) -> str:
    value = (incident_id or "").strip().upper()
    if not _ID_PATTERN.match(value):
        raise IncidentStoreError(f"bad incident id {incident_id!r}: expected INC-<number>, e.g. INC-1")
    return value


class IncidentStore:
    """Append-only events per incident in `path` (a SQLite file, created on first use).

    Connections are opened per operation, so one store object may be shared by
    threads (Streamlit sessions) and each process gets its own file handles.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._ready = False

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if not self._ready:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.executescript(SCHEMA)
                self._ready = True
            conn.execute("PRAGMA synchronous = NORMAL")
            yield conn
        finally:
            conn.close()

    # --- writing -------------------------------------------------------------

    def append(self, incident_id: str, expected_version: int, events: Sequence[NewEvent]) -> int:
        """Append `events` if the incident still has `expected_version` events; return the new version.

        All events of one call land together or not at all.
        """
        incident_id = check_incident_id(incident_id)
        if not events:
            raise ValueError("nothing to append")
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                actual = self._version(conn, incident_id)
                if actual == 0 and expected_version != 0:
                    raise IncidentNotFound(incident_id)
                if actual != expected_version:
                    raise StaleIncidentError(incident_id, expected_version, actual)
                if actual == 0 and events[0].kind != "opened":
                    raise IncidentStoreError(f"{incident_id}: the first event must be 'opened'")
                self._insert(conn, incident_id, actual, events)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return expected_version + len(events)

    def create(self, events: Sequence[NewEvent]) -> str:
        """Open a new incident: allocate the next INC-<n> and append its first events."""
        if not events or events[0].kind != "opened":
            raise IncidentStoreError("a new incident starts with an 'opened' event")
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    "SELECT COALESCE(MAX(CAST(substr(incident_id, 5) AS INTEGER)), 0) FROM events WHERE seq = 1"
                ).fetchone()
                incident_id = f"{ID_PREFIX}{row[0] + 1}"
                self._insert(conn, incident_id, 0, events)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return incident_id

    @staticmethod
    def _insert(conn: sqlite3.Connection, incident_id: str, version: int, events: Sequence[NewEvent]) -> None:
        recorded = utc_now().isoformat()
        conn.executemany(
            "INSERT INTO events (incident_id, seq, ts, actor, kind, payload, recorded_at) VALUES (?,?,?,?,?,?,?)",
            [(incident_id, version + i + 1, ev.at.isoformat(), ev.actor, ev.kind,
              ev.payload.model_dump_json(), recorded) for i, ev in enumerate(events)],
        )

    @staticmethod
    def _version(conn: sqlite3.Connection, incident_id: str) -> int:
        return conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events WHERE incident_id = ?",
                            (incident_id,)).fetchone()[0]

    # --- reading -------------------------------------------------------------

    def version(self, incident_id: str) -> int:
        with self._connect() as conn:
            return self._version(conn, check_incident_id(incident_id))

    def events(self, incident_id: str) -> list[Event]:
        incident_id = check_incident_id(incident_id)
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT incident_id, seq, ts, actor, kind, payload, recorded_at FROM events "
                "WHERE incident_id = ? ORDER BY seq", (incident_id,)).fetchall()
        if not rows:
            raise IncidentNotFound(incident_id)
        return [_event(row, self.path) for row in rows]

    def all_events(self) -> dict[str, list[Event]]:
        """Every incident's events, in id order (INC-2 before INC-10)."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT incident_id, seq, ts, actor, kind, payload, recorded_at FROM events "
                "ORDER BY CAST(substr(incident_id, 5) AS INTEGER), seq").fetchall()
        out: dict[str, list[Event]] = {}
        for row in rows:
            out.setdefault(row[0], []).append(_event(row, self.path))
        return out

    def incident_ids(self) -> list[str]:
        with self._connect() as conn:
            rows = conn.execute("SELECT incident_id FROM events WHERE seq = 1 "
                                "ORDER BY CAST(substr(incident_id, 5) AS INTEGER)").fetchall()
        return [r[0] for r in rows]


def _event(row: tuple, path: Path) -> Event:
    incident_id, seq, ts, actor, kind, payload, recorded_at = row
    try:
        model = PAYLOADS.get(kind)
        # straight from JSON: about twice as fast as json.loads then validating the dict
        parsed = model.model_validate_json(payload) if model else validate_payload(kind, json.loads(payload))
    except Exception as exc:  # a row written by a newer or broken writer: say which one
        raise IncidentStoreError(f"{path}: event {incident_id}#{seq} ({kind}) cannot be read: {exc}") from None
    return Event(incident_id=incident_id, seq=seq, at=datetime.fromisoformat(ts), actor=actor, kind=kind,
                 payload=parsed, recorded_at=datetime.fromisoformat(recorded_at))
