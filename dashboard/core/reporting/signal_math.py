"""How a reporting figure is computed from per-bucket count columns.

The query layer returns counts per time bucket (requests, refused, cost sums,
latency quantiles...). Rates and means are recomputed from summed counts,
never averaged from per-bucket values, so any window can be re-aggregated
exactly. Quantiles cannot be merged that way; they are only judged per bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import polars as pl

from dashboard.core.telemetry import signals as registry


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


# Signal name -> count columns, from the telemetry signal registry (one source of truth).
SIGNALS: dict[str, SignalMath] = {
    s.name: SignalMath(s.name, s.kind, s.numerator, s.denominator, s.column)
    for s in registry.SIGNALS if s.kind != "count"
}
HIGHER_IS_WORSE: dict[str, bool] = {s.name: s.higher_is_worse for s in registry.SIGNALS}


def label(name: str) -> str:
    return registry.BY_NAME[name].label if name in registry.BY_NAME else name


def format_signal(name: str, value: float | None) -> str:
    if name in registry.BY_NAME:
        return registry.BY_NAME[name].format(value)
    return "–" if value is None else f"{value:.3g}"


def signal_math(name: str) -> SignalMath:
    try:
        return SIGNALS[name]
    except KeyError:
        raise KeyError(f"unknown signal {name!r}; known: {sorted(SIGNALS)}") from None


def utc_buckets(frame: pl.DataFrame, column: str = "bucket") -> pl.DataFrame:
    """The bucket column as UTC (DuckDB hands back 'Etc/UTC', which Polars will not compare with 'UTC')."""
    if column not in frame.columns:
        return frame
    dtype = frame.schema[column]
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return frame.with_columns(pl.col(column).dt.replace_time_zone("UTC"))
        if dtype.time_zone != "UTC":
            return frame.with_columns(pl.col(column).dt.convert_time_zone("UTC"))
    return frame


def utc(moment: datetime) -> datetime:
    """An aware UTC datetime (naive ones are taken to be UTC already)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
