"""The incident's reproducer packet: sampled requests with every artifact version, for a regression suite.

`export_packet` writes into an output folder:

    requests.parquet   the sampled rows (all request columns + `affected` + `trace_link`)
    requests.jsonl     the same rows, one JSON object per line
    manifest.json      window, filters, suspects, how rows were chosen and
                       sampled (seed), population and sample counts per group,
                       artifact versions in the sample, file checksums

Affected = in the incident window and segment, served by a suspect version
(from the record's suspects, e.g. "prompt:prompt-v7"). Unaffected = same
window and segment, served by none of them: same minutes, same users' kind,
different versions, which is the comparison a regression test needs. When no
suspect names a version, affected = the incident window and unaffected = the
hour before it, on the same segment.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from dashboard.core.datadir import DataDir, atomic_write_parquet, atomic_write_text
from dashboard.core.errors import WarroomError
from dashboard.core.incident.service import Incidents
from dashboard.core.incident.store import IncidentStoreError
from dashboard.core.output_paths import OutputPathError, output_folder
from dashboard.core.reporting.impact_store import incident_window
from dashboard.core.telemetry.links import TRACE, LinksError, load_links
from dashboard.core.telemetry.query import Scope
from dashboard.core.telemetry.samples import with_trace_links
from dashboard.core.timeutil import utc

DEFAULT_SAMPLE = 500  # per group (affected, unaffected)
DEFAULT_SEED = 20250218
MAX_SAMPLE = 100_000
CONTROL_WINDOW = timedelta(hours=1)


class PacketError(WarroomError):
    """The packet cannot be exported as asked; the message says why."""


@dataclass(frozen=True)
class PacketResult:
    out_dir: Path
    manifest: dict

    @property
    def files(self) -> list[Path]:
        return [self.out_dir / f["name"] for f in self.manifest["files"]]


def suspect_versions(suspects: list[str], artifact_columns: dict[str, str]) -> dict[str, list[str]]:
    """artifact column -> suspect versions, from 'kind:version' suspects whose kind has a column."""
    out: dict[str, list[str]] = {}
    for s in suspects:
        kind, _, version = s.partition(":")
        if version and kind in artifact_columns:
            out.setdefault(artifact_columns[kind], []).append(version)
    return out


def export_packet(data_dir: DataDir | str | Path, incident_id: str, out_dir: str | Path,
                  sample: int = DEFAULT_SAMPLE, seed: int = DEFAULT_SEED, store=None,
                  force: bool = False) -> PacketResult:
    """Write the reproducer packet of `incident_id` into `out_dir` (new or empty; any folder with `force`)."""
    data = data_dir if isinstance(data_dir, DataDir) else DataDir(Path(data_dir))
    if not 1 <= sample <= MAX_SAMPLE:
        raise PacketError(f"sample must be between 1 and {MAX_SAMPLE:,} requests per group, got {sample}")
    try:
        out = output_folder(out_dir, force=force, data_root=data.root)
    except OutputPathError as exc:
        raise PacketError(str(exc)) from None
    try:
        state = Incidents.for_data_dir(data).get(incident_id)
    except IncidentStoreError as exc:
        raise PacketError(f"{data.incidents_db}: {exc}") from None
    if store is None:
        if not data.has_requests():
            raise PacketError(f"no telemetry in {data.requests}")
        from dashboard.core.telemetry.clickhouse_store import open_store

        store = open_store(data)
    now = utc(store.now())
    try:
        links = load_links(data)
    except LinksError as exc:
        raise PacketError(str(exc)) from None
    picked = sample_incident_requests(store, state, now, sample, seed, links)
    rows, totals, bad, by_time = picked.rows, picked.totals, picked.bad, picked.by_time
    start, end, scope_start = picked.start, picked.end, picked.scope_start
    artifact_cols = list(store.schema.artifacts.values())
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PacketError(f"{out}: could not create the folder ({exc.strerror or exc})") from None
    parquet = atomic_write_parquet(rows, out / "requests.parquet")
    jsonl = atomic_write_text(out / "requests.jsonl", _jsonl(rows))
    manifest = {
        "incident": {"id": state.id, "title": state.title, "type": state.type, "severity": state.severity,
                     "service": state.service, "status": state.status},
        "window": {"start": start.isoformat(), "end": end.isoformat(),
                   "control_start": scope_start.isoformat() if by_time else None},
        "filters": dict(state.segments),
        "suspects": list(state.suspects),
        "affected_definition": (
            "arrived in the incident window (unaffected: the hour before it), same segment" if by_time else
            "in the incident window and segment, served by a suspect version: "
            + "; ".join(f"{col} in {vs}" for col, vs in sorted(bad.items()))
            + " (unaffected: same window and segment, none of those versions)"),
        "sampling": {"method": "deterministic: rows ranked by hash(request_id, seed) within each group, "
                               "first `per_group` kept", "seed": seed, "per_group": sample},
        "counts": {"population": totals,
                   "sampled": {"affected": int(rows["affected"].sum()),
                               "unaffected": int((~rows["affected"]).sum())}},
        "versions": _versions(rows, artifact_cols),
        "columns": rows.columns,
        # trace_link is filled from this template (links.toml of the data folder); null without a trace id
        "links": {k: v for k, v in links.items() if k == TRACE},
        "files": [_file_entry(parquet, rows.height), _file_entry(jsonl, rows.height)],
        "as_of": now.isoformat(),
    }
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return PacketResult(out, manifest)


@dataclass(frozen=True)
class IncidentSample:
    rows: pl.DataFrame          # request columns + affected + trace_link
    totals: dict[str, int]      # population per group
    bad: dict[str, list[str]]   # artifact column -> suspect versions
    by_time: bool               # affected by arrival time (no suspect version)
    start: datetime
    end: datetime
    scope_start: datetime


def sample_incident_requests(store, state, now: datetime, per_group: int = DEFAULT_SAMPLE,
                             seed: int = DEFAULT_SEED, links: dict[str, str] | None = None) -> IncidentSample:
    """Affected and unaffected requests of the incident, each with its trace link (the packet's rows)."""
    start, end = incident_window(state, now)
    schema = store.schema
    artifact_cols = [c for c in schema.artifacts.values()]
    bad = suspect_versions(state.suspects, schema.artifacts)
    by_time = not bad
    scope_start = start - CONTROL_WINDOW if by_time else start
    params = {"artifact_cols": artifact_cols, "bad_versions": sorted({v for vs in bad.values() for v in vs}) or [""],
              "by_time": by_time, "incident_start": start, "seed": seed, "per_group": per_group}
    rows = store.run_sql("reporting_packet_sample", params, Scope.of(scope_start, end, dict(state.segments) or None))
    totals = {g: 0 for g in ("affected", "unaffected")}
    for flag, total in rows.group_by("affected").agg(pl.col("group_total").first()).iter_rows():
        totals["affected" if flag else "unaffected"] = int(total)
    rows = rows.drop("group_total")
    if "ts" in rows.columns:
        rows = rows.with_columns(pl.col("ts").dt.convert_time_zone("UTC"))
    rows = with_trace_links(rows, links or {})
    return IncidentSample(rows, totals, bad, by_time, start, end, scope_start)


def _jsonl(rows: pl.DataFrame) -> str:
    """One JSON object per request; timestamps as ISO 8601 UTC."""
    frame = rows.with_columns(
        [pl.col(c).dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ") for c, t in rows.schema.items() if isinstance(t, pl.Datetime)])
    return "".join(json.dumps(r, default=str) + "\n" for r in frame.iter_rows(named=True))


def _versions(rows: pl.DataFrame, artifact_cols: list[str]) -> dict:
    """Per artifact column: version -> {affected, unaffected} counts in the sample."""
    out = {}
    for col in artifact_cols:
        if col not in rows.columns:
            continue
        counts = rows.group_by(col, "affected").len().sort(col)
        per: dict[str, dict[str, int]] = {}
        for version, affected, n in counts.iter_rows():
            per.setdefault(str(version), {"affected": 0, "unaffected": 0})["affected" if affected else "unaffected"] = n
        out[col] = per
    return out


def _file_entry(path: Path, rows: int) -> dict:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"name": path.name, "rows": rows, "bytes": path.stat().st_size, "sha256": digest}


__all__ = ["export_packet", "PacketError", "PacketResult", "DEFAULT_SAMPLE", "DEFAULT_SEED"]
