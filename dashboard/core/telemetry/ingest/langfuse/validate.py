"""`--format langfuse`: observations and scores exports through the ordinary validate path.

`validate_langfuse(paths, spec, defaults, mapping)` returns one FileResult
per observations file (accepted GENERATION rows with their scores, quarantined
rows with reasons, skipped observations counted), the quarantine rows of
score files, and the score counts for the summary. Which file is which is
read from its columns, so the files may come in any order.
"""

from __future__ import annotations

import csv
import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from dashboard.core.telemetry.ingest.langfuse.export import kind_of, observations, read_export, trace_fields
from dashboard.core.telemetry.ingest.langfuse.mapping import LangfuseMapping
from dashboard.core.telemetry.ingest.langfuse.scores import join_scores
from dashboard.core.telemetry.ingest.read import SourceFile, UnreadableFile
from dashboard.core.telemetry.ingest.validate import FileResult, TableSpec, validate_file


@dataclass
class LangfuseResult:
    results: list[FileResult]
    score_rejections: list[pl.DataFrame] = field(default_factory=list)
    scores: dict = field(default_factory=dict)


def looks_like_langfuse(path: str | Path) -> bool:
    """True when the file's columns are a Langfuse observations, scores or traces export.

    Reads only the column names (a CSV header, a JSONL file's first object, the
    Parquet schema), so guessing the format costs nothing on a large flat table.
    """
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes]
    try:
        if suffixes[-1:] in ([".parquet"], [".pq"]):
            columns = list(pl.read_parquet_schema(path))
        elif suffixes[-1:] == [".json"]:
            columns = list(read_export(path).frame.columns)  # the UI's JSON export is one array
        else:
            opener = gzip.open if suffixes[-1:] == [".gz"] else open
            with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
                first = next((line for line in fh if line.strip()), "")
            if first.lstrip().startswith("{"):
                parsed = json.loads(first)
                columns = list(parsed) if isinstance(parsed, dict) else []
            else:
                columns = next(csv.reader([first], delimiter="\t" if ".tsv" in suffixes else ","), [])
    except (OSError, UnreadableFile, ValueError, IndexError, StopIteration, pl.exceptions.PolarsError):
        return False
    return kind_of(columns) is not None


def validate_langfuse(paths: list[str | Path], spec: TableSpec, defaults: dict[str, pl.Series],
                      mapping: LangfuseMapping) -> LangfuseResult:
    obs_sources: list[SourceFile] = []
    score_sources: list[SourceFile] = []
    trace_sources: list[SourceFile] = []
    for path in paths:
        source = read_export(path)
        kind = kind_of(source.frame.columns)
        if kind == "observations":
            obs_sources.append(source)
        elif kind == "scores":
            score_sources.append(source)
        elif kind == "traces":
            trace_sources.append(source)
        elif source.frame.width == 0:
            obs_sources.append(source)  # an empty export: nothing to add, reported as 0 rows
        else:
            raise UnreadableFile(path, "not a Langfuse observations export (id, traceId, type, startTime), "
                                       f"scores export (traceId, name, value) or traces export (id, timestamp, "
                                       f"release); the file's columns are "
                                       f"{sorted(source.frame.columns)}")
    if not obs_sources:
        raise UnreadableFile(paths[0], "give the observations export too: scores alone hold no requests")
    if score_sources and not mapping.scores:
        raise UnreadableFile(score_sources[0].path, "a scores export needs [langfuse.scores] in the mapping to say "
                                                    "which score is quality_score, user_feedback or task_success")
    traces = pl.concat([trace_fields(s) for s in trace_sources]) if trace_sources else None
    shaped = [observations(s, mapping, traces) if s.frame.width else None for s in obs_sources]
    generations = [s.generations for s in shaped if s is not None and s.generations.height]
    gens = pl.concat(generations) if generations else pl.DataFrame(
        schema={"request_id": pl.String, "trace_id": pl.String, "ts": pl.Datetime("us", "UTC")})
    joined = join_scores(score_sources, gens, mapping) if score_sources else None
    results = []
    for source, lf in zip(obs_sources, shaped, strict=True):
        if lf is None:
            results.append(validate_file(source, spec, defaults))
            continue
        frame = lf.source.frame
        if joined is not None and joined.measures.height:
            frame = frame.join(joined.measures, on="request_id", how="left", maintain_order="left")
        problems = lf.problems
        def with_problems(typed, problems=problems):
            return typed, problems

        checked = TableSpec(**{**spec.__dict__, "extra_checks": [*spec.extra_checks, with_problems]})
        result = validate_file(SourceFile(lf.source.path, lf.source.format, frame, lf.source.row_numbers,
                                          lf.source.bad_lines), checked, defaults)
        result.rows = lf.total_rows
        # what the store does not keep: export columns that fed nothing, and derived ones the
        # schema has no column for (e.g. environment, unless it is declared a segment)
        unstored = [c for c in lf.derived_columns if c not in spec.schema]
        result.ignored_columns = sorted({c for c in lf.all_columns if c not in lf.used_columns} | set(unstored))
        result.skipped = sum(lf.skipped.values())
        result.skipped_detail = lf.skipped
        results.append(result)
    return LangfuseResult(results, joined.rejected if joined else [], joined.counts if joined else {})
