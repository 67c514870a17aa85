"""A new segment column reaches a ClickHouse store as a schema version of its own (`warroom store migrate`,
or the ingest that brings it), in the requests table and both rollups, with the DuckDB store's answers."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from dashboard.cli import main
from dashboard.core.datadir import DataDir
from dashboard.core.telemetry import clickhouse_schema
from dashboard.core.telemetry.clickhouse import ChdbEngine
from dashboard.core.telemetry.clickhouse_store import ClickHouseTelemetryStore
from dashboard.core.telemetry.contract import read_schema
from dashboard.core.telemetry.query import Scope, TelemetryStore

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"
SAMPLE_CSV, MAPPING = FIXTURES / "sample_requests.csv", FIXTURES / "mapping.toml"


def _sorting_key(engine, table: str) -> str:
    return engine.query("SELECT sorting_key FROM system.tables WHERE database = currentDatabase() AND name = $n",
                        {"n": table})["sorting_key"][0]


@pytest.fixture
def migrated(tmp_path):
    """A data folder configured for a chDB store, migrated before any ingest (the default segments)."""
    data = DataDir(tmp_path / "data")
    data.root.mkdir(parents=True)
    folder = tmp_path / "clickhouse"
    (data.root / "warroom.toml").write_text(f'[store]\nengine = "chdb"\npath = "{folder}"\n')
    assert main(["store", "migrate", "--data", str(data.root)]) == 0
    engine = ChdbEngine(folder)
    assert "plan" not in set(engine.query("DESCRIBE TABLE requests")["name"])
    return data, engine


def test_an_ingest_with_a_new_segment_adds_it_as_a_version(migrated, capsys, tmp_path):
    data, engine = migrated
    before = clickhouse_schema.applied_version(engine)
    # the mapping declares segments region, plan, language: `plan` is new to the store
    assert main(["ingest", "requests", str(SAMPLE_CSV), "--data", str(data.root), "--mapping", str(MAPPING)]) == 0
    assert "plan" in read_schema(data).segments
    changes = dict(engine.query("SELECT version, change FROM warroom_schema").iter_rows())
    assert changes[before + 1] == "add column plan" and clickhouse_schema.applied_version(engine) == before + 1
    for grain in ("minute", "hour"):
        assert _sorting_key(engine, f"rollup_{grain}").endswith(", plan")
    capsys.readouterr()
    assert main(["store", "migrate", "--data", str(data.root)]) == 0
    assert json.loads(capsys.readouterr().out)["applied"] == []  # up to date: nothing applied twice

    # the same requests again on another plan: cells that differ only in the new column
    header, *lines = SAMPLE_CSV.read_text().splitlines()
    moved = [line.replace(",r-", ",again-r-").replace(",free,", ",team,").replace(",pro,", ",team,")
             for line in lines if ",free," in line or ",pro," in line]
    (tmp_path / "again.csv").write_text("\n".join([header, *moved]) + "\n")
    assert main(["ingest", "requests", str(tmp_path / "again.csv"), "--data", str(data.root),
                 "--mapping", str(MAPPING)]) == 0

    duck, ch = TelemetryStore(data, cache=False), ClickHouseTelemetryStore(data, engine, cache=False)
    first, last, n = duck.time_range()
    assert ch.time_range() == (first, last, n) and n > 0
    end = last + timedelta(seconds=1)
    mid = first + (end - first) / 2
    windows = [("baseline", first, mid), ("current", mid, end)]
    dims = ["region", "plan", "language"]
    want = duck.segment_leaves(windows, dims).sort([*dims, "grp"], nulls_last=True)
    got = ch.segment_leaves(windows, dims).sort([*dims, "grp"], nulls_last=True)
    shown = [*dims, "grp", "requests", "errors", "refused"]
    assert got.select(shown).rows() == want.select(shown).rows()
    assert sorted(ch.dimension_values(first, end)["plan"]) == sorted(duck.dimension_values(first, end)["plan"])
    # a background merge keeps cells of different plans apart (the new column is in the sorting key)
    engine.command("OPTIMIZE TABLE rollup_minute FINAL")
    per_plan = dict(engine.query("SELECT plan, toInt64(sum(requests)) AS n FROM rollup_minute GROUP BY plan")
                    .iter_rows())
    rows = duck.run_sql("dimension_values", {"dims": ["plan"]}, Scope.of(first, end))
    assert per_plan == dict(rows.select("value", "requests").iter_rows())


def test_a_store_from_before_versions_said_what_changed_is_upgraded_once(migrated):
    data, engine = migrated
    # as the first schema version left it: no `change` column, one row for version 1
    engine.command("ALTER TABLE warroom_schema DELETE WHERE version > 1 SETTINGS mutations_sync = 1")
    engine.command("ALTER TABLE warroom_schema DROP COLUMN change")
    applied = clickhouse_schema.migrate(engine, read_schema(data))
    assert applied == [2]
    assert dict(engine.query("SELECT version, change FROM warroom_schema").iter_rows()) == {1: "", 2: "project 2"}
    assert clickhouse_schema.migrate(engine, read_schema(data)) == []


def test_a_store_missing_a_schema_column_is_refused_for_reading_in_one_line(migrated):
    from dashboard.core.telemetry.contract import TelemetrySchema, write_schema
    from dashboard.core.telemetry.store_config import StoreConfigError

    data, engine = migrated
    write_schema(data, TelemetrySchema(segments=["region", "plan"]))
    with pytest.raises(StoreConfigError, match=r"no column\(s\) plan .*warroom store migrate"):
        ClickHouseTelemetryStore(data, engine)
