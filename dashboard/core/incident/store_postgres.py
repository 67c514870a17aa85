"""The incident event store on PostgreSQL, for app replicas on several machines.

The same table, the same hash chain and the same concurrency rule as the
SQLite store (store.py holds all of it): only the connection and the lock
differ. A write takes a transaction-scoped advisory lock on the incident (on
"create" to allocate the next id), so writers of one incident queue while
writers of others proceed; triggers refuse UPDATE, DELETE and TRUNCATE.

Driver: psycopg 3 (libpq underneath, so PG* environment variables and
~/.pgpass supply credentials). Connections come from one psycopg_pool pool per
server URL and process: a page render makes several store calls, and a new
connection (TCP, TLS, authentication) each time cost more than the query over
a network. A pooled connection is checked before it is handed out, so a
server restart or a dropped connection costs a reconnect, not an error. The
first use of a URL connects directly, so a wrong address or password is one
clear line at once rather than a pool timeout.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from dashboard.core.incident.store import EventStore, IncidentStoreError

POOL_SIZE = 8  # connections per process and server: the app's sessions and the soak writer share them
POOL_WAIT_S = 15.0  # how long a call waits for a free (or new) connection before it is an error

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
# keyed by process too: a forked child must not use (or close) its parent's sockets
_POOLS: dict[tuple[str, int], ConnectionPool] = {}
_POOLS_LOCK = threading.Lock()


def _close_pools() -> None:
    with _POOLS_LOCK:
        for key in [k for k in _POOLS if k[1] == os.getpid()]:
            _POOLS.pop(key).close()


atexit.register(_close_pools)


class PostgresIncidentStore(EventStore):
    def __init__(self, url: str):
        self.url = url
        self.label = "incident store (PostgreSQL " + url.split("@")[-1] + ")"

    def _pool(self) -> ConnectionPool:
        key = (self.url, os.getpid())
        with _POOLS_LOCK:
            pool = _POOLS.get(key)
            if pool is None:
                self._prepare()
                pool = ConnectionPool(self.url, min_size=1, max_size=POOL_SIZE, timeout=POOL_WAIT_S,
                                      kwargs={"autocommit": True, "connect_timeout": 10},
                                      check=ConnectionPool.check_connection, name="warroom-incidents", open=True)
                _POOLS[key] = pool
            return pool

    def _prepare(self) -> None:
        """Connect once directly (a wrong address is one line now) and create the schema if needed."""
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            raise IncidentStoreError(f"{self.label}: cannot connect: {str(exc).strip().splitlines()[0]}") from None
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('warroom:schema'))")
                conn.execute(SCHEMA)
        finally:
            conn.close()

    @contextmanager
    def _connect(self) -> Iterator[psycopg.Connection]:
        try:
            with self._pool().connection() as conn:
                yield conn
        except PoolTimeout:
            raise IncidentStoreError(f"{self.label}: cannot connect: no connection within {POOL_WAIT_S:g} s "
                                     "(the server is down or every connection is busy)") from None

    @contextmanager
    def _write_tx(self, lock_key: str) -> Iterator[psycopg.Connection]:
        with self._connect() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"warroom:{lock_key}",))
            yield conn

    _read = _connect

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s")
