"""Langfuse observations exports as contract-shaped request rows.

Returns, per observations file, a `LangfuseObservations`: a SourceFile whose
frame holds one row per GENERATION observation under contract column names
(ts, request_id, trace_id, span_id, latency_ms, ttft_ms, tokens, cost,
error_type, model/prompt/app versions, environment, ...), the row problems
found while deriving them, and how many other observations were skipped and
of which type. The ordinary validate/write path of `ingest` does the rest.

Both documented shapes are read, whatever the file type:
- the UI export (CSV, JSON array, JSONL): camelCase keys as the public API
  returns them (`traceId`, `startTime`, `usageDetails`, `promptName`, ...);
- the blob-storage export (Parquet, CSV, JSONL): snake_case columns of the
  observations table (`trace_id`, `start_time`, `provided_model_name`,
  `usage_details` as a map, ...).
Column names are matched without case or underscores, so both spellings meet.
Maps (`usage_details`, `cost_details`) may be JSON text, JSON objects or
Parquet maps.

Choices (see docs/BRING_YOUR_OWN_TELEMETRY.md):
- a request is a GENERATION observation; SPAN, EVENT, TOOL, AGENT, ... are skipped
  and counted;
- `prompt_version` is "<prompt name>:<version>" ("support-answer:7"): a version
  number means something only within its prompt, and cohorts must not mix
  version 7 of two prompts; `prompt_name` is kept as its own column too;
- input_tokens counts every input token (Langfuse's "input" plus its input_*
  details such as input_cached_tokens, which Langfuse books apart), and the
  cached part is `cached_input_tokens`; output_tokens likewise;
- `level` ERROR is an error: error_type is the exception class the status
  message starts with ("openai.RateLimitError: ..."), else its first line (at
  most 120 characters), or "error" when there is none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from dashboard.core.telemetry.ingest.langfuse.mapping import LangfuseMapping
from dashboard.core.telemetry.ingest.langfuse.usage import parse_maps, read_maps, total_cost, usage_tokens
from dashboard.core.telemetry.ingest.parse import parse_float, parse_string, parse_timestamp
from dashboard.core.telemetry.ingest.read import SourceFile, UnreadableFile, read_bytes, read_source
from dashboard.core.telemetry.mapping import TimestampSpec

REQUEST_TYPE = "GENERATION"
ERROR_TYPE_CHARS = 120
ERROR_CLASS = r"^([A-Za-z_][\w.]*(?:Error|Exception|Timeout|Exceeded))\b"

# contract-side name -> Langfuse column spellings (compared without case and underscores)
OBSERVATION_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "trace_id": ("trace_id",),
    "type": ("type",),
    "name": ("name",),
    "start_time": ("start_time",),
    "end_time": ("end_time",),
    "completion_start_time": ("completion_start_time",),
    "model": ("provided_model_name", "model"),
    "level": ("level",),
    "status_message": ("status_message",),
    "prompt_name": ("prompt_name",),
    "prompt_version": ("prompt_version",),
    "usage_details": ("usage_details", "usage"),
    "cost_details": ("cost_details",),
    "total_cost": ("total_cost", "calculated_total_cost"),
    "input_usage": ("input_usage", "prompt_tokens"),
    "output_usage": ("output_usage", "completion_tokens"),
    "latency": ("latency",),                      # seconds (UI export), used only without an end time
    "time_to_first_token": ("time_to_first_token",),  # seconds (UI export)
    "environment": ("environment",),
    "release": ("release",),
    "user_id": ("user_id",),
    "session_id": ("session_id",),
    "metadata": ("metadata",),
}
SCORE_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "trace_id": ("trace_id",),
    "observation_id": ("observation_id",),
    "name": ("name",),
    "value": ("value",),
    "string_value": ("string_value",),
    "data_type": ("data_type",),
    "timestamp": ("timestamp",),
}
TRACE_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "release": ("release",),
    "environment": ("environment",),
    "user_id": ("user_id",),
    "session_id": ("session_id",),
}
# what a generation takes from its trace when its own row does not say
TRACE_INHERITED = ("release", "environment", "user_id", "session_id")


def _key(name: str) -> str:
    return name.replace("_", "").lower()


def locate(columns: list[str], fields: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Langfuse field -> the file's column holding it (first spelling present)."""
    by_key = {_key(c): c for c in columns}
    found = {}
    for name, spellings in fields.items():
        for spelling in spellings:
            if _key(spelling) in by_key:
                found[name] = by_key[_key(spelling)]
                break
    return found


