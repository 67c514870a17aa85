"""`warroom ingest`: load a team's own request telemetry or release log into the data folder.

Two phases, so a bad file never leaves half an ingest behind:
1. read and validate every file (an unreadable one stops everything, nothing written);
2. write the quarantine file, the schema (if the mapping declares one) and the
   accepted rows, each atomically, undoing the earlier writes if a later one fails;
   a process killed in between leaves nothing that the next ingest does not
   complete or remove (commit.py).

Accepted rows land in a new uniquely named Parquet file with exactly the store
schema, so the query layer unions them with any other file of the store.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import polars as pl

from dashboard.core.datadir import DataDir, StoreWriteError, atomic_write_parquet, atomic_write_text
from dashboard.core.errors import WarroomError
from dashboard.core.telemetry import rollup
from dashboard.core.telemetry.contract import ARTIFACT_KINDS, RELEASE_SCHEMA, TelemetrySchema, read_schema, write_schema
from dashboard.core.telemetry.ingest.commit import pending_quarantine, publish, settle_pending
from dashboard.core.telemetry.ingest.dedupe import drop_duplicate_requests
from dashboard.core.telemetry.ingest.dimensions import check_constants, missing_dimension_warnings
from dashboard.core.telemetry.ingest.langfuse.validate import validate_langfuse
from dashboard.core.telemetry.ingest.manifest import committed_sources, digests_of, footer, partition
from dashboard.core.telemetry.ingest.prices import Pricing, price_results, price_warnings
from dashboard.core.telemetry.ingest.read import UnreadableFile, read_source
from dashboard.core.telemetry.ingest.validate import (
    RELEASE_RULES,
    FileResult,
    TableSpec,
    parse_defaults,
    request_rules,
    validate_file,
)
from dashboard.core.telemetry.links import save_links
from dashboard.core.telemetry.mapping import IngestMapping, MappingError
from dashboard.core.telemetry.otlp_read import request_reader

__all__ = [
    "IngestError",
    "MappingError",
    "SchemaConflict",
    "UnreadableFile",
    "IngestSummary",
    "ingest_requests",
    "ingest_releases",
]

TableKind = Literal["requests", "releases"]
SourceFormat = Literal["auto", "table", "otlp", "langfuse"]
DRY_RUN_SAMPLE = 20


class IngestError(WarroomError):
    """Writing failed; the store was left as it was."""


class SchemaConflict(WarroomError, ValueError):
    """The mapping's segments/artifacts disagree with the data already in the folder."""


@dataclass
class IngestSummary:
    kind: TableKind
    rows: int
    accepted: int
    quarantined: int
    quarantine_path: str | None
    written: str | None
    files: list[dict]
    ignored_columns: list[str]
    schema: TelemetrySchema
    phase_seconds: dict[str, float] = field(default_factory=dict)  # read_validate, write (for the benchmark)
    dry_run: bool = False
    quarantine_sample: list[dict] = field(default_factory=list)
    skipped: int = 0  # source rows that are not requests (rows = accepted + skipped + quarantined)
    scores: dict = field(default_factory=dict)  # Langfuse scores: rows, joined, unmatched, rejected, ...
    warnings: list[str] = field(default_factory=list)
    constants: dict[str, str] = field(default_factory=dict)  # --set
    priced: int = 0  # rows whose cost_usd came from [prices]
    already_ingested: list[dict] = field(default_factory=list)  # files skipped: the store already holds them

    def to_json_dict(self) -> dict:
        return {
            "kind": self.kind,
            "rows": self.rows,
            "accepted": self.accepted,
            "quarantined": self.quarantined,
            "quarantine_path": self.quarantine_path,
            "written": self.written,
            "files": self.files,
            "ignored_columns": self.ignored_columns,
            "segments": list(self.schema.segments),
            "artifacts": dict(self.schema.artifacts),
            **({"skipped": self.skipped} if self.skipped else {}),
            **({"scores": self.scores} if self.scores else {}),
            **({"set": dict(self.constants)} if self.constants else {}),
            **({"priced_rows": self.priced} if self.priced else {}),
            **({"already_ingested": self.already_ingested} if self.already_ingested else {}),
            "warnings": list(self.warnings),
            **({"dry_run": True, "quarantine_sample": self.quarantine_sample} if self.dry_run else {}),
        }

    @property
    def exit_code(self) -> int:
        """0 when something was stored or there was nothing to store; 1 when every row was rejected."""
        return 0 if self.accepted or self.quarantined == 0 else 1


