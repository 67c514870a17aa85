"""The DuckDB views a TelemetryStore's queries read, over an explicit list of the data folder's files.

`create_views(con, data, schema, files, has_releases)` (re)creates on the connection:

    requests          the request files listed, by name; a column no file has reads as typed nulls
    _empty_requests   a typed table of no rows, with every column of the contract
    releases          every release file, with the columns older files lack
    rollup_<table>    one per rollup table (rollup.TABLES), over the rollups of exactly the
                      request files listed (built when missing); typed and empty without files

Reading the files' schemas raises duckdb.IOException when compaction removed a listed
file meanwhile: the caller lists the files again and retries (TelemetryStore._ensure_views).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from dashboard.core.datadir import DataDir
from dashboard.core.telemetry import rollup, user_sketch
from dashboard.core.telemetry.contract import RELEASE_SCHEMA
from dashboard.core.telemetry.query_sql import create_empty_table, duck_type, duckdb_path, parquet_glob


def create_views(con: duckdb.DuckDBPyConnection, data: DataDir, schema, files: tuple[str, ...],
                 has_releases: bool) -> None:
    # typed and empty: the requests of no file, and the columns a subset of the files lacks
    # (TelemetryStore._rows_between reads the files that meet a partial minute through it)
    create_empty_table(con, "_empty_requests", schema.request_schema())
    if files:
        listed = ", ".join("'" + duckdb_path(f) + "'" for f in files)
        source = f"read_parquet([{listed}], union_by_name = true)"
        have = columns_of(con, source)
        # a column no file has (a source without cost, without any safety field) reads as
        # typed nulls, so every query runs on any store; `measures()` says it is absent
        extra = "".join(f', CAST(NULL AS {duck_type(dtype)}) AS "{name}"'
                        for name, dtype in schema.request_schema().items() if name not in have)
        con.execute(f"CREATE OR REPLACE VIEW requests AS SELECT *{extra} FROM {source}")
    else:
        con.execute("CREATE OR REPLACE VIEW requests AS SELECT * FROM _empty_requests")
    create_rollup_views(con, data, schema, files)
    create_empty_table(con, "_empty_releases", RELEASE_SCHEMA)
    if has_releases:
        # the empty typed table supplies columns that older release files lack (commit, url)
        con.execute(f"CREATE OR REPLACE VIEW releases AS SELECT * FROM read_parquet("
                    f"'{parquet_glob(data.releases)}', union_by_name = true) "
                    f"UNION ALL BY NAME SELECT * FROM _empty_releases")
    else:
        con.execute("CREATE OR REPLACE VIEW releases AS SELECT * FROM _empty_releases")


def columns_of(con: duckdb.DuckDBPyConnection, source: str) -> set[str]:
    """The columns of a file list, from the files' schemas."""
    cursor = con.cursor()
    try:
        return {row[0] for row in cursor.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    finally:
        cursor.close()


def create_rollup_views(con: duckdb.DuckDBPyConnection, data: DataDir, schema, files: tuple[str, ...]) -> None:
    """One view per rollup table over the rollups of exactly the request files listed (built when missing)."""
    sets = rollup.ensure_rollups(data, [Path(f) for f in files], schema) if files else []
    keys = rollup.key_columns(schema)
    empty = "SELECT * FROM requests WHERE false"
    for table in rollup.TABLES:
        paths = [str(rs.path(table)) for rs in sets]
        if paths:
            listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
            distinct = "DISTINCT " if table == "keys" else ""  # files share combinations
            con.execute(f"CREATE OR REPLACE VIEW rollup_{table} AS SELECT {distinct}* "
                        f"FROM read_parquet([{listed}], union_by_name = true)")
            continue
        if table == "keys":
            select = f"SELECT 0::UBIGINT AS k, {', '.join(rollup.q(k) for k in keys)} FROM requests WHERE false"
        elif "users" in table:  # the registers, per service or per key hash
            select = user_sketch.register_sql(empty, ["service"], "ts", rollup.q)
            if not table.endswith("_service"):
                select = f"SELECT 0::UBIGINT AS k, * EXCLUDE (service) FROM ({select})"
        elif table.endswith("sketch_service"):
            select = rollup.sketch_sql(empty, ["service"], "ts")
        elif table.endswith("_service"):
            select = rollup.cell_sql(empty, ["service"], "ts")
        elif "sketch" in table:
            select = ("SELECT 0::UBIGINT AS k, * EXCLUDE (service) FROM ("
                      + rollup.sketch_sql(empty, ["service"], "ts") + ")")
        else:
            select = rollup.cell_sql(empty, keys, "ts")
        con.execute(f"CREATE OR REPLACE VIEW rollup_{table} AS {select}")
