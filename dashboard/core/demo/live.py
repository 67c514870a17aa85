"""Live telemetry: keep the demo week going, slice by slice, from where the store ends.

The demo scenario has no end of its own: extending its `end` and generating
the next window with the same engine continues the week (same traffic mix,
the same versions live after the rollbacks, the same lingering effects). Each
slice is one new Parquet file under requests/, written atomically, so the app
and the CLI read either all of a slice or none of it.

Deterministic per window: the rows of [start, end) depend only on the seed and
the window's bounds, and request ids carry the window start, so two slices never
share an id. `run_live` paces slices against a clock; `append_until` writes a
given stretch of simulated time at once (tests and scripted demos).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from dashboard.core.datadir import DataDir, atomic_write_parquet
from dashboard.core.demo import DEFAULT_SEED, week
from dashboard.core.demo.engine import generate_window
from dashboard.core.errors import WarroomError
from dashboard.core.telemetry import rollup
from dashboard.core.telemetry.compact import LIVE_PREFIX, compact_live_files, slice_name
from dashboard.core.telemetry.store_writes import mirror_files
from dashboard.core.timeutil import utc

FILE_PREFIX = LIVE_PREFIX  # compaction recognizes the slices by it
DEFAULT_RPS = 10.0
# one file per this much simulated time at most when appending in bulk
BULK_CHUNK = timedelta(hours=1)
TICK = timedelta(microseconds=1)


class LiveError(WarroomError, ValueError):
    """The data folder cannot be continued (no telemetry, bad settings)."""


@dataclass(frozen=True)
class Slice:
    start: datetime
    end: datetime
    rows: int
    path: Path | None  # None when no request arrived in the slice


@dataclass(frozen=True)
class Generator:
    """How the data folder's demo was generated: the same seed and traffic continue it."""

    seed: int
    rps: float

    @classmethod
    def of(cls, data: DataDir, seed: int | None = None, rps: float | None = None) -> Generator:
        recorded: dict = {}
        if data.truth.exists():
            try:
                recorded = json.loads(data.truth.read_text()).get("generator") or {}
            except json.JSONDecodeError as exc:
                raise LiveError(f"{data.truth}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        g = cls(seed=int(seed if seed is not None else recorded.get("seed", DEFAULT_SEED)),
                rps=float(rps if rps is not None else recorded.get("rps", DEFAULT_RPS)))
        if not g.rps > 0:
            raise LiveError(f"requests per second must be positive, got {g.rps}")
        return g


def newest_timestamp(data: DataDir) -> datetime:
    """The newest request timestamp in the folder (the data's 'now')."""
    from dashboard.core.telemetry.query import TelemetryStore

    if not data.has_requests():
        raise LiveError(f"no telemetry in {data.requests} to continue: run `warroom demo --data {data.root}` first")
    newest = TelemetryStore(data, cache=False).now()
    if newest is None:
        raise LiveError(f"the Parquet files in {data.requests} hold no requests to continue from")
    return utc(newest)


def continuation_start(data: DataDir) -> datetime:
    """Where the next slice starts: just after the newest request already stored."""
    return newest_timestamp(data) + TICK


def slice_path(data: DataDir, start: datetime) -> Path:
    return data.requests / slice_name(utc(start))


def write_slice(data: DataDir, start: datetime, end: datetime, generator: Generator) -> Slice:
    """Generate the demo scenario over [start, end) and write it as one new file."""
    start, end = utc(start), utc(end)
    if end <= start:
        raise LiveError(f"empty slice: end {end.isoformat()} is not after start {start.isoformat()}")
    scenario = replace(week.scenario(rps=generator.rps), end=end)
    start_us = int(start.timestamp() * 1_000_000)
    frame = generate_window(scenario, start, end, generator.seed, id_prefix=f"live{start_us:x}")
    if frame.is_empty():
        return Slice(start, end, 0, None)  # nothing arrived: no file, the next slice simply follows
    path = slice_path(data, start)
    if path.exists():
        raise LiveError(f"{path} already exists: that stretch of time was already simulated")
    atomic_write_parquet(frame, path)
    rollup.maintain(data)
    mirror_files(data, {"requests": str(path)})  # the configured ClickHouse store gets the same rows
    return Slice(start, end, frame.height, path)


def append_until(data: DataDir, until: datetime, *, seed: int | None = None, rps: float | None = None,
                 chunk: timedelta = BULK_CHUNK) -> list[Slice]:
    """Append simulated telemetry from where the store ends up to `until`, one file per `chunk`."""
    until = utc(until)
    start = continuation_start(data)
    if until <= start:
        raise LiveError(f"the data already reaches {start - TICK:%Y-%m-%d %H:%M:%S} UTC, "
                        f"past {until:%Y-%m-%d %H:%M:%S} UTC: nothing to append")
    generator = Generator.of(data, seed, rps)
    slices = []
    while start < until:
        end = min(until, start + chunk)
        piece = write_slice(data, start, end, generator)
        if piece.path is not None:
            slices.append(piece)
        start = end
    return slices


def append_minutes(data: DataDir, minutes: float, **kwargs) -> list[Slice]:
    """Append `minutes` of simulated time after the store's newest request."""
    if not minutes > 0:
        raise LiveError(f"--minutes must be positive, got {minutes}")
    return append_until(data, newest_timestamp(data) + timedelta(minutes=minutes), **kwargs)


def run_live(data: DataDir, *, speed: float = 1.0, duration_s: float = 600.0, flush_every_s: float = 5.0,
             seed: int | None = None, rps: float | None = None,
             clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
             on_slice: Callable[[Slice], None] | None = None, compact: bool = True) -> list[Slice]:
    """Append telemetry in real time for `duration_s` seconds: `speed` simulated seconds per real second.

    A slice is written every `flush_every_s` real seconds (fewer, larger files);
    the simulated clock never runs ahead of the real one times `speed`. With
    `compact`, each finished ten-minute block of slices is merged into one file.
    """
    if not speed > 0:
        raise LiveError(f"--speed must be positive, got {speed}")
    if not duration_s > 0:
        raise LiveError(f"--duration must be positive, got {duration_s}")
    if not flush_every_s > 0:
        raise LiveError(f"--flush-every must be positive, got {flush_every_s}")
    generator = Generator.of(data, seed, rps)
    cursor = continuation_start(data)
    sim_origin = cursor
    began = clock()
    slices: list[Slice] = []
    elapsed = 0.0
    while elapsed < duration_s:
        sleep(min(flush_every_s, duration_s - elapsed))
        elapsed = min(clock() - began, duration_s)
        target = sim_origin + timedelta(seconds=elapsed * speed)
        if target > cursor:
            piece = write_slice(data, cursor, target, generator)
            if compact:
                compact_live_files(data)  # merges only blocks before the newest slice's: a no-op inside a block
            cursor = target
            if piece.path is not None:
                slices.append(piece)
                if on_slice:
                    on_slice(piece)
    return slices