def kind_of(columns: list[str]) -> str | None:
    """'observations', 'scores', 'traces' or None, from a file's column names."""
    keys = {_key(c) for c in columns}
    if {"id", "traceid", "type", "starttime"} <= keys:
        return "observations"
    if {"traceid", "name", "value"} <= keys and "starttime" not in keys:
        return "scores"
    if {"id", "timestamp"} <= keys and keys & {"release", "sessionid", "userid", "tags"} and "value" not in keys \
            and "traceid" not in keys:
        return "traces"
    return None


def trace_fields(source: SourceFile) -> pl.DataFrame:
    """trace_id plus the trace-level fields a generation inherits (release, environment, user, session)."""
    found = locate(source.frame.columns, TRACE_FIELDS)
    return pl.DataFrame({"trace_id": _text(_column(source.frame, found, "id")),
                         **{f"trace_{name}": _text(_column(source.frame, found, name)) for name in TRACE_INHERITED}})


def read_export(path: str | Path) -> SourceFile:
    """Read a Langfuse export file: Parquet, CSV, JSONL (optionally .gz) or the UI's JSON array."""
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".json":
        return _read_json_array(path)
    if suffixes and suffixes[-1] in (".jsonl", ".ndjson") or suffixes[-2:] in ([".jsonl", ".gz"], [".ndjson", ".gz"]):
        return _read_json_lines(path, suffixes[-1] == ".gz")
    return read_source(path)


def _read_json_lines(path: Path, compressed: bool) -> SourceFile:
    """JSONL with Python's json: Langfuse's input/output/metadata change shape from row to row
    (text, a list of messages, an object), which a columnar reader cannot type."""
    if not path.is_file():
        raise UnreadableFile(path, "file not found")
    raw = read_bytes(path, compressed)
    records: list[tuple[int, object]] = []
    for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append((number, json.loads(line)))
        except json.JSONDecodeError:
            records.append((number, line.strip()))
    if records and not any(isinstance(r, dict) for _, r in records):
        raise UnreadableFile(path, f"not a JSONL file: no line is a JSON object (line {records[0][0]})")
    return _records_source(path, "jsonl", records)


def _read_json_array(path: Path) -> SourceFile:
    if not path.is_file():
        raise UnreadableFile(path, "file not found")
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnreadableFile(path, f"not a JSON document ({exc})") from None
    if isinstance(records, dict):  # the public API wraps rows as {"data": [...], "meta": {...}}
        records = records.get("data", records)
    if not isinstance(records, list):
        raise UnreadableFile(path, "expected a JSON array of observations or scores")
    return _records_source(path, "json", list(enumerate(records, start=1)))


def _records_source(path: Path, fmt: str, records: list[tuple[int, object]]) -> SourceFile:
    good = [(n, r) for n, r in records if isinstance(r, dict)]
    bad = [(n, (r if isinstance(r, str) else json.dumps(r))[:200]) for n, r in records if not isinstance(r, dict)]
    columns = list(dict.fromkeys(k for _, r in good for k in r))
    # nested values stay JSON text, like read_source does for JSONL
    table = {c: [_as_cell(r.get(c)) for _, r in good] for c in columns}
    frame = pl.DataFrame(table, schema={c: pl.String for c in columns}) if columns else pl.DataFrame()
    numbers = pl.Series([n for n, _ in good], dtype=pl.Int64)
    bad_lines = pl.DataFrame({"row_number": [n for n, _ in bad], "line": [t for _, t in bad]},
                             schema={"row_number": pl.Int64, "line": pl.String})
    return SourceFile(path, fmt, frame, numbers, bad_lines)


