"""`warroom store migrate|load`: create a ClickHouse store's tables, and fill it from a Parquet store.

`migrate` applies the project's schema versions the store lacks (docs/CLICKHOUSE.md);
`load` copies the data folder's Parquet requests, releases and quarantine into it
(the demo week, or a store that outgrew DuckDB). The store is `--store` or the data
folder's `[store]` section; credentials come from the environment only.
"""

from __future__ import annotations

import argparse
import json
import time

from dashboard.cli import UserError, add_data_arg
from dashboard.core.datadir import DataDir


def add_store_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", metavar="STORE", default=None,
                        help="duckdb, chdb:PATH or clickhouse://host:port/db (default: [store] in the data "
                             "folder's warroom.toml; credentials from WARROOM_CLICKHOUSE_USER/PASSWORD)")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("store", help="create (migrate) or load a ClickHouse telemetry store")
    sub = p.add_subparsers(dest="store_command", required=True)
    migrate = sub.add_parser("migrate", help="create or upgrade the ClickHouse store's tables")
    add_data_arg(migrate)
    add_store_arg(migrate)
    migrate.set_defaults(func=run_migrate)
    load = sub.add_parser("load", help="copy the data folder's Parquet telemetry into the ClickHouse store")
    add_data_arg(load)
    add_store_arg(load)
    load.set_defaults(func=run_load)


def _engine(args: argparse.Namespace):
    from dashboard.core.telemetry.clickhouse import open_engine
    from dashboard.core.telemetry.store_config import StoreConfigError, store_config

    data = DataDir.at(args.data)
    try:
        config = store_config(data.root, args.store)
        if config.engine == "duckdb":
            raise UserError("the store is DuckDB over this folder's Parquet files: it needs no migration; "
                            "pass --store chdb:PATH or clickhouse://host:port/db, or set [store] in warroom.toml")
        return data, config, open_engine(config)
    except StoreConfigError as exc:
        raise UserError(str(exc)) from None


def run_migrate(args: argparse.Namespace) -> int:
    from dashboard.core.telemetry import clickhouse_schema
    from dashboard.core.telemetry.contract import read_schema

    data, config, engine = _engine(args)
    applied = clickhouse_schema.migrate(engine, read_schema(data))
    print(json.dumps({"store": config.describe(), "applied": applied,
                      "version": clickhouse_schema.applied_version(engine)}))
    return 0


def run_load(args: argparse.Namespace) -> int:
    from dashboard.core.telemetry import clickhouse_schema
    from dashboard.core.telemetry.contract import read_schema

    data, config, engine = _engine(args)
    if not data.has_requests():
        raise UserError(f"{data.root}: no request files to load")
    schema = read_schema(data)
    clickhouse_schema.migrate(engine, schema)
    if clickhouse_schema.stored_requests(engine):
        raise UserError(f"{config.describe()} already holds requests: load into an empty store "
                        f"(loading twice would count every request twice)")
    began = time.perf_counter()
    counts = clickhouse_schema.load_parquet(engine, data, schema)
    print(json.dumps({"store": config.describe(), "loaded": counts,
                      "seconds": round(time.perf_counter() - began, 1)}))
    return 0
