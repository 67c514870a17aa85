"""The one place test data is built: unit, SQL, app and browser tests share it.

`demo_week` is the embedded demo exactly as `make run` would generate it
(default seed, days and traffic), so what the tests check is what a user sees.
"""

from __future__ import annotations

import json
import subprocess
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.demo import DEFAULT_SEED, write_demo

REPO_ROOT = Path(__file__).resolve().parents[1]


def build_demo_week(root: Path, seed: int = DEFAULT_SEED, days: int = 7, rps: float = 10.0,
                    with_incidents: bool = True) -> DataDir:
    data = DataDir(root)
    write_demo(data, seed=seed, days=days, rps=rps)
    if with_incidents:
        from dashboard.cli.demo import seed_incidents

        seed_incidents(data)
    return data


def truth(data: DataDir) -> dict:
    return json.loads(data.truth.read_text())


def incident_truth(data: DataDir, incident_id: str) -> dict:
    return next(i for i in truth(data)["incidents"] if i["id"] == incident_id)


def tiny_store(root: Path):
    """Six hand-written requests over three minutes, every measure set: (store, first minute)."""
    from datetime import datetime, timedelta, timezone

    import polars as pl

    from dashboard.core.datadir import atomic_write_parquet
    from dashboard.core.telemetry.demo.engine import conform
    from dashboard.core.telemetry.query import TelemetryStore

    t0 = datetime(2025, 3, 3, 12, 0, tzinfo=timezone.utc)
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


def write_request_rows(data: DataDir, rows: "pl.DataFrame", name: str = "rows.parquet") -> Path:
    """Store request rows as an ingest would: every column of the folder's schema, absent ones null."""
    import polars as pl

    from dashboard.core.datadir import atomic_write_parquet

    schema = data.schema().request_schema()
    frame = rows.select([pl.col(c).cast(t) if c in rows.columns else pl.lit(None, dtype=t).alias(c)
                         for c, t in schema.items()]).sort("ts")
    return atomic_write_parquet(frame, data.requests / name)


def version_switch_rows(switch_at: "datetime", hours: float = 2.0, per_minute: int = 30, *,
                        column: str = "prompt_version", old: str = "v12", new: str = "v13",
                        output_tokens: tuple[int, int] = (200, 200), seed: int = 7) -> "pl.DataFrame":
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


# --- a throwaway PostgreSQL cluster (Debian's server binaries) ----------------------

def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bin(name: str) -> Path | None:
    import glob
    import shutil

    found = shutil.which(name)
    if found:
        return Path(found)
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return Path(candidates[-1]) if candidates else None


