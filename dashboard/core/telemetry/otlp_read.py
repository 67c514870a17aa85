"""Reading an OTLP traces file (JSON Lines, JSON, protobuf; any of them gzip'd) as a SourceFile.

The encoding is recognised from the bytes, not trusted from the name: after
gunzip, a file starting with `{` is one OTLP JSON document or (if it is not a
single document) JSON Lines, one document per line, as the Collector's file
exporter writes them; anything else is protobuf. A JSONL line that is not an
OTLP document is quarantined with its line number; the other lines are read.

Row numbers of OTLP input are span ordinals: the n-th span of the file,
counting every span (skipped ones too); the quarantine's `location` column
says on which line or in which message it was.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from dashboard.core.telemetry.contract import TelemetrySchema
from dashboard.core.telemetry.ingest.read import FORMATS, SourceFile, UnreadableFile, file_bytes, read_source
from dashboard.core.telemetry.mapping import IngestMapping, MappingError
from dashboard.core.telemetry.otlp_decode import (
    OtlpDecodeError,
    decode_json_document,
    decode_protobuf,
    gunzip_if_needed,
    iter_json_lines,
)
from dashboard.core.telemetry.otlp_requests import Span, request_rows, spans_of

OTLP_SUFFIXES = (".pb", ".binpb", ".protobuf")


def sniff_otlp(path: Path) -> bool:
    """Whether a .json/.jsonl file holds OTLP traces (its first line has resourceSpans)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
        head = gunzip_if_needed(head) if not head.startswith(b"\x1f\x8b") else _gunzip_head(path)
    except (OSError, OtlpDecodeError):
        return False
    return b'"resourceSpans"' in head or b'"resource_spans"' in head


def _gunzip_head(path: Path) -> bytes:
    import gzip

    with gzip.open(path, "rb") as fh:
        return fh.read(4096)


def decode_payload(raw: bytes) -> tuple[str, list[tuple[str, list]], list[tuple[int, str, str]]]:
    """(format, [(location, messages)], [(line, text, problem)]) of an OTLP payload."""
    raw = gunzip_if_needed(raw)
    stripped = raw.lstrip()
    if not stripped.startswith(b"{"):
        return "otlp-protobuf", [(f"message {i}", [m]) for i, m in enumerate(decode_protobuf(raw), start=1)], []
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        document = None
    if document is not None:
        return "otlp-json", [("document", [decode_json_document(document)])], []
    parts, bad = [], []
    for number, line in iter_json_lines(raw):
        try:
            parts.append((f"line {number}", [decode_json_document(json.loads(line))]))
        except (json.JSONDecodeError, UnicodeDecodeError):
            bad.append((number, line.decode("utf-8", "replace").strip(), "line is not JSON"))
        except OtlpDecodeError as exc:
            bad.append((number, line.decode("utf-8", "replace").strip(), str(exc)))
    if not parts and bad:
        raise OtlpDecodeError(f"no line is an OTLP traces document (line {bad[0][0]}: {bad[0][2]})")
    return "otlp-jsonl", parts, bad


def spans_of_payload(raw: bytes) -> tuple[str, list[Span], list[tuple[int, str, str]]]:
    fmt, parts, bad = decode_payload(raw)
    spans: list[Span] = []
    for location, messages in parts:
        spans.extend(spans_of(messages, location))
    return fmt, spans, bad


def read_otlp(path: str | Path, attribute_columns: dict[str, str], store_columns: list[str]) -> SourceFile:
    """An OTLP traces file as request rows named by the store's columns."""
    path = Path(path)
    raw = file_bytes(path)
    try:
        fmt, spans, bad = spans_of_payload(raw)
    except OtlpDecodeError as exc:
        raise UnreadableFile(path, f"not OTLP trace data: {exc}") from None
    rows = request_rows(spans, attribute_columns, store_columns)
    bad_lines = pl.DataFrame({
        "row_number": pl.Series([b[0] for b in bad], dtype=pl.Int64),
        "line": pl.Series([b[1] for b in bad], dtype=pl.String),
        "reason": pl.Series([f"line {b[0]}: {b[2]}" for b in bad], dtype=pl.String),
    })
    return SourceFile(path, fmt, rows.frame, rows.row_numbers, bad_lines, skipped=rows.skipped,
                      skipped_detail=rows.skipped_detail, contract_named=True)


SOURCE_FORMATS: tuple[str, ...] = ("auto", "table", "otlp", "langfuse")


def is_otlp_file(path: Path) -> bool:
    """OTLP by name (.pb, .json) or, for JSON Lines, by a first line holding resourceSpans."""
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    last = suffixes[-1] if suffixes else ""
    if last in OTLP_SUFFIXES or last == ".json":
        return True
    return FORMATS.get(last) == "jsonl" and sniff_otlp(path)


def request_reader(fmt: str, mapping: IngestMapping, schema: TelemetrySchema):
    """path -> SourceFile: OTLP traces for --format otlp (or when recognised), else the table formats."""
    if fmt not in SOURCE_FORMATS:
        raise MappingError(f"--format {fmt!r}: expected one of {', '.join(SOURCE_FORMATS)}")
    attribute_columns = mapping.otlp.columns(schema)
    store_columns = list(schema.request_schema())

    def read(path: str | Path):
        path = Path(path)
        if fmt == "otlp" or (fmt == "auto" and is_otlp_file(path)):
            return read_otlp(path, attribute_columns, store_columns)
        return read_source(path)

    return read
