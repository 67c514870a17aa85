"""The one place test data is built: unit, SQL, app and browser tests share it.

`demo_week` is the embedded demo exactly as `make run` would generate it
(default seed, days and traffic), so what the tests check is what a user sees.
"""

from __future__ import annotations

import json
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
