"""Writes to the configured telemetry store beyond the data folder's Parquet files.

Returns nothing; `mirror(data, table, rows, store)` inserts rows a writer has just
committed to Parquet (a release event) into the ClickHouse store when one is
configured (`[store]` or `--store`), after migrating it, and does nothing for the
DuckDB store, whose Parquet files are the store.
"""

from __future__ import annotations

import polars as pl

from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.store_config import store_config


def mirror(data: DataDir, table: str, rows: pl.DataFrame, store: str | None = None) -> str | None:
    """Insert the committed `rows` into the configured ClickHouse store; returns its description, or None."""
    config = store_config(data.root, store)
    if config.engine == "duckdb":
        return None
    from dashboard.core.telemetry import clickhouse_schema
    from dashboard.core.telemetry.clickhouse import open_engine
    from dashboard.core.telemetry.contract import read_schema

    engine = open_engine(config)
    clickhouse_schema.migrate(engine, read_schema(data))
    engine.insert_frame(table, rows)
    return config.describe()
