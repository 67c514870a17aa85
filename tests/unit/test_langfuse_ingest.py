"""Langfuse exports (`--format langfuse`): blob-storage JSONL and Parquet, UI CSV and JSON, scores joined by mapping."""

from __future__ import annotations

import json

import polars as pl
import pytest

from dashboard.cli import main as cli_main
from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.contract import REQUIRED_COLUMNS
from dashboard.core.telemetry.ingest.pipeline import ingest_requests
from dashboard.core.telemetry.ingest.read import UnreadableFile
from dashboard.core.telemetry.links import load_links
from dashboard.core.telemetry.mapping import MappingError, load_mapping, parse_mapping
from tests.fixtures import LANGFUSE_BLOB, LANGFUSE_MAPPING, LANGFUSE_UI, langfuse_blob_parquet

LATENCY_REQUIRED = "latency_ms" in REQUIRED_COLUMNS


def ingest(files, tmp_path, mapping=None, **kw):
    data = DataDir(tmp_path / "data")
    summary = ingest_requests(list(files), data, mapping or load_mapping(LANGFUSE_MAPPING), fmt="langfuse", **kw)
    stored = pl.read_parquet(summary.written) if summary.written else pl.DataFrame()
    quarantine = pl.read_parquet(summary.quarantine_path) if summary.quarantine_path else pl.DataFrame()
    return summary, stored, quarantine


def by_id(stored: pl.DataFrame) -> dict[str, dict]:
    return {r["request_id"]: r for r in stored.iter_rows(named=True)}


def check_blob_export(summary, stored, quarantine):
    """What the blob fixture holds, whatever the file type it was written in."""
    # 12 observations: 6 generations, 6 others (span, retriever, event, agent, tool, embedding)
    assert summary.rows == 12 and summary.skipped == 6
    assert summary.files[0]["skipped_detail"] == {"AGENT": 1, "EMBEDDING": 1, "EVENT": 1, "RETRIEVER": 1,
                                                 "SPAN": 1, "TOOL": 1}
    assert summary.accepted + summary.skipped + summary.quarantined == summary.rows
    rows = by_id(stored)
    a = rows["obs-a-draft"]
    # Langfuse books cached input apart ("input" 700 + "input_cached_tokens" 512): the contract counts all input
    assert (a["input_tokens"], a["output_tokens"]) == (1212, 148)
    assert a["cost_usd"] == pytest.approx(0.00387)
    assert a["latency_ms"] == pytest.approx(2150.0) and a["ttft_ms"] == pytest.approx(440.0)
    assert (a["trace_id"], a["span_id"]) == ("tr-a", "obs-a-draft")
    assert a["prompt_version"] == "support-answer:6" and a["model_version"] == "gpt-4o-2024-08-06"
    assert a["app_version"] == "2025.03.1"            # the trace's release
    assert a["user_id"] == "u-1001" and a["environment"] == "production" and a["tier"] == "paid"
    assert a["generation"] == "draft-answer" and a["service"] == "support-bot"
    # judge 4 then a later annotation 5 on a 1-5 scale: the latest, rescaled
    assert a["quality_score"] == pytest.approx(1.0)
    assert a["user_feedback"] == 1 and a["task_success"] is True   # trace-level scores, on the last generation
    b_intent, b_draft = rows["obs-b-intent"], rows["obs-b-draft"]
    assert b_intent["prompt_version"] == "intent-router:3" and b_intent["trace_id"] == b_draft["trace_id"] == "tr-b"
    assert b_draft["quality_score"] == pytest.approx(0.25) and b_draft["user_feedback"] == -1
    assert b_intent["quality_score"] is None and b_intent["user_feedback"] is None
    # a failed call carries no usage: an error, and its tokens and cost stay unknown (not zero)
    c = rows["obs-c-draft"]
    assert c["error_type"] == "openai.RateLimitError"
    assert (c["input_tokens"], c["output_tokens"], c["cost_usd"]) == (None, None, None)
    assert a["error_type"] is None
    reasons = dict(zip(quarantine["row_number"], quarantine["reason"], strict=True))
    # the generation without an end time: no latency is invented for it
    if LATENCY_REQUIRED:
        assert "latency_ms" in reasons[10] and "obs-d-draft" not in rows
    else:
        assert rows["obs-d-draft"]["latency_ms"] is None and rows["obs-d-draft"]["error_type"] == "Request timed out."
    assert summary.scores == {"rows": 9, "joined": 6, "not_mapped": 1, "unmatched": 1, "rejected": 1,
                              "by_measure": {"quality_score": 3, "user_feedback": 2, "task_success": 1}}
    score_rows = quarantine.filter(pl.col("source_file").str.contains("scores"))
    assert score_rows["reason"].to_list() == [
        "quality_score (score 'helpfulness'): value 7 outside the declared scale [1, 5]"]


def test_blob_storage_jsonl_export_with_scores_and_traces(tmp_path):
    summary, stored, quarantine = ingest(LANGFUSE_BLOB.values(), tmp_path)
    check_blob_export(summary, stored, quarantine)
    assert summary.quarantined == 1 + LATENCY_REQUIRED
    assert "obs-e-draft" not in by_id(stored)
    # the mapping's [links] is kept with the folder: sample requests open their Langfuse trace
    assert load_links(DataDir(tmp_path / "data")) == {
        "trace": "https://cloud.langfuse.com/project/proj-1/traces/{trace_id}"}
    # the quarantined observation keeps what the export said
    row = quarantine.filter(pl.col("row_number") == 11)
    assert row["reason"].item() == "input_tokens: column 'usage_details': not a map of token counts"
    assert row["usage_details"].item() == "n/a" and row["id"].item() == "obs-e-draft"


