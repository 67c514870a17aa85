"""The incident event store: append-only events per incident, hash-chained, safe for several writers.

Two backends share everything here but the connection and the lock:
`IncidentStore` (one SQLite file, the embedded default, several processes on
one machine) and `PostgresIncidentStore` (store_postgres.py, for replicas on
several machines). `open_store` picks one from the data folder's config.

The concurrency rule: every write runs under a per-incident write lock
(SQLite's `BEGIN IMMEDIATE`, a Postgres advisory lock). `append_decided`
hands the events as they stand inside that lock to a decision function, so a
comms post or a checklist tick is decided on the latest state and never
refused for staleness; `append` is the strict form (refused unless the
incident still has the version the caller names). Which changes need which is
the service's business (service.py).

Every event stores the hash of the event before it and its own (chain.py), so
a change to the log outside this code is found by `audit`.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from dashboard.core.errors import WarroomError
from dashboard.core.incident import chain
from dashboard.core.incident.events import PAYLOADS, Event, NewEvent, validate_payload
from dashboard.core.timeutil import utc_now

BUSY_TIMEOUT_MS = 30_000
ID_PREFIX = "INC-"
_ID_PATTERN = re.compile(r"^INC-[1-9][0-9]*$")
COLUMNS = "incident_id, seq, ts, actor, kind, payload, recorded_at, identity, prev_hash, hash"

SQLITE_SCHEMA = """CREATE TABLE IF NOT EXISTS events (
    incident_id TEXT NOT NULL,
    seq         INTEGER NOT NULL CHECK (seq >= 1),
    ts          TEXT NOT NULL,               -- event time, ISO 8601 UTC
    actor       TEXT NOT NULL CHECK (length(trim(actor)) > 0),
    kind        TEXT NOT NULL,
    payload     TEXT NOT NULL CHECK (json_valid(payload)),
    recorded_at TEXT NOT NULL,               -- wall clock when written
    identity    TEXT,                        -- JSON: subject, e-mail, via, claims
    prev_hash   TEXT,                        -- the previous event's hash ('' for the first)
    hash        TEXT,                        -- sha256 over this row and prev_hash
    PRIMARY KEY (incident_id, seq)
) WITHOUT ROWID"""
SQLITE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events "
    "BEGIN SELECT RAISE(ABORT, 'incident events are append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events "
    "BEGIN SELECT RAISE(ABORT, 'incident events are append-only'); END",
)

Decide = Callable[[list[Event]], Sequence[NewEvent]]


class IncidentStoreError(WarroomError):
    """Base for problems a user can act on."""


class IncidentNotFound(IncidentStoreError):
    def __init__(self, incident_id: str):
        super().__init__(f"no incident {incident_id!r}")
        self.incident_id = incident_id


class StaleIncidentError(IncidentStoreError):
    """The incident changed after the caller loaded it; nothing was written."""

    def __init__(self, incident_id: str, expected: int, actual: int, what: str = ""):
        super().__init__(f"{incident_id} changed since you loaded it (version {expected}, now {actual}"
                         + (f": {what}" if what else "") + "): reload and retry")
        self.incident_id = incident_id
        self.expected = expected
        self.actual = actual


def check_incident_id(incident_id: str) -> str:
    value = (incident_id or "").strip().upper()
    if not _ID_PATTERN.match(value):
        raise IncidentStoreError(f"bad incident id {incident_id!r}: expected INC-<number>, e.g. INC-1")
    return value


class EventStore:
    """What both backends share: the write rule, the chain, reading rows into events.

    A backend provides `_write_tx(lock_key)` (a connection inside a transaction
    holding the lock), `_read()` (a connection for reading) and `_sql(text)`
    (its parameter style); `?` is used here.
    """

    label = "incident store"

    # --- backend hooks --------------------------------------------------------

    @contextmanager
    def _write_tx(self, lock_key: str) -> Iterator[Any]:
        raise NotImplementedError
        yield

    @contextmanager
    def _read(self) -> Iterator[Any]:
        raise NotImplementedError
        yield

    def _sql(self, text: str) -> str:
        return text

    # --- writing -------------------------------------------------------------

    def append_decided(self, incident_id: str, decide: Decide) -> int:
        """Under the incident's write lock, append what `decide(events so far)` returns; the new version.

        The decision sees every event already written, so it cannot be based on
        a state someone else has changed meanwhile. Returning no events writes nothing.
        """
        incident_id = check_incident_id(incident_id)
        with self._write_tx(incident_id) as conn:
            rows = self._rows(conn, incident_id)
            if not rows:
                raise IncidentNotFound(incident_id)
            new = list(decide([self._event(r) for r in rows]))
            if new:
                self._insert(conn, incident_id, rows[-1].seq, rows[-1].hash or "", new)
            return rows[-1].seq + len(new)

    def append(self, incident_id: str, expected_version: int, events: Sequence[NewEvent]) -> int:
        """Append `events` if the incident still has `expected_version` events; return the new version.

        All events of one call land together or not at all.
        """
        incident_id = check_incident_id(incident_id)
        if not events:
            raise ValueError("nothing to append")
        with self._write_tx(incident_id) as conn:
            head = conn.execute(self._sql("SELECT seq, hash FROM events WHERE incident_id = ? "
                                          "ORDER BY seq DESC LIMIT 1"), (incident_id,)).fetchone()
            if head is None:
                raise IncidentNotFound(incident_id)
            actual, prev_hash = head
            if actual != expected_version:
                raise StaleIncidentError(incident_id, expected_version, actual)
            self._insert(conn, incident_id, actual, prev_hash or "", events)
        return expected_version + len(events)

    def create(self, events: Sequence[NewEvent]) -> str:
        """Open a new incident: allocate the next INC-<n> and append its first events."""
        if not events or events[0].kind != "opened":
            raise IncidentStoreError("a new incident starts with an 'opened' event")
        with self._write_tx("create") as conn:
            row = conn.execute(self._sql(
                "SELECT COALESCE(MAX(CAST(substr(incident_id, 5) AS INTEGER)), 0) FROM events WHERE seq = 1"
            )).fetchone()
            incident_id = f"{ID_PREFIX}{row[0] + 1}"
            self._insert(conn, incident_id, 0, chain.GENESIS, events)
        return incident_id

    def _insert(self, conn: Any, incident_id: str, version: int, prev_hash: str,
                events: Sequence[NewEvent]) -> None:
        recorded = utc_now().isoformat()
        rows = []
        for i, ev in enumerate(events):
            seq = version + i + 1
            ts, payload = ev.at.isoformat(), ev.payload.model_dump_json()
            identity = json.dumps(ev.identity, sort_keys=True) if ev.identity else None
            digest = chain.event_hash(prev_hash, incident_id, seq, ts, ev.actor, ev.kind, payload, recorded, identity)
            rows.append((incident_id, seq, ts, ev.actor, ev.kind, payload, recorded, identity, prev_hash, digest))
            prev_hash = digest
        conn.cursor().executemany(self._sql(f"INSERT INTO events ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)"), rows)

    # --- reading -------------------------------------------------------------

    def _rows(self, conn: Any, incident_id: str) -> list[chain.StoredRow]:
        rows = conn.execute(self._sql(f"SELECT {COLUMNS} FROM events WHERE incident_id = ? ORDER BY seq"),
                            (incident_id,)).fetchall()
        return [chain.StoredRow(*row) for row in rows]

    def version(self, incident_id: str) -> int:
        with self._read() as conn:
            return conn.execute(self._sql("SELECT COALESCE(MAX(seq), 0) FROM events WHERE incident_id = ?"),
                                (check_incident_id(incident_id),)).fetchone()[0]

    def events(self, incident_id: str) -> list[Event]:
        incident_id = check_incident_id(incident_id)
        with self._read() as conn:
            rows = self._rows(conn, incident_id)
        if not rows:
            raise IncidentNotFound(incident_id)
        return [self._event(row) for row in rows]

    def all_events(self) -> dict[str, list[Event]]:
        """Every incident's events, in id order (INC-2 before INC-10)."""
        with self._read() as conn:
            rows = conn.execute(f"SELECT {COLUMNS} FROM events "
                                "ORDER BY CAST(substr(incident_id, 5) AS INTEGER), seq").fetchall()
        out: dict[str, list[Event]] = {}
        for row in rows:
            out.setdefault(row[0], []).append(self._event(chain.StoredRow(*row)))
        return out

    def incident_ids(self) -> list[str]:
        with self._read() as conn:
            rows = conn.execute("SELECT incident_id FROM events WHERE seq = 1 "
                                "ORDER BY CAST(substr(incident_id, 5) AS INTEGER)").fetchall()
        return [r[0] for r in rows]

    def audit(self, incident_id: str) -> chain.ChainReport:
        """Walk the incident's hash chain; the first broken link, if any."""
        incident_id = check_incident_id(incident_id)
        with self._read() as conn:
            rows = self._rows(conn, incident_id)
        if not rows:
            raise IncidentNotFound(incident_id)
        return chain.verify(incident_id, rows)

    def audit_all(self) -> list[chain.ChainReport]:
        with self._read() as conn:
            rows = [chain.StoredRow(*r) for r in conn.execute(
                f"SELECT {COLUMNS} FROM events ORDER BY CAST(substr(incident_id, 5) AS INTEGER), seq").fetchall()]
        by_incident: dict[str, list[chain.StoredRow]] = {}
        for row in rows:
            by_incident.setdefault(row.incident_id, []).append(row)
        return [chain.verify(i, r) for i, r in by_incident.items()]

    def _event(self, row: chain.StoredRow) -> Event:
        try:
            model = PAYLOADS.get(row.kind)
            # straight from JSON: about twice as fast as json.loads then validating the dict
            parsed = (model.model_validate_json(row.payload) if model
                      else validate_payload(row.kind, json.loads(row.payload)))
            identity = json.loads(row.identity) if row.identity else None
        except Exception as exc:  # a row written by a newer or broken writer: say which one
            raise IncidentStoreError(f"{self.label}: event {row.incident_id}#{row.seq} ({row.kind}) "
                                     f"cannot be read: {exc}") from None
        return Event(incident_id=row.incident_id, seq=row.seq, at=datetime.fromisoformat(row.ts), actor=row.actor,
                     kind=row.kind, payload=parsed, recorded_at=datetime.fromisoformat(row.recorded_at),
                     identity=identity, hash=row.hash)


