"""The live simulator continues the demo from where the store ends: contiguous, unique, atomic, deterministic."""

from __future__ import annotations

import json
from datetime import timedelta
from itertools import pairwise

import polars as pl
import pytest

from dashboard.cli import main
from dashboard.core.datadir import DataDir, atomic_write_parquet
from dashboard.core.demo import live, week
from dashboard.core.demo.engine import generate_window
from dashboard.core.telemetry.query import TelemetryStore

SEED, RPS = 11, 3.0


@pytest.fixture
def small_demo(tmp_path) -> DataDir:
    """The last two hours of the demo week at low traffic, with its generator recorded like `warroom demo`."""
    data = DataDir(tmp_path / "data")
    start = week.DATA_END - timedelta(hours=2)
    frame = generate_window(week.scenario(rps=RPS), start, week.DATA_END, SEED, id_prefix="demo")
    atomic_write_parquet(frame, data.requests / "demo-tail.parquet")
    data.truth.write_text(json.dumps({"incidents": [], "generator": {"seed": SEED, "rps": RPS}}))
    return data


def all_requests(data: DataDir) -> pl.DataFrame:
    return pl.read_parquet(data.requests / "*.parquet").sort("ts")


def test_append_minutes_continues_contiguously_with_unique_ids(small_demo):
    before = all_requests(small_demo)
    old_now = before["ts"].max()
    slices = live.append_minutes(small_demo, 90)
    after = all_requests(small_demo)
    added = after.filter(pl.col("ts") > old_now)

    # one file per simulated hour at most, each a new live-*.parquet
    assert [s.path.name.startswith(live.FILE_PREFIX) for s in slices] == [True, True]
    assert slices[0].start > old_now and slices[1].start == slices[0].end
    assert sum(s.rows for s in slices) == added.height == after.height - before.height
    # contiguous: no minute of the appended stretch is empty, and it reaches the target
    minutes = added["ts"].dt.truncate("1m").unique()
    first_minute = old_now.replace(second=0, microsecond=0)
    last_minute = (old_now + timedelta(minutes=90)).replace(second=0, microsecond=0)
    assert minutes.len() == (last_minute - first_minute) // timedelta(minutes=1) + 1
    assert (slices[-1].end - old_now) == timedelta(minutes=90)
    # no request id is reused, within the slices or against the existing data
    assert after["request_id"].n_unique() == after.height
    # the data's clock moved forward by about the appended time
    new_now = TelemetryStore(small_demo, cache=False).now()
    assert timedelta(minutes=89) < new_now - old_now <= timedelta(minutes=90)


def test_appended_rows_follow_the_demo_after_the_rollbacks(small_demo):
    live.append_minutes(small_demo, 60)
    tail = all_requests(small_demo).filter(pl.col("ts") >= week.DATA_END)
    # the rolled-back versions stay live: the continuation is the same world, not a fresh one
    assert set(tail["prompt_version"].unique()) == {"prompt-v6"}
    assert set(tail["index_version"].unique()) == {"kb-2025-02-01"}
    # traffic follows the recorded rate (3 rps, daily cycle near its peak): within a broad band
    assert 0.6 * RPS * 3600 < tail.height < 1.6 * RPS * 3600


def test_a_window_regenerates_identically(small_demo, tmp_path):
    gen = live.Generator.of(small_demo)
    start = week.DATA_END + timedelta(minutes=3)
    end = start + timedelta(seconds=47)
    other = DataDir(tmp_path / "other")
    one = live.write_slice(small_demo, start, end, gen)
    two = live.write_slice(other, start, end, gen)
    assert one.rows > 0
    assert pl.read_parquet(one.path).equals(pl.read_parquet(two.path))
    # writing the same stretch twice into one folder is refused, not duplicated
    with pytest.raises(live.LiveError, match="already simulated"):
        live.write_slice(small_demo, start, end, gen)


def test_files_are_written_whole_and_no_temporary_file_is_left(small_demo):
    live.append_minutes(small_demo, 30)
    names = sorted(p.name for p in small_demo.requests.iterdir())
    assert not [n for n in names if n.startswith(".") or n.endswith(".tmp")], names
    for path in small_demo.requests.glob("live-*.parquet"):
        assert pl.read_parquet(path).height > 0  # every file is a complete Parquet file


def test_run_live_paces_simulated_time_against_the_clock(small_demo):
    """60x speed for 12 real seconds, flushing every 5: three slices covering exactly 12 simulated minutes."""
    now = [0.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    old_now = TelemetryStore(small_demo, cache=False).now()
    seen = []
    slices = live.run_live(small_demo, speed=60, duration_s=12, flush_every_s=5, clock=lambda: now[0],
                           sleep=sleep, on_slice=seen.append)
    assert sleeps == [5, 5, 2]
    assert [s.end - s.start for s in slices] == [timedelta(minutes=5), timedelta(minutes=5), timedelta(minutes=2)]
    assert all(a.end == b.start for a, b in pairwise(slices))
    assert seen == slices
    assert slices[-1].end - old_now == timedelta(minutes=12) + live.TICK
    new_now = TelemetryStore(small_demo, cache=False).now()
    assert new_now > old_now + timedelta(minutes=11)


def test_refuses_to_continue_nothing_or_go_back_in_time(small_demo, tmp_path):
    with pytest.raises(live.LiveError, match="warroom demo"):
        live.append_minutes(DataDir(tmp_path / "empty"), 5)
    with pytest.raises(live.LiveError, match="nothing to append"):
        live.append_until(small_demo, week.DATA_END - timedelta(hours=1))
    with pytest.raises(live.LiveError, match="speed"):
        live.run_live(small_demo, speed=0, duration_s=1)


def test_cli_minutes_until_and_errors(small_demo, tmp_path, capsys):
    assert main(["simulate", "--data", str(small_demo.root), "--minutes", "10", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["files"] == 1 and out["requests"] > 0
    until = week.DATA_END + timedelta(minutes=30)
    assert main(["simulate", "--data", str(small_demo.root), "--until", until.isoformat()]) == 0
    assert TelemetryStore(small_demo, cache=False).now() < until
    assert TelemetryStore(small_demo, cache=False).now() > until - timedelta(minutes=1)
    assert main(["simulate", "--data", str(tmp_path / "nothing"), "--minutes", "5"]) == 2
    assert "warroom demo" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["simulate", "--data", str(small_demo.root)])  # a mode is required
