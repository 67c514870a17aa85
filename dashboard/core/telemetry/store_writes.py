"""Writes to the configured telemetry store beyond the data folder's Parquet files.

`mirror(data, table, rows, store)` inserts rows a writer has just committed to
Parquet (a release event), `mirror_files(data, {table: path}, store)` the files an
ingest committed (accepted requests or releases, quarantined rows), into the
ClickHouse store when one is configured (`[store]` or `--store`), after migrating
it. Both do nothing for the DuckDB store, whose Parquet files are the store, and
return the store's description or None. The live simulator and the receiver call
them for every slice, so an engine is opened and migrated once per process and
schema (`_ready`), not once per slice.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.store_config import StoreConfig, StoreConfigError, store_config

_READY: dict[tuple[StoreConfig, str], object] = {}  # (store, schema fingerprint) -> a migrated engine


def _ready(config: StoreConfig, data: DataDir):
    """The configured ClickHouse store's engine, migrated to this folder's schema."""
    from dashboard.core.telemetry import clickhouse_schema
    from dashboard.core.telemetry.clickhouse import open_engine
    from dashboard.core.telemetry.contract import read_schema
    from dashboard.core.telemetry.rollup import schema_fingerprint

    schema = read_schema(data)
    key = (config, schema_fingerprint(schema))
    if key not in _READY:
        engine = open_engine(config)
        clickhouse_schema.migrate(engine, schema)
        _READY[key] = engine
    return _READY[key]


def mirror(data: DataDir, table: str, rows: pl.DataFrame, store: str | None = None) -> str | None:
    """Insert the committed `rows` into the configured ClickHouse store; returns its description, or None."""
    config = store_config(data.root, store)
    if config.engine == "duckdb":
        return None
    _ready(config, data).insert_frame(table, rows)
    return config.describe()


def mirror_files(data: DataDir, files: dict[str, str | None], store: str | None = None) -> str | None:
    """Insert committed Parquet files ({table: path}) into the configured ClickHouse store."""
    config = store_config(data.root, store)
    if config.engine == "duckdb" or not any(files.values()):
        return None
    import pyarrow.parquet as pq

    engine = _ready(config, data)
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
