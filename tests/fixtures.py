"""The one place test data is built: unit, SQL, app and browser tests share it.

`demo_week` is the embedded demo exactly as `make run` would generate it
(default seed, days and traffic), so what the tests check is what a user sees.
"""

from __future__ import annotations

import json
import re
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


# -- OpenTelemetry GenAI traces ------------------------------------------------
# Written from the OTLP specification (JSON encoding: lowerCamelCase keys, hex ids,
# int64 as decimal strings, AnyValue unions) and the GenAI semantic conventions,
# plus the OpenInference, OpenLLMetry and Langfuse attribute names. One neutral
# description, two independent encoders: hand-written OTLP JSON, and protobuf
# messages built with opentelemetry-proto's own classes.

OTLP_FIXTURES = REPO_ROOT / "tests" / "fixtures" / "otlp"
T0 = 1_739_889_000_000_000_000  # 2025-02-18T14:30:00Z in nanoseconds
MS = 1_000_000


def _span(trace: str, span: str, name: str, start_ms: int, end_ms: int, attrs: dict, parent: str = "",
          kind: int = 3, status: tuple[int, str] = (0, ""), exception: str | None = None) -> dict:
    return {"trace": trace, "span": span, "parent": parent, "name": name, "kind": kind,
            "start": T0 + start_ms * MS, "end": T0 + end_ms * MS if end_ms is not None else 0,
            "status": status, "attrs": attrs, "exception": exception}


TRACE_AGENT = "5b8efff798038103d269b633813fc60c"
TRACE_SEARCH = "0af7651916cd43dd8448eb211c80319c"
TRACE_MIXED = "4bf92f3577b34da6a3ce929d0e0e4736"

