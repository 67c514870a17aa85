"""Sample requests a reader can open one by one, each with its link back to the trace.

`version_samples(store, column, versions, start, end, filters)` returns a few
requests of each version of one artifact (the cohort samples of the
Explorer), deterministic for a seed; `with_trace_links(rows, links)` adds a
`trace_link` column rendered by the app from the folder's `[links] trace`
template (None where a row has no trace id or the folder no template).
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from dashboard.core.telemetry.links import TRACE, row_link
from dashboard.core.telemetry.query import Scope, TelemetryStore

DEFAULT_PER_VERSION = 5
DEFAULT_SEED = 20250218
# what a reader scans in a sample row, when the store has it
SAMPLE_COLUMNS = ("ts", "request_id", "latency_ms", "input_tokens", "output_tokens", "cost_usd", "error_type",
                  "refused", "guardrail_blocked", "quality_score", "trace_id")


def with_trace_links(rows: pl.DataFrame, links: dict[str, str]) -> pl.DataFrame:
    """`rows` plus `trace_link`: the trace template filled from each row (escaped; http/https only)."""
    template = links.get(TRACE)
    values = [row_link(r, links) for r in rows.iter_rows(named=True)] if template else [None] * rows.height
    return rows.with_columns(pl.Series("trace_link", values, dtype=pl.String))


def version_samples(store: TelemetryStore, column: str, versions: list[str], start: datetime, end: datetime,
                    filters: dict | None = None, per_version: int = DEFAULT_PER_VERSION,
                    seed: int = DEFAULT_SEED, links: dict[str, str] | None = None) -> pl.DataFrame:
    """Up to `per_version` requests of each of `versions` (of the artifact column `column`) in [start, end)."""
    narrowed = {**(filters or {}), column: list(versions)}
    rows = store.run_sql("version_sample_requests", {"seed": seed, "per_version": per_version},
                         Scope.of(start, end, narrowed, by=column))
    shown = ["version", *(c for c in SAMPLE_COLUMNS if c in rows.columns)]
    linked = with_trace_links(rows.select(shown), links or {})
    # the link first after the identity: it is what a reader came for, and wide tables scroll
    front = [c for c in ("version", "ts", "request_id", "trace_link") if c in linked.columns]
    return linked.select(*front, *(c for c in linked.columns if c not in front))
