"""The query benchmark's page views timed side by side on the same data: DuckDB over Parquet and ClickHouse (chDB).

Returns, per view of `bench.query` (the explorer's incident-day query set and the
week views, the root-cause panel included), the median warm seconds on each
store (result cache off) and, where the view returns a signal series, whether the
two answers agree (every count equal, sums and moments to 1e-9, quantiles from the
same bins); then the whole page view, day and week, on each; and the ClickHouse
load time when the store had to be loaded. Both sides run through the same
`TelemetryStore` interface the pages use (`ClickHouseTelemetryStore` for chDB).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import polars as pl

from dashboard.core.bench.query import explorer_queries, page_runs, week_page, week_queries
from dashboard.core.datadir import DataDir
from dashboard.core.telemetry import clickhouse_schema
from dashboard.core.telemetry.clickhouse_query import MOMENTS
from dashboard.core.telemetry.clickhouse_store import ClickHouseTelemetryStore
from dashboard.core.telemetry.contract import read_schema
from dashboard.core.telemetry.query import TelemetryStore
from dashboard.core.telemetry.signals import COUNTS

_FLOATS = ("quality_sum", "cost_usd", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "ttft_p50_ms",
           *(m[0] for m in MOMENTS))


def _median(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    result = fn()  # the first run warms file caches and compiled plans on both engines alike
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), result


def same_series(duck: object, ch: object) -> bool | None:
    """Whether two signal series agree; None when the answers are not series (tests/sql compares those)."""
    if not (isinstance(duck, pl.DataFrame) and isinstance(ch, pl.DataFrame) and "bucket" in duck.columns):
        return None
    if duck.height != ch.height or duck.columns != ch.columns:
        return False
    order = [c for c in ("bucket", "group") if c in duck.columns]
    duck, ch = duck.sort(order), ch.sort(order)
    if any(duck[c].to_list() != ch[c].to_list() for c in order):
        return False
    exact = [c.name for c in COUNTS if c.name in duck.columns and c.name not in _FLOATS]
    if any(duck[c].to_list() != ch[c].to_list() for c in exact):
        return False
    for c in (c for c in _FLOATS if c in duck.columns):
        for a, b in zip(duck[c].to_list(), ch[c].to_list(), strict=True):
            if (a is None) != (b is None) or (a is not None and abs(a - b) > 1e-9 * max(abs(a), 1.0)):
                return False
    return True


def run_engine_bench(data: DataDir, engine, repeats: int = 5) -> dict:
    schema = read_schema(data)
    clickhouse_schema.migrate(engine, schema)
    load_s = None
    if not clickhouse_schema.stored_requests(engine):
        began = time.perf_counter()
        clickhouse_schema.load_parquet(engine, data, schema)
        load_s = round(time.perf_counter() - began, 1)
    duck = TelemetryStore(data, cache=False)
    ch = ClickHouseTelemetryStore(data, engine, cache=False)
    rows = duck.time_range()[2]
    views = []
    for (name, duck_view), (_, ch_view) in zip(explorer_queries(duck) + week_queries(duck),
                                              explorer_queries(ch) + week_queries(ch), strict=True):
        duck_s, duck_answer = _median(duck_view, repeats)
        ch_s, ch_answer = _median(ch_view, repeats)
        views.append({"name": name, "duckdb_s": round(duck_s, 4), "chdb_s": round(ch_s, 4),
                      "same_answer": same_series(duck_answer, ch_answer)})

    def page(store: TelemetryStore, week: bool) -> float:
        return statistics.median(page_runs(week_page(store) if week else explorer_queries(store), repeats))

    pages = [{"name": f"whole page view, {label}", "duckdb_s": round(page(duck, week), 4),
              "chdb_s": round(page(ch, week), 4)} for label, week in (("incident day", False), ("week", True))]
    return {"rows": rows, "repeats": repeats, "chdb_load_s": load_s, "views": views, "pages": pages}
