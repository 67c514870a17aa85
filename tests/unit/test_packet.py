"""The reproducer packet on a small hand-made store: who is affected, sampling, files, manifest."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from dashboard.cli.packet import register_packet
from dashboard.core.datadir import DataDir, atomic_write_parquet
from dashboard.core.incident.events import NewEvent
from dashboard.core.incident.store import IncidentStore
from dashboard.core.reporting.packet import PacketError, export_packet, suspect_versions
from dashboard.core.telemetry.contract import DEFAULT_ARTIFACT_COLUMNS
from tests.fixtures import request_rows

START = datetime(2025, 2, 18, 13, 30, tzinfo=UTC)


def packet_rows(n: int = 600) -> pl.DataFrame:
    """Every 10 s from 12:30; English paid traffic switches to p7 at 13:30 for even rows."""
    rows = []
    for i in range(n):
        ts = START - timedelta(hours=1) + timedelta(seconds=10 * i)
        english = i % 3 != 0
        rows.append({
            "ts": ts, "request_id": f"r{i:04d}", "user_id": f"u{i % 50}", "language": "en" if english else "de",
            "prompt_version": "p7" if ts >= START and i % 2 == 0 else "p6",
            "latency_ms": 1000.0 + i, "refused": ts >= START and i % 2 == 0,
        })
    return request_rows(rows, index_version="kb1")


@pytest.fixture()
def data(tmp_path):
    d = DataDir(tmp_path / "data")
    atomic_write_parquet(packet_rows(), d.requests / "part-0.parquet")
    store = IncidentStore(d.incidents_db)
    store.create([NewEvent.make("opened", {"title": "p7 refusals", "window_start": START,
                                           "segments": {"language": "en"}, "suspects": ["prompt:p7"]},
                                "ana", START + timedelta(minutes=30))])
    store.create([NewEvent.make("opened", {"title": "no suspect", "window_start": START,
                                           "segments": {"language": "de"}}, "ana", START)])
    return d


def test_affected_means_suspect_version_in_segment_and_window(data, tmp_path):
    result = export_packet(data, "INC-1", tmp_path / "out", sample=1000)
    rows = pl.read_parquet(tmp_path / "out" / "requests.parquet")
    # window 13:30 -> the newest row (the data's "now"), English only
    assert rows["language"].unique().to_list() == ["en"]
    assert rows["ts"].min() >= START
    assert (rows.filter(pl.col("affected"))["prompt_version"] == "p7").all()
    assert (rows.filter(~pl.col("affected"))["prompt_version"] == "p6").all()
    english_after = packet_rows().filter((pl.col("language") == "en") & (pl.col("ts") >= START))
    expected_affected = english_after.filter(pl.col("prompt_version") == "p7").height
    counts = result.manifest["counts"]
    assert counts["population"] == {"affected": expected_affected,
                                     "unaffected": english_after.height - expected_affected}
    assert counts["sampled"]["affected"] == expected_affected


def test_sample_is_deterministic_per_seed_and_capped_per_group(data, tmp_path):
    a = export_packet(data, "INC-1", tmp_path / "a", sample=20, seed=1)
    b = export_packet(data, "INC-1", tmp_path / "b", sample=20, seed=1)
    c = export_packet(data, "INC-1", tmp_path / "c", sample=20, seed=2)
    ids = [pl.read_parquet(r.out_dir / "requests.parquet")["request_id"].to_list() for r in (a, b, c)]
    assert ids[0] == ids[1]
    assert ids[0] != ids[2]
    assert a.manifest["counts"]["sampled"] == {"affected": 20, "unaffected": 20}
    assert a.manifest["sampling"]["seed"] == 1


def test_files_agree_with_manifest(data, tmp_path):
    result = export_packet(data, "INC-1", tmp_path / "out", sample=30)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest == json.loads(json.dumps(result.manifest))
    parquet = pl.read_parquet(tmp_path / "out" / "requests.parquet")
    lines = (tmp_path / "out" / "requests.jsonl").read_text().splitlines()
    assert len(lines) == parquet.height == sum(f["rows"] for f in manifest["files"]) / 2
    first = json.loads(lines[0])
    assert set(DEFAULT_ARTIFACT_COLUMNS.values()) <= set(first)
    assert first["ts"].endswith("Z") and first["request_id"] in parquet["request_id"].to_list()
    assert manifest["versions"]["prompt_version"]["p7"]["affected"] == manifest["counts"]["sampled"]["affected"]
    assert manifest["filters"] == {"language": "en"}
    assert manifest["suspects"] == ["prompt:p7"]


def test_without_versioned_suspects_the_hour_before_is_the_control(data, tmp_path):
    result = export_packet(data, "INC-2", tmp_path / "out", sample=1000)
    rows = pl.read_parquet(tmp_path / "out" / "requests.parquet")
    assert rows["language"].unique().to_list() == ["de"]
    assert (rows.filter(pl.col("affected"))["ts"] >= START).all()
    assert (rows.filter(~pl.col("affected"))["ts"] < START).all()
    assert result.manifest["window"]["control_start"] is not None


def test_bad_requests_say_why(data, tmp_path):
    with pytest.raises(PacketError, match="INC-9"):
        export_packet(data, "INC-9", tmp_path / "x")
    with pytest.raises(PacketError, match="sample"):
        export_packet(data, "INC-1", tmp_path / "x", sample=0)


def test_suspect_versions_map_kinds_to_columns():
    assert suspect_versions(["prompt:p7", "index:kb2", "external:tool", "router"], DEFAULT_ARTIFACT_COLUMNS) == {
        "prompt_version": ["p7"], "index_version": ["kb2"]}


def test_register_packet_wires_a_subcommand(data, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    register_packet(parser.add_subparsers(dest="sub"))
    args = parser.parse_args(["packet", "INC-1", "--out", str(tmp_path / "cli"), "--sample", "5",
                              "--data", str(data.root)])
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)["sampled"] == {"affected": 5, "unaffected": 5}
    assert (tmp_path / "cli" / "manifest.json").exists()
