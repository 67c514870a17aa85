"""`warroom incident ...` round trips through dashboard.cli.main on a throwaway data folder."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

from dashboard.cli import main
from dashboard.core.datadir import DataDir, atomic_write_parquet
from dashboard.core.telemetry.contract import TelemetrySchema

START = datetime(2025, 2, 18, 15, 0, tzinfo=timezone.utc)


def requests(first_minute: int, minutes: int, per_minute: int, refusal: float, seed: int) -> pl.DataFrame:
    """Paid English request rows with a given refusal rate (everything else plausible and constant)."""
    rng = np.random.default_rng(seed)
    n = minutes * per_minute
    ts = [START + timedelta(minutes=first_minute + i // per_minute, seconds=(i % per_minute) * 60 / per_minute)
          for i in range(n)]
    schema = TelemetrySchema().request_schema()
    cols = {
        "ts": ts, "request_id": [f"r{seed}-{i}" for i in range(n)], "service": ["support-bot"] * n,
        "user_id": [f"u{i % 500}" for i in range(n)], "region": ["us-east"] * n, "tier": ["paid"] * n,
        "language": ["en"] * n, "channel": ["web"] * n, "app_version": ["api-v18"] * n,
        "model_version": ["support-3.2"] * n, "prompt_version": ["prompt-v6"] * n,
        "index_version": ["kb-2025-02-01"] * n, "router_policy": ["small-first-then-large"] * n,
        "policy_version": ["guard-v12"] * n, "latency_ms": rng.gamma(4, 200, n), "ttft_ms": rng.gamma(4, 50, n),
        "input_tokens": [900] * n, "output_tokens": [200] * n, "cost_usd": [0.006] * n,
        "task_success": rng.random(n) < 0.42, "quality_score": [0.8] * n, "user_feedback": [None] * n,
        "refused": rng.random(n) < refusal, "policy_violation": [False] * n, "guardrail_blocked": [False] * n,
        "error_type": [None] * n, "tool_calls": [1] * n, "tool_errors": [0] * n, "fallback_used": [False] * n,
    }
    return pl.DataFrame(cols).cast(schema).select(list(schema))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["incident", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture()
def data(tmp_path) -> DataDir:
    return DataDir(tmp_path / "data")


def test_round_trip_without_telemetry(data, capsys):
    d = ["--data", str(data.root)]
    code, out, _ = run(capsys, "open", *d, "--title", "Refusals up", "--type", "quality_regression",
                       "--severity", "SEV2", "--as", "ana", "--segment", "tier=paid", "--json",
                       "--at", "2025-02-18T14:14:00Z")
    assert code == 0
    opened = json.loads(out)
    assert (opened["id"], opened["status"], opened["severity"], opened["commander"]) == (
        "INC-1", "investigating", "SEV2", "ana")
    assert opened["soak"]["status"] == "not_started"

    assert run(capsys, "post", "INC-1", *d, "--audience", "support", "--message", "on it", "--as", "lena")[0] == 0
    assert run(capsys, "assign", "INC-1", "tech_lead", "bo", *d, "--as", "ana")[0] == 0
    assert run(capsys, "severity", "INC-1", "SEV1", *d, "--as", "ana", "--reason", "wider")[0] == 0
    assert run(capsys, "status", "INC-1", "mitigating", *d, "--as", "ana")[0] == 0

    code, _, err = run(capsys, "close", "INC-1", *d, "--as", "ana")
    assert code == 2 and "cannot be resolved yet" in err and "no verification metrics" in err
    code, _, err = run(capsys, "post", "INC-1", *d, "--audience", "support", "--message", "x", "--as", "lena",
                       "--expect-version", "2")
    assert code == 2 and "changed since you loaded it (version 2, now 5)" in err
    code, _, err = run(capsys, "status", "INC-9", "identified", *d, "--as", "ana")
    assert code == 2 and "no incident 'INC-9'" in err
    with pytest.raises(SystemExit):  # --as is required: nothing anonymous
        main(["incident", "post", "INC-1", *d, "--audience", "support", "--message", "x"])
    capsys.readouterr()

    code, _, err = run(capsys, "close", "INC-1", *d, "--as", "bo", "--override", "fixed upstream")
    assert code == 2 and "only the incident commander (ana)" in err
    assert run(capsys, "close", "INC-1", *d, "--as", "ana", "--override", "fixed upstream")[0] == 0

    code, out, _ = run(capsys, "list", *d, "--json")
    [row] = json.loads(out)
    assert {k: row[k] for k in ("id", "title", "status", "severity", "commander", "closed_via")} == {
        "id": "INC-1", "title": "Refusals up", "status": "resolved", "severity": "SEV1", "commander": "ana",
        "closed_via": "override"}
    assert row["soak"]["status"] == "not_started"
    code, out, _ = run(capsys, "show", "INC-1", *d)
    assert "!! Close override by ana: fixed upstream" in out and "bo is tech lead" in out


def test_close_is_gated_on_the_soak_measured_from_telemetry(data, capsys):
    d = ["--data", str(data.root)]
    atomic_write_parquet(requests(0, 40, 60, refusal=0.04, seed=1), data.requests / "part-1.parquet")
    assert run(capsys, "open", *d, "--title", "Refusals up", "--as", "ana",
               "--segment", "tier=paid", "--segment", "language=en")[0] == 0
    code, out, _ = run(capsys, "verify", "INC-1", *d, "--as", "ana", "--metric", "refusal_rate<=0.06",
                       "--metric", "task_success_rate>=0.30", "--start-soak", "--at", "2025-02-18T15:05:00Z",
                       "--json")
    assert code == 0
    soak = json.loads(out)["soak"]
    assert soak["status"] == "soaking" and soak["time_left_minutes"] == 26  # 34 complete minutes held
    assert [m["current_sample_size"] for m in soak["metrics"]] == [600, 600]
    code, _, err = run(capsys, "close", "INC-1", *d, "--as", "ana")
    assert code == 2 and "26 min left" in err

    # telemetry keeps arriving: the soak completes and the same close goes through
    atomic_write_parquet(requests(40, 30, 60, refusal=0.04, seed=2), data.requests / "part-2.parquet")
    code, out, _ = run(capsys, "close", "INC-1", *d, "--as", "ana", "--json")
    assert code == 0
    closed = json.loads(out)
    assert closed["status"] == "resolved" and closed["closed_via"] == "soak"
    assert closed["soak"]["status"] == "passed"
    # events were stamped on the data's clock, not the wall clock
    code, out, _ = run(capsys, "show", "INC-1", *d, "--json")
    assert json.loads(out)["record"]["resolved_at"].startswith("2025-02-18T16:09")


def test_verify_rejects_bad_metrics(data, capsys):
    d = ["--data", str(data.root)]
    run(capsys, "open", *d, "--title", "t", "--as", "ana")
    code, _, err = run(capsys, "verify", "INC-1", *d, "--as", "ana", "--metric", "refusal_rate=0.06")
    assert code == 2 and "expected SIGNAL<=THRESHOLD" in err
    code, _, err = run(capsys, "verify", "INC-1", *d, "--as", "ana", "--metric", "latency_ms<=900")
    assert code == 2 and "cannot be a verification metric" in err
    code, _, err = run(capsys, "open", *d, "--title", "t", "--as", "ana", "--segment", "tier")
    assert code == 2 and "expected COLUMN=VALUE" in err
