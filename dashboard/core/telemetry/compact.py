"""Compaction of live telemetry: the small files of each finished ten minutes become one.

`warroom simulate --live` (like any streaming writer) adds a file every few
seconds: 720 an hour, and every query pays to open each one (an explorer view
over 722 files took 3x as long as over the same rows in 182; see
BENCHMARKS.md). Once a ten-minute block is over, its slices are merged into one
time-sorted file and the slices removed, so at most ~120 slices are ever open.

A merged file is named after the newest slice it holds
(compacted-live-20250218T161512000000.parquet holds every slice of block
20250218T161 up to that start), so a slice written into the same block later
stays visible and the next compaction merges it with the block file into a
new one. Readers never see a row twice or lose one: the merged file is
written first (atomically), and while both exist `visible_request_names()`
keeps only the newest merged file of a block and the slices it does not hold;
the older files are removed after. A query that listed a file just before it
was removed is retried by the query layer on the fresh listing. A crash
between the two steps leaves hidden files that the next compaction removes.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from dashboard.core.datadir import DataDir, atomic_write_parquet
from dashboard.core.telemetry import rollup

LIVE_PREFIX = "live-"
COMPACTED_PREFIX = "compacted-"
# live-20250218T161500123456.parquet: the slice's start to the microsecond; its ten-minute block is
# the date, the hour and the tens of minutes (20250218T161)
BLOCK = re.compile(rf"^{LIVE_PREFIX}((\d{{8}}T\d{{3}})\d{{3}}\d*)\.parquet$")
# compacted-live-<newest slice's stamp>.parquet; an older layout named only the block
# (compacted-live-20250218T161.parquet) and held every slice of it
MERGED = re.compile(rf"^{COMPACTED_PREFIX}{LIVE_PREFIX}((\d{{8}}T\d{{3}})(\d{{3}}\d*)?)\.parquet$")
WHOLE_BLOCK = "9" * 9  # the stamp an old-layout block file stands for: after every slice of its block


@dataclass(frozen=True)
class CompactedBlock:
    block: str             # 20250218T161 = 16:10-16:20 UTC
    files: int             # slices merged
    rows: int
    path: Path


def _slice_stamp(name: str) -> tuple[str, str] | None:
    """(block, stamp) of a live slice's name."""
    match = BLOCK.match(name)
    return (match.group(2), match.group(1)) if match else None


def _merged_stamp(name: str) -> tuple[str, str] | None:
    """(block, stamp of the newest slice held) of a block file's name."""
    match = MERGED.match(name)
    if not match:
        return None
    return match.group(2), match.group(1) if match.group(3) else match.group(2) + WHOLE_BLOCK


def merged_name(newest_slice_stamp: str) -> str:
    return f"{COMPACTED_PREFIX}{LIVE_PREFIX}{newest_slice_stamp}.parquet"


def slice_name(start: datetime) -> str:
    """The file name of a live slice starting at `start` (UTC): the one place its format is written."""
    return f"{LIVE_PREFIX}{start:%Y%m%dT%H%M%S%f}.parquet"


def visible_request_names(names: list[str]) -> list[str]:
    """The request files a reader should use: every one, minus slices a block file already holds."""
    newest: dict[str, tuple[str, str]] = {}  # block -> (stamp, name) of its newest block file
    for name in names:
        held = _merged_stamp(name)
        if held and (held[0] not in newest or held[1] > newest[held[0]][0]):
            newest[held[0]] = (held[1], name)

    def visible(name: str) -> bool:
        held = _merged_stamp(name)
        if held:
            return newest[held[0]][1] == name
        piece = _slice_stamp(name)
        return not piece or piece[0] not in newest or piece[1] > newest[piece[0]][0]

    return sorted(n for n in names if visible(n))


def request_files(folder: Path) -> list[Path]:
    """`visible_request_names` of a folder's Parquet files, as paths."""
    if not folder.is_dir():
        return []
    with os.scandir(folder) as entries:
        names = [e.name for e in entries if e.name.endswith(".parquet") and not e.name.startswith(".")]
    return [folder / n for n in visible_request_names(names)]


def compact_live_files(data: DataDir, keep_latest: int = 1) -> list[CompactedBlock]:
    """Merge the slices of every ten-minute block but the newest `keep_latest` (still being written).

    A block already merged before takes the slices written into it since: its
    file and those slices become one new file.
    """
    folder = data.requests
    if not folder.is_dir():
        return []
    slices: dict[str, list[tuple[str, Path]]] = {}
    merged: dict[str, list[tuple[str, Path]]] = {}
    with os.scandir(folder) as entries:
        names = sorted(e.name for e in entries)
    for name in names:
        if (piece := _slice_stamp(name)):
            slices.setdefault(piece[0], []).append((piece[1], folder / name))
        elif (held := _merged_stamp(name)):
            merged.setdefault(held[0], []).append((held[1], folder / name))
    blocks = sorted(set(slices) | set(merged))
    settled = blocks[:-keep_latest] if keep_latest else blocks
    done = []
    for block in settled:
        files = sorted(merged.get(block, []))
        held_until = files[-1][0] if files else ""
        stale = ([path for _, path in files[:-1]]
                 + [path for stamp, path in slices.get(block, []) if stamp <= held_until])
        fresh = [(stamp, path) for stamp, path in slices.get(block, []) if stamp > held_until]
        sources = ([files[-1][1]] if files else []) + [path for _, path in fresh]
        if fresh and len(sources) >= 2:
            frame = pl.concat([pl.read_parquet(p, glob=False) for p in sources], how="diagonal_relaxed").sort("ts")
            target = atomic_write_parquet(frame, folder / merged_name(fresh[-1][0]))
            stale += sources
            done.append(CompactedBlock(block, len(fresh), frame.height, target))
        for path in stale:  # held by the newest block file: hidden from readers already
            path.unlink(missing_ok=True)
    if done or any(slices.values()):
        rollup.maintain(data)  # the merged files' rollups in, the removed slices' out
    return done
