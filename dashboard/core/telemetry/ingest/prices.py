"""Pricing tokens into cost: `cost_usd` for rows that carry token counts but no cost.

Many sources (traces, gateway logs) record usage, not money. The mapping's
`[prices]` table gives each model's price per million input, output and
(optionally) cached input tokens; a row is priced when its cost is missing,
its model has a price and both token counts are known. A cost the source
recorded is never replaced, and a row without usage stays without cost (a
failed call's cost is unknown, not zero).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import polars as pl

from dashboard.core.telemetry.contract import TelemetrySchema
from dashboard.core.telemetry.ingest.validate import FileResult
from dashboard.core.telemetry.mapping import IngestMapping, ModelPrice

PER_TOKENS = 1_000_000


@dataclass
class Pricing:
    priced: int = 0
    unpriced_models: dict[str, int] = field(default_factory=dict)  # model -> rows left without cost

    def add(self, other: Pricing) -> None:
        self.priced += other.priced
        for model, rows in other.unpriced_models.items():
            self.unpriced_models[model] = self.unpriced_models.get(model, 0) + rows


def apply_prices(frame: pl.DataFrame, prices: dict[str, ModelPrice], model_column: str) -> tuple[pl.DataFrame, Pricing]:
    """`frame` with cost_usd filled in where it can be priced, and what was (not) priced."""
    if not prices or frame.is_empty():
        return frame, Pricing()
    table = pl.DataFrame({
        model_column: list(prices),
        "_in": [p.input for p in prices.values()],
        "_out": [p.output for p in prices.values()],
        "_cached": [p.cached_input if p.cached_input is not None else p.input for p in prices.values()],
    }, schema={model_column: pl.String, "_in": pl.Float64, "_out": pl.Float64, "_cached": pl.Float64})
    wants = (pl.col("cost_usd").is_null() & pl.col("input_tokens").is_not_null()
             & pl.col("output_tokens").is_not_null())
    joined = frame.join(table, on=model_column, how="left", maintain_order="left")
    cached = pl.col("cached_input_tokens").fill_null(0).clip(0, pl.col("input_tokens"))
    cost = ((pl.col("input_tokens") - cached) * pl.col("_in") + cached * pl.col("_cached")
            + pl.col("output_tokens") * pl.col("_out")) / PER_TOKENS
    priceable = wants & pl.col("_in").is_not_null()
    flags = joined.select(priceable.alias("priced"), (wants & pl.col("_in").is_null()).alias("unpriced"))
    out = joined.with_columns(pl.when(priceable).then(cost).otherwise(pl.col("cost_usd")).alias("cost_usd"))
    unpriced = (joined.filter(flags["unpriced"]).group_by(model_column).len()
                .sort(model_column, nulls_last=True))
    result = Pricing(
        priced=int(flags["priced"].sum()),
        unpriced_models={str(m) if m is not None else "(no model)": int(n) for m, n in unpriced.iter_rows()},
    )
    return out.select(frame.columns), result


def price_results(results: list[FileResult], mapping: IngestMapping,
                  schema: TelemetrySchema) -> tuple[list[FileResult], Pricing]:
    """Every file's accepted rows priced by the mapping's [prices] (unchanged without one)."""
    total = Pricing()
    if not mapping.prices:
        return results, total
    model_column = schema.artifact_column("model")
    priced = []
    for result in results:
        frame, pricing = apply_prices(result.accepted, mapping.prices, model_column)
        total.add(pricing)
        priced.append(replace(result, accepted=frame))
    return priced, total


def price_warnings(pricing: Pricing) -> list[str]:
    if not pricing.unpriced_models:
        return []
    listed = ", ".join(f"{m!r} ({n} rows)" for m, n in pricing.unpriced_models.items())
    return [f"prices: no price for {listed}: those rows have tokens but are stored without cost_usd"]
