"""The mapping file: TOML and YAML load to the same model; mistakes get a message saying where."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.contract import TelemetrySchema
from dashboard.core.telemetry.ingest.pipeline import ingest_releases, ingest_requests
from dashboard.core.telemetry.mapping import IngestMapping, MappingError, load_mapping, parse_mapping

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"


def test_example_toml_mapping_loads():
    mapping = load_mapping(FIXTURES / "mapping.toml")
    assert mapping.segments == ["region", "plan", "language"]
    assert mapping.artifacts == {"model": "model_version", "prompt": "prompt_version"}
    assert mapping.columns["latency_ms"] == "duration_ms"
    assert mapping.defaults == {"service": "checkout-bot"}
    assert mapping.releases.kinds == {"llm": "model"}
    assert mapping.release_timestamp().timezone == "UTC"


def test_yaml_mapping_is_equivalent(tmp_path):
    yaml_file = tmp_path / "mapping.yaml"
    yaml_file.write_text(
        "segments: [region, plan]\n"
        "artifacts: {model: model_version}\n"
        "columns:\n  ts: timestamp\n  latency_ms: duration_ms\n"
        "timestamp: {format: epoch_ms, timezone: Europe/Paris}\n"
        "booleans: {true: [ja, yes], false: [nein, no]}\n"
        "defaults: {service: checkout-bot, tool_calls: 0}\n"
    )
    mapping = load_mapping(yaml_file)
    assert mapping.columns == {"ts": "timestamp", "latency_ms": "duration_ms"}
    assert mapping.timestamp.format == "epoch_ms"
    # YAML's own true/yes/no must not turn the words into booleans
    assert mapping.booleans.lookup() == {"ja": True, "yes": True, "nein": False, "no": False}
    schema = mapping.telemetry_schema(TelemetrySchema())
    assert schema.segments == ["region", "plan"] and schema.artifacts == {"model": "model_version"}
    # a mapping that declares nothing keeps whatever the store already has
    assert IngestMapping().telemetry_schema(schema) == schema


@pytest.mark.parametrize("data, message", [
    ({"colums": {}}, r"colums: unknown setting"),
    ({"segments": [], "artifacts": {}, "columns": {"latency": "duration"}}, r"columns: \['latency'\] not known fields"),
    ({"columns": {"ts": "t", "request_id": "t"}}, r"your column\(s\) \['t'\] mapped onto several fields"),
    ({"timestamp": {"timezone": "Mars/Olympus"}}, r"timestamp\.timezone: unknown time zone 'Mars/Olympus'"),
    ({"timestamp": {"format": "dd/mm/yyyy"}}, r"timestamp\.format: 'dd/mm/yyyy' is neither"),
    ({"segments": ["Region"]}, r"segment 'Region' must be lower_snake_case"),
    ({"segments": ["latency_ms"]}, r"segment 'latency_ms' is already a contract column"),
    ({"segments": ["region"], "artifacts": {"model": "region"}}, r"'region' is declared both as a segment"),
    ({"defaults": {"request_id": "x"}}, r"defaults: \['request_id'\] cannot have a constant default"),
    ({"segments": ["colour"], "artifacts": {}, "defaults": {"shade": "red"}},
     r"defaults: \['shade'\] not request columns"),
    ({"booleans": {"true": ["yes"], "false": ["yes"]}}, r"words listed as both true and false"),
    ({"artifacts": {"model": "model_version"}, "releases": {"kinds": {"llm": "database"}}},
     r"releases\.kinds: \['database'\] not artifact kinds"),
    ({"releases": {"columns": {"kind": "component"}}}, r"releases\.columns: \['kind'\] not known fields"),
    (["not", "a", "table"], r"expected a table of settings"),
])
def test_mapping_mistakes_are_reported_with_where_and_what(data, message):
    with pytest.raises(MappingError, match=message):
        parse_mapping(data, "m.toml")


def test_syntax_errors_and_wrong_extension_name_the_file(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("segments = [region\n")
    with pytest.raises(MappingError, match=r"broken\.toml: not valid TOML"):
        load_mapping(broken)
    other = tmp_path / "mapping.json"
    other.write_text("{}")
    with pytest.raises(MappingError, match=r"mapping\.json: mapping must be a \.toml, \.yaml or \.yml file"):
        load_mapping(other)
    with pytest.raises(MappingError, match="mapping file not found"):
        load_mapping(tmp_path / "missing.toml")


def test_a_default_that_breaks_the_contract_is_a_mapping_error(tmp_path):
    source = tmp_path / "r.csv"
    source.write_text("ts,request_id,latency_ms\n2025-02-18T10:00:00Z,a,1\n")
    mapping = parse_mapping({"defaults": {"tool_calls": -2}})
    with pytest.raises(MappingError, match=r"defaults\.tool_calls = -2: negative"):
        ingest_requests([source], DataDir(tmp_path / "data"), mapping)
    assert not (tmp_path / "data").exists()


def test_custom_boolean_words_and_strftime_format_are_used(tmp_path):
    source = tmp_path / "r.csv"
    source.write_text("ts,request_id,latency_ms,refused\n18/02/2025 10:00,a,1,ja\n18/02/2025 10:01,b,1,nein\n"
                      "18/02/2025 10:02,c,1,yes\n2025-02-18 10:03,d,1,ja\n")
    mapping = parse_mapping({"booleans": {"true": ["ja"], "false": ["nein"]},
                             "timestamp": {"format": "%d/%m/%Y %H:%M"}})
    summary = ingest_requests([source], DataDir(tmp_path / "data"), mapping)
    assert (summary.accepted, summary.quarantined) == (2, 2)
    quarantine = pl.read_parquet(summary.quarantine_path).sort("row_number")
    assert quarantine["field"].to_list() == ["refused", "ts"]
    assert "not a timestamp in format '%d/%m/%Y %H:%M'" in quarantine["reason"][1]


def test_field_names_are_checked_against_the_data_folder_schema_when_the_mapping_does_not_declare_one(tmp_path):
    data = DataDir(tmp_path / "data")
    ingest_requests([FIXTURES / "sample_requests.csv"], data, load_mapping(FIXTURES / "mapping.toml"))
    source = tmp_path / "more.csv"
    source.write_text("ts,request_id,latency_ms,tier_name\n2025-02-18T16:00:00Z,x1,5,paid\n")
    # "plan" is a segment of this folder (declared by the first ingest), so it can be mapped without redeclaring
    summary = ingest_requests([source], data, parse_mapping({"columns": {"plan": "tier_name"}}), "more.toml")
    assert pl.read_parquet(summary.written)["plan"].to_list() == ["paid"]
    with pytest.raises(MappingError, match=r"more\.toml: columns: \['tier'\] not known fields"):
        ingest_requests([source], data, parse_mapping({"columns": {"tier": "tier_name"}}), "more.toml")


def test_release_kind_words_are_checked_at_ingest_when_the_mapping_declares_no_artifacts(tmp_path):
    source = tmp_path / "releases.csv"
    source.write_text("ts,artifact,version\n2025-02-18T13:30:00Z,llm,v2\n")
    with pytest.raises(MappingError, match=r"rel\.toml: releases\.kinds: \['database'\] not artifact kinds"):
        ingest_releases([source], DataDir(tmp_path / "data"),
                        parse_mapping({"releases": {"kinds": {"llm": "database"}}}), "rel.toml")
    summary = ingest_releases([source], DataDir(tmp_path / "data"),
                              parse_mapping({"releases": {"kinds": {"llm": "model"}}}))
    assert pl.read_parquet(summary.written)["artifact"].to_list() == ["model"]
