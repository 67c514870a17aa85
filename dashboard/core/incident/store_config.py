"""Which incident store a data folder uses: its SQLite file, or a PostgreSQL database.

SQLite (`incidents.sqlite` in the data folder) is the default and serves
several processes on one machine. For app replicas on several machines, point
every replica at one PostgreSQL database, either with the environment variable
`WARROOM_INCIDENTS_URL` or in the data folder's `warroom.toml`:

    [incidents]
    url = "postgresql://warroom@db.internal:5432/warroom"

Keep passwords out of the file: libpq reads `PGPASSWORD` (or `~/.pgpass`) and
the other `PG*` variables from the environment.
"""

from __future__ import annotations

import os
import tomllib

from dashboard.core.incident.store import EventStore, IncidentStore, IncidentStoreError

URL_ENV = "WARROOM_INCIDENTS_URL"
CONFIG_FILE = "warroom.toml"


def store_url(data_dir) -> str | None:
    """The configured PostgreSQL URL, or None for the folder's SQLite file."""
    url = os.environ.get(URL_ENV, "").strip()
    if url:
        return url
    path = data_dir.root / CONFIG_FILE
    if not path.exists():
        return None
    try:
        config = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise IncidentStoreError(f"{path}: cannot read the config: {exc}") from None
    configured = (config.get("incidents") or {}).get("url")
    if configured is not None and not isinstance(configured, str):
        raise IncidentStoreError(f"{path}: [incidents] url must be a string")
    return (configured or "").strip() or None


def open_store(data_dir) -> EventStore:
    url = store_url(data_dir)
    if url is None:
        return IncidentStore(data_dir.incidents_db)
    if not url.startswith(("postgresql://", "postgres://")):
        raise IncidentStoreError(f"incident store url {url.split('@')[-1]!r}: expected postgresql://...")
    from dashboard.core.incident.store_postgres import PostgresIncidentStore

    return PostgresIncidentStore(url)


def has_incident_store(data_dir) -> bool:
    """Is there a store to read (a configured database, or the folder's SQLite file)?"""
    return store_url(data_dir) is not None or data_dir.incidents_db.exists()
