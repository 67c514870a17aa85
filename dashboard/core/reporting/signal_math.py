"""How a reporting figure is computed from per-bucket count columns.

The query layer returns counts per time bucket (requests, refused, cost sums,
latency quantiles...). Rates and means are recomputed from summed counts,
never averaged from per-bucket values, so any window can be re-aggregated
exactly. Quantiles cannot be merged that way; they are only judged per bucket.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class SignalMath:
    name: str
    kind: str  # "rate" | "mean" | "quantile"
    numerator: str | None = None  # rate: counted events; mean: sum column
    denominator: str | None = None  # rate / mean: count column
    column: str | None = None  # quantile: the per-bucket value column

    def value_expr(self) -> pl.Expr:
        """Per-row value of the signal (row = one bucket)."""
        if self.kind == "quantile":
            return pl.col(self.column).cast(pl.Float64)
        den = pl.col(self.denominator).cast(pl.Float64)
        return pl.when(den > 0).then(pl.col(self.numerator).cast(pl.Float64) / den).otherwise(None)

    def pooled(self, frame: pl.DataFrame) -> float | None:
        """The signal over all rows of `frame` taken together (rates/means only)."""
        if self.kind == "quantile":
            raise ValueError(f"{self.name} is a quantile; it cannot be pooled from buckets")
        if frame.is_empty():
            return None
        den = float(frame[self.denominator].sum() or 0)
        if den <= 0:
            return None
        return float(frame[self.numerator].sum() or 0) / den

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c for c in (self.numerator, self.denominator, self.column) if c)


# Signal name -> count columns of TelemetryStore.series().
SIGNALS: dict[str, SignalMath] = {
    "error_rate": SignalMath("error_rate", "rate", "errors", "requests"),
    "refusal_rate": SignalMath("refusal_rate", "rate", "refused", "requests"),
    "task_success_rate": SignalMath("task_success_rate", "rate", "task_success", "task_success_n"),
    "policy_violation_rate": SignalMath("policy_violation_rate", "rate", "policy_violations", "requests"),
    "tool_error_rate": SignalMath("tool_error_rate", "rate", "tool_errors", "tool_calls"),
    "fallback_rate": SignalMath("fallback_rate", "rate", "fallbacks", "requests"),
    "cost_per_request": SignalMath("cost_per_request", "mean", "cost_usd", "requests"),
    "input_tokens_per_request": SignalMath("input_tokens_per_request", "mean", "input_tokens", "requests"),
    "output_tokens_per_request": SignalMath("output_tokens_per_request", "mean", "output_tokens", "requests"),
    "quality_score": SignalMath("quality_score", "mean", "quality_sum", "quality_n"),
    "latency_p50_ms": SignalMath("latency_p50_ms", "quantile", column="latency_p50_ms"),
    "latency_p95_ms": SignalMath("latency_p95_ms", "quantile", column="latency_p95_ms"),
    "latency_p99_ms": SignalMath("latency_p99_ms", "quantile", column="latency_p99_ms"),
}


def signal_math(name: str) -> SignalMath:
    try:
        return SIGNALS[name]
    except KeyError:
        raise KeyError(f"unknown signal {name!r}; known: {sorted(SIGNALS)}") from None
