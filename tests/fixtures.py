"""The one place test data is built: unit, SQL, app and browser tests share it.

`demo_week` is the embedded demo exactly as `make run` would generate it
(default seed, days and traffic), so what the tests check is what a user sees.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from dashboard.core.datadir import DataDir
from dashboard.core.demo import DEFAULT_SEED, write_demo

# OTLP traces and real services live in their own modules; tests import them from here
from tests.fixtures_otlp import (  # noqa: F401
    OTLP_EXPORTS,
    OTLP_FIXTURE_COUNTS,
    OTLP_FIXTURES,
    otlp_json_document,
    otlp_json_lines,
    otlp_model_change_jsonl,
    otlp_protobuf_request,
    write_otlp_fixtures,
)
from tests.fixtures_outside import (  # noqa: F401
    OUTSIDE,
    OUTSIDE_STORES,
    PRESENCE,
    RANDOM_MEASURES,
    build_outside_store,
    random_store,
)
from tests.fixtures_system import PostgresCluster, free_port, postgres_bin, read_only_view, small_disk  # noqa: F401

if TYPE_CHECKING:  # the builders import Polars where they use it; here it only names types
    import polars as pl

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class CliRun:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str) -> CliRun:
    """`warroom ARGS` in this process (as `dashboard.cli.main` runs it), with what it printed.

    A subprocess is only for what needs one: a server, a process killed mid-write.
    """
    from dashboard.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return CliRun(code, out.getvalue(), err.getvalue())


def raw_rows(data: DataDir):
    """Every stored request row of `data` (the answer a rollup must equal), as one Polars frame."""
    import polars as pl

    from dashboard.core.telemetry.compact import request_files

    return pl.concat([pl.read_parquet(p) for p in request_files(data.requests)], how="diagonal_relaxed")


def build_demo_week(root: Path, seed: int = DEFAULT_SEED, days: int = 7, rps: float = 10.0,
                    with_incidents: bool = True) -> DataDir:
    data = DataDir(root)
    write_demo(data, seed=seed, days=days, rps=rps)
    if with_incidents:
        from dashboard.core.demo.incidents import seed_demo_incidents

        seed_demo_incidents(data)
    return data


def copy_store(source: Path, target: Path) -> DataDir:
    """A private copy of the data folder at `source`, cheap enough to make per test.

    Parquet files are hard-linked: the store never changes one once written
    (every writer renames a new file into place, compaction unlinks), so a
    test writing through the copy never reaches the source. Everything else
    (the incident database, TOML and JSON files, written in place by tests) is
    copied. `unchanged_parquet` checks the assumption on the shared store.
    """
    import os
    import shutil

    def link_or_copy(src: str, dst: str) -> str:
        if src.endswith(".parquet"):
            try:
                os.link(src, dst)
                return dst
            except OSError:  # another file system, or links refused: a copy is as good, only slower
                pass
        return shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link_or_copy)
    return DataDir(target)


def files_of(root: Path, pattern: str = "*") -> dict[str, list[int]]:
    """[size, modification time] of every file under `root` matching `pattern`: what a write would change."""
    import stat as mode

    out = {}
    for path in sorted(root.rglob(pattern)):
        seen = path.stat()
        if mode.S_ISREG(seen.st_mode):
            out[str(path.relative_to(root))] = [seen.st_size, seen.st_mtime_ns]
    return out


def changed_files(before: dict[str, list[int]], after: dict[str, list[int]]) -> list[str]:
    """The files written, added or removed between two `files_of` listings."""
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


def rewritten_in_place(root: Path, before: dict[str, list[int]]) -> list[str]:
    """The Parquet files under `root` that changed since `before` was taken (new and removed ones do not count)."""
    return [name for name, seen in files_of(root, "*.parquet").items() if before.get(name) not in (None, seen)]


STORE_ENGINES = ("duckdb", "chdb")


def chdb_copy(data: DataDir, folder: Path):
    """A ClickHouse (chDB) store in `folder` holding `data`'s Parquet telemetry, migrated and loaded."""
    from dashboard.core.telemetry import clickhouse_schema
    from dashboard.core.telemetry.clickhouse import ChdbEngine
    from dashboard.core.telemetry.contract import read_schema

    engine = ChdbEngine(folder)
    schema = read_schema(data)
    clickhouse_schema.migrate(engine, schema)
    clickhouse_schema.load_parquet(engine, data, schema)
    return engine


