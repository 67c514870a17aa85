"""Writes to the configured telemetry store beyond the data folder's Parquet files.

`mirror(data, table, rows, store)` inserts rows a writer has just committed to
Parquet (a release event), `mirror_files(data, {table: path}, store)` the files an
ingest committed (accepted requests or releases, quarantined rows), into the
ClickHouse store when one is configured (`[store]` or `--store`), after migrating
it. Both do nothing for the DuckDB store, whose Parquet files are the store, and
return the store's description or None.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.store_config import StoreConfigError, store_config


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


def mirror_files(data: DataDir, files: dict[str, str | None], store: str | None = None) -> str | None:
    """Insert committed Parquet files ({table: path}) into the configured ClickHouse store."""
    config = store_config(data.root, store)
    if config.engine == "duckdb" or not any(files.values()):
        return None
    import pyarrow.parquet as pq

    from dashboard.core.telemetry import clickhouse_schema
    from dashboard.core.telemetry.clickhouse import open_engine
    from dashboard.core.telemetry.contract import read_schema

    engine = open_engine(config)
    clickhouse_schema.migrate(engine, read_schema(data))
    for table, path in files.items():
        if not path:
            continue
        have = set(engine.query(f"SELECT name FROM system.columns WHERE database = currentDatabase() "
                                f"AND table = '{table}'")["name"])
        columns = pq.read_schema(path).names
        missing = [c for c in columns if c not in have]
        if table == "quarantine":  # the rejected rows' own columns stay in the file; the table keeps the reasons
            columns, missing = [c for c in columns if c in have], []
        if missing:  # a new segment or artifact column: the ClickHouse tables were made for the old schema
            raise StoreConfigError(f"{config.describe()}: table {table} has no column(s) {', '.join(missing)} "
                                   f"(the store's schema changed; {path} is in the data folder only)")
        engine.insert_parquet(table, Path(path).resolve(), columns)
    return config.describe()