class PostgresCluster:
    """initdb + pg_ctl on a free port of 127.0.0.1, in a folder of its own, removed on stop.

    The server refuses to run as root: as root it runs as Debian's `postgres`
    user (runuser), otherwise as the current user.
    """

    def __init__(self) -> None:
        import os
        import tempfile

        self.initdb, self.pg_ctl = postgres_bin("initdb"), postgres_bin("pg_ctl")
        if self.initdb is None or self.pg_ctl is None:
            raise RuntimeError("PostgreSQL server binaries are missing: `make test` installs Debian's postgresql "
                               "(scripts/install-system-deps.sh)")
        self.root = Path(tempfile.mkdtemp(prefix="warroom-pg-"))
        self.port = free_port()
        self._as_root = os.geteuid() == 0
        if self._as_root:
            import shutil

            shutil.chown(self.root, "postgres", "postgres")
        self.url = f"postgresql://warroom@127.0.0.1:{self.port}/postgres"

    def _run(self, *cmd: str) -> None:
        import subprocess

        prefix = ["runuser", "-u", "postgres", "--"] if self._as_root else []
        done = subprocess.run(prefix + list(cmd), capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:2])} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")

    def start(self) -> "PostgresCluster":
        data = self.root / "data"
        self._run(str(self.initdb), "-D", str(data), "-U", "warroom", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--locale=C")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
        self._run(str(self.pg_ctl), "-D", str(data), "-o", options, "-l", str(self.root / "server.log"),
                  "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        import shutil

        try:
            self._run(str(self.pg_ctl), "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def fresh_schema_url(self, name: str) -> str:
        """A URL whose tables live in a new, empty schema (one per test: fast, isolated)."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
        return f"{self.url}?options=-csearch_path%3D{name}"


@contextmanager
def read_only_view(folder: Path, at: Path):
    """`folder` bind-mounted read-only at `at` (a read-only medium even for root); skips where mounting is refused."""
    import pytest

    at.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "--bind", str(folder), str(at)], capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"a read-only bind mount needs CAP_SYS_ADMIN: {done.stderr.strip()}")
    try:
        ro = subprocess.run(["mount", "-o", "remount,bind,ro", str(at)], capture_output=True, text=True)
        if ro.returncode:
            pytest.skip(f"cannot remount read-only: {ro.stderr.strip()}")
        yield at
    finally:
        subprocess.run(["umount", str(at)], capture_output=True)


@contextmanager
def small_disk(at: Path, size: str = "2m"):
    """A tmpfs of `size` at `at`, to fill up (ENOSPC); skips where mounting is refused."""
    import pytest

    at.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(at)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"mounting a small tmpfs needs CAP_SYS_ADMIN: {done.stderr.strip()}")
    try:
        yield at
    finally:
        subprocess.run(["umount", str(at)], capture_output=True)


def otlp_model_change_jsonl(path: Path, switch_at: "datetime", hours: float = 2.0, per_minute: int = 20,
                            old_model: str = "gpt-4o-2024-05-13", new_model: str = "gpt-4o-2024-08-06",
                            output_tokens: tuple[int, int] = (150, 260), seed: int = 11) -> Path:
    """OTLP JSON Lines as the Collector's file exporter writes them: a chat span per request (GenAI
    conventions; int64 as decimal strings, hex ids), an HTTP child span each, 40 spans a line; the model
    changes at `switch_at` and its output tokens jump. Failed calls (1 in 50) carry no usage."""
    import random
    from datetime import timedelta

    rnd = random.Random(seed)
    start = switch_at - timedelta(hours=hours / 2)
    count = int(hours * 60 * per_minute)
    stamps = sorted(start + timedelta(seconds=rnd.uniform(0, hours * 3600)) for _ in range(count))

    def attr(key, value):
        if isinstance(value, bool):
            return {"key": key, "value": {"boolValue": value}}
        if isinstance(value, int):
            return {"key": key, "value": {"intValue": str(value)}}
        if isinstance(value, list):
            return {"key": key, "value": {"arrayValue": {"values": [{"stringValue": v} for v in value]}}}
        return {"key": key, "value": {"stringValue": value}}

    def nanos(ts):
        return str(int(ts.timestamp() * 1_000_000) * 1000)

    spans = []
    for ts in stamps:
        after = ts >= switch_at
        model = new_model if after else old_model
        trace_id, span_id = f"{rnd.getrandbits(128):032x}", f"{rnd.getrandbits(64):016x}"
        duration = timedelta(milliseconds=rnd.uniform(600, 2400))
        failed = rnd.random() < 0.02
        attributes = [attr("gen_ai.operation.name", "chat"), attr("gen_ai.provider.name", "openai"),
                      attr("gen_ai.request.model", "gpt-4o")]
        if failed:
            attributes.append(attr("error.type", "timeout"))
        else:
            level = output_tokens[1] if after else output_tokens[0]
            attributes += [attr("gen_ai.response.model", model),
                           attr("gen_ai.usage.input_tokens", rnd.randint(500, 900)),
                           attr("gen_ai.usage.output_tokens", max(1, int(rnd.gauss(level, level * 0.15)))),
                           attr("gen_ai.response.finish_reasons", ["stop"])]
        spans.append({"traceId": trace_id, "spanId": span_id, "name": "chat gpt-4o", "kind": 3,
                      "startTimeUnixNano": nanos(ts), "endTimeUnixNano": nanos(ts + duration),
                      "attributes": attributes, "status": {"code": 2, "message": "timed out"} if failed else {}})
        spans.append({"traceId": trace_id, "spanId": f"{rnd.getrandbits(64):016x}", "parentSpanId": span_id,
                      "name": "POST", "kind": 3, "startTimeUnixNano": nanos(ts + timedelta(milliseconds=5)),
                      "endTimeUnixNano": nanos(ts + duration - timedelta(milliseconds=5)),
                      "attributes": [attr("http.request.method", "POST"), attr("http.response.status_code", 200)],
                      "status": {}})
    resource = {"attributes": [attr("service.name", "support-bot"), attr("service.version", "2.4.0")]}
    lines = []
    for i in range(0, len(spans), 40):
        lines.append(json.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [
            {"scope": {"name": "opentelemetry.instrumentation.openai", "version": "0.48.0"},
             "spans": spans[i:i + 40]}]}]}))
    path.write_text("\n".join(lines) + "\n")
    return path
