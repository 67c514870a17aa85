"""The team's edits to a postmortem's prose, kept beside the incident events.

Same SQLite file as the incident store, own table. Append-only like the
events: every save is a new row with who and when, the latest row per
section wins, and earlier versions stay readable. A save names the edit it
was based on, so two people editing the same section cannot silently
overwrite each other. Action items are not edited here: they are incident
events (action_added / action_done) written through the incident service.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dashboard.core.errors import WarroomError
from dashboard.core.incident.store import IncidentStore, check_incident_id, read_only_connection, writable
from dashboard.core.reporting.postmortem.model import EDITABLE_SECTIONS

SCHEMA = """
CREATE TABLE IF NOT EXISTS postmortem_edits (
    incident_id TEXT NOT NULL,
    section     TEXT NOT NULL,
    seq         INTEGER NOT NULL CHECK (seq >= 1),
    text        TEXT NOT NULL,
    author      TEXT NOT NULL CHECK (length(trim(author)) > 0),
    edited_at   TEXT NOT NULL,
    PRIMARY KEY (incident_id, section, seq)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS postmortem_edits_no_update BEFORE UPDATE ON postmortem_edits
BEGIN SELECT RAISE(ABORT, 'postmortem edits are append-only'); END;
CREATE TRIGGER IF NOT EXISTS postmortem_edits_no_delete BEFORE DELETE ON postmortem_edits
BEGIN SELECT RAISE(ABORT, 'postmortem edits are append-only'); END;
"""
MAX_TEXT = 20_000


class EditError(WarroomError, ValueError):
    """An edit that cannot be saved as given; the message says why."""


class StaleEditError(EditError):
    def __init__(self, incident_id: str, section: str, expected: int, actual: int):
        super().__init__(f"{incident_id} {section}: someone saved a newer version (yours was based on edit "
                         f"{expected}, latest is {actual}); reload and retry")
        self.expected, self.actual = expected, actual


@dataclass(frozen=True)
class Edit:
    incident_id: str
    section: str
    seq: int
    text: str
    author: str
    edited_at: datetime


class PostmortemEdits:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection | None]:
        """A connection to read edits from, or None when none were ever saved.

        Reading never writes: the table is created by the first save, so opening a
        postmortem leaves the incident database as it was (a read-only folder too).
        """
        if not self.path.exists():
            yield None
            return
        opened = self._connect(create=False) if writable(self.path) else read_only_connection(self.path)
        with opened as conn:
            has_table = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'postmortem_edits'").fetchone()
            yield conn if has_table else None

    @contextmanager
    def _connect(self, create: bool = True) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout = 30000")
            if create:
                conn.executescript(SCHEMA)
            yield conn
        finally:
            conn.close()

    def save(self, incident_id: str, section: str, text: str, author: str, expected_seq: int,
             at: datetime | None = None) -> Edit:
        """Append a new version of `section`; `expected_seq` is the latest edit seq the author saw (0: none)."""
        incident_id = check_incident_id(incident_id)
        if section not in EDITABLE_SECTIONS:
            raise EditError(f"section {section!r} is not editable; editable: {', '.join(EDITABLE_SECTIONS)}")
        author = (author or "").strip()
        if not author:
            raise EditError("every edit needs a named author")
        if len(text) > MAX_TEXT:
            raise EditError(f"{section}: text is {len(text):,} characters; the limit is {MAX_TEXT:,}")
        if IncidentStore(self.path).version(incident_id) == 0:
            raise EditError(f"no incident {incident_id}")
        moment = (at or datetime.now(UTC)).astimezone(UTC)
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                actual = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM postmortem_edits "
                                      "WHERE incident_id = ? AND section = ?", (incident_id, section)).fetchone()[0]
                if actual != expected_seq:
                    raise StaleEditError(incident_id, section, expected_seq, actual)
                conn.execute("INSERT INTO postmortem_edits VALUES (?,?,?,?,?,?)",
                             (incident_id, section, actual + 1, text, author, moment.isoformat()))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return Edit(incident_id, section, actual + 1, text, author, moment)

    def latest(self, incident_id: str) -> dict[str, Edit]:
        """The newest edit of each edited section."""
        incident_id = check_incident_id(incident_id)
        with self._reader() as conn:
            if conn is None:
                return {}
            rows = conn.execute(
                "SELECT e.incident_id, e.section, e.seq, e.text, e.author, e.edited_at FROM postmortem_edits e "
                "JOIN (SELECT section, MAX(seq) AS seq FROM postmortem_edits WHERE incident_id = ? "
                "GROUP BY section) m ON e.section = m.section AND e.seq = m.seq WHERE e.incident_id = ?",
                (incident_id, incident_id)).fetchall()
        return {r[1]: _edit(r) for r in rows}

    def history(self, incident_id: str, section: str) -> list[Edit]:
        incident_id = check_incident_id(incident_id)
        with self._reader() as conn:
            if conn is None:
                return []
            rows = conn.execute("SELECT incident_id, section, seq, text, author, edited_at FROM postmortem_edits "
                                "WHERE incident_id = ? AND section = ? ORDER BY seq", (incident_id, section)).fetchall()
        return [_edit(r) for r in rows]


def _edit(row: tuple) -> Edit:
    return Edit(row[0], row[1], row[2], row[3], row[4], datetime.fromisoformat(row[5]))
