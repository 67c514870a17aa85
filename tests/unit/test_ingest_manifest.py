"""The load manifest: a source file the store already holds is skipped and named, never stored or quarantined twice."""

from __future__ import annotations

import json
import shutil

import polars as pl

from dashboard.cli import main
from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.ingest.manifest import SOURCES_KEY, committed_sources
from dashboard.core.telemetry.ingest.pipeline import ingest_releases, ingest_requests
from dashboard.core.telemetry.mapping import load_mapping
from tests.fixtures import LANGFUSE_BLOB, LANGFUSE_MAPPING, REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "ingest"
SAMPLE = FIXTURES / "sample_requests.jsonl"


def quarantined_rows(data: DataDir) -> int:
    return sum(pl.read_parquet(p).height for p in data.quarantine.glob("*.parquet"))


def stored_rows(data: DataDir) -> int:
    return sum(pl.read_parquet(p).height for p in data.requests.glob("*.parquet"))


def test_a_second_ingest_of_the_same_file_adds_nothing_and_names_where_it_went(tmp_path):
    data = DataDir(tmp_path / "data")
    first = ingest_requests([SAMPLE], data)
    assert first.accepted and first.quarantined
    again = ingest_requests([SAMPLE], data)
    assert (again.rows, again.accepted, again.quarantined, again.exit_code) == (0, 0, 0, 0)
    skip = again.already_ingested[0]
    assert skip["stored_in"] == first.written.split("/")[-1]
    assert skip["quarantine"] == first.quarantine_path.split("/")[-1]
    assert "already ingested on" in skip["reason"] and "--reload" in skip["reason"]
    assert again.warnings[0].startswith(f"{SAMPLE}: already ingested on")
    assert (stored_rows(data), quarantined_rows(data)) == (first.accepted, first.quarantined)


def test_the_footer_of_both_files_names_the_source_and_the_commit(tmp_path):
    data = DataDir(tmp_path / "data")
    first = ingest_requests([SAMPLE], data)
    for path in (first.written, first.quarantine_path):
        entry = json.loads(pl.read_parquet_metadata(path)[SOURCES_KEY])
        assert [s["file"] for s in entry["sources"]] == [SAMPLE.name]
        assert entry["accepted"] == first.written.split("/")[-1]
    assert len(committed_sources(data, "requests")) == 1
    assert committed_sources(data, "releases") == {}


def test_a_file_of_only_bad_rows_is_held_by_its_quarantine(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"request_id": "a", "ts": "not a time"}\n{"request_id": "b", "ts": "yesterday"}\n')
    data = DataDir(tmp_path / "data")
    first = ingest_requests([bad], data)
    assert (first.accepted, first.quarantined) == (0, 2)
    again = ingest_requests([bad], data)
    assert again.quarantined == 0 and "every row rejected" in again.already_ingested[0]["reason"]
    assert quarantined_rows(data) == 2


def test_reload_reads_it_again_and_its_rows_are_duplicates(tmp_path):
    data = DataDir(tmp_path / "data")
    first = ingest_requests([SAMPLE], data)
    again = ingest_requests([SAMPLE], data, reload=True)
    assert again.accepted == 0 and again.quarantined == first.accepted + first.quarantined
    assert stored_rows(data) == first.accepted


def test_the_same_bytes_twice_in_one_command_are_read_once(tmp_path):
    copy = tmp_path / "copy.jsonl"
    shutil.copyfile(SAMPLE, copy)
    data = DataDir(tmp_path / "data")
    summary = ingest_requests([SAMPLE, copy], data)
    alone = ingest_requests([SAMPLE], DataDir(tmp_path / "alone"))
    assert (summary.accepted, summary.quarantined) == (alone.accepted, alone.quarantined)
    assert summary.already_ingested == [{"file": str(copy), "reason": f"same bytes as {SAMPLE}, given earlier; "
                                                                       "skipped"}]


def test_a_deleted_request_file_forgets_its_sources(tmp_path):
    data = DataDir(tmp_path / "data")
    first = ingest_requests([SAMPLE], data)
    for path in data.requests.glob("*.parquet"):
        path.unlink()
    again = ingest_requests([SAMPLE], data)  # the rows are gone: loading them again is right
    assert again.accepted == first.accepted and not again.already_ingested


def test_a_file_with_other_bytes_is_read_even_under_the_same_name(tmp_path):
    data = DataDir(tmp_path / "data")
    source = tmp_path / "export.jsonl"
    source.write_text(SAMPLE.read_text())
    first = ingest_requests([source], data)
    source.write_text(SAMPLE.read_text().replace('"j-', '"k-'))
    second = ingest_requests([source], data)
    assert second.accepted == first.accepted and not second.already_ingested


def test_releases_are_skipped_the_same_way(tmp_path):
    data = DataDir(tmp_path / "data")
    mapping = load_mapping(FIXTURES / "mapping.toml")
    first = ingest_releases([FIXTURES / "sample_releases.csv"], data, mapping)
    again = ingest_releases([FIXTURES / "sample_releases.csv"], data, mapping)
    assert first.accepted == 4 and (again.accepted, again.quarantined) == (0, 0)
    assert len(again.already_ingested) == 1


def test_a_langfuse_export_rerun_skips_its_observations(tmp_path):
    data = DataDir(tmp_path / "data")
    files = [LANGFUSE_BLOB["observations"], LANGFUSE_BLOB["scores"]]
    first = ingest_requests(files, data, load_mapping(LANGFUSE_MAPPING), fmt="langfuse")
    quarantined = quarantined_rows(data)
    again = ingest_requests(files, data, load_mapping(LANGFUSE_MAPPING), fmt="langfuse")
    assert first.accepted and (again.accepted, again.quarantined) == (0, 0)
    assert quarantined_rows(data) == quarantined  # score rejections too
    assert [s["file"] for s in again.already_ingested] == [str(LANGFUSE_BLOB["observations"])]


def test_the_cli_says_it_in_one_line_and_exits_0(tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["ingest", "requests", str(SAMPLE), "--data", str(data)]) == 0
    capsys.readouterr()
    assert main(["ingest", "requests", str(SAMPLE), "--data", str(data)]) == 0
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if "already ingested" in line]
    assert len(lines) == 1 and lines[0].startswith(f"warning: {SAMPLE}: already ingested on")
    assert json.loads(captured.out)["accepted"] == 0
