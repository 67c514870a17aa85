"""The store on ClickHouse: the same interface as query.TelemetryStore, every answer from ClickHouse.

Returns `ClickHouseTelemetryStore(data, engine)`, which pages and commands use exactly
as the DuckDB store (`series`, `window_totals`, `segment_leaves`, `dimension_values`,
`releases`, `time_range`, `measures`, `run_sql(name, params, scope)`), and
`open_store(data)`, the store a data folder's `[store]` config names (store_config.py):
DuckDB over its Parquet files by default, ClickHouse (chDB or a server) otherwise.

Every query file runs in its ClickHouse form (clickhouse_sql.py: the DuckDB file
transpiled, the rollup cells from rollup_minute / rollup_hour), so a page reads the
same numbers on either engine (tests/sql/test_clickhouse_queries.py). The two files
that read Parquet footers have ClickHouse equivalents here: the span is a scan of
`ts` (time_range_scan.sql), which measures a store has is a count per column. The
answer cache is keyed on the row counts of the requests and releases tables (an
insert adds rows; a background merge does not change them).
"""

from __future__ import annotations

import threading
from datetime import datetime

import polars as pl

from dashboard.core.datadir import DataDir
from dashboard.core.telemetry import rollup
from dashboard.core.telemetry.clickhouse import quote
from dashboard.core.telemetry.clickhouse_sql import DUCKDB_ONLY, clickhouse_sql
from dashboard.core.telemetry.contract import REQUEST_MEASURES, read_schema
from dashboard.core.telemetry.query import TelemetryStore
from dashboard.core.telemetry.query_cache import ResultCache
from dashboard.core.telemetry.query_sql import Scope, SqlFile
from dashboard.core.telemetry.store_config import StoreConfig, StoreConfigError, store_config


class ClickHouseTelemetryStore(TelemetryStore):
    """TelemetryStore's questions answered by a ClickHouse store (`engine`: clickhouse.open_engine)."""

    DISTINCT_USERS_BOUND = 0.0  # its reporting_distinct_users counts the scope's user ids exactly

    def __init__(self, data: DataDir, engine, cache: bool = True, config: StoreConfig | None = None):
        # no DuckDB connection and no Parquet views: nothing here reads the data folder's files
        self.data = data
        self.schema = read_schema(data)
        self.engine = engine
        self.config = config
        self._columns = list(self.schema.request_schema())
        self._keys = rollup.key_columns(self.schema)
        self._lock = threading.Lock()
        self._cache_enabled = cache
        self._cache = ResultCache(self.CACHE_ENTRIES)
        self._measures: tuple[tuple, frozenset[str]] | None = None
        tables = set(engine.query("SELECT name FROM system.tables WHERE database = currentDatabase()")["name"])
        if not {"requests", "releases", "rollup_minute", "rollup_hour"} <= tables:
            raise StoreConfigError(f"{self.describe()}: no telemetry tables yet; run `warroom store migrate` "
                                   f"(and `warroom store load` for telemetry already in {data.root})")
        from dashboard.core.telemetry.clickhouse_schema import missing_columns

        if missing := missing_columns(engine, self.schema):
            raise StoreConfigError(f"{self.describe()}: the requests table has no column(s) {', '.join(missing)} "
                                   f"of {data.schema_file.name}; run `warroom store migrate`")

    def describe(self) -> str:
        return self.config.describe() if self.config is not None else "clickhouse"

    def files_version(self) -> tuple:
        """Rows in the requests and releases tables: changes whenever telemetry arrives."""
        frame = self.engine.query(
            "SELECT table, sum(rows) AS n FROM system.parts WHERE active AND database = currentDatabase() "
            "AND table IN ('requests', 'releases') GROUP BY table ORDER BY table")
        return ("clickhouse", *((str(t), int(n)) for t, n in frame.iter_rows()))

    def _run(self, sql: SqlFile, params: dict, scope: Scope | None, version: tuple) -> pl.DataFrame:
        """A query file in its ClickHouse form (the base class checks its parameters and caches it)."""
        if sql.name in DUCKDB_ONLY:
            raise ValueError(f"query {sql.name} has no ClickHouse form: {DUCKDB_ONLY[sql.name]}")
        text, bound = clickhouse_sql(sql.name, params, scope, self._columns, self._keys)
        return self.engine.query(text, bound)

    def _execute(self, compose, version: tuple) -> pl.DataFrame:
        # the base class's ad-hoc scans (measures_by_service) quote names with double quotes,
        # which ClickHouse reads as identifiers too
        text, params = compose(version)
        return self.engine.query(text, params or None)

    def time_range(self) -> tuple[datetime | None, datetime | None, int]:
        row = self.run_sql("time_range_scan").row(0, named=True)
        return row["first_ts"], row["last_ts"], int(row["requests"] or 0)

    def measures(self) -> frozenset[str]:
        """The request measures with a value in some row (a count per column, cached with the row counts)."""
        version = self.files_version()
        cached = self._measures
        if cached is not None and cached[0] == version:
            return cached[1]
        names = [m for m in REQUEST_MEASURES if m in self._columns]
        counts = ", ".join(f"count({quote(m)}) AS {quote(m)}" for m in names)
        row = self.engine.query(f"SELECT {counts} FROM requests").row(0, named=True)
        result = frozenset(m for m in names if row[m])
        self._measures = (version, result)
        return result


def open_store(data: DataDir, cache: bool = True, override: str | None = None) -> TelemetryStore:
    """The telemetry store `data`'s config names (or `override`, a --store value): DuckDB unless it says ClickHouse."""
    config = store_config(data.root, override)
    if config.engine == "duckdb":
        return TelemetryStore(data, cache=cache)
    from dashboard.core.telemetry.clickhouse import open_engine

    return ClickHouseTelemetryStore(data, open_engine(config), cache=cache, config=config)
