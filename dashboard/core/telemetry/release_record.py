"""`warroom release record`: one release event from a CI step, appended atomically to the release store.

`record_release(data_dir, ...)` checks the event exactly as `warroom ingest
releases` checks a row (known artifact kind, scope naming declared segments,
an http(s) URL), writes it as its own Parquet file (renamed into place, so a
reader sees all of it or none, and two CI jobs never overwrite each other) and
returns the stored event.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from dashboard.core.datadir import DataDir, atomic_write_parquet
from dashboard.core.errors import WarroomError
from dashboard.core.telemetry.contract import RELEASE_SCHEMA, read_schema
from dashboard.core.telemetry.ingest.pipeline import release_spec
from dashboard.core.telemetry.ingest.read import SourceFile
from dashboard.core.telemetry.ingest.validate import parse_defaults, validate_file
from dashboard.core.telemetry.mapping import IngestMapping


class ReleaseError(WarroomError, ValueError):
    """The event is not valid; the message names the option."""


# release field -> the `warroom release record` option that sets it
OPTIONS = {"ts": "--at", "previous_version": "--previous", "rollout_pct": "--rollout-pct"}


def _last_version(data: DataDir, artifact: str, service: str | None, before: datetime) -> str | None:
    files = sorted(data.releases.glob("*.parquet")) if data.releases.is_dir() else []
    if not files:
        return None
    frame = pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")
    frame = frame.filter((pl.col("artifact") == artifact) & (pl.col("ts") <= before))
    if service and "service" in frame.columns:
        frame = frame.filter(pl.col("service").is_null() | (pl.col("service") == service))
    return frame.sort("ts")["version"][-1] if frame.height else None


def record_release(data: DataDir, *, artifact: str, version: str, service: str | None = None,
                   previous: str | None = None, author: str | None = None, note: str | None = None,
                   scope: str | None = None, commit: str | None = None, url: str | None = None,
                   rollout_pct: float | None = None, at: str | datetime | None = None) -> dict:
    """Validate and store one release; `at` defaults to now, `previous` to the artifact's last logged version."""
    when = at if at is not None else datetime.now(UTC)
    raw = {"ts": when.isoformat() if isinstance(when, datetime) else when, "service": service,
           "artifact": artifact, "version": version, "previous_version": previous,
           "rollout_pct": None if rollout_pct is None else str(rollout_pct), "author": author, "note": note,
           "scope": scope, "commit": commit, "url": url}
    frame = pl.DataFrame({k: [v] for k, v in raw.items()}, schema={k: pl.String for k in raw})
    spec = release_spec(read_schema(data), IngestMapping())
    source = SourceFile(Path("release record"), "arguments", frame, pl.Series([1], dtype=pl.Int64),
                        pl.DataFrame(schema={"row_number": pl.Int64, "line": pl.String}))
    result = validate_file(source, spec, parse_defaults(spec, "release"))
    if result.quarantined.height:
        reason = result.quarantined["reason"][0]
        field_name = reason.split(":", 1)[0].split(" ", 1)[0]
        raise ReleaseError(OPTIONS.get(field_name, f"--{field_name}") + reason[len(field_name):])
    event = result.accepted.row(0, named=True)
    if event["previous_version"] is None:
        event["previous_version"] = _last_version(data, event["artifact"], event["service"], event["ts"])
    if event["previous_version"] == event["version"]:
        raise ReleaseError(f"previous_version: the same as version ({event['version']!r})")
    stored = pl.DataFrame([event], schema=RELEASE_SCHEMA, orient="row")
    stamp = event["ts"].strftime("%Y%m%dT%H%M%S")
    atomic_write_parquet(stored, data.releases / f"release-{stamp}-{uuid.uuid4().hex[:8]}.parquet")
    return event
