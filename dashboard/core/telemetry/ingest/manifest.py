"""Which source files the store already holds: a load manifest kept in the committed files themselves.

Rerunning an ingest that already committed (by hand, or after the process was
killed while it built its rollups) must not quarantine its bad rows a second
time, nor report its good rows as duplicates of themselves. So every file an
ingest writes (the accepted rows and the quarantine) carries, in its Parquet
footer, the digest of each source file it read and the name of the accepted
file it committed (none when every row was rejected). The footer is written
in the same atomic rename as the rows, so the manifest can never disagree with
what was stored, and deleting an accepted file forgets its sources with it.

A source is *committed* when an existing accepted file lists its digest, or a
quarantine file of an ingest that accepted nothing does. `committed_sources`
returns those, keyed by digest; `partition` sets aside the files of a command that the
store (or an earlier argument) already holds; ingest skips them unless `--reload` is given.
Only footers are read (no rows): a few milliseconds per ingest file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import polars as pl

from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.ingest.read import file_digest

SOURCES_KEY = "warroom.sources"
INGEST_PREFIX = "ingest-"
TableKind = Literal["requests", "releases"]


@dataclass(frozen=True)
class CommittedSource:
    digest: str
    file: str  # the source file's name when it was ingested
    stored_in: str | None  # the accepted file (None: every row was rejected, see quarantine_file)
    quarantine_file: str | None
    at: str  # when it was committed, ISO 8601 UTC

    def describe(self) -> str:
        where = f"{self.stored_in}" if self.stored_in else f"every row rejected, see {self.quarantine_file}"
        return f"already ingested on {self.at[:16].replace('T', ' ')} UTC ({where})"


def footer(sources: list[tuple[str, str]], accepted_name: str | None, quarantine_name: str | None,
           at: datetime) -> dict[str, str]:
    """The footer metadata an ingest writes into both of its files; `sources` are (digest, file name)."""
    return {SOURCES_KEY: json.dumps({
        "sources": [{"digest": digest, "file": name} for digest, name in sources],
        "accepted": accepted_name,
        "quarantine": quarantine_name,
        "at": at.isoformat(timespec="seconds").replace("+00:00", "Z"),
    })}


def _read(path: Path) -> dict | None:
    try:
        raw = pl.read_parquet_metadata(path).get(SOURCES_KEY)
    except (OSError, pl.exceptions.PolarsError):  # removed meanwhile, or unreadable: it lists nothing
        return None
    if not raw:
        return None
    try:
        entry = json.loads(raw)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def committed_sources(data: DataDir, kind: TableKind) -> dict[str, CommittedSource]:
    """Digest -> the committed ingest that read it, for every source file this folder already holds."""
    folder = data.requests if kind == "requests" else data.releases
    found: dict[str, CommittedSource] = {}
    candidates = []
    if folder.is_dir():
        candidates += sorted(folder.glob(f"{INGEST_PREFIX}*.parquet"))
    if data.quarantine.is_dir():
        candidates += sorted(data.quarantine.glob(f"{kind}-{INGEST_PREFIX}*.parquet"))
    for path in candidates:
        entry = _read(path)
        if entry is None:
            continue
        accepted = entry.get("accepted")
        in_quarantine = path.parent == data.quarantine
        if in_quarantine and accepted:
            continue  # its accepted file says it (and, once deleted, forgets it)
        for source in entry.get("sources", ()):
            digest = source.get("digest")
            if isinstance(digest, str) and digest not in found:
                found[digest] = CommittedSource(digest, str(source.get("file", "")), accepted,
                                                entry.get("quarantine"), str(entry.get("at", "")))
    return found


def digests_of(paths: list[str]) -> dict[str, str]:
    """Path -> content digest, for the files that can be read (the reader reports the others)."""
    digests = {}
    for path in paths:
        try:
            if Path(path).is_file():
                digests[path] = file_digest(path)
        except OSError:
            continue
    return digests


def partition(paths: list[str], digests: dict[str, str],
              committed: dict[str, CommittedSource]) -> tuple[list[str], list[dict]]:
    """(paths to read, skipped): a file the store already holds is skipped, and so is a file whose bytes
    an earlier argument of the same command has (it would only quarantine its rows as duplicates)."""
    kept: list[str] = []
    skipped: list[dict] = []
    first_with: dict[str, str] = {}
    for path in paths:
        digest = digests.get(path)
        if digest in committed:
            done = committed[digest]
            skipped.append({"file": path, "reason": f"{done.describe()}; skipped (--reload reads it again)",
                            "stored_in": done.stored_in, "quarantine": done.quarantine_file, "ingested_at": done.at})
        elif digest in first_with:
            skipped.append({"file": path, "reason": f"same bytes as {first_with[digest]}, given earlier; skipped"})
        else:
            if digest is not None:
                first_with[digest] = path
            kept.append(path)
    return kept, skipped