# Each element is one line of the file exporter's output: a list of (resource attributes, spans).
OTLP_EXPORTS: list[list[tuple[dict, list[dict]]]] = [
    [({"service.name": "support-bot", "service.version": "2.4.0", "deployment.environment.name": "prod"}, [
        _span(TRACE_AGENT, "a000000000000001", "invoke_agent support_agent", 0, 4200,
              {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support_agent"}, kind=1),
        _span(TRACE_AGENT, "a000000000000002", "chat gpt-4o", 10, 1210, {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens": 812, "gen_ai.usage.output_tokens": 64,
            "gen_ai.usage.cache_read.input_tokens": 512,
            "gen_ai.response.finish_reasons": ["tool_calls"], "gen_ai.response.time_to_first_chunk": 0.21,
            "app.user.tier": "paid", "app.prompt.version": "support-v7", "user.id": "u-17"},
              parent="a000000000000001"),
        _span(TRACE_AGENT, "a000000000000003", "execute_tool get_order", 1220, 1400,
              {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_order"}, parent="a000000000000001",
              kind=1),
        _span(TRACE_AGENT, "a000000000000004", "GET", 1230, 1390,
              {"http.request.method": "GET", "url.full": "https://orders.internal/v1/orders/17",
               "http.response.status_code": 200}, parent="a000000000000003"),
        _span(TRACE_AGENT, "a000000000000005", "execute_tool issue_refund", 1410, 1900,
              {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "issue_refund",
               "error.type": "PermissionDenied"}, parent="a000000000000001", kind=1,
              status=(2, "refund not allowed for this order")),
    ]),
     ({"service.name": "support-bot", "service.version": "2.4.0", "deployment.environment.name": "prod"}, [
        _span(TRACE_AGENT, "a000000000000006", "chat gpt-4o", 1910, 4100, {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens": 1020, "gen_ai.usage.output_tokens": 140,
            "gen_ai.response.finish_reasons": ["stop"], "app.user.tier": "paid",
            "app.prompt.version": "support-v7"}, parent="a000000000000001"),
    ])],
    [({"service.name": "search-api", "service.version": "1.9.1"}, [
        _span(TRACE_SEARCH, "b000000000000001", "GET /search", 0, 900,
              {"http.request.method": "GET", "http.route": "/search", "http.response.status_code": 200}, kind=2),
        # deprecated names: gen_ai.system, prompt/completion tokens; a failed call carries no usage
        _span(TRACE_SEARCH, "b000000000000002", "text_completion claude-3-haiku", 20, 340, {
            "gen_ai.operation.name": "text_completion", "gen_ai.system": "anthropic",
            "gen_ai.request.model": "claude-3-haiku-20240307", "error.type": "429",
            "app.user.tier": "free"}, parent="b000000000000001", status=(2, "429 Too Many Requests")),
        _span(TRACE_SEARCH, "b000000000000003", "text_completion claude-3-haiku", 350, 880, {
            "gen_ai.operation.name": "text_completion", "gen_ai.system": "anthropic",
            "gen_ai.request.model": "claude-3-haiku-20240307", "gen_ai.response.model": "claude-3-haiku-20240307",
            "gen_ai.usage.prompt_tokens": 230, "gen_ai.usage.completion_tokens": 0,
            "gen_ai.response.finish_reasons": ["content_filter"], "app.user.tier": "free"},
              parent="b000000000000001"),
        _span(TRACE_SEARCH, "b000000000000004", "embeddings text-embedding-3-small", 5, 15, {
            "gen_ai.operation.name": "embeddings", "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "text-embedding-3-small", "gen_ai.usage.input_tokens": 12},
              parent="b000000000000001"),
        # a status-only failure: no error.type, an exception event says what went wrong
        _span(TRACE_SEARCH, "b000000000000005", "chat gemini-1.5-flash", 100, 200, {
            "gen_ai.operation.name": "generate_content", "gen_ai.provider.name": "gcp.gemini",
            "gen_ai.request.model": "gemini-1.5-flash"}, parent="b000000000000001", status=(2, "deadline exceeded"),
              exception="google.api_core.exceptions.DeadlineExceeded"),
    ])],
    [({"service.name": "rag-app", "service.version": "0.3.0", "telemetry.sdk.language": "python"}, [
        # OpenInference (Arize Phoenix) names
        _span(TRACE_MIXED, "c000000000000001", "ChatCompletion", 0, 1500, {
            "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini", "llm.provider": "openai",
            "llm.token_count.prompt": 400, "llm.token_count.completion": 90, "app.user.tier": "paid"}),
        _span(TRACE_MIXED, "c000000000000002", "retrieve", 1500, 1600, {"openinference.span.kind": "RETRIEVER"},
              parent="c000000000000001"),
        # OpenLLMetry (traceloop) names with Langfuse's keys
        _span(TRACE_MIXED, "c000000000000003", "openai.chat", 1600, 2600, {
            "llm.request.type": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.prompt_tokens": 380, "gen_ai.usage.completion_tokens": 75,
            "traceloop.workflow.name": "answer", "langfuse.release": "rag-2025.02.18",
            "langfuse.observation.prompt.name": "answer", "langfuse.observation.prompt.version": 4,
            "langfuse.user.id": "u-99"}),
        _span(TRACE_MIXED, "c000000000000004", "tool.lookup", 2600, 2700, {"traceloop.span.kind": "tool"},
              parent="c000000000000003"),
        # broken: a negative token count is quarantined with the reason, not dropped
        _span(TRACE_MIXED, "c000000000000005", "chat gpt-4o-mini", 2700, 2900, {
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": -5, "gen_ai.usage.output_tokens": 3}),
    ])],
]
# what the fixture holds: 16 spans; 8 model calls (7 accepted, 1 quarantined), 8 other spans
OTLP_FIXTURE_COUNTS = {"spans": 16, "accepted": 7, "quarantined": 1, "skipped": 8}


def _json_value(value) -> dict:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}  # int64 as a decimal string, as the OTLP JSON encoding requires
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [_json_value(v) for v in value]}}
    return {"stringValue": str(value)}


def _json_attributes(attrs: dict) -> list[dict]:
    return [{"key": k, "value": _json_value(v)} for k, v in attrs.items()]


def otlp_json_document(export: list[tuple[dict, list[dict]]]) -> dict:
    """One ExportTraceServiceRequest in the OTLP JSON encoding, written by hand from the specification."""
    resource_spans = []
    for resource, spans in export:
        encoded = []
        for s in spans:
            span = {"traceId": s["trace"], "spanId": s["span"], "name": s["name"], "kind": s["kind"],
                    "startTimeUnixNano": str(s["start"]), "endTimeUnixNano": str(s["end"]),
                    "attributes": _json_attributes(s["attrs"]), "status": {}}
            if s["parent"]:
                span["parentSpanId"] = s["parent"]
            if s["status"][0]:
                span["status"] = {"code": s["status"][0], "message": s["status"][1]}
            if s["exception"]:
                span["events"] = [{"timeUnixNano": str(s["end"]), "name": "exception",
                                   "attributes": _json_attributes({"exception.type": s["exception"]})}]
            encoded.append(span)
        resource_spans.append({"resource": {"attributes": _json_attributes(resource)},
                               "scopeSpans": [{"scope": {"name": "fixture", "version": "1.0"}, "spans": encoded}]})
    return {"resourceSpans": resource_spans}


def otlp_json_lines() -> str:
    return "".join(json.dumps(otlp_json_document(export), separators=(",", ":")) + "\n" for export in OTLP_EXPORTS)


def otlp_protobuf_request(exports=None):
    """All of OTLP_EXPORTS as one ExportTraceServiceRequest, built with opentelemetry-proto's classes."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    def any_value(value) -> AnyValue:
        if isinstance(value, bool):
            return AnyValue(bool_value=value)
        if isinstance(value, int):
            return AnyValue(int_value=value)
        if isinstance(value, float):
            return AnyValue(double_value=value)
        if isinstance(value, list):
            out = AnyValue()
            out.array_value.values.extend(any_value(v) for v in value)
            return out
        return AnyValue(string_value=str(value))

    def key_values(attrs: dict) -> list[KeyValue]:
        return [KeyValue(key=k, value=any_value(v)) for k, v in attrs.items()]

    request = ExportTraceServiceRequest()
    for export in exports if exports is not None else OTLP_EXPORTS:
        for resource, spans in export:
            resource_spans = request.resource_spans.add()
            resource_spans.resource.attributes.extend(key_values(resource))
            scope_spans = resource_spans.scope_spans.add()
            scope_spans.scope.name = "fixture"
            for s in spans:
                span = scope_spans.spans.add()
                span.trace_id = bytes.fromhex(s["trace"])
                span.span_id = bytes.fromhex(s["span"])
                if s["parent"]:
                    span.parent_span_id = bytes.fromhex(s["parent"])
                span.name, span.kind = s["name"], s["kind"]
                span.start_time_unix_nano, span.end_time_unix_nano = s["start"], s["end"]
                span.attributes.extend(key_values(s["attrs"]))
                if s["status"][0]:
                    span.status.code, span.status.message = s["status"]
                if s["exception"]:
                    event = span.events.add()
                    event.name, event.time_unix_nano = "exception", s["end"]
                    event.attributes.extend(key_values({"exception.type": s["exception"]}))
    return request


def write_otlp_fixtures(folder: Path) -> dict[str, Path]:
    """The fixture in every encoding: JSON Lines (plain and gzip'd), one JSON document, protobuf."""
    import gzip

    folder.mkdir(parents=True, exist_ok=True)
    lines = otlp_json_lines()
    paths = {"jsonl": folder / "genai_traces.jsonl", "jsonl.gz": folder / "genai_traces.jsonl.gz",
             "json": folder / "genai_traces.json", "pb": folder / "genai_traces.pb"}
    paths["jsonl"].write_text(lines)
    paths["jsonl.gz"].write_bytes(gzip.compress(lines.encode()))
    merged = {"resourceSpans": [rs for export in OTLP_EXPORTS for rs in otlp_json_document(export)["resourceSpans"]]}
    paths["json"].write_text(json.dumps(merged, indent=1))
    paths["pb"].write_bytes(otlp_protobuf_request().SerializeToString())
    return paths


if __name__ == "__main__":  # python -m tests.fixtures: rewrite the committed OTLP fixture
    write_otlp_fixtures(OTLP_FIXTURES)


# -- outside-shaped telemetry (tests/fixtures/outside): what real sources hand over -------------------

OUTSIDE = REPO_ROOT / "tests" / "fixtures" / "outside"
OUTSIDE_STORES = ("token_only", "spans_failures_without_usage", "no_cost", "no_quality_or_safety")


def build_outside_store(name: str, root: Path) -> DataDir:
    """One of OUTSIDE_STORES in the store layout, from its public-format file, keeping only what it has.

    Only the columns the source holds are written (no invented values): a measure
    the source lacks is absent from the Parquet file, as it would be from a real one.
    """
    import csv

    import polars as pl

    from dashboard.core.datadir import atomic_write_parquet
    from dashboard.core.telemetry.contract import RELEASE_SCHEMA, TelemetrySchema

    data = DataDir(root)
    releases: list[dict] = []
    if name == "token_only":
        rows = list(csv.DictReader(open(OUTSIDE / "azure_llm_trace.csv")))
        frame = pl.DataFrame({
            "ts": [r["TIMESTAMP"][:26] for r in rows], "request_id": [f"azure-{i}" for i in range(len(rows))],
            "service": ["azure-llm"] * len(rows),
            "input_tokens": [int(r["ContextTokens"]) for r in rows],
            "output_tokens": [int(r["GeneratedTokens"]) for r in rows],
        }).with_columns(pl.col("ts").str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us", time_zone="UTC"))
        schema = TelemetrySchema(segments=[], artifacts={})
    elif name == "spans_failures_without_usage":
        frame = pl.DataFrame([_span_row(json.loads(line)) for line in open(OUTSIDE / "otel_genai_spans.jsonl")])
        schema = TelemetrySchema(segments=["model_family", "region"], artifacts={"model": "model_version"})
        first = frame.filter(pl.col("model_version") == "gpt-4o-2024-08-06")["ts"].min()
        releases.append({"ts": first, "service": "support-bot", "artifact": "model", "version": "gpt-4o-2024-08-06",
                         "previous_version": "gpt-4o-2024-05-13", "scope": "model_family=gpt-4o"})
    elif name == "no_cost":
        rows = list(csv.DictReader(open(OUTSIDE / "app_log_no_cost.csv")))
        flag = {"true": True, "false": False, "": None}
        frame = pl.DataFrame({
            "ts": [r["time"] for r in rows], "request_id": [r["id"] for r in rows], "service": ["app"] * len(rows),
            "region": [r["region"] for r in rows], "tier": [r["tier"] for r in rows],
            "prompt_version": [r["prompt"] for r in rows], "latency_ms": [float(r["latency_ms"]) for r in rows],
            "input_tokens": [int(r["tokens_in"]) for r in rows], "output_tokens": [int(r["tokens_out"]) for r in rows],
            "task_success": [flag[r["resolved"]] for r in rows],
            "quality_score": [float(r["judge_score"]) if r["judge_score"] else None for r in rows],
            "refused": [flag[r["refused"]] for r in rows],
        }, schema_overrides={"task_success": pl.Boolean, "quality_score": pl.Float64, "refused": pl.Boolean}
        ).with_columns(pl.col("ts").str.to_datetime(time_unit="us", time_zone="UTC"))
        schema = TelemetrySchema(segments=["region", "tier"], artifacts={"prompt": "prompt_version"})
        first = frame.filter(pl.col("prompt_version") == "p-12")["ts"].min()
        releases.append({"ts": first, "service": "app", "artifact": "prompt", "version": "p-12",
                         "previous_version": "p-11"})
    elif name == "no_quality_or_safety":
        rows = list(csv.DictReader(open(OUTSIDE / "gateway_no_quality.csv")))
        frame = pl.DataFrame({
            "ts": [r["timestamp"] for r in rows], "request_id": [r["request_id"] for r in rows],
            "service": ["gateway"] * len(rows), "model_version": [r["model"] for r in rows],
            "latency_ms": [float(r["duration_ms"]) for r in rows],
            "input_tokens": [int(r["prompt_tokens"]) for r in rows],
            "output_tokens": [int(r["completion_tokens"]) for r in rows],
            "cost_usd": [float(r["cost_usd"]) for r in rows], "error_type": [r["error"] or None for r in rows],
        }, schema_overrides={"error_type": pl.String}).with_columns(
            pl.col("ts").str.to_datetime(time_unit="us", time_zone="UTC"))
        schema = TelemetrySchema(segments=[], artifacts={"model": "model_version"})
        first = frame.filter(pl.col("model_version") == "llama-3.1-70b")["ts"].min()
        releases.append({"ts": first, "service": "gateway", "artifact": "model", "version": "llama-3.1-70b",
                         "previous_version": "llama-3-70b"})
    else:
        raise KeyError(f"no outside store {name!r}; known: {', '.join(OUTSIDE_STORES)}")
    data.save_schema(schema)
    atomic_write_parquet(frame.sort("ts"), data.requests / f"{name}.parquet")
    if releases:
        rel = pl.DataFrame(releases).with_columns(
            [pl.lit(None).cast(dtype).alias(col) for col, dtype in RELEASE_SCHEMA.items() if col not in releases[0]])
        atomic_write_parquet(rel.select([pl.col(c).cast(t) for c, t in RELEASE_SCHEMA.items()]),
                             data.releases / f"{name}.parquet")
    return data


def _span_row(span: dict) -> dict:
    """One OTLP/JSON GenAI client span as a request row (only the fields the span has)."""
    def value(v: dict):
        if "arrayValue" in v:
            return [value(x) for x in v["arrayValue"].get("values", [])]
        if "intValue" in v:
            return int(v["intValue"])
        return next(iter(v.values()))

    attrs = {a["key"]: value(a["value"]) for a in span["attributes"]}
    resource = {a["key"]: value(a["value"]) for a in span["resource"]["attributes"]}
    start, end = int(span["startTimeUnixNano"]), int(span["endTimeUnixNano"])
    from datetime import datetime, timezone

    finish = attrs.get("gen_ai.response.finish_reasons") or []
    return {
        "ts": datetime.fromtimestamp(start // 1000 / 1e6, tz=timezone.utc),
        "request_id": span["spanId"], "trace_id": span["traceId"], "service": resource.get("service.name"),
        "model_family": attrs.get("gen_ai.request.model"), "region": attrs.get("server.address"),
        "model_version": attrs.get("gen_ai.response.model"), "latency_ms": (end - start) / 1e6,
        "input_tokens": attrs.get("gen_ai.usage.input_tokens"), "output_tokens": attrs.get("gen_ai.usage.output_tokens"),
        "error_type": attrs.get("error.type") if span["status"].get("code") == 2 else None,
        # a content-filter finish is the provider's guardrail, not the model declining (see docs)
        "guardrail_blocked": "content_filter" in finish if span["status"].get("code") != 2 else None,
    }


# -- random small stores for property tests ------------------------------------------------------

# how a measure appears in a random store
PRESENCE = ("absent", "all_null", "partly_null", "full")
RANDOM_MEASURES = ("latency_ms", "ttft_ms", "input_tokens", "output_tokens", "cost_usd", "task_success",
                   "quality_score", "refused", "policy_violation", "guardrail_blocked", "error_type",
                   "tool_calls", "tool_errors", "fallback_used")


def random_store(root: Path, seed: int, per_minute: list[int], presence: dict[str, str],
                 versions: list[str]) -> DataDir:
    """A store of `sum(per_minute)` requests (a 0 is a minute without any), each measure as `presence` says."""
    from datetime import datetime, timedelta, timezone

    import numpy as np
    import polars as pl

    from dashboard.core.datadir import atomic_write_parquet
    from dashboard.core.telemetry.contract import REQUEST_MEASURES

    rng = np.random.default_rng(seed)
    t0 = datetime(2025, 6, 2, 10, 0, tzinfo=timezone.utc)
    ts = [t0 + timedelta(minutes=m, seconds=float(rng.uniform(0, 59))) for m, k in enumerate(per_minute)
          for _ in range(k)]
    n = len(ts)
    columns: dict = {"ts": ts, "request_id": [f"q{i}" for i in range(n)], "service": ["svc"] * n,
                     "region": list(rng.choice(["eu", "us"], n)),
                     "prompt_version": list(rng.choice(versions, n)) if versions else [None] * n}
    values = {
        "latency_ms": lambda: rng.lognormal(6, 0.5, n), "ttft_ms": lambda: rng.lognormal(5, 0.5, n),
        "input_tokens": lambda: rng.integers(0, 900, n), "output_tokens": lambda: rng.integers(0, 300, n),
        "cost_usd": lambda: rng.uniform(0, 0.01, n), "task_success": lambda: rng.random(n) < 0.5,
        "quality_score": lambda: rng.random(n), "refused": lambda: rng.random(n) < 0.1,
        "policy_violation": lambda: rng.random(n) < 0.05, "guardrail_blocked": lambda: rng.random(n) < 0.05,
        "error_type": lambda: np.where(rng.random(n) < 0.1, "timeout", None),
        "tool_calls": lambda: rng.integers(0, 3, n), "tool_errors": lambda: rng.integers(0, 2, n),
        "fallback_used": lambda: rng.random(n) < 0.1,
    }
    for name, how in presence.items():
        if how == "absent":
            continue
        col = list(values[name]()) if how != "all_null" else [None] * n
        if how == "partly_null":  # the first stays set, so "partly" never turns into "all"
            col = [None if i and rng.random() < 0.4 else v for i, v in enumerate(col)]
        if name == "error_type" and how != "all_null":
            col[0] = "timeout"  # at least one error, else the column reads as never recorded
        columns[name] = pl.Series(name, col, dtype=REQUEST_MEASURES[name], strict=False)
    frame = pl.DataFrame(columns).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))
    data = DataDir(root)
    from dashboard.core.telemetry.contract import TelemetrySchema

    data.save_schema(TelemetrySchema(segments=["region"], artifacts={"prompt": "prompt_version"}))
    atomic_write_parquet(frame, data.requests / "random.parquet")
    return data


_MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def as_read(markdown: str) -> str:
    """Markdown source as a reader sees it: backslash escapes and the invisible autolink breaks removed.

    Text from people and telemetry reaches the page escaped (core/text.py); page tests compare what is read.
    """
    return _MARKDOWN_ESCAPE.sub(r"\1", markdown).replace("\u200b", "")
