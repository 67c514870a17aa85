"""Ingest of request telemetry: quarantine with reasons, reconciled totals, store schema, all formats."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pytest

from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.contract import TelemetrySchema, read_schema
from dashboard.core.telemetry.ingest.pipeline import SchemaConflict, ingest_requests
from dashboard.core.telemetry.mapping import load_mapping
from dashboard.core.telemetry.query import TelemetryStore

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"
SAMPLE_CSV = FIXTURES / "sample_requests.csv"
SAMPLE_JSONL = FIXTURES / "sample_requests.jsonl"
MAPPING = FIXTURES / "mapping.toml"

# The deliberately bad rows of sample_requests.csv: row number -> fields at fault.
CSV_BAD_ROWS = {
    5: "latency_ms",
    8: "ts",
    11: "quality_score, user_feedback",
    14: "task_success",
    17: "input_tokens",
    19: "tool_calls",
}


def quarantine_of(summary) -> pl.DataFrame:
    return pl.read_parquet(summary.quarantine_path)


def stored_of(summary) -> pl.DataFrame:
    return pl.read_parquet(summary.written)


def test_csv_with_mapping_quarantines_each_bad_row_with_file_row_field_and_reason(tmp_path):
    data = DataDir(tmp_path / "data")
    summary = ingest_requests([SAMPLE_CSV], data, load_mapping(MAPPING))

    assert (summary.rows, summary.accepted, summary.quarantined) == (20, 14, 6)
    quarantine = quarantine_of(summary).sort("row_number")
    assert dict(zip(quarantine["row_number"], quarantine["field"], strict=True)) == CSV_BAD_ROWS
    assert set(quarantine["source_file"]) == {str(SAMPLE_CSV)}
    reasons = dict(zip(quarantine["row_number"], quarantine["reason"], strict=True))
    assert reasons[5] == "latency_ms (column 'duration_ms'): negative (got '-12')"
    assert reasons[8] == "ts (column 'timestamp'): missing"
    # several problems on one row: every one of them is reported
    assert "quality_score (column 'score'): outside 0-1 (got '1.4')" in reasons[11]
    assert "user_feedback (column 'thumbs'): not one of -1, 0, 1 (got '2')" in reasons[11]
    assert "not a boolean" in reasons[14] and "'maybe'" in reasons[14]
    assert reasons[17] == "input_tokens (column 'tokens_in'): not a number (got 'abc')"
    # original values are kept as text under the user's own column names
    row11 = quarantine.filter(pl.col("row_number") == 11)
    assert row11["score"].item() == "1.4" and row11["req_id"].item() == "r-0011"
    assert quarantine.schema["duration_ms"] == pl.String


def test_accepted_rows_have_exactly_the_store_schema_and_mapped_values(tmp_path):
    data = DataDir(tmp_path / "data")
    mapping = load_mapping(MAPPING)
    summary = ingest_requests([SAMPLE_CSV], data, mapping)

    stored = stored_of(summary)
    expected = TelemetrySchema(segments=["region", "plan", "language"],
                               artifacts={"model": "model_version", "prompt": "prompt_version"})
    assert dict(stored.schema) == expected.request_schema()
    assert list(stored.columns) == list(expected.request_schema())
    first = stored.filter(pl.col("request_id") == "r-0001").row(0, named=True)
    assert first["service"] == "checkout-bot"  # constant default from the mapping
    assert first["region"] == "us-east" and first["language"] == "de" and first["plan"] == "free"
    assert first["latency_ms"] == 837.0 and first["input_tokens"] == 911
    assert first["task_success"] is True and first["user_feedback"] == 0
    assert first["error_type"] is None
    row3 = stored.filter(pl.col("request_id") == "r-0003").row(0, named=True)
    assert row3["ts"].isoformat() == "2025-02-18T13:23:30+00:00"  # naive timestamp read as UTC
    assert row3["user_feedback"] is None  # empty cell -> null, not a quarantine
    assert summary.ignored_columns == ["trace_url"]
    assert stored["ts"].is_sorted()


def test_mapping_persists_declared_segments_and_artifacts(tmp_path):
    data = DataDir(tmp_path / "data")
    ingest_requests([SAMPLE_CSV], data, load_mapping(MAPPING))

    schema = read_schema(data)
    assert schema.segments == ["region", "plan", "language"]
    assert schema.artifacts == {"model": "model_version", "prompt": "prompt_version"}


def test_mapping_conflicting_with_stored_requests_is_refused_and_writes_nothing(tmp_path):
    data = DataDir(tmp_path / "data")
    ingest_requests([SAMPLE_CSV], data, load_mapping(MAPPING))
    before = sorted(p.name for p in data.root.rglob("*"))

    other = MAPPING.read_text().replace('segments = ["region", "plan", "language"]',
                                      'segments = ["region", "plan", "language", "tier"]')
    other_mapping = tmp_path / "other.toml"
    other_mapping.write_text(other)
    conflict = r"segments \['region', 'plan', 'language'\].*segments \['region', 'plan', 'language', 'tier'\]"
    with pytest.raises(SchemaConflict, match=conflict):
        ingest_requests([SAMPLE_CSV], data, load_mapping(other_mapping))
    assert sorted(p.name for p in data.root.rglob("*")) == before


def test_same_segments_in_another_order_are_not_a_conflict(tmp_path):
    data = DataDir(tmp_path / "data")
    first = ingest_requests([SAMPLE_CSV], data, load_mapping(MAPPING))
    reordered = tmp_path / "reordered.toml"
    reordered.write_text(MAPPING.read_text().replace('["region", "plan", "language"]',
                                                     '["language", "region", "plan"]'))
    later = tmp_path / "later.csv"  # new requests: the same ones again would be duplicates
    later.write_text(SAMPLE_CSV.read_text().replace(",r-0", ",s-0"))
    second = ingest_requests([later], data, load_mapping(reordered))
    assert stored_of(second).columns == stored_of(first).columns


def test_a_request_sent_twice_is_kept_once_and_the_copy_is_quarantined(tmp_path):
    data = DataDir(tmp_path / "data")
    first = ingest_requests([SAMPLE_CSV], data, load_mapping(MAPPING))
    # the same export again, plus one new request that repeats inside the new file
    again = tmp_path / "again.csv"
    lines = SAMPLE_CSV.read_text().splitlines()
    extra = lines[1].replace("2025-02-18T13:21:00Z,r-0001", "2025-02-18T13:59:00Z,n-0001")
    again.write_text("\n".join(lines + [extra, extra]) + "\n")
    second = ingest_requests([again], data, load_mapping(MAPPING))

    assert second.rows == first.rows + 2
    assert second.accepted == 1  # only the new request
    assert second.accepted + second.quarantined == second.rows
    quarantine = quarantine_of(second)
    stored_dupes = quarantine.filter(pl.col("reason").str.contains("already in the store"))
    assert stored_dupes.height == first.accepted and set(stored_dupes["field"]) == {"request_id"}
    repeat = quarantine.filter(pl.col("reason").str.starts_with("request_id: repeats"))
    # data rows count from 1 after the header: the two copies of n-0001 are rows len(lines) and len(lines) + 1
    assert repeat["row_number"].to_list() == [len(lines) + 1]
    assert repeat["reason"][0] == f"request_id: repeats {again} row {len(lines)}, which is kept"
    # rows the contract rejected are still rejected for their own reason, not as duplicates
    assert quarantine.height - stored_dupes.height - repeat.height == first.quarantined
    store = TelemetryStore(data)
    assert store.time_range()[2] == first.accepted + 1


def test_jsonl_row_numbers_are_line_numbers_and_broken_lines_are_quarantined(tmp_path):
    summary = ingest_requests([SAMPLE_JSONL], DataDir(tmp_path / "data"))

    assert (summary.rows, summary.accepted, summary.quarantined) == (11, 8, 3)
    quarantine = quarantine_of(summary).sort("row_number")
    assert quarantine["row_number"].to_list() == [3, 6, 10]  # line 8 is blank, line 10 is cut off
    assert quarantine["field"].to_list() == ["latency_ms", "refused", "(line)"]
    assert quarantine["reason"][0] == "latency_ms: not a number (got 'slow')"
    assert quarantine["original_line"][2].startswith('{"ts": 1739885400000')
    stored = stored_of(summary)
    # epoch milliseconds are understood
    assert stored["ts"].min().isoformat() == "2025-02-18T13:31:00+00:00"
    missing = set(summary.files[0]["missing_columns"])
    assert {"user_id", "ttft_ms", "app_version", "tool_calls"} <= missing
    assert not missing & {"ts", "request_id", "latency_ms", "region"}
    assert stored["ttft_ms"].null_count() == stored.height  # absent optional column -> nulls


def test_parquet_with_native_types_is_checked_too(tmp_path):
    frame = pl.DataFrame({
        "ts": pl.Series(["2025-02-18 10:00:00", "2025-02-18 10:01:00", None, "2025-02-18 10:03:00"])
        .str.to_datetime(),  # naive: UTC
        "request_id": ["a", "b", "c", "d"],
        "latency_ms": [100.0, -1.0, 50.0, float("nan")],
        "output_tokens": [10, 20, -5, 30],
        "refused": [True, False, None, True],
        "quality_score": [0.5, 0.2, 0.9, 1.0],
        "comment": ["x", "y", "z", "w"],
    })
    source = tmp_path / "export.parquet"
    frame.write_parquet(source)
    summary = ingest_requests([source], DataDir(tmp_path / "data"))

    assert (summary.accepted, summary.quarantined) == (1, 3)
    quarantine = quarantine_of(summary).sort("row_number")
    assert quarantine["row_number"].to_list() == [2, 3, 4]
    assert quarantine["field"].to_list() == ["latency_ms", "ts, output_tokens", "latency_ms"]
    assert quarantine["reason"][1] == "ts: missing; output_tokens: negative (got '-5')"
    assert quarantine["reason"][2] == "latency_ms: not a finite number (got 'NaN')"
    assert quarantine["latency_ms"].to_list() == ["-1.0", "50.0", "NaN"]
    stored = stored_of(summary)
    assert stored["request_id"].to_list() == ["a"]
    assert stored["ts"][0].isoformat() == "2025-02-18T10:00:00+00:00"
    assert summary.ignored_columns == ["comment"]


def test_gzipped_jsonl_keeps_its_line_numbers(tmp_path):
    gz = tmp_path / "sample_requests.jsonl.gz"
    gz.write_bytes(gzip.compress(SAMPLE_JSONL.read_bytes()))
    summary = ingest_requests([gz], DataDir(tmp_path / "data"))
    assert (summary.rows, summary.accepted, summary.quarantined) == (11, 8, 3)
    assert sorted(quarantine_of(summary)["row_number"]) == [3, 6, 10]


def test_gzipped_csv_and_several_files_reconcile(tmp_path):
    gz = tmp_path / "sample_requests.csv.gz"
    # the same export twice, the second compressed and with its own request ids
    gz.write_bytes(gzip.compress(SAMPLE_CSV.read_bytes().replace(b",r-0", b",g-0")))
    summary = ingest_requests([SAMPLE_CSV, gz], DataDir(tmp_path / "data"), load_mapping(MAPPING))

    assert summary.rows == 40
    assert summary.accepted + summary.quarantined == summary.rows
    assert [f["quarantined"] for f in summary.files] == [6, 6]
    quarantine = quarantine_of(summary)
    assert set(quarantine["source_file"]) == {str(SAMPLE_CSV), str(gz)}
    assert stored_of(summary).height == summary.accepted


def test_timezone_and_epoch_seconds_from_the_mapping(tmp_path):
    source = tmp_path / "local.csv"
    source.write_text("ts,request_id,latency_ms\n"
                      "2025-02-18 14:30:00,a,1\n1739889000,b,2\n2025-02-18T14:30:00+00:00,c,3\n")
    mapping = tmp_path / "paris.toml"
    mapping.write_text('[timestamp]\ntimezone = "Europe/Paris"\n')
    stored = stored_of(ingest_requests([source], DataDir(tmp_path / "data"), load_mapping(mapping)))
    by_id = {r["request_id"]: r["ts"].isoformat() for r in stored.iter_rows(named=True)}
    assert by_id == {
        "a": "2025-02-18T13:30:00+00:00",  # naive -> Paris -> UTC
        "b": "2025-02-18T14:30:00+00:00",  # epoch seconds are UTC by definition
        "c": "2025-02-18T14:30:00+00:00",  # explicit offset wins
    }


def test_empty_input_is_fine_and_writes_nothing(tmp_path):
    data = DataDir(tmp_path / "data")
    header_only = tmp_path / "header_only.csv"
    header_only.write_text("ts,request_id,latency_ms\n")
    zero_bytes = tmp_path / "zero.csv"
    zero_bytes.write_bytes(b"")
    blank_lines = tmp_path / "blank.jsonl"
    blank_lines.write_text("\n  \n")
    summary = ingest_requests([header_only, zero_bytes, blank_lines], data)
    assert (summary.rows, summary.accepted, summary.quarantined, summary.written) == (0, 0, 0, None)
    assert summary.exit_code == 0
    assert not data.requests.exists() or not any(data.requests.iterdir())


def test_all_rows_rejected_is_reported_with_a_nonzero_exit_code(tmp_path):
    source = tmp_path / "bad.csv"
    source.write_text("ts,request_id,latency_ms\nnot-a-time,a,1\n2025-02-18T10:00:00Z,b,-3\n")
    summary = ingest_requests([source], DataDir(tmp_path / "data"))
    assert (summary.accepted, summary.quarantined, summary.written) == (0, 2, None)
    assert summary.exit_code == 1
    assert json.loads(json.dumps(summary.to_json_dict()))["quarantine_path"] == summary.quarantine_path


def test_ingested_requests_union_with_the_demo_store(tmp_path):
    duckdb = pytest.importorskip("duckdb")
    from dashboard.core.demo import write_demo

    data = DataDir(tmp_path / "data")
    write_demo(data, days=1, rps=0.2)
    demo_rows = pl.scan_parquet(data.requests / "*.parquet").select(pl.len()).collect().item()
    summary = ingest_requests([SAMPLE_JSONL], data)
    con = duckdb.connect()
    glob = str(data.requests / "*.parquet")
    total, ours = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE request_id LIKE 'j-%') FROM read_parquet('{glob}')"
    ).fetchone()
    assert (total, ours) == (demo_rows + summary.accepted, summary.accepted)
    demo_file = next(p for p in data.requests.glob("*.parquet") if p != Path(summary.written))
    assert pl.read_parquet_schema(summary.written) == pl.read_parquet_schema(demo_file)

    from dashboard.core.telemetry.ingest.pipeline import ingest_releases

    demo_releases = next(data.releases.glob("*.parquet"))
    # only the mapping's release part: its request segments would conflict with the demo's
    release_part = load_mapping(MAPPING).model_copy(update={"segments": None, "artifacts": None})
    releases = ingest_releases([FIXTURES / "sample_releases.csv"], data, release_part)
    assert releases.accepted == 4
    assert pl.read_parquet_schema(releases.written) == pl.read_parquet_schema(demo_releases)
    (count,) = con.execute(f"SELECT count(*) FROM read_parquet('{data.releases / '*.parquet'}')").fetchone()
    assert count == pl.read_parquet(demo_releases).height + releases.accepted


def test_synthetic_export_bad_rows_are_exactly_the_quarantined_ones(tmp_path):
    from dashboard.core.bench.ingest import synthetic_requests

    frame = synthetic_requests(50_000, seed=3)
    expected_bad = frame.filter((pl.col("latency_ms") < 0) | (pl.col("quality_score") > 1))
    source = tmp_path / "export.parquet"
    frame.write_parquet(source)
    summary = ingest_requests([source], DataDir(tmp_path / "data"))
    assert summary.quarantined == expected_bad.height > 0
    assert summary.accepted == frame.height - expected_bad.height
    quarantine = quarantine_of(summary)
    assert sorted(quarantine["request_id"]) == sorted(expected_bad["request_id"])
    # row numbers point back at the same rows of the source file
    bad_ids = expected_bad["request_id"].to_list()
    positions = frame.with_row_index("n", offset=1).filter(pl.col("request_id").is_in(bad_ids))
    assert sorted(quarantine["row_number"]) == sorted(positions["n"].cast(pl.Int64))


def test_broken_lines_deep_inside_a_long_jsonl_file_are_found_by_line_number(tmp_path):
    lines = [json.dumps({"ts": 1739885400 + i, "request_id": f"k{i}", "latency_ms": i}) for i in range(1, 1001)]
    lines[416] = '{"ts": 1739885400, "request_id": "k417", "latency_ms": '  # line 417 cut off
    lines[899] = '["not", "an", "object"]'  # line 900
    lines.insert(100, "")  # a blank line shifts everything after it by one
    source = tmp_path / "long.jsonl"
    source.write_text("\n".join(lines) + "\n")
    summary = ingest_requests([source], DataDir(tmp_path / "data"))
    assert (summary.rows, summary.accepted, summary.quarantined) == (1000, 998, 2)
    quarantine = quarantine_of(summary).sort("row_number")
    assert quarantine["row_number"].to_list() == [418, 901]
    assert quarantine["original_line"][1] == '["not", "an", "object"]'
    assert set(stored_of(summary)["request_id"]) == {f"k{i}" for i in range(1, 1001)} - {"k417", "k900"}
