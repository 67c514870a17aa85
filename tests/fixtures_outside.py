"""Stores shaped like other people's data: the outside corpus (tests/fixtures/outside) in the store
layout, keeping only the measures each source has, and random small stores for property tests.

Imported through tests/fixtures.py, the one place test data is built.
"""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path

from dashboard.core.datadir import DataDir

REPO_ROOT = Path(__file__).resolve().parents[1]

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
    from dashboard.core.telemetry.contract import RELEASE_SCHEMA, TelemetrySchema, write_schema

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
    write_schema(data, schema)
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
    from datetime import datetime

    finish = attrs.get("gen_ai.response.finish_reasons") or []
    return {
        "ts": datetime.fromtimestamp(start // 1000 / 1e6, tz=UTC),
        "request_id": span["spanId"], "trace_id": span["traceId"], "service": resource.get("service.name"),
        "model_family": attrs.get("gen_ai.request.model"), "region": attrs.get("server.address"),
        "model_version": attrs.get("gen_ai.response.model"), "latency_ms": (end - start) / 1e6,
        "input_tokens": attrs.get("gen_ai.usage.input_tokens"),
        "output_tokens": attrs.get("gen_ai.usage.output_tokens"),
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
    from datetime import datetime, timedelta

    import numpy as np
    import polars as pl

    from dashboard.core.datadir import atomic_write_parquet
    from dashboard.core.telemetry.contract import REQUEST_MEASURES

    rng = np.random.default_rng(seed)
    t0 = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)
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
    from dashboard.core.telemetry.contract import TelemetrySchema, write_schema

    write_schema(data, TelemetrySchema(segments=["region"], artifacts={"prompt": "prompt_version"}))
    atomic_write_parquet(frame, data.requests / "random.parquet")
    return data
