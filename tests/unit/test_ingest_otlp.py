"""OTLP traces as request telemetry: every encoding, every span accounted for, fields from the conventions."""

from __future__ import annotations

import gzip
import json
import struct

import polars as pl
import pytest

from dashboard.cli import main
from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.ingest.pipeline import UnreadableFile, ingest_requests
from dashboard.core.telemetry.mapping import parse_mapping
from tests.fixtures import (
    OTLP_EXPORTS,
    OTLP_FIXTURE_COUNTS,
    OTLP_FIXTURES,
    otlp_json_lines,
    otlp_protobuf_request,
    write_otlp_fixtures,
)

MAPPING = parse_mapping({
    "segments": ["tier", "provider", "environment"],
    "artifacts": {"model": "model_version", "prompt": "prompt_version", "app": "app_version"},
    "otlp": {"segments": {"tier": "app.user.tier"}, "artifacts": {"prompt": "app.prompt.version"}},
})


@pytest.fixture(scope="module")
def encodings(tmp_path_factory):
    return write_otlp_fixtures(tmp_path_factory.mktemp("otlp"))


def ingest(path, tmp_path, name="data", **kwargs):
    return ingest_requests([path], DataDir(tmp_path / name), MAPPING, **kwargs)


def by_span(summary) -> dict[str, dict]:
    return {r["span_id"]: r for r in pl.read_parquet(summary.written).to_dicts()}


def test_the_committed_fixture_is_what_the_builder_writes():
    assert (OTLP_FIXTURES / "genai_traces.jsonl").read_text() == otlp_json_lines()


@pytest.mark.parametrize("encoding", ["jsonl", "jsonl.gz", "json", "pb"])
def test_every_encoding_accounts_for_every_span_and_stores_the_same_rows(encoding, encodings, tmp_path):
    summary = ingest(encodings[encoding], tmp_path)
    counts = OTLP_FIXTURE_COUNTS
    assert (summary.rows, summary.accepted, summary.quarantined, summary.skipped) == (
        counts["spans"], counts["accepted"], counts["quarantined"], counts["skipped"])
    assert summary.accepted + summary.quarantined + summary.skipped == summary.rows
    assert summary.files[0]["skipped_detail"] == {"agent": 1, "tool": 3, "other": 3, "embeddings": 1}
    reference = ingest(encodings["jsonl"], tmp_path, "reference")
    assert pl.read_parquet(summary.written).equals(pl.read_parquet(reference.written))


def test_fields_come_from_genai_deprecated_openinference_openllmetry_and_langfuse_names(encodings, tmp_path):
    rows = by_span(ingest(encodings["jsonl"], tmp_path))
    chat = rows["a000000000000002"]  # current GenAI conventions
    assert chat["trace_id"] == "5b8efff798038103d269b633813fc60c"
    assert chat["request_id"] == "5b8efff798038103d269b633813fc60c-a000000000000002"
    assert chat["ts"].isoformat() == "2025-02-18T14:30:00.010000+00:00" and chat["latency_ms"] == 1200.0
    assert chat["ttft_ms"] == pytest.approx(210.0)
    assert chat["model_version"] == "gpt-4o-2024-08-06"  # the response model over the request model
    assert (chat["service"], chat["app_version"], chat["environment"]) == ("support-bot", "2.4.0", "prod")
    assert (chat["provider"], chat["tier"], chat["prompt_version"]) == ("openai", "paid", "support-v7")
    assert (chat["input_tokens"], chat["output_tokens"], chat["cached_input_tokens"]) == (812, 64, 512)
    assert chat["user_id"] == "u-17" and chat["guardrail_blocked"] is False and chat["error_type"] is None
    # the two tools after it in the agent's trace, one of them failed; the next call made none
    assert (chat["tool_calls"], chat["tool_errors"]) == (2, 1)
    assert (rows["a000000000000006"]["tool_calls"], rows["a000000000000006"]["tool_errors"]) == (0, 0)

    failed = rows["b000000000000002"]  # deprecated names; a failed call without usage
    assert failed["provider"] == "anthropic" and failed["model_version"] == "claude-3-haiku-20240307"
    assert failed["error_type"] == "429" and failed["input_tokens"] is None and failed["output_tokens"] is None
    assert failed["tool_calls"] is None  # the trace shows no tools: unknown, not zero
    filtered = rows["b000000000000003"]
    assert filtered["guardrail_blocked"] is True and filtered["refused"] is None
    assert (filtered["input_tokens"], filtered["output_tokens"]) == (230, 0)
    status_only = rows["b000000000000005"]
    assert status_only["error_type"] == "google.api_core.exceptions.DeadlineExceeded"

    openinference = rows["c000000000000001"]
    assert (openinference["model_version"], openinference["provider"]) == ("gpt-4o-mini", "openai")
    assert (openinference["input_tokens"], openinference["output_tokens"]) == (400, 90)
    openllmetry = rows["c000000000000003"]
    assert (openllmetry["input_tokens"], openllmetry["output_tokens"]) == (380, 75)
    assert openllmetry["prompt_version"] == "answer:4" and openllmetry["user_id"] == "u-99"
    assert openllmetry["tool_calls"] == 1  # the traceloop tool span under it