def target_schema(data_dir: DataDir, mapping: IngestMapping | None) -> tuple[TelemetrySchema, bool]:
    """The store schema this ingest writes, and whether schema.json must be (re)written."""
    stored = read_schema(data_dir)
    if mapping is None or not mapping.declares_schema:
        return stored, False
    wanted = mapping.telemetry_schema(stored)
    same = set(wanted.segments) == set(stored.segments) and wanted.artifacts == stored.artifacts
    if same:
        # Keep the stored column order so every request file has the same layout.
        return stored, not data_dir.schema_file.exists()
    if data_dir.has_requests():
        raise SchemaConflict(
            f"{data_dir.root} already holds requests with segments {list(stored.segments)} and artifacts "
            f"{dict(stored.artifacts)}; the mapping declares segments {list(wanted.segments)} and artifacts "
            f"{dict(wanted.artifacts)}. Declare the same segments and artifacts, or ingest into a new --data folder."
        )
    return wanted, True


def request_spec(schema: TelemetrySchema, mapping: IngestMapping,
                 constants: dict[str, str] | None = None) -> TableSpec:
    store_schema = schema.request_schema()
    return TableSpec(
        kind="requests",
        schema=store_schema,
        rules=request_rules(store_schema),
        columns=dict(mapping.columns),
        defaults=dict(mapping.defaults),
        timestamp=mapping.timestamp,
        booleans=mapping.booleans.lookup(),
        constants=dict(constants or {}),
    )


def release_spec(schema: TelemetrySchema, mapping: IngestMapping) -> TableSpec:
    return TableSpec(
        kind="releases",
        schema=dict(RELEASE_SCHEMA),
        rules=list(RELEASE_RULES),
        columns=dict(mapping.releases.columns),
        defaults=dict(mapping.releases.defaults),
        timestamp=mapping.release_timestamp(),
        booleans=mapping.booleans.lookup(),
        extra_checks=[_release_checks(schema, mapping.releases.kinds)],
    )


def _release_checks(schema: TelemetrySchema, aliases: dict[str, str]):
    known = sorted(set(ARTIFACT_KINDS) | set(schema.artifacts))
    # A release log may name the kind by its request column (prompt_version) or by a word of its own.
    words = {column: kind for kind, column in schema.artifacts.items()}
    words.update({word.strip().lower(): kind for word, kind in aliases.items()})
    segments = "|".join(sorted(schema.segments, key=len, reverse=True)) or "(?!)"
    scope_pattern = rf"^\s*(?:{segments})\s*=\s*[^,=]+?(?:\s*,\s*(?:{segments})\s*=\s*[^,=]+?)*\s*$"

    def check(typed: pl.DataFrame):
        normalized = typed.select(
            pl.col("artifact").str.strip_chars().str.to_lowercase().replace(words).alias("artifact"))
        unknown = (normalized["artifact"].is_not_null() & ~normalized["artifact"].is_in(known))
        bad_scope = (typed["scope"].is_not_null() & ~typed["scope"].str.contains(scope_pattern)).fill_null(False)
        # a release link is shown to every reader: only web addresses, never javascript: or file:
        bad_url = (typed["url"].is_not_null() & ~typed["url"].str.contains(r"(?i)^https?://\S+$")).fill_null(False)
        problems = [
            (unknown, "artifact", f"unknown artifact kind (known: {', '.join(known)})"),
            (bad_url, "url", "not an http(s) URL"),
            (bad_scope, "scope",
             f"scope must look like segment=value (segments: {', '.join(schema.segments) or 'none declared'})"),
        ]
        return typed.with_columns(normalized["artifact"]), problems

    return check


def _validate_all(paths: Iterable[str | Path], spec: TableSpec, mapping_name: str,
                  reader=read_source) -> list[FileResult]:
    paths = list(paths)
    if not paths:
        raise UnreadableFile("(no files)", "give at least one file to ingest")
    label = "defaults" if spec.kind == "requests" else "releases.defaults"
    defaults = parse_defaults(spec, f"{mapping_name}: {label}")
    constants = parse_defaults(replace(spec, defaults=dict(spec.constants)), "--set") if spec.constants else {}
    return [validate_file(reader(path), spec, defaults, constants) for path in paths]


