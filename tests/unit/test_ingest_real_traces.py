"""The contract accepts what real traces have: no request id, no latency, only time and tokens,
constants per command, nanosecond epochs, warnings for empty declared columns, priced tokens, trace ids."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from dashboard.cli import main
from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.contract import read_schema
from dashboard.core.telemetry.ingest.pipeline import ingest_requests
from dashboard.core.telemetry.links import load_links, row_link
from dashboard.core.telemetry.mapping import MappingError, parse_mapping
from dashboard.core.telemetry.query import TelemetryStore

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"
# Shaped like a public LLM inference trace: nanosecond timestamps and token counts, nothing else.
TOKEN_ONLY = FIXTURES / "token_only_trace.csv"
TOKEN_ONLY_MAPPING = parse_mapping({
    "segments": ["workload"], "artifacts": {"model": "model_version"},
    "columns": {"ts": "TIMESTAMP", "input_tokens": "ContextTokens", "output_tokens": "GeneratedTokens"},
})


def stored(summary) -> pl.DataFrame:
    return pl.read_parquet(summary.written)


def test_a_token_only_trace_is_a_valid_store_with_derived_ids_and_no_latency(tmp_path):
    data = DataDir(tmp_path / "data")
    summary = ingest_requests([TOKEN_ONLY], data, TOKEN_ONLY_MAPPING)
    assert (summary.rows, summary.accepted, summary.quarantined) == (6, 6, 0)
    rows = stored(summary)
    assert rows["latency_ms"].null_count() == 6 and rows["cost_usd"].null_count() == 6
    assert rows["input_tokens"].to_list()[:2] == [4808, 3180]
    ids = rows["request_id"].to_list()
    assert len(set(ids)) == 6 and all(i.endswith(f"-{n}") for i, n in zip(ids, range(1, 7), strict=True))
    assert summary.files[0]["derived_request_ids"] == 6
    # the store opens in the query layer like any other
    assert TelemetryStore(data).time_range()[0] == datetime(2024, 11, 12, 17, 20, tzinfo=UTC)


def test_derived_ids_come_from_the_content_so_the_same_file_twice_adds_nothing(tmp_path):
    data = DataDir(tmp_path / "data")
    first = ingest_requests([TOKEN_ONLY], data, TOKEN_ONLY_MAPPING)
    renamed = tmp_path / "copy-of-the-trace.csv"
    shutil.copy(TOKEN_ONLY, renamed)
    skipped = ingest_requests([renamed], data, TOKEN_ONLY_MAPPING)  # the load manifest knows its bytes
    assert (skipped.accepted, skipped.quarantined, len(skipped.already_ingested)) == (0, 0, 1)
    again = ingest_requests([renamed], data, TOKEN_ONLY_MAPPING, reload=True)  # read again: the ids say it
    assert (again.accepted, again.quarantined) == (0, 6)
    assert set(pl.read_parquet(again.quarantine_path)["field"]) == {"request_id"}
    # a different file (one more row) gives different ids: nothing is mistaken for a duplicate
    changed = tmp_path / "changed.csv"
    changed.write_text(TOKEN_ONLY.read_text() + "1731432003000000000,5,5\n")
    other = ingest_requests([changed], data, TOKEN_ONLY_MAPPING)
    assert (other.accepted, other.quarantined) == (7, 0)
    assert not set(stored(first)["request_id"]) & set(stored(other)["request_id"])


def test_nanosecond_epochs_are_exact_in_auto_and_epoch_ns(tmp_path):
    expected = datetime(2024, 11, 12, 17, 20, 1, 12000, tzinfo=UTC)  # ...012000123 ns -> 12000 us
    auto = stored(ingest_requests([TOKEN_ONLY], DataDir(tmp_path / "a"), TOKEN_ONLY_MAPPING))
    assert auto["ts"][3] == expected
    explicit = TOKEN_ONLY_MAPPING.model_copy(update={"timestamp": TOKEN_ONLY_MAPPING.timestamp.model_copy(
        update={"format": "epoch_ns"})})
    ns = stored(ingest_requests([TOKEN_ONLY], DataDir(tmp_path / "b"), explicit))
    assert ns["ts"].to_list() == auto["ts"].to_list()
    # as JSON numbers too (read as integers, never through a float)
    jsonl = tmp_path / "ns.jsonl"
    jsonl.write_text('{"ts": 1731432001012000123, "input_tokens": 1}\n'
                     '{"ts": "1731432001012001999", "input_tokens": 2}\n')
    rows = stored(ingest_requests([jsonl], DataDir(tmp_path / "c")))
    assert rows["ts"].to_list() == [expected, datetime(2024, 11, 12, 17, 20, 1, 12001, tzinfo=UTC)]


def test_set_gives_every_row_of_the_command_one_value(tmp_path, capsys):
    data = tmp_path / "data"
    mapping = tmp_path / "m.toml"
    mapping.write_text('segments = ["workload"]\n[artifacts]\nmodel = "model_version"\n'
                       '[columns]\nts = "TIMESTAMP"\ninput_tokens = "ContextTokens"\n'
                       'output_tokens = "GeneratedTokens"\n')
    code = main(["ingest", "requests", str(TOKEN_ONLY), "--mapping", str(mapping), "--data", str(data),
                 "--set", "workload=code", "--set", "service=azure-llm", "--set", "model_version=gpt-4o"])
    out, err = capsys.readouterr()
    assert code == 0 and '"set"' in out and err == ""
    rows = pl.read_parquet(next((data / "requests").glob("*.parquet")))
    assert set(rows["workload"]) == {"code"} and set(rows["service"]) == {"azure-llm"}
    assert set(rows["model_version"]) == {"gpt-4o"}

    code = main(["ingest", "requests", str(TOKEN_ONLY), "--mapping", str(mapping), "--data", str(data),
                 "--set", "latency_ms=3"])
    _, err = capsys.readouterr()
    assert code == 2 and "--set: ['latency_ms'] cannot be set for every row" in err
    code = main(["ingest", "requests", str(TOKEN_ONLY), "--data", str(data), "--set", "workload"])
    _, err = capsys.readouterr()
    assert code == 2 and "expected COLUMN=VALUE" in err


def test_set_wins_over_the_files_own_column(tmp_path):
    source = tmp_path / "r.csv"
    source.write_text("ts,service,region\n2025-02-18T10:00:00Z,a,eu\n2025-02-18T10:00:01Z,b,\n")
    summary = ingest_requests([source], DataDir(tmp_path / "d"), constants={"service": "checkout", "region": "us"})
    rows = stored(summary)
    assert rows["service"].to_list() == ["checkout", "checkout"] and rows["region"].to_list() == ["us", "us"]


def test_every_declared_segment_or_artifact_missing_or_all_null_is_warned_about(tmp_path, capsys):
    source = tmp_path / "r.csv"
    source.write_text("ts,region,tier,model_version\n2025-02-18T10:00:00Z,eu,,m1\n2025-02-18T10:00:01Z,us,,m1\n")
    data = tmp_path / "data"
    code = main(["ingest", "requests", str(source), "--data", str(data), "--set", "channel=web"])
    out, err = capsys.readouterr()
    assert code == 0
    import json
    warnings = json.loads(out)["warnings"]
    # region and model_version have values, channel is --set; tier is all empty; the rest are absent
    assert any("segment column 'tier' (from 'tier') is empty in every row" in w for w in warnings)
    assert any("segment column 'language' is not in the input" in w for w in warnings)
    assert any("artifact 'prompt' column 'prompt_version' is not in the input" in w for w in warnings)
    assert not any("'region'" in w or "'channel'" in w or "'model_version'" in w for w in warnings)
    assert len(warnings) == 1 + 1 + 5  # tier; language; app, prompt, index, router, policy versions
    assert [line.removeprefix("warning: ") for line in err.splitlines()] == warnings


def test_prices_turn_tokens_into_cost_where_the_source_has_none(tmp_path):
    source = tmp_path / "r.csv"
    source.write_text(
        "ts,model_version,input_tokens,output_tokens,cached_input_tokens,cost_usd\n"
        "2025-02-18T10:00:00Z,gpt-4o,1000000,100000,,\n"        # 2.50 + 1.00
        "2025-02-18T10:00:01Z,gpt-4o,1000000,0,400000,\n"       # 0.6 * 2.50 + 0.4 * 1.25
        "2025-02-18T10:00:02Z,gpt-4o,10,10,,0.5\n"              # the source's own cost is kept
        "2025-02-18T10:00:03Z,gpt-4o,,,,\n"                     # a failed call without usage: unknown cost
        "2025-02-18T10:00:04Z,mystery-1,10,10,,\n"              # no price for it: warned
    )
    mapping = parse_mapping({"prices": {"gpt-4o": {"input": 2.5, "output": 10, "cached_input": 1.25}}})
    summary = ingest_requests([source], DataDir(tmp_path / "d"), mapping)
    costs = stored(summary)["cost_usd"].to_list()
    assert costs[0] == pytest.approx(3.5) and costs[1] == pytest.approx(2.0) and costs[2] == 0.5
    assert costs[3] is None and costs[4] is None
    assert summary.priced == 2
    assert [w for w in summary.warnings if w.startswith("prices")] == [
        "prices: no price for 'mystery-1' (1 rows): those rows have tokens but are stored without cost_usd"]


def test_price_table_is_checked_like_the_rest_of_the_mapping():
    with pytest.raises(MappingError, match="prices.gpt-4o.output"):
        parse_mapping({"prices": {"gpt-4o": {"input": 1}}})
    with pytest.raises(MappingError, match="greater than or equal to 0"):
        parse_mapping({"prices": {"gpt-4o": {"input": -1, "output": 1}}})
    with pytest.raises(MappingError, match="no model artifact column"):
        parse_mapping({"segments": [], "artifacts": {"prompt": "prompt_version"},
                       "prices": {"gpt-4o": {"input": 1, "output": 1}}})


def test_trace_and_span_ids_are_kept_and_the_link_template_renders_a_row(tmp_path):
    source = tmp_path / "r.jsonl"
    source.write_text('{"ts": "2025-02-18T10:00:00Z", "trace_id": "5b8efff798038103d269b633813fc60c", '
                      '"span_id": "eee19b7ec3c1b174", "service": "support bot"}\n'
                      '{"ts": "2025-02-18T10:00:01Z"}\n')
    data = DataDir(tmp_path / "d")
    mapping = parse_mapping({"links": {"trace": "https://traces.example.com/{service}/trace/{trace_id}"}})
    rows = stored(ingest_requests([source], data, mapping)).to_dicts()
    assert rows[0]["trace_id"] == "5b8efff798038103d269b633813fc60c" and rows[0]["span_id"] == "eee19b7ec3c1b174"
    links = load_links(data)
    assert row_link(rows[0], links) == "https://traces.example.com/support%20bot/trace/5b8efff798038103d269b633813fc60c"
    assert row_link(rows[1], links) is None  # no trace id, no link
    with pytest.raises(MappingError, match="links.trace: \\['trace_url'\\] not request columns"):
        parse_mapping({"links": {"trace": "https://x/{trace_url}"}}).check_fields(read_schema(data))
