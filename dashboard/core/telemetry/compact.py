"""Compaction of live telemetry: the small files of each finished ten minutes become one.

`warroom simulate --live` (like any streaming writer) adds a file every few
seconds: 720 an hour, and every query pays to open each one (an explorer view
over 722 files took 3x as long as over the same rows in 182; see
BENCHMARKS.md). Once a ten-minute block is over, its slices are merged into one
time-sorted file and the slices removed, so at most ~120 slices are ever open.

Readers never see a row twice or lose one: the merged file is written first
(atomically), and while both exist `visible_request_names()` keeps only the merged one
for that block; the slices are removed after. A query that listed a slice just
before it was removed is retried by the query layer on the fresh listing. A
crash between the two steps leaves hidden slices that the next compaction
removes.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from dashboard.core.datadir import DataDir, atomic_write_parquet

LIVE_PREFIX = "live-"
COMPACTED_PREFIX = "compacted-"
# live-20250218T161500123456.parquet: the slice's start to the microsecond; its ten-minute block is
# the date, the hour and the tens of minutes (20250218T161)
BLOCK = re.compile(rf"^{LIVE_PREFIX}(\d{{8}}T\d{{3}})\d{{3}}\d*\.parquet$")
MERGED = re.compile(rf"^{COMPACTED_PREFIX}{LIVE_PREFIX}(\d{{8}}T\d{{3}})\.parquet$")


@dataclass(frozen=True)
class CompactedBlock:
    block: str             # 20250218T161 = 16:10-16:20 UTC
    files: int             # slices merged
    rows: int
    path: Path


def _slice_block(name: str) -> str | None:
    match = BLOCK.match(name)
    return match.group(1) if match else None


def slice_name(start: datetime) -> str:
    """The file name of a live slice starting at `start` (UTC): the one place its format is written."""
    return f"{LIVE_PREFIX}{start:%Y%m%dT%H%M%S%f}.parquet"


def visible_request_names(names: list[str]) -> list[str]:
    """The request files a reader should use: every one, minus slices a block file already holds."""
    merged = {m.group(1) for m in map(MERGED.match, names) if m}
    return sorted(n for n in names if _slice_block(n) not in merged)


def request_files(folder: Path) -> list[Path]:
    """`visible_request_names` of a folder's Parquet files, as paths."""
    if not folder.is_dir():
        return []
    with os.scandir(folder) as entries:
        names = [e.name for e in entries if e.name.endswith(".parquet") and not e.name.startswith(".")]
    return [folder / n for n in visible_request_names(names)]


def compact_live_files(data: DataDir, keep_latest: int = 1) -> list[CompactedBlock]:
    """Merge the slices of every ten-minute block but the newest `keep_latest` (still being written)."""
    folder = data.requests
    if not folder.is_dir():
        return []
    by_block: dict[str, list[Path]] = {}
    for path in sorted(folder.glob(f"{LIVE_PREFIX}*.parquet")):
        block = _slice_block(path.name)
        if block:
            by_block.setdefault(block, []).append(path)
    settled = sorted(by_block)[:-keep_latest] if keep_latest else sorted(by_block)
    done = []
    for block in settled:
        slices = by_block[block]
        target = folder / f"{COMPACTED_PREFIX}{LIVE_PREFIX}{block}.parquet"
        if target.exists():  # an earlier run stopped after writing it: the slices are already hidden
            for path in slices:
                path.unlink(missing_ok=True)
            continue
        if len(slices) < 2:
            continue
        frame = pl.concat([pl.read_parquet(p) for p in slices], how="diagonal_relaxed").sort("ts")
        atomic_write_parquet(frame, target)
        for path in slices:
            path.unlink(missing_ok=True)
        done.append(CompactedBlock(block, len(slices), frame.height, target))
    return done
