"""Ingest failures: an unreadable file writes nothing, and a crash mid-write leaves the store as it was."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

import dashboard.core.datadir as datadir_module
from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.contract import RELEASE_SCHEMA
from dashboard.core.telemetry.ingest.pipeline import IngestError, UnreadableFile, ingest_releases, ingest_requests
from dashboard.core.telemetry.mapping import load_mapping

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"
SAMPLE_CSV = FIXTURES / "sample_requests.csv"
SAMPLE_JSONL = FIXTURES / "sample_requests.jsonl"
MAPPING = FIXTURES / "mapping.toml"


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.mark.parametrize("name, content, message", [
    ("gone.csv", None, r"gone\.csv: file not found"),
    ("fake.parquet", b"ts,request_id\n1,2\n", r"fake\.parquet: not a readable Parquet file"),
    ("broken.jsonl", b"this is not json\nnor this\n", r"broken\.jsonl: not a JSONL file"),
    ("no_ts.csv", b"when,request_id,latency_ms\n2025-02-18,a,1\n", r"no_ts\.csv: missing required column 'ts'"),
    ("ragged.csv", b"ts,request_id,latency_ms\n2025-02-18,a,1,9,9\n", r"ragged\.csv: not a readable CSV file"),
    ("notes.txt", b"hello\n", r"notes\.txt: unknown file type"),
    ("bad.csv.gz", b"not gzip at all", r"bad\.csv\.gz: not a valid gzip file"),
])
def test_unreadable_file_fails_naming_it_and_writes_nothing_even_for_good_files(tmp_path, name, content, message):
    bad = tmp_path / name
    if content is not None:
        bad.write_bytes(content)
    data = DataDir(tmp_path / "data")
    with pytest.raises(UnreadableFile, match=message):
        # the good sample comes first: validation of every file happens before any write
        ingest_requests([SAMPLE_JSONL, bad], data)
    assert files_under(data.root) == []


def test_mapped_column_absent_from_the_file_is_an_unreadable_file(tmp_path):
    with pytest.raises(UnreadableFile, match=r"sample_requests\.jsonl: columns 'timestamp' \(mapped to ts\), "
                                             r"'req_id' \(mapped to request_id\).* not found"):
        ingest_requests([SAMPLE_JSONL], DataDir(tmp_path / "data"), load_mapping(MAPPING))


def test_crash_at_the_final_rename_leaves_the_store_as_it_was(tmp_path, monkeypatch):
    data = DataDir(tmp_path / "data")
    ingest_requests([SAMPLE_JSONL], data)  # an existing store with one file and no schema.json
    before = {p: p.read_bytes() for p in data.root.rglob("*") if p.is_file()}

    real_replace = os.replace

    def fail_on_requests(src, dst):
        if Path(dst).parent == data.requests:
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(datadir_module.os, "replace", fail_on_requests)
    later = tmp_path / "later.jsonl"  # new requests (the same ones again would all be duplicates)
    later.write_text(SAMPLE_JSONL.read_text().replace('"j-', '"k-'))
    with pytest.raises(IngestError, match="disk full"):
        ingest_requests([later], data)
    after = {p: p.read_bytes() for p in data.root.rglob("*") if p.is_file()}
    assert after == before  # no new request file, quarantine file removed, no tmp file left behind


def test_crash_after_schema_save_restores_no_schema(tmp_path, monkeypatch):
    data = DataDir(tmp_path / "data")
    real_write = datadir_module.atomic_write_parquet
    calls = []

    def write_then_crash(frame, target, *args, **kwargs):
        calls.append(target)
        if Path(target).parent == data.requests:
            raise KeyboardInterrupt  # the process is stopped mid-ingest
        return real_write(frame, target, *args, **kwargs)

    monkeypatch.setattr("dashboard.core.telemetry.ingest.pipeline.atomic_write_parquet", write_then_crash)
    with pytest.raises(KeyboardInterrupt):
        ingest_requests([SAMPLE_CSV], data, load_mapping(MAPPING))
    assert len(calls) == 2  # quarantine, then requests
    assert files_under(data.root) == []  # quarantine undone, schema.json removed again


def test_releases_ingest_maps_columns_and_kinds_and_quarantines_bad_events(tmp_path):
    data = DataDir(tmp_path / "data")
    summary = ingest_releases([FIXTURES / "sample_releases.csv"], data, load_mapping(MAPPING))

    assert (summary.rows, summary.accepted, summary.quarantined) == (7, 4, 3)
    stored = pl.read_parquet(summary.written)
    assert dict(stored.schema) == RELEASE_SCHEMA
    canary = stored.filter(pl.col("version") == "support-3.2").row(0, named=True)
    assert canary["artifact"] == "model"  # "llm" via releases.kinds
    assert canary["rollout_pct"] == 25.0  # "25%"
    assert canary["scope"] == "region=eu-west" and canary["service"] == "checkout-bot"
    quarantine = pl.read_parquet(summary.quarantine_path).sort("row_number")
    assert quarantine["row_number"].to_list() == [5, 6, 7]
    assert quarantine["field"].to_list() == ["artifact", "rollout_pct", "ts"]
    assert quarantine["reason"][0].startswith("artifact (column 'component'): unknown artifact kind")
    assert quarantine["reason"][0].endswith("(got 'database')")
    assert quarantine["reason"][1] == "rollout_pct (column 'rollout'): outside 0-100 (got '150')"
    assert "(got 'yesterday')" in quarantine["reason"][2]


def test_release_scope_must_name_a_known_segment(tmp_path):
    source = tmp_path / "releases.jsonl"
    source.write_text(
        '{"ts": "2025-02-18T13:30:00Z", "artifact": "prompt", "version": "v7", "scope": "region=eu-west"}\n'
        '{"ts": "2025-02-18T13:31:00Z", "artifact": "prompt", "version": "v8", "scope": "planet=mars"}\n'
        '{"ts": "2025-02-18T13:32:00Z", "artifact": "prompt_version", "version": "v9"}\n'
    )
    summary = ingest_releases([source], DataDir(tmp_path / "data"))
    assert (summary.accepted, summary.quarantined) == (2, 1)
    quarantine = pl.read_parquet(summary.quarantine_path)
    assert quarantine["field"].to_list() == ["scope"] and quarantine["row_number"].to_list() == [2]
    # a release log may name the kind by its request column
    assert pl.read_parquet(summary.written)["artifact"].to_list() == ["prompt", "prompt"]
