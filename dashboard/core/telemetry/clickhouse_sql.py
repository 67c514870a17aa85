"""The ClickHouse form of a query file: the DuckDB SQL in queries/ transpiled by sqlglot.

Returns `clickhouse_sql(name, params, scope)`: the text to run on a ClickHouse store
and its parameters, from the same file the DuckDB store runs (one definition per
query), with a ClickHouse `scoped` CTE when the query reads `scoped`. sqlglot turns
`$name` into ClickHouse's `{name: }`; the type is filled in from the value, as
clickhouse.bind does. A file in queries/clickhouse/ of the same name replaces the
transpiled text where a DuckDB construct has no translation (none needs one today:
measure_percentiles did while it read rows); it declares the same parameters and a
test compares its answers with the DuckDB file's.

`PORTED` lists the files with a ClickHouse form that runs and agrees with DuckDB
(tested on chDB); `DUCKDB_ONLY` the rest, each with why, so a new query file must
be put in one or the other (the test checks every file is in exactly one).
"""

from __future__ import annotations

import re

import sqlglot

from dashboard.core.telemetry.clickhouse import PARAM_RE, param_type, quote
from dashboard.core.telemetry.query_sql import QUERIES_DIR, Dialect, Scope, load_sql, scoped_cte, with_scope

OVERRIDES_DIR = QUERIES_DIR / "clickhouse"
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*): \}")

PORTED = ("releases_in_range", "time_range_scan", "ingest_stored_request_ids")
_CELLS = "reads the rollup cells CTE, which the ClickHouse store builds from its own tables (clickhouse_query.py)"
DUCKDB_ONLY: dict[str, str] = {
    **{name: _CELLS for name in (
        "diagnosis_exposure", "diagnosis_measure_stats", "diagnosis_rate_counts", "diagnosis_slow_counts",
        "diagnosis_slow_leaves", "dimension_values", "incident_slow_share", "measure_quantile",
        "reporting_distinct_users", "measure_percentiles", "measure_histogram",
        "reporting_slo_counts", "segment_leaves", "signal_series", "version_first_served", "version_mix")},
    "measure_presence": "reads Parquet footers (parquet_metadata); ClickHouse knows its columns from its schema",
    "reporting_packet_sample": "COLUMNS(lambda ...) over artifact columns; and DuckDB's hash() picks the sample",
    "version_sample_requests": "DuckDB's hash() picks the sample; ClickHouse's hashes differ, so would the rows",
    "time_range": "reads Parquet footers for the span; time_range_scan is the ClickHouse store's form",
}


def _text(name: str) -> str:
    override = OVERRIDES_DIR / f"{name}.sql"
    if override.exists():  # written with `$name` like the DuckDB files; typed below like the transpiled ones
        body = "\n".join(line for line in override.read_text().splitlines() if not line.lstrip().startswith("--"))
        return PARAM_RE.sub(lambda m: "{" + m.group(1) + ": }", body)
    return sqlglot.transpile(load_sql(name).text, read="duckdb", write="clickhouse", comments=False)[0]


def clickhouse_sql(name: str, params: dict | None = None, scope: Scope | None = None,
                   columns: set[str] | None = None) -> tuple[str, dict]:
    """(ClickHouse SQL, parameters) for queries/<name>.sql; `columns` checks a scope's filter columns."""
    sql = load_sql(name)
    params = dict(params or {})
    if set(params) != sql.params:
        raise ValueError(f"query {name}: takes {sorted(sql.params)}, given {sorted(params)}")
    text = _text(name)
    if sql.uses_rollups:
        raise ValueError(f"query {name} reads rollup cells: {DUCKDB_ONLY.get(name, _CELLS)}")
    if sql.uses_scope:
        if scope is None:
            raise ValueError(f"query {name} reads `scoped`: pass a Scope")
        cte, scope_params = scoped_cte_clickhouse(scope, columns)
        text, params = with_scope(cte, text), {**params, **scope_params}

    def typed(m: re.Match) -> str:
        key = m.group(1)
        if key not in params:
            raise ValueError(f"query {name}: no value for ${key}")
        return "{" + key + ":" + param_type(params[key]) + "}"

    return PLACEHOLDER.sub(typed, text), params


CLICKHOUSE = Dialect(param=lambda k: "{" + k + ": }", member=lambda c, k: f"{c} IN {{{k}: }}",
                     minute="toStartOfMinute(ts)", text="Nullable(String)")


def scoped_cte_clickhouse(scope: Scope, columns: set[str] | None = None) -> tuple[str, dict]:
    """query.py's `scoped` CTE in ClickHouse: the same definition (query_sql.scoped_cte), spelled for it."""
    def col(name: str) -> str:
        if columns is not None and name not in columns:
            raise ValueError(f"unknown column {name!r}")
        return quote(name)

    return scoped_cte(scope, col, CLICKHOUSE)