def _as_cell(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- observations ----------------------------------------------------------------

@dataclass
class LangfuseObservations:
    source: SourceFile                      # GENERATION rows under contract names
    problems: list[tuple[pl.Series, str, str]]  # (row mask, contract field, message), aligned with source rows
    skipped: dict[str, int]                 # observation type -> count
    used_columns: list[str]                 # the export's columns that fed something
    derived_columns: list[str]              # the contract-named columns made from them
    all_columns: list[str]
    total_rows: int
    generations: pl.DataFrame = field(default_factory=pl.DataFrame)  # request_id, trace_id, ts (for score joins)


def _column(frame: pl.DataFrame, found: dict[str, str], name: str, dtype=pl.String) -> pl.Series:
    if name in found:
        return frame[found[name]]
    return pl.Series(name, [None] * frame.height, dtype=dtype)


def _text(series: pl.Series) -> pl.Series:
    return parse_string(series).values.cast(pl.String)


def observations(source: SourceFile, mapping: LangfuseMapping,
                 traces: pl.DataFrame | None = None) -> LangfuseObservations:
    """`traces` (from trace_fields) fills release, environment, user and session where a row lacks them."""
    frame = source.frame
    found = locate(frame.columns, OBSERVATION_FIELDS)
    types = _text(_column(frame, found, "type")).str.strip_chars().str.to_uppercase()
    is_request = (types == REQUEST_TYPE).fill_null(False)
    skipped = (pl.DataFrame({"type": types.fill_null("(no type)")}).filter(~is_request)
               .group_by("type").len().sort("type"))
    gens = frame.filter(is_request)
    problems: list[tuple[pl.Series, str, str]] = []
    spec = TimestampSpec()

    def when(name: str, contract: str | None) -> pl.Series:
        parsed = parse_timestamp(_column(gens, found, name), spec)
        if contract is not None:  # None: parsed for its value only, its problems are reported elsewhere
            for mask, message in parsed.problems:
                problems.append((mask, contract, f"column {found.get(name, name)!r}: {message}"))
        return parsed.values

    start = when("start_time", None)  # ts itself is checked by the validate path, from the raw value
    end = when("end_time", "latency_ms")
    first_token = when("completion_start_time", "ttft_ms")
    latency = ((end - start).dt.total_microseconds() / 1000.0).alias("latency_ms")
    seconds = parse_float(_column(gens, found, "latency")).values
    latency = latency.fill_null(seconds * 1000.0) if "latency" in found else latency
    ttft = ((first_token - start).dt.total_microseconds() / 1000.0).alias("ttft_ms")
    if "time_to_first_token" in found:
        ttft = ttft.fill_null(parse_float(gens[found["time_to_first_token"]]).values * 1000.0)
    negative = (latency < 0).fill_null(False)
    if negative.any():
        problems.append((negative, "latency_ms", "end time before start time"))

    tokens, unreadable = read_maps(_column(gens, found, "usage_details"), usage_tokens)
    if unreadable.any():
        problems.append((unreadable, "input_tokens",
                         f"column {found.get('usage_details', 'usage_details')!r}: not a map of token counts"))
    input_tokens = pl.Series("input_tokens", [t[0] for t in tokens], dtype=pl.Int64)
    output_tokens = pl.Series("output_tokens", [t[1] for t in tokens], dtype=pl.Int64)
    for name, target in (("input_usage", "input_tokens"), ("output_usage", "output_tokens")):
        if name in found:  # flat usage columns of the UI export
            flat = parse_float(gens[found[name]]).values.round(0).cast(pl.Int64)
            if target == "input_tokens":
                input_tokens = input_tokens.fill_null(flat)
            else:
                output_tokens = output_tokens.fill_null(flat)

    totals, unreadable = read_maps(_column(gens, found, "cost_details"), total_cost)
    if unreadable.any():
        problems.append((unreadable, "cost_usd",
                         f"column {found.get('cost_details', 'cost_details')!r}: not a map of costs"))
    cost = pl.Series("cost_usd", [t[0] for t in totals], dtype=pl.Float64)
    if "total_cost" in found:
        cost = cost.fill_null(parse_float(gens[found["total_cost"]]).values)

    level = _text(_column(gens, found, "level")).str.strip_chars().str.to_uppercase()
    message = _text(_column(gens, found, "status_message")).str.strip_chars()
    first_line = message.str.split("\n").list.first()
    # "openai.RateLimitError: Error code: 429 ..." -> "openai.RateLimitError": one class, not one value per message
    error_class = first_line.str.extract(ERROR_CLASS, 1)
    first_line = error_class.fill_null(first_line.str.slice(0, ERROR_TYPE_CHARS))
    error_type = (pl.DataFrame({"level": level, "msg": first_line})
                  .select(pl.when(pl.col("level") == "ERROR")
                          .then(pl.coalesce(pl.when(pl.col("msg") != "").then(pl.col("msg")), pl.lit("error"))))
                  .to_series())

    prompt_name = _text(_column(gens, found, "prompt_name"))
    prompt_number = _text(_column(gens, found, "prompt_version")).str.replace(r"\.0$", "")
    prompt_version = (pl.DataFrame({"n": prompt_name, "v": prompt_number})
                      .select(pl.when(pl.col("v").is_not_null())
                              .then(pl.concat_str(pl.col("n").fill_null("prompt"), pl.lit(":"), pl.col("v"))))
                      .to_series())

    ids = _text(_column(gens, found, "id"))
    trace_ids = _text(_column(gens, found, "trace_id"))
    columns = {
        "ts": _column(gens, found, "start_time", pl.String),
        "request_id": ids,
        "trace_id": trace_ids,
        "span_id": ids,
        "latency_ms": latency,
        "ttft_ms": ttft,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cached_input_tokens": pl.Series([t[2] for t in tokens], dtype=pl.Int64),
        "cost_usd": cost,
        "error_type": error_type,
        "model_version": _text(_column(gens, found, "model")),
        "prompt_version": prompt_version,
        "prompt_name": prompt_name,
        "app_version": _text(_column(gens, found, "release")),
        "environment": _text(_column(gens, found, "environment")),
        "user_id": _text(_column(gens, found, "user_id")),
        "session_id": _text(_column(gens, found, "session_id")),
        "generation": _text(_column(gens, found, "name")),
    }
    if mapping.metadata:
        meta, bad_meta = parse_maps(_column(gens, found, "metadata"))
        if bad_meta.any():
            problems.append((bad_meta, "metadata", f"column {found.get('metadata', 'metadata')!r}: not a JSON object"))
        for store_column, key in mapping.metadata.items():
            columns[store_column] = pl.Series([_as_cell(m.get(key)) if m else None for m in meta], dtype=pl.String)
    shaped = pl.DataFrame({name: series.alias(name) for name, series in columns.items()})
    if traces is not None and traces.height:
        inherit = {"release": "app_version", "environment": "environment", "user_id": "user_id",
                   "session_id": "session_id"}
        shaped = (shaped.join(traces.unique("trace_id", keep="last"), on="trace_id", how="left", maintain_order="left")
                  .with_columns(pl.coalesce(column, f"trace_{field_name}").alias(column)
                                for field_name, column in inherit.items())
                  .drop([f"trace_{name}" for name in TRACE_INHERITED]))
    # the export's own values ride along, so a quarantined row shows what the file said
    shaped = shaped.hstack([gens[c] for c in gens.columns if c not in columns])
    row_numbers = source.row_numbers.filter(is_request)
    used = sorted(set(found.values()))
    return LangfuseObservations(
        source=SourceFile(source.path, f"langfuse-{source.format}", shaped, row_numbers, source.bad_lines),
        problems=[p for p in problems if p[0].any()],
        skipped=dict(skipped.iter_rows()),
        used_columns=used,
        derived_columns=list(columns),
        all_columns=list(frame.columns),
        total_rows=source.rows,
        generations=pl.DataFrame({"request_id": ids, "trace_id": trace_ids, "ts": start}),
    )