def test_blob_storage_parquet_export_reads_maps_and_typed_timestamps(tmp_path):
    files = langfuse_blob_parquet(tmp_path)
    summary, stored, quarantine = ingest(files.values(), tmp_path)
    # the one unreadable usage cell cannot exist in a Parquet map, so that generation is accepted here
    check_blob_export(summary, stored, quarantine)
    assert summary.files[0]["format"] == "langfuse-parquet"
    assert by_id(stored)["obs-e-draft"]["input_tokens"] is None


def test_ui_export_csv_observations_and_json_scores(tmp_path):
    summary, stored, quarantine = ingest(LANGFUSE_UI.values(), tmp_path)
    assert (summary.rows, summary.accepted, summary.skipped, summary.quarantined) == (6, 3, 2, 1)
    rows = by_id(stored)
    answer = rows["3b8e4d21-77aa-4f0c-8c11-2d6b9e0f1a02"]
    # Anthropic-style cache reads count as input
    assert (answer["input_tokens"], answer["output_tokens"]) == (1426, 188)
    assert answer["latency_ms"] == pytest.approx(2900.0) and answer["ttft_ms"] == pytest.approx(460.0)
    assert answer["app_version"] == "2025.03.2" and answer["prompt_version"] == "support-answer:7"
    assert answer["quality_score"] == pytest.approx(0.5)       # 3 on 1-5
    summary_turn = rows["c4a9f0b3-1d2e-4a5b-9c8d-7e6f5a4b3c03"]
    # trace-level thumbs go to the trace's last generation; a score on the span falls back to its trace
    assert summary_turn["user_feedback"] == 1 and summary_turn["task_success"] is False
    assert summary_turn["cost_usd"] == pytest.approx(0.00024)
    timeout = rows["e1d2c3b4-a5f6-4e7d-8c9b-0a1b2c3d4e04"]
    assert timeout["error_type"] == "anthropic.APITimeoutError" and timeout["input_tokens"] is None
    assert timeout["latency_ms"] == pytest.approx(30000.0)
    bad = quarantine.filter(pl.col("source_file").str.ends_with("observations.csv"))
    assert bad["row_number"].to_list() == [6]
    assert bad["reason"].item().startswith("ts: not a timestamp") and "(got 'yesterday')" in bad["reason"].item()
    assert summary.scores["rejected"] == 1 and summary.scores["joined"] == 3
    rejected = quarantine.filter(pl.col("source_file").str.ends_with("scores.json"))
    assert "'unhelpful'" in rejected["reason"].item()


def test_trace_scores_all_puts_a_trace_score_on_every_generation(tmp_path):
    raw = load_mapping(LANGFUSE_MAPPING).model_dump()
    raw["langfuse"]["trace_scores"] = "all"
    summary, stored, _ = ingest(LANGFUSE_BLOB.values(), tmp_path, parse_mapping(raw))
    rows = by_id(stored)
    assert rows["obs-b-intent"]["user_feedback"] == rows["obs-b-draft"]["user_feedback"] == -1


def test_ingesting_the_same_export_twice_adds_nothing(tmp_path):
    first, _, _ = ingest(LANGFUSE_BLOB.values(), tmp_path)
    second = ingest_requests(list(LANGFUSE_BLOB.values()), DataDir(tmp_path / "data"),
                             load_mapping(LANGFUSE_MAPPING), fmt="langfuse")
    assert first.accepted > 0 and second.accepted == 0
    assert second.accepted + second.skipped + second.quarantined == second.rows


def test_scores_without_a_mapping_and_unknown_files_are_one_clear_line(tmp_path):
    data = DataDir(tmp_path / "data")
    with pytest.raises(UnreadableFile, match=r"scores\.jsonl: a scores export needs \[langfuse\.scores\]"):
        ingest_requests([LANGFUSE_BLOB["observations"], LANGFUSE_BLOB["scores"]], data, None, fmt="langfuse")
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(UnreadableFile, match=r"other\.csv: not a Langfuse observations export"):
        ingest_requests([other], data, None, fmt="langfuse")
    with pytest.raises(MappingError, match="not score measures"):
        parse_mapping({"langfuse": {"scores": {"helpfulness": {"name": "x"}}}})
    assert not data.root.exists()


def test_cli_reads_the_format_from_the_files_and_never_shows_a_traceback(tmp_path, capsys):
    out = tmp_path / "data"
    code = cli_main(["ingest", "requests", *map(str, LANGFUSE_BLOB.values()), "--mapping", str(LANGFUSE_MAPPING),
                     "--data", str(out)])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["skipped"] == 6 and summary["files"][0]["format"] == "langfuse-jsonl"
    assert summary["accepted"] + summary["skipped"] + summary["quarantined"] == summary["rows"]
    code = cli_main(["ingest", "requests", str(LANGFUSE_BLOB["scores"]), "--format", "langfuse",
                     "--data", str(tmp_path / "d2")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "observations export too" in err


def test_the_shipped_benchmark_accounts_for_every_observation():
    from dashboard.core.bench.langfuse import langfuse_benchmark

    result = langfuse_benchmark(generations=300, repeats=1)
    for fmt in ("jsonl", "parquet"):
        run = result[fmt]
        assert run["accepted"] + run["skipped"] + run["quarantined"] == result["observations"] == 450
        assert run["skipped"] == 150 and run["scores_joined"] > 50
    assert result["jsonl"]["scores_joined"] == result["parquet"]["scores_joined"]