class IncidentStore(EventStore):
    """The embedded default: events in `path` (a SQLite file, created on first use).

    Connections are opened per operation, so one store object may be shared by
    threads (Streamlit sessions) and each process gets its own file handles.
    WAL mode lets readers proceed during a write.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.label = str(self.path)
        self._ready = False

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if not self._ready:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise IncidentStoreError(f"{self.path.parent}: cannot create the folder ({exc.strerror})") from None
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.OperationalError as exc:
            raise self._not_writable(exc) from None
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if not self._ready:
                try:
                    conn.execute("PRAGMA journal_mode = WAL")
                    _migrate_sqlite(conn)
                except sqlite3.OperationalError as exc:
                    raise self._not_writable(exc) from None
                self._ready = True
            conn.execute("PRAGMA synchronous = NORMAL")
            yield conn
        finally:
            conn.close()

    def _not_writable(self, exc: sqlite3.OperationalError) -> Exception:
        if "readonly" in str(exc) or "unable to open" in str(exc):
            return IncidentStoreError(f"{self.path}: cannot be written ({exc}); "
                                      "a read-only data folder can be read, not changed")
        return exc

    @contextmanager
    def _write_tx(self, lock_key: str) -> Iterator[sqlite3.Connection]:
        # one writer at a time for the whole file: the lock is taken before anything is read
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """The writable connection, else the file opened read-only (a read-only folder or medium).

        A missing file reads as a store with no incidents (nothing is created to read it).
        """
        if not self.path.exists():
            conn = sqlite3.connect(":memory:", isolation_level=None)
            try:
                _migrate_sqlite(conn)
                yield conn
            finally:
                conn.close()
        elif self._ready or writable(self.path):
            with self._connect() as conn:
                yield conn
        else:
            with read_only_connection(self.path) as conn:
                yield conn


def writable(path: Path) -> bool:
    """Whether the SQLite file at `path` and its folder (for the journal beside it) can be written."""
    return os.access(path.parent, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))


@contextmanager
def read_only_connection(path: Path) -> Iterator[sqlite3.Connection]:
    """The SQLite file at `path` opened for reading only, as on a read-only medium or folder."""
    uri = "file:" + urllib.parse.quote(str(path.resolve()))
    failures = []
    for mode in ("mode=ro", "immutable=1"):  # immutable: not even a -shm file can be made beside it
        conn = sqlite3.connect(f"{uri}?{mode}", uri=True, isolation_level=None)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            break
        except sqlite3.OperationalError as exc:
            failures.append(f"{mode}: {exc}")
            conn.close()
    else:
        raise IncidentStoreError(f"{path}: cannot be read ({'; '.join(failures)})")
    try:
        yield conn
    finally:
        conn.close()


def _migrate_sqlite(conn: sqlite3.Connection) -> None:
    """Create the table, or seal a store written before the chain existed (adds and fills the hashes)."""
    columns = {r[1] for r in conn.execute("PRAGMA table_info(events)")}
    if "hash" in columns and not conn.execute("SELECT 1 FROM events WHERE hash IS NULL LIMIT 1").fetchone():
        return  # current schema, every event sealed: nothing to write (works on a read-only folder too)
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(SQLITE_SCHEMA)
        columns = {r[1] for r in conn.execute("PRAGMA table_info(events)")}
        if "hash" not in columns:
            for column in ("identity", "prev_hash", "hash"):
                if column not in columns:
                    conn.execute(f"ALTER TABLE events ADD COLUMN {column} TEXT")
        if conn.execute("SELECT 1 FROM events WHERE hash IS NULL LIMIT 1").fetchone():
            # events from before the chain: hash them as they stand now (the append-only
            # triggers are lifted for this one update, inside the same transaction)
            conn.execute("DROP TRIGGER IF EXISTS events_no_update")
            prev: dict[str, str] = {}
            rows = conn.execute(f"SELECT {COLUMNS} FROM events ORDER BY incident_id, seq").fetchall()
            for row in map(lambda r: chain.StoredRow(*r), rows):
                before = prev.get(row.incident_id, chain.GENESIS)
                digest = chain.row_hash(row, before)
                conn.execute("UPDATE events SET prev_hash = ?, hash = ? WHERE incident_id = ? AND seq = ?",
                             (before, digest, row.incident_id, row.seq))
                prev[row.incident_id] = digest
        for trigger in SQLITE_TRIGGERS:
            conn.execute(trigger)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
