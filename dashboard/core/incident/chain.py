"""The hash chain over an incident's events: each event carries the hash of the one before.

An event's hash covers its stored text (id, seq, times, actor, identity, kind,
payload) and the previous event's hash, so editing, deleting or reordering any
event breaks every link after it. `verify` returns the first broken link.

What it proves: the log was not changed in part. Someone with write access to
the database could still rewrite a whole chain from the edited event on, which
is why `warroom incident audit` prints the head hash: kept somewhere else (a
ticket, a chat message), it pins the log as it stood.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

GENESIS = ""  # the "previous hash" of an incident's first event


@dataclass(frozen=True)
class StoredRow:
    """One event exactly as stored (text columns), the input of the hash."""

    incident_id: str
    seq: int
    ts: str
    actor: str
    kind: str
    payload: str
    recorded_at: str
    identity: str | None
    prev_hash: str | None
    hash: str | None


def event_hash(prev_hash: str, incident_id: str, seq: int, ts: str, actor: str, kind: str, payload: str,
               recorded_at: str, identity: str | None) -> str:
    material = json.dumps([prev_hash, incident_id, seq, ts, actor, kind, payload, recorded_at, identity or ""],
                          separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def row_hash(row: StoredRow, prev_hash: str) -> str:
    return event_hash(prev_hash, row.incident_id, row.seq, row.ts, row.actor, row.kind, row.payload,
                      row.recorded_at, row.identity)


@dataclass(frozen=True)
class ChainReport:
    incident_id: str
    events: int
    intact: bool
    broken_at: int | None  # seq of the first event whose link does not hold
    reason: str
    head: str | None  # hash of the last event (pins the whole log)

    def line(self) -> str:
        if self.intact:
            return f"{self.incident_id}: {self.events} events, chain intact, head {self.head}"
        return f"{self.incident_id}: chain BROKEN at event #{self.broken_at}: {self.reason}"


def verify(incident_id: str, rows: Sequence[StoredRow]) -> ChainReport:
    """Walk the chain from the first event; report the first link that does not hold."""
    prev = GENESIS
    expected_seq = 1
    for row in rows:
        if row.seq != expected_seq:
            return ChainReport(incident_id, len(rows), False, expected_seq,
                               f"event #{expected_seq} is missing (next stored is #{row.seq})", None)
        if (row.prev_hash or "") != prev:
            return ChainReport(incident_id, len(rows), False, row.seq,
                               "its previous-hash does not match the event before it (an event before it "
                               "was changed, removed or inserted)", None)
        if row.hash != row_hash(row, prev):
            return ChainReport(incident_id, len(rows), False, row.seq,
                               "its content does not match its hash (the event was edited after it was written)",
                               None)
        prev = row.hash
        expected_seq += 1
    if not rows:
        return ChainReport(incident_id, 0, False, 1, "no events", None)
    return ChainReport(incident_id, len(rows), True, None, "intact", prev)
