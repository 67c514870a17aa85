"""The ClickHouse form of a query file: the DuckDB SQL in queries/ transpiled by sqlglot.

Returns `clickhouse_sql(name, params, scope, columns, keys)`: the text to run on a
ClickHouse store and its parameters, from the same file the DuckDB store runs (one
definition per query, transpiled by clickhouse_transpile.py for the parameters it
runs with), with the ClickHouse `scoped` CTE, or the `cells` / `sketch_cells` CTEs
of the rollup tables (clickhouse_cells.py), when the query reads them. sqlglot turns
`$name` into ClickHouse's `{name: }`; the type is filled in from the value, as
clickhouse.bind does. A file in queries/clickhouse/ of the same name replaces the
transpiled text where the DuckDB file has no translation: reporting_distinct_users,
which merges the DuckDB rollups' user registers (the ClickHouse rollups keep none, so
its form counts the scope's rows); it declares the same parameters, may read another
relation than the DuckDB file, and a test compares its answers with the DuckDB file's.

`PORTED` lists the files with a ClickHouse form that runs and agrees with DuckDB
(tested on chDB); `DUCKDB_ONLY` the rest, each with why, so a new query file must
be put in one or the other (the test checks every file is in exactly one).
"""

from __future__ import annotations

import re
from functools import cache

from dashboard.core.telemetry.clickhouse import PARAM_RE, param_type, quote
from dashboard.core.telemetry.clickhouse_cells import ClickHouseCells
from dashboard.core.telemetry.clickhouse_transpile import transpile
from dashboard.core.telemetry.query_sql import (
    QUERIES_DIR,
    Dialect,
    Scope,
    SqlFile,
    load_sql,
    scoped_cte,
    with_scope,
)
from dashboard.core.telemetry.rollup_scope import Buckets, needs_full_keys

OVERRIDES_DIR = QUERIES_DIR / "clickhouse"
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*): \}")

PORTED = (
    # requests, releases and `scoped` rows
    "releases_in_range", "time_range_scan", "ingest_stored_request_ids", "reporting_distinct_users",
    "measure_histogram", "measure_percentiles", "reporting_packet_sample", "version_sample_requests",
    # the rollup cells (clickhouse_cells.py)
    "diagnosis_exposure", "diagnosis_measure_stats", "diagnosis_rate_counts", "diagnosis_slow_counts",
    "diagnosis_slow_leaves", "dimension_values", "incident_slow_share", "measure_quantile",
    "reporting_slo_counts", "segment_leaves", "signal_series", "signal_quantile_bins",
    "version_first_served", "version_mix",
)
# ported files that pick a sample of rows by hash: ClickHouse's hash picks its own (deterministic) rows,
# so they agree with DuckDB on the groups and their totals, not on which rows are shown
OWN_SAMPLE = ("reporting_packet_sample", "version_sample_requests")
# ported files whose DuckDB form is a sketch and whose ClickHouse form is exact: equal within the sketch's bound
SKETCHED_ON_DUCKDB = {"reporting_distinct_users": ("users",)}
DUCKDB_ONLY: dict[str, str] = {
    "measure_presence": "reads Parquet footers (parquet_metadata); the ClickHouse store counts each measure column "
                        "(clickhouse_store.measures)",
    "request_file_spans": "reads Parquet footers for each file's span; time_range_scan is the ClickHouse store's form",
}


SETTINGS = "aggregate_functions_null_for_empty = 1, join_use_nulls = 1"
"""DuckDB's NULLs where ClickHouse would give a type's default: an aggregate over no rows
(min(...) FILTER (...) matching nothing) and the unmatched side of a LEFT JOIN."""


@cache
def _override(name: str) -> tuple[SqlFile, str] | None:
    """The hand-written ClickHouse form of a query file, if any: (the relations it reads, its text)."""
    path = OVERRIDES_DIR / f"{name}.sql"
    if not path.exists():
        return None
    # written with `$name` like the DuckDB files; typed below like the transpiled ones
    body = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("--"))
    return load_sql(f"{OVERRIDES_DIR.name}/{name}"), PARAM_RE.sub(lambda m: "{" + m.group(1) + ": }", body)


def clickhouse_sql(name: str, params: dict | None = None, scope: Scope | None = None,
                   columns: list[str] | None = None, keys: list[str] | None = None) -> tuple[str, dict]:
    """(ClickHouse SQL, parameters) for queries/<name>.sql.

    `columns` are the requests table's, in its order (a scope's filter and grouping
    columns must be among them); `keys` the rollup key columns (rollup.key_columns), needed by a query
    that reads `cells` or `sketch_cells`.
    """
    sql = load_sql(name)
    params = dict(params or {})
    if set(params) != sql.params:
        raise ValueError(f"query {name}: takes {sorted(sql.params)}, given {sorted(params)}")
    override = _override(name)
    reads = override[0] if override else sql  # the relations it reads
    if reads.uses_users:
        raise ValueError(f"query {name} reads user registers, which the ClickHouse rollups do not keep: "
                         f"give it a form in {OVERRIDES_DIR.name}/")
    relations: dict[str, list[str]] = {}
    cte = None
    if reads.uses_cells or reads.uses_sketch:
        if scope is None:
            raise ValueError(f"query {name} reads rollup cells: pass a Scope")
        if keys is None or columns is None:
            raise ValueError(f"query {name} reads rollup cells: pass the store's columns and rollup keys")
        builder = cells_builder(sql, scope, params, keys, columns)
        parts = []
        if reads.uses_cells:
            parts.append(builder.cells())
            relations["cells"] = builder.cell_columns()
        if reads.uses_sketch:
            parts.append(builder.sketch_cells())
            relations["sketch_cells"] = builder.sketch_columns()
        cte, cte_params = "WITH " + ",\n".join(parts), builder.params
    elif reads.uses_scope:
        if scope is None:
            raise ValueError(f"query {name} reads `scoped`: pass a Scope")
        cte, cte_params = scoped_cte_clickhouse(scope, columns)
        relations["scoped"] = [*(columns or ()), "grp"]  # as `SELECT *, grp` of the requests gives them
    text = override[1] if override else transpile(sql.text, params, relations)
    if cte is not None:
        text, params = with_scope(cte, text), {**params, **cte_params}

    def typed(m: re.Match) -> str:
        key = m.group(1)
        if key not in params:
            raise ValueError(f"query {name}: no value for ${key}")
        return "{" + key + ":" + param_type(params[key]) + "}"

    return PLACEHOLDER.sub(typed, text) + f"\nSETTINGS {SETTINGS}", params


def cells_builder(sql: SqlFile, scope: Scope, params: dict, keys: list[str], columns: list[str]) -> ClickHouseCells:
    """The ClickHouse cells for a query's scope and time buckets (as TelemetryStore._cells_sql for DuckDB)."""
    return ClickHouseCells(keys, set(columns), scope, Buckets.of_query(sql.grain, params),
                           full_keys=needs_full_keys(params))


CLICKHOUSE = Dialect(param=lambda k: "{" + k + ": }", member=lambda c, k: f"{c} IN {{{k}: }}",
                     minute="toStartOfMinute(ts)", text="Nullable(String)")


def scoped_cte_clickhouse(scope: Scope, columns: list[str] | None = None) -> tuple[str, dict]:
    """query.py's `scoped` CTE in ClickHouse: the same definition (query_sql.scoped_cte), spelled for it."""
    def col(name: str) -> str:
        if columns is not None and name not in columns:
            raise ValueError(f"unknown column {name!r}")
        return quote(name)

    return scoped_cte(scope, col, CLICKHOUSE)