def _unique_name(prefix: str = "ingest") -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{prefix}-{stamp}-{uuid.uuid4().hex[:8]}.parquet"


def _store(kind: TableKind, results: list[FileResult], data_dir: DataDir, schema: TelemetrySchema,
           save_schema: bool, more_quarantine: Sequence[pl.DataFrame] = (),
           sources: Sequence[tuple[str, str]] = ()) -> tuple[str | None, str | None]:
    """Write quarantine, schema and accepted rows; on any failure undo what was written.

    Both files carry the load manifest's footer: the (digest, name) of every source read.
    """
    accepted_frames = [r.accepted for r in results if r.accepted.height]
    quarantine_frames = [r.quarantined for r in results if r.quarantined.height] + list(more_quarantine)
    name = _unique_name()
    quarantine_path = data_dir.quarantine / f"{kind}-{name}" if quarantine_frames else None
    target_dir = data_dir.requests if kind == "requests" else data_dir.releases
    written_path = target_dir / name if accepted_frames else None
    previous_schema = data_dir.schema_file.read_text() if data_dir.schema_file.exists() else None
    done: list[Path] = []
    schema_saved = committed = False
    manifest = footer(list(sources), written_path.name if written_path else None,
                      quarantine_path.name if quarantine_path else None, datetime.now(UTC))
    try:
        if quarantine_path is not None:
            quarantine = pl.concat(quarantine_frames, how="diagonal_relaxed")
            done.append(atomic_write_parquet(quarantine, pending_quarantine(quarantine_path), metadata=manifest))
        if save_schema:
            schema_saved = True
            write_schema(data_dir, schema)
        if written_path is not None:
            accepted = pl.concat(accepted_frames, how="vertical")
            if not accepted["ts"].is_sorted():
                # Time-ordered row groups let queries skip whole groups by their min/max ts.
                accepted = accepted.sort("ts")
            atomic_write_parquet(accepted, written_path, metadata=manifest)  # the commit (commit.py)
            committed = True
        if quarantine_path is not None:
            publish(done[0], quarantine_path)
    except BaseException as exc:
        for path in done if not committed else ():  # once committed, the next ingest completes the rest
            path.unlink(missing_ok=True)
        if schema_saved and not committed:
            if previous_schema is None:
                data_dir.schema_file.unlink(missing_ok=True)
            else:
                atomic_write_text(data_dir.schema_file, previous_schema)
        if isinstance(exc, OSError):
            message = str(exc) if isinstance(exc, StoreWriteError) else f"could not write to {data_dir.root} ({exc})"
            raise IngestError(message) from exc
        raise
    # a reader would build missing rollups too, but the writer pays, not the first view; run even when
    # nothing was accepted: it finishes what an ingest killed after its commit left half-built
    rollup.maintain(data_dir)
    return (str(quarantine_path) if quarantine_path else None), (str(written_path) if written_path else None)