def build_chdb_pair(root: Path, days: int = 2, rps: float = 1.0):
    """A demo store with its incidents, and a chDB store of the same telemetry loaded by `warroom store load`:
    (data, chDB folder). The folder's warroom.toml is left without `[store]`: the caller picks the engine."""
    from dashboard.cli import main

    data = build_demo_week(root / "data", days=days, rps=rps)
    folder = root / "clickhouse"
    if main(["store", "load", "--data", str(data.root), "--store", f"chdb:{folder}"]) != 0:
        raise RuntimeError("warroom store load failed")
    return data, folder


def truth(data: DataDir) -> dict:
    return json.loads(data.truth.read_text())


def incident_truth(data: DataDir, incident_id: str) -> dict:
    return next(i for i in truth(data)["incidents"] if i["id"] == incident_id)


def tiny_store(root: Path):
    """Six hand-written requests over three minutes, every measure set: (store, first minute)."""
    from datetime import datetime, timedelta

    import polars as pl

    from dashboard.core.datadir import atomic_write_parquet
    from dashboard.core.demo.engine import conform
    from dashboard.core.telemetry.query import TelemetryStore

    t0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
    n = 6
    rows = pl.DataFrame({
        "ts": [t0 + timedelta(seconds=s) for s in (5, 20, 50, 65, 70, 130)],
        "request_id": [f"r{i}" for i in range(n)], "service": ["bot"] * n,
        "region": ["eu", "eu", "us", "us", "eu", "us"], "prompt_version": ["v1", "v1", "v2", "v2", "v1", "v2"],
        "latency_ms": [100.0, 200.0, 300.0, 400.0, 500.0, 600.0], "ttft_ms": [50.0] * n,
        "input_tokens": [10] * n, "output_tokens": [5] * n, "cost_usd": [0.01] * n,
        "task_success": [False, True, False, False, True, True], "quality_score": [0.5] * n,
        "refused": [True, False, True, True, False, False], "policy_violation": [False] * n,
        "guardrail_blocked": [False] * n, "error_type": [None, "timeout", None, None, None, None],
        "tool_calls": [1, 2, 0, 1, 1, 0], "tool_errors": [1, 0, 0, 1, 0, 0], "fallback_used": [False] * n,
    })
    data = DataDir(root / "tiny")
    atomic_write_parquet(conform(rows), data.requests / "tiny.parquet")
    return TelemetryStore(data), t0


# Langfuse exports written from Langfuse's documented shapes (see tests/fixtures/langfuse/README.md)
LANGFUSE_DIR = REPO_ROOT / "tests" / "fixtures" / "langfuse"
LANGFUSE_MAPPING = LANGFUSE_DIR / "mapping.toml"
LANGFUSE_BLOB = {kind: LANGFUSE_DIR / "blob" / f"{kind}.jsonl" for kind in ("observations", "scores", "traces")}
LANGFUSE_UI = {"observations": LANGFUSE_DIR / "ui" / "observations.csv", "scores": LANGFUSE_DIR / "ui" / "scores.json"}


