"""Compaction of live telemetry: fewer files, the same rows, and readers never double-count meanwhile."""

from __future__ import annotations

import json
import shutil
import threading
from datetime import timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dashboard.core.datadir import DataDir
from dashboard.core.demo import live
from dashboard.core.telemetry.compact import (
    COMPACTED_PREFIX,
    compact_live_files,
    request_files,
    visible_request_names,
)
from dashboard.core.telemetry.query import TelemetryStore
from tests.fixtures import copy_store

# every test here writes and compacts a copy of the demo week with live slices (seconds each)
pytestmark = pytest.mark.slow


@pytest.fixture
def live_store(live_demo_week):
    """The demo week plus 40 simulated minutes written as one-minute slices (tests/conftest.py)."""
    return live_demo_week


def snapshot(data: DataDir) -> tuple[int, pl.DataFrame]:
    store = TelemetryStore(data, cache=False)
    first, last, count = store.time_range()
    return count, store.series(last - timedelta(hours=3), last + timedelta(seconds=1))


def test_finished_blocks_become_one_file_each_and_nothing_changes_for_readers(live_store, tmp_path):
    data = DataDir(tmp_path / "data")
    copy_store(live_store.root, data.root)
    slices_before = sorted(p.name for p in data.requests.glob("live-*.parquet"))
    count_before, series_before = snapshot(data)

    merged = compact_live_files(data)

    blocks = sorted({name[5:17] for name in slices_before})  # 20250218T161: 16:10-16:20
    assert len(blocks) >= 4
    assert [m.block for m in merged] == blocks[:-1]  # the newest block is still being written
    assert sum(m.files for m in merged) == sum(1 for n in slices_before if n[5:17] in blocks[:-1])
    left = sorted(p.name for p in data.requests.glob("live-*.parquet"))
    assert left and all(n[5:17] == blocks[-1] for n in left)
    count_after, series_after = snapshot(data)
    assert count_after == count_before
    # the same numbers (variances may differ in the last bits: rows are summed in another order)
    assert_frame_equal(series_after, series_before, rel_tol=1e-9, abs_tol=1e-9)
    merged_file = pl.read_parquet(merged[0].path)
    assert merged_file["ts"].is_sorted() and merged_file.height == merged[0].rows
    assert compact_live_files(data) == []  # nothing more to do


def test_slices_an_hour_file_already_holds_are_hidden_then_removed(live_store, tmp_path):
    """A compaction stopped between writing the block and removing its slices: readers still count once."""
    data = DataDir(tmp_path / "data")
    copy_store(live_store.root, data.root)
    count_before, _ = snapshot(data)
    slices = sorted(data.requests.glob("live-*.parquet"))
    block = slices[0].name[5:17]
    mine = [p for p in slices if p.name[5:17] == block]
    assert len(mine) > 1
    frame = pl.concat([pl.read_parquet(p) for p in mine]).sort("ts")
    frame.write_parquet(data.requests / f"{COMPACTED_PREFIX}live-{block}.parquet")  # as if stopped here

    listed = {p.name for p in request_files(data.requests)}
    assert not listed & {p.name for p in mine}
    assert snapshot(data)[0] == count_before
    compact_live_files(data)
    assert not any(p.exists() for p in mine)
    assert snapshot(data)[0] == count_before


def test_a_reader_during_compaction_always_sees_every_row_once(live_store, tmp_path):
    data = DataDir(tmp_path / "data")
    copy_store(live_store.root, data.root)
    expected, _ = snapshot(data)
    store = TelemetryStore(data, cache=False)
    seen: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                seen.append(int(store.run_sql("time_range_scan")["requests"][0]))
                seen.append(store.time_range()[2])
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        compact_live_files(data)
    finally:
        done.set()
        reader.join(timeout=60)
    assert not errors, "\n".join(str(e) for e in errors)
    assert seen and set(seen) == {expected}


def test_live_mode_compacts_each_block_as_it_ends(live_store, tmp_path):
    data = DataDir(tmp_path / "data")
    copy_store(live_store.root, data.root)
    compact_live_files(data, keep_latest=0)
    before = sum(1 for n in data.requests.glob(f"{COMPACTED_PREFIX}*.parquet"))
    clock = iter(range(0, 10_000))
    # 30 simulated minutes (three ten-minute blocks end), a two-minute slice per (fake) second
    live.run_live(data, speed=120, duration_s=15, flush_every_s=1, clock=lambda: next(clock), sleep=lambda s: None)
    names = [p.name for p in data.requests.glob("*.parquet")]
    assert len({n[5:17] for n in names if n.startswith("live-")}) == 1  # only the newest block is in slices
    assert sum(n.startswith(COMPACTED_PREFIX) for n in names) - before >= 2


def _cli_json(capsys, *argv: str) -> dict:
    from dashboard.cli import main

    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_simulate_compact_simulate_compact_loses_no_row_and_keeps_going(demo_data, tmp_path, capsys):
    """A slice written into a block compacted before stays visible, and the next compaction keeps it."""
    data = DataDir(tmp_path / "data")
    copy_store(demo_data.root, data.root)
    at = ["--data", str(data.root)]
    stored = snapshot(data)[0]
    for step in (["simulate", "--minutes", "2"], ["simulate", "--minutes", "3"], ["compact", "--all"],
                 ["simulate", "--minutes", "0.5"], ["compact", "--all"], ["simulate", "--minutes", "1"],
                 ["compact", "--all"]):
        out = _cli_json(capsys, *step, *at, *(["--json"] if step[0] == "simulate" else []))
        if step[0] == "simulate":
            assert out["requests"] > 0
            stored += out["requests"]
        assert snapshot(data)[0] == stored, step
    names = sorted(p.name for p in data.requests.glob("*.parquet"))
    assert visible_request_names(names) == names  # no hidden file left behind
    blocks = [n[len(COMPACTED_PREFIX) + 5:][:12] for n in names if n.startswith(COMPACTED_PREFIX)]
    slices = [n[5:17] for n in names if n.startswith("live-")]
    assert len(set(blocks)) == len(blocks) and all(slices.count(b) == 1 for b in slices if b not in blocks)


def test_a_block_file_stopped_before_its_older_files_were_removed_counts_once(live_store, tmp_path):
    data = DataDir(tmp_path / "data")
    copy_store(live_store.root, data.root)
    compact_live_files(data, keep_latest=0)
    count = snapshot(data)[0]
    live.append_minutes(data, 0.5)  # lands in the newest block, after its block file
    count_with_slice = snapshot(data)[0]
    assert count_with_slice > count
    newest_block = sorted(data.requests.glob(f"{COMPACTED_PREFIX}*.parquet"))[-1]
    (new_slice,) = data.requests.glob("live-*.parquet")
    kept = tmp_path / "kept"
    kept.mkdir()
    for path in (newest_block, new_slice):
        shutil.copy(path, kept / path.name)
    compact_live_files(data, keep_latest=0)
    assert not new_slice.exists() and not newest_block.exists()
    # as if stopped after the new block file was written: the old block file and the slice are still there
    for path in kept.iterdir():
        shutil.copy(path, data.requests / path.name)
    assert snapshot(data)[0] == count_with_slice
    assert compact_live_files(data, keep_latest=0) == []
    assert not newest_block.exists() and not new_slice.exists() and snapshot(data)[0] == count_with_slice