def test_a_broken_span_is_quarantined_with_where_it_is(encodings, tmp_path):
    summary = ingest(encodings["jsonl"], tmp_path)
    quarantine = pl.read_parquet(summary.quarantine_path)
    assert quarantine.select("row_number", "field", "location", "span_name", "span_id").row(0) == (
        16, "input_tokens", "line 3", "chat gpt-4o-mini", "c000000000000005")
    assert quarantine["reason"][0] == "input_tokens: negative (got '-5')"


def test_lines_that_are_not_otlp_are_quarantined_and_the_rest_read(tmp_path):
    source = tmp_path / "export.jsonl"
    lines = otlp_json_lines().splitlines()
    source.write_text("\n".join([lines[0], '{"resourceLogs": []}', "not json", lines[1]]) + "\n")
    summary = ingest_requests([source], DataDir(tmp_path / "d"), MAPPING)
    assert summary.accepted + summary.quarantined + summary.skipped == summary.rows == 6 + 5 + 2
    bad = pl.read_parquet(summary.quarantine_path).filter(pl.col("field") == "(line)").sort("row_number")
    assert bad["row_number"].to_list() == [2, 3]
    assert bad["reason"][0].startswith("line 2: not an OTLP traces document")
    assert bad["reason"][1] == "line 3: line is not JSON"


def test_the_file_exporters_length_prefixed_protobuf_stream_is_read(tmp_path):
    stream = b"".join(struct.pack(">I", len(m)) + m for m in
                      (otlp_protobuf_request([export]).SerializeToString() for export in OTLP_EXPORTS))
    source = tmp_path / "traces.binpb.gz"
    source.write_bytes(gzip.compress(stream))
    summary = ingest_requests([source], DataDir(tmp_path / "d"), MAPPING)
    assert (summary.accepted, summary.quarantined, summary.skipped) == (7, 1, 8)
    assert summary.files[0]["format"] == "otlp-protobuf"


def test_ingesting_the_same_traces_twice_adds_nothing(encodings, tmp_path):
    ingest(encodings["jsonl"], tmp_path)
    again = ingest(encodings["pb"], tmp_path)  # the same spans in another encoding
    assert again.accepted == 0 and again.quarantined == 8


def test_format_otlp_on_something_else_says_what_it_is(tmp_path):
    source = tmp_path / "table.jsonl"
    source.write_text(json.dumps({"ts": "2025-02-18T10:00:00Z", "request_id": "a"}) + "\n")
    with pytest.raises(UnreadableFile, match="not OTLP trace data: not an OTLP traces document"):
        ingest_requests([source], DataDir(tmp_path / "d"), fmt="otlp")
    # auto reads it as the table it is
    assert ingest_requests([source], DataDir(tmp_path / "d")).accepted == 1
    junk = tmp_path / "junk.pb"
    junk.write_bytes(b"\x00\x01garbage")
    with pytest.raises(UnreadableFile, match="junk.pb: not OTLP trace data"):
        ingest_requests([junk], DataDir(tmp_path / "d"))


def test_cli_reads_otlp_with_format_and_reports_skipped(encodings, tmp_path, capsys):
    code = main(["ingest", "requests", str(encodings["jsonl"]), "--format", "otlp", "--data", str(tmp_path / "d"),
                 "--set", "tier=enterprise"])
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert code == 0 and (summary["accepted"], summary["skipped"], summary["rows"]) == (7, 8, 16)
    assert "segment column 'region' is not in the input" in err
