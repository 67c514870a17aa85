"""`warroom ingest` as a user runs it: JSON summary on stdout, exit codes, clear errors on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from dashboard.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"


def run(capsys, *argv: str) -> tuple[int, dict | None, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_documented_example_command_prints_a_reconciled_summary(tmp_path, capsys):
    data = tmp_path / "data"
    code, summary, _ = run(capsys, "ingest", "requests", str(FIXTURES / "sample_requests.csv"),
                           "--mapping", str(FIXTURES / "mapping.toml"), "--data", str(data))
    assert code == 0
    assert (summary["accepted"], summary["quarantined"]) == (14, 6)
    assert summary["accepted"] + summary["quarantined"] == summary["rows"] == 20
    assert summary["ignored_columns"] == ["trace_url"]
    assert summary["files"][0]["file"].endswith("sample_requests.csv")
    written = Path(summary["written"])
    assert written.parent == data / "requests" and written.name.startswith("ingest-")
    assert Path(summary["quarantine_path"]).parent == data / "quarantine"
    assert pl.read_parquet(written).height == 14

    code, releases, _ = run(capsys, "ingest", "releases", str(FIXTURES / "sample_releases.csv"),
                            "--mapping", str(FIXTURES / "mapping.toml"), "--data", str(data))
    assert code == 0 and (releases["accepted"], releases["quarantined"]) == (4, 3)
    assert Path(releases["written"]).parent == data / "releases"


def test_unreadable_file_exits_2_with_the_file_named_and_nothing_written(tmp_path, capsys):
    data = tmp_path / "data"
    bad = tmp_path / "export.parquet"
    bad.write_text("ts,request_id\n")
    code, summary, err = run(capsys, "ingest", "requests", str(FIXTURES / "sample_requests.jsonl"), str(bad),
                             "--data", str(data))
    assert code == 2 and summary is None
    assert "export.parquet: not a readable Parquet file" in err and "nothing was written" in err
    assert not data.exists()


def test_bad_mapping_exits_2_naming_the_setting(tmp_path, capsys):
    mapping = tmp_path / "m.toml"
    mapping.write_text('[columns]\nlatency = "duration"\n')
    code, _, err = run(capsys, "ingest", "requests", str(FIXTURES / "sample_requests.csv"),
                       "--mapping", str(mapping), "--data", str(tmp_path / "data"))
    assert code == 2 and "m.toml: columns: ['latency'] not known fields" in err


def test_every_row_rejected_exits_1(tmp_path, capsys):
    source = tmp_path / "r.csv"
    source.write_text("ts,request_id,latency_ms\n2025-02-18T10:00:00Z,a,-1\n")
    code, summary, _ = run(capsys, "ingest", "requests", str(source), "--data", str(tmp_path / "data"))
    assert code == 1 and summary["accepted"] == 0 and summary["written"] is None


def test_bench_ingest_runs_and_reports_both_formats(capsys):
    code, result, _ = run(capsys, "bench", "ingest", "--rows", "3000", "--csv-rows", "2000", "--repeats", "1")
    assert code == 0
    assert result["parquet"]["rows"] == 3000 and result["csv"]["rows"] == 2000
    for fmt in ("parquet", "csv"):
        assert result[fmt]["rows_per_second"] > 0
        assert result[fmt]["quarantined"] > 0  # the synthetic export carries some bad rows


def test_dry_run_reports_the_first_rejections_and_writes_nothing(tmp_path, capsys):
    data = tmp_path / "data"
    code, summary, _ = run(capsys, "ingest", "requests", str(FIXTURES / "sample_requests.csv"),
                           "--mapping", str(FIXTURES / "mapping.toml"), "--data", str(data), "--dry-run")
    assert code == 0 and summary["dry_run"] is True
    assert (summary["accepted"], summary["quarantined"], summary["written"]) == (14, 6, None)
    assert [r["row_number"] for r in summary["quarantine_sample"]] == [5, 8, 11, 14, 17, 19]
    assert summary["quarantine_sample"][0]["reason"] == "latency_ms (column 'duration_ms'): negative (got '-12')"
    assert not data.exists()
