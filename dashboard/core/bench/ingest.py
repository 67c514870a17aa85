"""Ingest throughput benchmark: rows per second from Parquet and CSV into a fresh data folder.

The input imitates a team's export: contract columns with native types
(Parquet) or text (CSV), one column the contract does not know, and a small
share of rows that break the contract so the quarantine path is exercised too.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.contract import TelemetrySchema
from dashboard.core.telemetry.ingest.pipeline import ingest_requests

BAD_ROW_SHARE = 0.001


def synthetic_requests(rows: int, seed: int = 0) -> pl.DataFrame:
    """`rows` request rows over one day in the default schema, with BAD_ROW_SHARE of them invalid."""
    rng = np.random.default_rng(seed)
    schema = TelemetrySchema()
    start = int(datetime(2025, 2, 18, tzinfo=UTC).timestamp() * 1_000_000)
    ts = np.sort(rng.integers(start, start + 86_400_000_000, rows))

    def pick(values: list[str]) -> pl.Series:
        return pl.Series(values).gather(rng.integers(0, len(values), rows))

    latency = rng.lognormal(7.0, 0.5, rows)
    quality = rng.uniform(0, 1, rows)
    bad = rng.random(rows) < BAD_ROW_SHARE
    latency[bad & (rng.random(rows) < 0.5)] *= -1
    quality[bad] += 1.0
    columns = {
        "ts": pl.Series(ts).cast(pl.Datetime("us", "UTC")),
        "request_id": pl.int_range(0, rows, eager=True).cast(pl.String).str.zfill(10),
        "service": pick(["support-bot"]),
        "user_id": pl.Series(rng.integers(0, 50_000, rows)).cast(pl.String),
        "region": pick(["eu-west", "us-east", "ap-south"]),
        "tier": pick(["free", "paid"]),
        "language": pick(["en", "de", "fr", "es"]),
        "channel": pick(["web", "app", "email"]),
        "app_version": pick(["api-v18"]),
        "model_version": pick(["support-3.2", "support-3.1"]),
        "prompt_version": pick(["prompt-v6", "prompt-v7"]),
        "index_version": pick(["kb-2025-02-01", "kb-2025-02-15"]),
        "router_policy": pick(["small-first-then-large"]),
        "policy_version": pick(["policy-4"]),
        "latency_ms": latency,
        "ttft_ms": latency * 0.3,
        "input_tokens": rng.integers(200, 3000, rows),
        "output_tokens": rng.integers(20, 800, rows),
        "cost_usd": rng.uniform(0.0005, 0.02, rows),
        "task_success": rng.random(rows) < 0.42,
        "quality_score": quality,
        "user_feedback": pl.Series(rng.integers(-1, 2, rows), dtype=pl.Int8),
        "refused": rng.random(rows) < 0.04,
        "policy_violation": rng.random(rows) < 0.002,
        "guardrail_blocked": rng.random(rows) < 0.01,
        "error_type": pl.select(pl.when(pl.lit(rng.random(rows) < 0.01)).then(pl.lit("timeout"))).to_series(),
        "tool_calls": rng.integers(0, 4, rows),
        "tool_errors": np.zeros(rows, dtype=np.int64),
        "fallback_used": rng.random(rows) < 0.03,
        "trace_url": pick(["https://traces.example.com/t"]),
        "trace_id": pl.Series(rng.integers(0, 2**62, rows)).cast(pl.String).str.zfill(32),
        "span_id": pl.Series(rng.integers(0, 2**62, rows)).cast(pl.String).str.zfill(16),
    }
    frame = pl.DataFrame(columns)
    # cached_input_tokens stays out: an export lacking a nullable measure is the common case
    return frame.select([*(c for c in schema.request_schema() if c in frame.columns), "trace_url"])


def _median_rate(path: Path, rows: int, repeats: int, scratch: Path) -> dict:
    runs = []
    for attempt in range(repeats):
        data_dir = DataDir(scratch / f"{path.suffix.lstrip('.')}-{attempt}")
        wall, cpu = time.perf_counter(), time.process_time()
        summary = ingest_requests([path], data_dir)
        runs.append((time.perf_counter() - wall, time.process_time() - cpu, summary.phase_seconds))
        if summary.accepted + summary.quarantined != rows:
            raise AssertionError(f"ingest lost rows: {summary.accepted} + {summary.quarantined} != {rows}")
    wall_median = statistics.median(r[0] for r in runs)
    return {
        "rows": rows,
        "seconds_median": round(wall_median, 3),
        "seconds_all": [round(r[0], 3) for r in runs],
        "rows_per_second": int(rows / wall_median),
        # CPU seconds over all threads: tells a busy machine from a slow ingest
        "cpu_seconds_median": round(statistics.median(r[1] for r in runs), 3),
        "read_validate_seconds_median": round(statistics.median(r[2]["read_validate"] for r in runs), 3),
        "write_seconds_median": round(statistics.median(r[2]["write"] for r in runs), 3),
        "quarantined": summary.quarantined,
    }


def ingest_benchmark(rows: int = 2_000_000, repeats: int = 3, csv_rows: int | None = None,
                     workdir: str | Path | None = None) -> dict:
    """Median-of-`repeats` ingest throughput for a Parquet and a CSV file of synthetic requests.

    `csv_rows=0` skips the CSV run.
    """
    csv_rows = rows if csv_rows is None else csv_rows
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        scratch = Path(tmp)
        frame = synthetic_requests(max(rows, csv_rows))
        parquet = scratch / "input.parquet"
        frame.head(rows).write_parquet(parquet)
        result = {"benchmark": "ingest", "repeats": repeats,
                  "parquet": _median_rate(parquet, rows, repeats, scratch)}
        if csv_rows > 0:
            csv = scratch / "input.csv"
            frame.head(csv_rows).write_csv(csv)
            result["csv"] = _median_rate(csv, csv_rows, repeats, scratch)
        return result