def langfuse_blob_parquet(folder: Path) -> dict[str, Path]:
    """The blob-storage export as Parquet, from the JSONL fixture: usage/cost details as Parquet maps."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    maps = {"usage_details": pa.int64(), "provided_usage_details": pa.int64(),
            "cost_details": pa.float64(), "provided_cost_details": pa.float64()}
    out = {}
    for kind, path in LANGFUSE_BLOB.items():
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        columns = {}
        for name in rows[0]:
            values = [r.get(name) for r in rows]
            if name in maps:
                # a text cell that is not a map stays unreadable: Parquet cannot hold it, so it is absent here
                cells = [list(v.items()) if isinstance(v, dict) else None for v in values]
                columns[name] = pa.array(cells, type=pa.map_(pa.string(), maps[name]))
            elif name.endswith(("_time", "_at", "_ts")) or name == "timestamp":
                # ClickHouse DateTime64 columns arrive as Parquet timestamps (UTC)
                stamps = [datetime.fromisoformat(v) if v else None for v in values]
                columns[name] = pa.array(stamps, type=pa.timestamp("ms"))
            elif any(isinstance(v, (dict, list)) for v in values):
                columns[name] = pa.array([json.dumps(v) if v is not None else None for v in values], pa.string())
            else:
                columns[name] = pa.array(values)
        target = folder / f"{kind}.parquet"
        pq.write_table(pa.table(columns), target)
        out[kind] = target
    return out


# One ordinary request: what a row holds when the test does not care about a column.
REQUEST_DEFAULTS: dict = {
    "service": "bot", "user_id": None, "region": "eu", "tier": "paid", "language": "en", "channel": "web",
    "app_version": "a1", "model_version": "m1", "prompt_version": "p1", "index_version": "k1",
    "router_policy": "r1", "policy_version": "g1", "latency_ms": 1000.0, "ttft_ms": None,
    "input_tokens": 100, "output_tokens": 50, "cost_usd": 0.001, "task_success": True, "quality_score": 0.8,
    "user_feedback": None, "refused": False, "policy_violation": False, "guardrail_blocked": False,
    "error_type": None, "tool_calls": 0, "tool_errors": 0, "fallback_used": False,
}


def request_rows(rows, **overrides) -> pl.DataFrame:
    """Request rows in the default contract's schema: each row (a dict of the columns the test is about)
    laid over `overrides` (the test's constants), over REQUEST_DEFAULTS; a column none of them sets is null."""
    import polars as pl

    from dashboard.core.telemetry.contract import TelemetrySchema

    schema = TelemetrySchema().request_schema()
    unknown = set(overrides) - set(schema)
    assert not unknown, f"not request columns: {sorted(unknown)}"
    base = {**REQUEST_DEFAULTS, **overrides}
    return pl.DataFrame([{**base, **row} for row in rows], schema=schema)


def write_request_rows(data: DataDir, rows: pl.DataFrame, name: str = "rows.parquet") -> Path:
    """Store request rows as an ingest would: every column of the folder's schema, absent ones null."""
    import polars as pl

    from dashboard.core.datadir import atomic_write_parquet
    from dashboard.core.telemetry.contract import read_schema

    schema = read_schema(data).request_schema()
    frame = rows.select([pl.col(c).cast(t) if c in rows.columns else pl.lit(None, dtype=t).alias(c)
                         for c, t in schema.items()]).sort("ts")
    return atomic_write_parquet(frame, data.requests / name)


def version_switch_rows(switch_at: datetime, hours: float = 2.0, per_minute: int = 30, *,
                        column: str = "prompt_version", old: str = "v12", new: str = "v13",
                        output_tokens: tuple[int, int] = (200, 200), seed: int = 7) -> pl.DataFrame:
    """Steady traffic that moves from `old` to `new` at `switch_at` (output tokens old/new level, noisy)."""
    from datetime import timedelta

    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    start = switch_at - timedelta(hours=hours / 2)
    count = int(hours * 60 * per_minute)
    offsets = np.sort(rng.uniform(0, hours * 3600, count))
    ts = [start + timedelta(seconds=float(s)) for s in offsets]
    after = np.array([t >= switch_at for t in ts])
    level = np.where(after, output_tokens[1], output_tokens[0])
    return pl.DataFrame({
        "ts": pl.Series(ts, dtype=pl.Datetime("us", "UTC")),
        "request_id": [f"req-{i:06d}" for i in range(count)],
        "service": ["support-bot"] * count,
        column: np.where(after, new, old),
        "latency_ms": rng.lognormal(6.5, 0.3, count),
        "input_tokens": rng.integers(400, 600, count),
        "output_tokens": np.maximum(1, rng.normal(level, level * 0.15)).astype(np.int64),
    })


_MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def as_read(markdown: str) -> str:
    """Markdown source as a reader sees it: backslash escapes and the invisible autolink breaks removed.

    Text from people and telemetry reaches the page escaped (core/text.py); page tests compare what is read.
    """
    return _MARKDOWN_ESCAPE.sub(r"\1", markdown).replace("\u200b", "")
