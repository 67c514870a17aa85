"""`warroom bench langfuse`: observations per second through `ingest --format langfuse`.

`langfuse_benchmark(generations, repeats)` writes a synthetic blob-storage
export (snake_case observations with one span per two generations, usage and
cost maps, prompt names and versions, 2% failed generations without usage,
and a judge score on every third generation) as JSONL and as Parquet, ingests
each into a fresh temporary folder `repeats` times and returns the median
seconds and observations per second per file type, side by side.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.ingest.pipeline import ingest_requests
from dashboard.core.telemetry.mapping import parse_mapping

MAPPING = {"langfuse": {"scores": {"quality_score": {"name": "helpfulness", "scale": [1, 5]}}}}


def synthetic_export(folder: Path, generations: int, seed: int = 0) -> dict[str, list[Path]]:
    rng = np.random.default_rng(seed)
    start = datetime(2025, 3, 4, tzinfo=UTC)
    spans = generations // 2
    n = generations + spans
    offsets = np.sort(rng.uniform(0, 86_400, n))
    is_gen = np.ones(n, dtype=bool)
    is_gen[rng.choice(n, spans, replace=False)] = False
    failed = is_gen & (rng.random(n) < 0.02)
    ids = [f"obs-{i:08d}" for i in range(n)]
    stamp = [(start + timedelta(seconds=float(s))).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] for s in offsets]
    ends = [(start + timedelta(seconds=float(s + d))).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
            for s, d in zip(offsets, rng.uniform(0.3, 4.0, n), strict=True)]
    inputs, outputs = rng.integers(200, 3000, n), rng.integers(20, 800, n)
    usage = [None if not g or f else {"input": int(i), "output": int(o), "total": int(i + o)}
             for g, f, i, o in zip(is_gen, failed, inputs, outputs, strict=True)]
    cost = [None if u is None else {"input": u["input"] * 2.5e-6, "output": u["output"] * 1e-5,
                                    "total": u["input"] * 2.5e-6 + u["output"] * 1e-5} for u in usage]
    observations = pl.DataFrame({
        "id": ids, "trace_id": [f"tr-{i // 3:08d}" for i in range(n)], "project_id": ["p"] * n,
        "environment": ["production"] * n, "type": np.where(is_gen, "GENERATION", "SPAN"),
        "start_time": stamp, "end_time": ends, "name": np.where(is_gen, "draft-answer", "handle-ticket"),
        "level": np.where(failed, "ERROR", "DEFAULT"),
        "status_message": pl.Series(["openai.RateLimitError: 429" if f else None for f in failed], dtype=pl.String),
        "provided_model_name": pl.Series([m if g else None for g, m in zip(
            is_gen, rng.choice(["gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18"], n), strict=True)], dtype=pl.String),
        "prompt_name": pl.Series(["support-answer" if g else None for g in is_gen], dtype=pl.String),
        "prompt_version": pl.Series([int(v) if g else None for g, v in zip(is_gen, rng.choice([6, 7], n), strict=True)],
                                    dtype=pl.Int64),
    })
    scored = [i for i in range(n) if is_gen[i] and i % 3 == 0]
    scores = pl.DataFrame({"id": [f"sc-{i}" for i in scored], "timestamp": [ends[i] for i in scored],
                           "trace_id": [f"tr-{i // 3:08d}" for i in scored], "observation_id": [ids[i] for i in scored],
                           "name": ["helpfulness"] * len(scored),
                           "value": rng.integers(1, 6, len(scored)).astype(float),
                           "data_type": ["NUMERIC"] * len(scored)})
    out: dict[str, list[Path]] = {}
    with_maps = observations.with_columns(pl.Series("usage_details", [json.dumps(u) if u else None for u in usage]),
                                          pl.Series("cost_details", [json.dumps(c) if c else None for c in cost]))
    (folder / "observations.jsonl").write_text(
        "\n".join(json.dumps({**r, "usage_details": json.loads(r["usage_details"]) if r["usage_details"] else {},
                              "cost_details": json.loads(r["cost_details"]) if r["cost_details"] else {}})
                  for r in with_maps.iter_rows(named=True)) + "\n")
    scores.write_ndjson(folder / "scores.jsonl")
    out["jsonl"] = [folder / "observations.jsonl", folder / "scores.jsonl"]
    parquet = observations.with_columns(
        pl.Series("usage_details", [[{"key": k, "value": v} for k, v in u.items()] if u else None for u in usage],
                  dtype=pl.List(pl.Struct({"key": pl.String, "value": pl.Int64}))),
        pl.Series("cost_details", [[{"key": k, "value": v} for k, v in c.items()] if c else None for c in cost],
                  dtype=pl.List(pl.Struct({"key": pl.String, "value": pl.Float64}))))
    parquet.write_parquet(folder / "observations.parquet")
    scores.write_parquet(folder / "scores.parquet")
    out["parquet"] = [folder / "observations.parquet", folder / "scores.parquet"]
    return out


def langfuse_benchmark(generations: int = 100_000, repeats: int = 3) -> dict:
    mapping = parse_mapping(MAPPING)
    results: dict = {"generations": generations, "observations": generations + generations // 2, "repeats": repeats}
    with tempfile.TemporaryDirectory() as scratch:
        files = synthetic_export(Path(scratch), generations)
        for fmt, paths in files.items():
            seconds, summary = [], None
            for r in range(repeats):
                began = time.perf_counter()
                summary = ingest_requests(paths, DataDir(Path(scratch) / f"{fmt}-{r}"), mapping, fmt="langfuse")
                seconds.append(time.perf_counter() - began)
            if summary is None:
                raise ValueError("repeats must be at least 1")
            median = statistics.median(seconds)
            results[fmt] = {"median_s": round(median, 3), "observations_per_s": round(summary.rows / median),
                            "accepted": summary.accepted, "skipped": summary.skipped,
                            "quarantined": summary.quarantined, "scores_joined": summary.scores.get("joined")}
    return results
