"""Turn a window of a `Scenario` into request rows, vectorized with numpy.

Each request draws its segments, then the version of every artifact that served
it (following each deploy's ramp and scope), then its behaviour from the base
rates plus every effect whose condition it matches. Effects keyed on a version
follow the rollout automatically, which is what makes same-minute cohort
comparison (prompt-v7 vs prompt-v6) meaningful in the demo.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from dashboard.core.demo.scenario import (
    ARTIFACT_COLUMNS,
    BASE_DEFLECTION,
    BASE_REFUSAL,
    DEFAULT_PRICE,
    MODEL_PRICES,
    Condition,
    Scenario,
)
from dashboard.core.telemetry.contract import TelemetrySchema
from dashboard.core.timeutil import utc

US_PER_MINUTE = 60_000_000
ERROR_TYPES = ["timeout", "rate_limited", "upstream_5xx", "tool_timeout"]


def _epoch_us(ts: datetime) -> int:
    return int(utc(ts).timestamp() * 1_000_000)


def window_seed(seed: int, start: datetime) -> int:
    """A stable seed per (scenario seed, window start), so any window regenerates identically."""
    digest = hashlib.blake2b(f"{seed}:{_epoch_us(start)}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _arrivals(scenario: Scenario, start: datetime, end: datetime, rng: np.random.Generator) -> np.ndarray:
    """Request timestamps (epoch microseconds, sorted) with a daily and weekly cycle."""
    first = _epoch_us(start) // US_PER_MINUTE
    last = -(-_epoch_us(end) // US_PER_MINUTE)
    minutes = np.arange(first, last, dtype=np.int64)
    hour = (minutes % 1440) / 60.0
    cycle = 1.0 + scenario.daily_amplitude * np.cos(2 * np.pi * (hour - scenario.peak_hour_utc) / 24)
    weekday = ((minutes // 1440) + 3) % 7  # 1970-01-01 was a Thursday (3)
    cycle = np.where(weekday >= 5, cycle * scenario.weekend_factor, cycle)
    counts = rng.poisson(scenario.rps * 60.0 * cycle)
    ts = np.repeat(minutes * US_PER_MINUTE, counts) + rng.integers(0, US_PER_MINUTE, counts.sum())
    ts.sort()
    keep = (ts >= _epoch_us(start)) & (ts < _epoch_us(end))
    return ts[keep]


class Coded:
    """Categorical columns as integer codes plus their labels: numpy-fast, strings at the end."""

    def __init__(self) -> None:
        self.codes: dict[str, np.ndarray] = {}
        self.labels: dict[str, list[str]] = {}

    def is_in(self, column: str, values) -> np.ndarray:
        wanted = [self.labels[column].index(v) for v in values if v in self.labels[column]]
        return np.isin(self.codes[column], wanted)

    def series(self, column: str) -> pl.Series:
        return pl.Series(self.labels[column], dtype=pl.String).gather(self.codes[column])


def _draw_categorical(values: dict[str, float], n: int, rng: np.random.Generator) -> np.ndarray:
    cum = np.cumsum(np.fromiter(values.values(), float))
    return np.searchsorted(cum / cum[-1], rng.random(n), side="right").clip(0, len(values) - 1)


def _matches(cond: Condition, ts: np.ndarray, cols: Coded) -> np.ndarray:
    mask = np.ones(len(ts), dtype=bool)
    if cond.start is not None:
        mask &= ts >= _epoch_us(cond.start)
    if cond.end is not None:
        mask &= ts < _epoch_us(cond.end)
    for kind, version in cond.versions.items():
        mask &= cols.is_in(ARTIFACT_COLUMNS.get(kind, kind), [version])
    for column, allowed in cond.segments.items():
        mask &= cols.is_in(column, allowed)
    return mask


def _assign_versions(scenario: Scenario, ts: np.ndarray, cols: Coded, rng: np.random.Generator) -> None:
    """Each request keeps one uniform draw per artifact, so ramps move traffic monotonically."""
    deploys = sorted(scenario.deploys, key=lambda d: d.ts)
    for kind, column in ARTIFACT_COLUMNS.items():
        if kind not in scenario.initial_versions:
            continue
        labels = scenario.versions_of(kind)
        versions = np.zeros(len(ts), dtype=np.int16)
        u = rng.random(len(ts))
        for d in deploys:
            if d.artifact != kind:
                continue
            elapsed_min = (ts - _epoch_us(d.ts)) / US_PER_MINUTE
            share = np.clip(elapsed_min / max(d.ramp_minutes, 1e-9), 0.0, 1.0)
            moved = (elapsed_min >= 0) & (u < share)
            for seg, allowed in d.scope.items():
                moved &= cols.is_in(seg, allowed)
            versions[moved] = labels.index(d.version)
        cols.codes[column], cols.labels[column] = versions, labels


def generate_window(scenario: Scenario, start: datetime, end: datetime, seed: int,
                    id_prefix: str = "req") -> pl.DataFrame:
    """Request rows for [start, end), in the contract's schema, sorted by time."""
    rng = np.random.default_rng(window_seed(seed, start))
    ts = _arrivals(scenario, start, end, rng)
    n = len(ts)
    cols = Coded()
    for seg, mix in scenario.mix.items():
        cols.codes[seg], cols.labels[seg] = _draw_categorical(mix, n, rng), list(mix)
    _assign_versions(scenario, ts, cols, rng)

    tiers = cols.labels["tier"]
    p_refuse = np.array([BASE_REFUSAL[t] for t in tiers])[cols.codes["tier"]]
    p_success = np.array([BASE_DEFLECTION[t] for t in tiers])[cols.codes["tier"]]
    quality_shift = np.zeros(n)
    p_violation = np.full(n, 0.003)
    p_blocked = np.full(n, 0.012)
    p_error = np.full(n, 0.004)
    p_tool_error = np.full(n, 0.01)
    latency_factor = np.ones(n)
    in_factor = np.ones(n)
    out_factor = np.ones(n)
    for effect in scenario.effects:
        m = _matches(effect.when, ts, cols)
        if not m.any():
            continue
        p_refuse[m] += effect.refusal
        p_success[m] += effect.task_success
        quality_shift[m] += effect.quality
        p_violation[m] += effect.policy_violation
        p_blocked[m] += effect.guardrail_blocked
        p_error[m] += effect.error
        p_tool_error[m] += effect.tool_error
        latency_factor[m] *= effect.latency_factor
        in_factor[m] *= effect.input_tokens_factor
        out_factor[m] *= effect.output_tokens_factor
    p_refuse = p_refuse.clip(0, 1)
    p_success = p_success.clip(0, 1 - p_refuse)

    refused = rng.random(n) < p_refuse
    # deflection is conditional on not refusing, so its overall rate is exactly p_success
    success = ~refused & (rng.random(n) < p_success / np.maximum(1 - p_refuse, 1e-9))

    input_tokens = np.rint(rng.lognormal(np.log(1400), 0.35, n) * in_factor).astype(np.int64)
    output_tokens = np.where(
        refused,
        rng.lognormal(np.log(45), 0.3, n),
        rng.lognormal(np.log(180), 0.5, n) * out_factor,
    )
    output_tokens = np.rint(output_tokens).astype(np.int64).clip(1)
    tool_calls = rng.poisson(0.9, n)
    tool_errors = rng.binomial(tool_calls, p_tool_error.clip(0, 1))
    ttft = rng.lognormal(np.log(350), 0.35, n) * latency_factor
    decode = output_tokens * rng.lognormal(np.log(9.0), 0.2, n) * latency_factor
    latency = ttft + decode + tool_calls * 150.0 + tool_errors * 2000.0

    if "model_version" in cols.codes:
        prices = np.array([MODEL_PRICES.get(v, DEFAULT_PRICE) for v in cols.labels["model_version"]])
        price = prices[cols.codes["model_version"]]
    else:
        price = np.tile(DEFAULT_PRICE, (n, 1))
    cost = input_tokens * price[:, 0] + output_tokens * price[:, 1]

    # error code: -1 none, else an index into ERROR_TYPES
    error_code = np.where(rng.random(n) < p_error.clip(0, 1), rng.integers(0, len(ERROR_TYPES) - 1, n), -1)
    tool_timeout = (tool_errors > 0) & (rng.random(n) < 0.3)
    error_code = np.where(tool_timeout & (error_code < 0), len(ERROR_TYPES) - 1, error_code)
    fallback = (rng.random(n) < 0.02) | ((tool_errors > 0) & (rng.random(n) < 0.7))

    quality = np.where(refused, 0.30, np.where(success, 0.88, 0.74)) + quality_shift
    quality = (quality + rng.normal(0, 0.07, n)).clip(0, 1)
    feedback_given = rng.random(n) < 0.12
    feedback = np.where(success, np.where(rng.random(n) < 0.9, 1, 0), np.where(rng.random(n) < 0.6, -1, 0))
    user_idx = (scenario.user_pool * rng.random(n) ** 2).astype(np.int64)

    frame = pl.DataFrame({
        "ts": pl.Series(ts, dtype=pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        "request_id": pl.Series(np.arange(n), dtype=pl.Int64),
        "service": pl.repeat(scenario.service, n, eager=True, dtype=pl.String),
        "user_id": pl.Series(user_idx, dtype=pl.Int64),
        **{col: cols.series(col) for col in cols.codes},
        "latency_ms": latency.round(1),
        "ttft_ms": ttft.round(1),
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cost_usd": cost,
        "task_success": success,
        "quality_score": quality.round(3),
        "user_feedback": pl.Series(np.where(feedback_given, feedback, 0), dtype=pl.Int8),
        "refused": refused,
        "policy_violation": rng.random(n) < p_violation.clip(0, 1),
        "guardrail_blocked": rng.random(n) < p_blocked.clip(0, 1),
        "error_type": pl.Series(ERROR_TYPES, dtype=pl.String).gather(np.maximum(error_code, 0)),
        "tool_calls": tool_calls.astype(np.int64),
        "tool_errors": tool_errors.astype(np.int64),
        "fallback_used": fallback,
    })
    window_tag = f"{id_prefix}-{_epoch_us(start) // US_PER_MINUTE:x}"
    frame = frame.with_columns(
        pl.format("{}-{}", pl.lit(window_tag), pl.col("request_id")).alias("request_id"),
        pl.format("u{}", pl.col("user_id")).alias("user_id"),
        pl.when(pl.Series(feedback_given)).then(pl.col("user_feedback")).otherwise(None).alias("user_feedback"),
        pl.when(pl.Series(error_code >= 0)).then(pl.col("error_type")).otherwise(None).alias("error_type"),
    )
    return conform(frame)


def conform(frame: pl.DataFrame, schema: TelemetrySchema | None = None) -> pl.DataFrame:
    """Exactly the contract's columns, order and dtypes (missing ones as nulls)."""
    target = (schema or TelemetrySchema()).request_schema()
    return frame.select([
        (pl.col(name) if name in frame.columns else pl.lit(None)).cast(dtype).alias(name)
        for name, dtype in target.items()
    ])


def iter_days(start: datetime, end: datetime):
    """Day-aligned [a, b) chunks covering [start, end): bounded memory, one file each."""
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        nxt = day + timedelta(days=1)
        yield max(day, start), min(nxt, end)
        day = nxt