def _ingest(kind: TableKind, paths: Iterable[str | Path], data_dir: DataDir,
            mapping: IngestMapping | None, mapping_name: str, dry_run: bool = False,
            constants: dict[str, str] | None = None, fmt: SourceFormat = "auto",
            reload: bool = False) -> IngestSummary:
    effective = mapping or IngestMapping()
    schema, save_schema = target_schema(data_dir, mapping)
    effective.check_fields(schema, mapping_name)
    constants = dict(constants or {})
    if kind == "requests":
        check_constants(constants, schema)
        spec = request_spec(schema, effective, constants)
    else:
        spec = release_spec(schema, effective)
    paths = list(paths)
    if not paths:
        raise UnreadableFile("(no files)", "give at least one file to ingest")
    if not dry_run:
        settle_pending(data_dir)  # what a killed ingest left, before the manifest and the duplicate check read it
    began = time.perf_counter()
    keys = [str(Path(p)) for p in paths]  # how a FileResult names its file
    digests = digests_of(keys)
    committed = {} if reload else committed_sources(data_dir, kind)
    more_quarantine: list[pl.DataFrame] = []
    scores: dict = {}
    if kind == "requests" and fmt == "langfuse":
        # scores and traces files only join onto observations: read them all, drop committed observations after
        lf = validate_langfuse(paths, spec, parse_defaults(spec, f"{mapping_name}: defaults"), effective.langfuse)
        results, more_quarantine, scores = lf.results, lf.score_rejections, lf.scores
        kept, skipped = partition([r.path for r in results], digests, committed)
        results = [r for r in results if r.path in kept]
        held = [k for k in keys if digests.get(k) in committed]
        more_quarantine = [f.filter(~pl.col("source_file").is_in(held)) for f in more_quarantine]
        read = keys
    else:
        read, skipped = partition(keys, digests, committed)
        reader = request_reader(fmt, effective, schema) if kind == "requests" else read_source
        results = _validate_all(read, spec, mapping_name, reader) if read else []
    warnings = [f"{skip['file']}: {skip['reason']}" for skip in skipped]
    pricing = Pricing()
    if kind == "requests":
        warnings += missing_dimension_warnings(results, schema)
        results, pricing = price_results(results, effective, schema)
        warnings += price_warnings(pricing)
        results = drop_duplicate_requests(results, data_dir)
    validated = time.perf_counter()
    if dry_run:
        quarantine_path, written = None, None
    else:
        sources = list(dict.fromkeys((digests[p], Path(p).name) for p in read if p in digests))
        quarantine_path, written = _store(kind, results, data_dir, schema, save_schema, more_quarantine, sources)
        if effective.links:
            save_links(data_dir, effective.links)
    phases = {"read_validate": validated - began, "write": time.perf_counter() - validated}
    ignored = sorted({c for r in results for c in r.ignored_columns})
    return IngestSummary(
        kind=kind,
        rows=sum(r.rows for r in results),
        accepted=sum(r.accepted.height for r in results),
        quarantined=sum(r.quarantined.height for r in results),
        skipped=sum(r.skipped for r in results),
        scores=scores,
        quarantine_path=quarantine_path,
        written=written,
        files=[r.summary() for r in results],
        ignored_columns=ignored,
        schema=schema,
        phase_seconds=phases,
        dry_run=dry_run,
        quarantine_sample=_first_rejections(results) if dry_run else [],
        warnings=warnings,
        constants=constants,
        priced=pricing.priced,
        already_ingested=skipped,
    )


def _first_rejections(results: list[FileResult], limit: int = DRY_RUN_SAMPLE) -> list[dict]:
    """A dry run writes no quarantine file, so it shows the first rejected rows instead."""
    sample: list[dict] = []
    for result in results:
        if len(sample) >= limit or not result.quarantined.height:
            continue
        rows = result.quarantined.sort("row_number").head(limit - len(sample))
        sample.extend(rows.select("source_file", "row_number", "field", "reason").to_dicts())
    return sample


def ingest_requests(paths: Iterable[str | Path], data_dir: DataDir, mapping: IngestMapping | None = None,
                    mapping_name: str = "mapping", dry_run: bool = False,
                    constants: dict[str, str] | None = None, fmt: SourceFormat = "auto",
                    reload: bool = False) -> IngestSummary:
    """Validate request telemetry files and add their accepted rows to the store.

    `mapping_name` (usually the mapping file's path) prefixes errors about the mapping;
    `dry_run` checks everything and reports, but writes nothing; `constants` (`--set`)
    give a service, segment or artifact column one value for every row; `fmt` is
    "otlp" for OpenTelemetry traces, "langfuse" for Langfuse observations (and scores)
    exports, "table" for Parquet/CSV/JSONL, "auto" to tell OTLP and tables apart by the file.
    A file the store already holds (manifest.py) is skipped and reported, unless `reload`.
    """
    return _ingest("requests", paths, data_dir, mapping, mapping_name, dry_run, constants, fmt, reload)


def ingest_releases(paths: Iterable[str | Path], data_dir: DataDir, mapping: IngestMapping | None = None,
                    mapping_name: str = "mapping", dry_run: bool = False, reload: bool = False) -> IngestSummary:
    """Validate release-log files and add their accepted events to the store (a file already held is skipped)."""
    return _ingest("releases", paths, data_dir, mapping, mapping_name, dry_run, reload=reload)
