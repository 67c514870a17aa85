"""The team's postmortem edits: append-only, latest wins, stale saves refused."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from dashboard.core.incident.events import NewEvent
from dashboard.core.incident.store import IncidentStore
from dashboard.core.reporting.postmortem.edits import EditError, PostmortemEdits, StaleEditError

WHEN = datetime(2025, 2, 19, 9, 0, tzinfo=UTC)


@pytest.fixture()
def db(tmp_path):
    path = tmp_path / "incidents.sqlite"
    IncidentStore(path).create([NewEvent.make("opened", {"title": "x"}, "ana", WHEN)])
    return path


def test_save_latest_and_history(db):
    edits = PostmortemEdits(db)
    first = edits.save("INC-1", "summary", "v1", "ana", expected_seq=0, at=WHEN)
    assert first.seq == 1
    edits.save("INC-1", "summary", "v2", "tom", expected_seq=1, at=WHEN)
    edits.save("INC-1", "went_well", "- fast rollback", "tom", expected_seq=0, at=WHEN)
    latest = edits.latest("INC-1")
    assert latest["summary"].text == "v2" and latest["summary"].author == "tom"
    assert latest["went_well"].text == "- fast rollback"
    assert [e.text for e in edits.history("INC-1", "summary")] == ["v1", "v2"]


def test_stale_save_is_refused_and_writes_nothing(db):
    edits = PostmortemEdits(db)
    edits.save("INC-1", "summary", "v1", "ana", expected_seq=0)
    with pytest.raises(StaleEditError, match="latest is 1"):
        edits.save("INC-1", "summary", "mine", "tom", expected_seq=0)
    assert [e.text for e in edits.history("INC-1", "summary")] == ["v1"]


@pytest.mark.parametrize("incident, section, author, message", [
    ("INC-1", "timeline", "ana", "not editable"),
    ("INC-1", "summary", "  ", "named author"),
    ("INC-9", "summary", "ana", "no incident INC-9"),
])
def test_bad_edits_say_why(db, incident, section, author, message):
    with pytest.raises(EditError, match=message):
        PostmortemEdits(db).save(incident, section, "text", author, expected_seq=0)


def test_rows_cannot_be_rewritten(db):
    PostmortemEdits(db).save("INC-1", "summary", "v1", "ana", expected_seq=0)
    conn = sqlite3.connect(db)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE postmortem_edits SET text = 'forged'")
    conn.close()


def test_incident_events_untouched_by_edits(db):
    PostmortemEdits(db).save("INC-1", "summary", "v1", "ana", expected_seq=0)
    assert IncidentStore(db).version("INC-1") == 1


def test_reading_edits_never_writes_the_incident_database(db):
    """Opening a postmortem reads its edits; before the first save that must leave the file as it was
    (the table is the first save's to create)."""
    before = (db.read_bytes(), db.stat().st_mtime_ns)
    edits = PostmortemEdits(db)
    assert edits.latest("INC-1") == {} and edits.history("INC-1", "summary") == []
    assert (db.read_bytes(), db.stat().st_mtime_ns) == before
    edits.save("INC-1", "summary", "first words", "ana", expected_seq=0, at=WHEN)
    assert edits.latest("INC-1")["summary"].text == "first words"
