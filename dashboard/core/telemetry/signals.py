"""The signals every view, config and command names, and how each comes from counts.

A signal's name is stable snake_case (used in URLs, SLO files and the CLI).
Rates are numerator/denominator counts summed first and divided last, so any
re-bucketing or cohort total stays exact; quantiles are read per bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

Kind = Literal["count", "rate", "mean", "quantile"]


@dataclass(frozen=True)
class Signal:
    name: str
    label: str
    group: str
    kind: Kind
    unit: str  # "%", "ms", "$", "tokens", "req"
    higher_is_worse: bool
    numerator: str | None = None  # count column (rate, mean)
    denominator: str | None = None  # count column (rate, mean)
    column: str | None = None  # per-bucket column (quantile, count)
    log_mean: str | None = None  # per-bucket mean of ln(value), for log-scale tests
    log_var: str | None = None
    var: str | None = None  # per-row variance column, for tests on plain means

    def format(self, value: float | None) -> str:
        if value is None:
            return "–"
        if self.unit == "%":
            return f"{value * 100:.1f}%"
        if self.unit == "ms":
            return f"{value:,.0f} ms"
        if self.unit == "$":
            return f"${value:.4f}"
        if self.unit == "score":
            return f"{value:.3f}"
        return f"{value:,.0f}"


SIGNALS: tuple[Signal, ...] = (
    Signal("requests", "Requests", "traffic", "count", "req", False, column="requests"),
    Signal("error_rate", "Error rate", "reliability", "rate", "%", True, "errors", "requests"),
    Signal("latency_p50_ms", "Latency p50", "latency", "quantile", "ms", True, column="latency_p50_ms",
           log_mean="log_latency_mean", log_var="log_latency_var"),
    Signal("latency_p95_ms", "Latency p95", "latency", "quantile", "ms", True, column="latency_p95_ms",
           log_mean="log_latency_mean", log_var="log_latency_var"),
    Signal("latency_p99_ms", "Latency p99", "latency", "quantile", "ms", True, column="latency_p99_ms",
           log_mean="log_latency_mean", log_var="log_latency_var"),
    Signal("input_tokens_per_request", "Input tokens / request", "cost", "mean", "tokens", True,
           "input_tokens", "requests", var="input_tokens_var"),
    Signal("output_tokens_per_request", "Output tokens / request", "cost", "mean", "tokens", True,
           "output_tokens", "requests", var="output_tokens_var"),
    Signal("cost_per_request", "Cost / request", "cost", "mean", "$", True, "cost_usd", "requests",
           log_mean="log_cost_mean", log_var="log_cost_var"),
    Signal("task_success_rate", "Task success (deflection)", "quality", "rate", "%", False,
           "task_success", "task_success_n"),
    Signal("quality_score", "Quality score", "quality", "mean", "score", False, "quality_sum", "quality_n",
           var="quality_var"),
    Signal("refusal_rate", "Refusal rate", "safety", "rate", "%", True, "refused", "requests"),
    Signal("policy_violation_rate", "Policy violations", "safety", "rate", "%", True,
           "policy_violations", "requests"),
    Signal("tool_error_rate", "Tool errors / call", "reliability", "rate", "%", True, "tool_errors", "tool_calls"),
    Signal("fallback_rate", "Fallback rate", "reliability", "rate", "%", True, "fallbacks", "requests"),
)

BY_NAME: dict[str, Signal] = {s.name: s for s in SIGNALS}
GROUPS: dict[str, list[str]] = {}
for _s in SIGNALS:
    GROUPS.setdefault(_s.group, []).append(_s.name)
GROUP_ORDER = ("quality", "safety", "latency", "cost", "reliability", "traffic")


def get(name: str) -> Signal:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown signal {name!r}; known: {', '.join(BY_NAME)}") from None


def is_known(name: str) -> bool:
    return name in BY_NAME


def expression(signal: Signal) -> pl.Expr:
    """The signal's value from one row of counts (a bucket, a cohort or a window)."""
    if signal.kind in ("rate", "mean"):
        den = pl.col(signal.denominator).cast(pl.Float64)
        return pl.when(den > 0).then(pl.col(signal.numerator) / den).otherwise(None)
    return pl.col(signal.column).cast(pl.Float64)


def with_signals(counts: pl.DataFrame, names: list[str] | None = None) -> pl.DataFrame:
    """Add one column per signal (named by the signal) to a frame of counts."""
    chosen = [get(n) for n in names] if names else list(SIGNALS)
    # count signals are already columns of the counts frame under their own name
    return counts.with_columns([expression(s).alias(s.name) for s in chosen if s.kind != "count"])


def counts_of(signal: Signal, counts: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """(events, trials) per row for a rate or mean signal: what tests work from."""
    if signal.kind not in ("rate", "mean"):
        raise ValueError(f"{signal.name} is a {signal.kind}, not a ratio of counts")
    return counts[signal.numerator], counts[signal.denominator]
