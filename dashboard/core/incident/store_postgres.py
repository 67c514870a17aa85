"""The incident event store on PostgreSQL, for app replicas on several machines.

The same table, the same hash chain and the same concurrency rule as the
SQLite store (store.py holds all of it): only the connection and the lock
differ. A write takes a transaction-scoped advisory lock on the incident (on
"create" to allocate the next id), so writers of one incident queue while
writers of others proceed; triggers refuse UPDATE, DELETE and TRUNCATE.

Driver: psycopg 3 (libpq underneath, so PG* environment variables and
~/.pgpass supply credentials).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from dashboard.core.incident.store import EventStore, IncidentStoreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    incident_id TEXT NOT NULL,
    seq         INTEGER NOT NULL CHECK (seq >= 1),
    ts          TEXT NOT NULL,
    actor       TEXT NOT NULL CHECK (length(trim(actor)) > 0),
    kind        TEXT NOT NULL,
    payload     TEXT NOT NULL CHECK (payload::jsonb IS NOT NULL),
    recorded_at TEXT NOT NULL,
    identity    TEXT,
    prev_hash   TEXT,
    hash        TEXT,
    PRIMARY KEY (incident_id, seq)
);
CREATE OR REPLACE FUNCTION warroom_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'incident events are append-only'; END $$;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'events'::regclass
                 AND tgname = 'events_append_only') THEN
    CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
      FOR EACH ROW EXECUTE FUNCTION warroom_events_append_only();
    CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
      FOR EACH STATEMENT EXECUTE FUNCTION warroom_events_append_only();
  END IF;
END $$;
"""
_READY: set[str] = set()


class PostgresIncidentStore(EventStore):
    def __init__(self, url: str):
        self.url = url
        self.label = "incident store (PostgreSQL " + url.split("@")[-1] + ")"

    @contextmanager
    def _connect(self) -> Iterator[psycopg.Connection]:
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            raise IncidentStoreError(f"{self.label}: cannot connect: {str(exc).strip().splitlines()[0]}") from None
        try:
            if self.url not in _READY:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(hashtext('warroom:schema'))")
                    conn.execute(SCHEMA)
                _READY.add(self.url)
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _write_tx(self, lock_key: str) -> Iterator[psycopg.Connection]:
        with self._connect() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"warroom:{lock_key}",))
            yield conn

    _read = _connect

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s")
