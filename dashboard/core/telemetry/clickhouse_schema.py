"""The ClickHouse store's tables, created and versioned by the project (`warroom store migrate`).

Returns the DDL for a store's schema (its segment and artifact columns) and applies
it: `migrate(engine, schema)` creates what is missing, adds the columns the data
folder's schema gained since (a new segment or artifact column, to the requests
table and both rollups) and records each change as a version in `warroom_schema`;
`load_parquet(engine, data)` copies a Parquet store's requests, releases and
quarantine into it (`warroom store load`).

    requests         MergeTree ordered by (service, hour, segments..., ts): the views'
                     filters, in the order they narrow
    releases         MergeTree ordered by (service, ts)
    quarantine       MergeTree of rejected rows (file, row, field, reason)
    rollup_minute    AggregatingMergeTree, one row per (service, every segment and
    rollup_hour      artifact column, minute or hour) after merges, fed by materialized
                     views on every insert into requests: -State aggregates of the same
                     counts and sums as the DuckDB rollups (rollup.aggregates(), the one
                     definition, transpiled), the same fixed log-bucket histogram
                     (sketch.py) as a sumMap state per sketched measure, and a uniq state
                     of users

A rollup cell is exact for counts and sums and holds the same histogram bins as the
DuckDB store's, so a quantile from it is within the same sketch.RELATIVE_ERROR.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import sqlglot
from sqlglot import expressions as exp

from dashboard.core.datadir import DataDir
from dashboard.core.telemetry import rollup
from dashboard.core.telemetry.clickhouse import quote
from dashboard.core.telemetry.contract import RELEASE_SCHEMA, TelemetrySchema
from dashboard.core.telemetry.sketch import GAMMA, LN_GAMMA, SKETCHED, ZERO_BUCKET

SCHEMA_VERSION = 2  # the project's steps (`_migrations`); bump with a new entry when a table changes
QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.String(), "row_number": pl.Int64(), "field": pl.String(), "reason": pl.String(),
}
SOURCE = "r"  # the requests table's alias in a rollup's SELECT
ROLLUP_GRAINS = {"minute": f"toStartOfMinute({SOURCE}.ts)", "hour": f"toStartOfHour({SOURCE}.ts)"}


def ch_type(dtype: pl.DataType, nullable: bool = True) -> str:
    if dtype == pl.Boolean:
        base = "Bool"
    elif dtype.is_integer():
        base = "Int64"
    elif dtype == pl.Float64:
        base = "Float64"
    elif isinstance(dtype, pl.Datetime):
        return "DateTime64(6, 'UTC')"  # every timestamp is required
    else:
        base = "String"
    return f"Nullable({base})" if nullable else base


def _columns(schema: dict[str, pl.DataType], required: tuple[str, ...] = ()) -> str:
    return ", ".join(f"{quote(n)} {ch_type(t, nullable=n not in required)}" for n, t in schema.items())


@dataclass(frozen=True)
class StateColumn:
    """One rollup column: its aggregate over request rows, how cells merge, and how a reader finalizes it.

    Counts, sums and the time span are SimpleAggregateFunction columns (a plain value that
    merges by sum, min or max, several times cheaper to write than an -State blob); the
    histograms merge by sumMap; users is an -State of uniq (a sketch, merged by uniqMerge).
    """

    name: str
    expr: str  # over the request rows (alias `r`)
    merge: str  # sum, min, max, sumMap, or uniq (a real -State)
    final: str  # SQL over the stored column when cells are merged by a reader

    @property
    def simple(self) -> bool:
        return self.merge != "uniq"


def _ch(node: exp.Expression) -> str:
    # every column read from the rows is qualified (`r.`): in ClickHouse an alias of the same
    # SELECT (a rollup column named like the measure it sums) would shadow the bare name
    node = node.copy()
    for column in node.find_all(exp.Column):
        column.set("table", exp.to_identifier(SOURCE))
    return node.sql(dialect="clickhouse")


def state_column(agg: rollup.Aggregate) -> StateColumn:
    """rollup.Aggregate (DuckDB SQL, the one definition) -> its ClickHouse rollup column, via sqlglot."""
    node = sqlglot.parse_one(agg.sql, read="duckdb")
    if isinstance(node, exp.Cast):  # the cast applies to the merged value
        node = node.this
    cond = None
    if isinstance(node, exp.Filter):
        cond = _ch(node.expression.this)
        node = node.this
    if isinstance(node, exp.Count):
        fn, args = "count", [] if isinstance(node.this, exp.Star) else [_ch(node.this)]
    elif isinstance(node, (exp.Sum, exp.Min, exp.Max)):
        fn, args = node.key, [_ch(node.this)]
    else:
        raise ValueError(f"rollup aggregate {agg.name}: no ClickHouse form for {agg.sql!r}")
    expr = f"{fn}{'If' if cond else ''}({', '.join([*args, *([cond] if cond else [])])})"
    cast = {"BIGINT": "Nullable(Int64)", "DOUBLE": "Nullable(Float64)",
            "TIMESTAMPTZ": "Nullable(DateTime64(6, 'UTC'))"}[agg.cast]
    merge = "sum" if fn == "count" else fn
    return StateColumn(agg.name, expr, merge, f"CAST({merge}({quote(agg.name)}) AS {cast})")


def sketch_bucket_sql(x: str) -> str:
    """sketch.sketch_bucket in ClickHouse (same mapping, so the same bins as the DuckDB rollups)."""
    # ClickHouse evaluates both branches of if(): the log's argument is kept positive in every
    # row (a NULL or a zero would make it -inf, which toInt32 refuses), the outer if picks the bin
    return f"if({x} <= 0, {ZERO_BUCKET}, toInt32(ceil(ln(if({x} > 0, {x}, 1)) / {LN_GAMMA!r})))"


def state_columns() -> list[StateColumn]:
    out = [state_column(a) for a in rollup.aggregates()]
    for m in SKETCHED:
        x = f"{SOURCE}.{quote(m)}"
        name = f"sketch_{m}"
        out.append(StateColumn(name, f"sumMapIf([{sketch_bucket_sql(x)}], [toUInt64(1)], {x} IS NOT NULL)",
                               "sumMap", f"sumMap({quote(name)})"))
    out.append(StateColumn("users", f"uniqState({SOURCE}.user_id)", "uniq", "uniqMerge(users)"))
    return out


def functions_sql() -> list[str]:
    """SQL functions a reader of the sketches uses (sketch.py's quantile over a merged sumMap)."""
    value = f"if(i = {ZERO_BUCKET}, 0., 2 * exp(i * {LN_GAMMA!r}) / {GAMMA + 1!r})"
    at = "arrayElement(m.1, arrayFirstIndex(c -> c > r, arrayCumSum(m.2)))"
    return [
        f"CREATE FUNCTION IF NOT EXISTS warroom_sketch_value AS (i) -> {value}",
        f"CREATE FUNCTION IF NOT EXISTS warroom_sketch_at AS (m, r) -> warroom_sketch_value({at})",
        # the rank q * (n - 1) interpolated between its two whole neighbours, like sketch.quantile
        "CREATE FUNCTION IF NOT EXISTS warroom_sketch_quantile AS (q, m) -> "
        "if(arraySum(m.2) = 0, NULL, "
        "warroom_sketch_at(m, floor(q * (arraySum(m.2) - 1))) * (1 - (q * (arraySum(m.2) - 1) "
        "- floor(q * (arraySum(m.2) - 1)))) + warroom_sketch_at(m, ceil(q * (arraySum(m.2) - 1))) "
        "* (q * (arraySum(m.2) - 1) - floor(q * (arraySum(m.2) - 1))))",
    ]


def requests_ddl(schema: TelemetrySchema) -> str:
    order = ["service", "toStartOfHour(ts)", *(quote(s) for s in schema.segments), "ts"]
    return (f"CREATE TABLE IF NOT EXISTS requests ({_columns(schema.request_schema(), ('ts',))}) "
            f"ENGINE = MergeTree PARTITION BY toYYYYMM(ts) ORDER BY ({', '.join(order)}) "
            f"SETTINGS allow_nullable_key = 1")


def rollup_select(schema: TelemetrySchema, grain: str) -> str:
    keys = rollup.key_columns(schema)
    selected = ", ".join(f"{SOURCE}.{quote(k)} AS {quote(k)}" for k in keys)
    states = ", ".join(f"{c.expr} AS {quote(c.name)}" for c in state_columns())
    return (f"SELECT {selected}, {ROLLUP_GRAINS[grain]} AS t, {states} FROM requests AS {SOURCE} "
            f"GROUP BY {', '.join(quote(k) for k in keys)}, t")


def _migrations(engine, schema: TelemetrySchema) -> dict[int, list[str]]:
    """The project's steps, by number; a store records each as `project N` (warroom_schema.change)."""
    return {
        1: [
            requests_ddl(schema),
            f"CREATE TABLE IF NOT EXISTS releases ({_columns(RELEASE_SCHEMA, ('ts',))}) "
            f"ENGINE = MergeTree ORDER BY (ifNull(service, ''), ts)",
            f"CREATE TABLE IF NOT EXISTS quarantine ({_columns(QUARANTINE_SCHEMA)}, "
            f"loaded_at DateTime64(6, 'UTC') DEFAULT now64(6)) ENGINE = MergeTree ORDER BY loaded_at",
            *functions_sql(),
        ],
        # what each version changed, so a new column (migrate) is a version of its own
        2: ["ALTER TABLE warroom_schema ADD COLUMN IF NOT EXISTS change String DEFAULT ''"],
    }


def _rollup_ddl(engine, schema: TelemetrySchema, grain: str) -> list[str]:
    """The AggregatingMergeTree and its materialized view; the column types are ClickHouse's own
    (DESCRIBE of the view's SELECT), so a column's type always matches what the view writes."""
    select = rollup_select(schema, grain)
    described = dict(engine.query(f"DESCRIBE TABLE ({select})").select("name", "type").iter_rows())
    merges = {c.name: c for c in state_columns()}
    columns = ", ".join(
        f"{quote(n)} SimpleAggregateFunction({merges[n].merge}, {t})" if n in merges and merges[n].simple
        else f"{quote(n)} {t}" for n, t in described.items())
    order = ", ".join(["t", *(quote(k) for k in rollup.key_columns(schema))])
    return [f"CREATE TABLE IF NOT EXISTS rollup_{grain} ({columns}) ENGINE = AggregatingMergeTree "
            f"PARTITION BY toYYYYMM(t) ORDER BY ({order}) SETTINGS allow_nullable_key = 1",
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_{grain}_mv TO rollup_{grain} AS {select}"]


def applied_version(engine) -> int:
    """The store's schema version: the number of changes applied to it (project steps and new columns)."""
    engine.command("CREATE TABLE IF NOT EXISTS warroom_schema (version UInt32, fingerprint String, "
                   "applied_at DateTime64(6, 'UTC') DEFAULT now64(6), change String DEFAULT '') "
                   "ENGINE = MergeTree ORDER BY version")
    frame = engine.query("SELECT max(version) AS v FROM warroom_schema")
    return int(frame["v"][0] or 0)


def _steps_done(engine) -> set[int]:
    """The project's steps (`_migrations`) a store has: `project N` rows, and every row of a store
    written before rows said what they changed (those were all project steps)."""
    applied_version(engine)
    have = set(engine.query("SELECT name FROM system.columns WHERE database = currentDatabase() "
                            "AND table = 'warroom_schema'")["name"])
    if "change" not in have:
        return {int(v) for v in engine.query("SELECT version FROM warroom_schema")["version"]}
    done = set()
    for version, change in engine.query("SELECT version, change FROM warroom_schema").iter_rows():
        if not change:
            done.add(int(version))
        elif change.startswith("project "):
            done.add(int(change.split()[1]))
    return done


def _record(engine, schema: TelemetrySchema, change: str) -> int:
    version = applied_version(engine) + 1
    engine.command("INSERT INTO warroom_schema (version, fingerprint, change) VALUES ($version, $fingerprint, "
                   "$change)", {"version": version, "fingerprint": rollup.schema_fingerprint(schema),
                                "change": change})
    return version


def missing_columns(engine, schema: TelemetrySchema) -> list[str]:
    """Columns of the folder's schema (a new segment or artifact column) the requests table lacks."""
    have = set(engine.query("SELECT name FROM system.columns WHERE database = currentDatabase() "
                            "AND table = 'requests'")["name"])
    return [c for c in schema.request_schema() if c not in have]


def add_column_sql(engine, schema: TelemetrySchema, column: str) -> list[str]:
    """A new column in the requests table and, for a segment or artifact column, in both rollups: appended
    to each rollup's sorting key (an AggregatingMergeTree merges rows of equal key, so cells of different
    values must differ in it) and read by its materialized view. Rows stored before read it as NULL, as
    the DuckDB store reads a column older files lack."""
    dtype = schema.request_schema()[column]
    statements = [f"ALTER TABLE requests ADD COLUMN IF NOT EXISTS {quote(column)} {ch_type(dtype)}"]
    if column in rollup.key_columns(schema):
        for grain in ROLLUP_GRAINS:
            key = engine.query("SELECT sorting_key FROM system.tables WHERE database = currentDatabase() "
                               "AND name = $name", {"name": f"rollup_{grain}"})["sorting_key"][0]
            statements += [f"ALTER TABLE rollup_{grain} ADD COLUMN IF NOT EXISTS {quote(column)} {ch_type(dtype)}, "
                           f"MODIFY ORDER BY ({key}, {quote(column)})",
                           f"ALTER TABLE rollup_{grain}_mv MODIFY QUERY {rollup_select(schema, grain)}"]
    return statements


def migrate(engine, schema: TelemetrySchema) -> list[int]:
    """Apply the project's steps the store lacks, then add the columns the folder's schema gained
    (each a new version); returns the versions applied (none when the store is up to date)."""
    done = _steps_done(engine)
    applied = []
    for step, statements in sorted(_migrations(engine, schema).items()):
        if step in done:
            continue
        for statement in statements:
            engine.command(statement)
        for grain in ROLLUP_GRAINS:
            for statement in _rollup_ddl(engine, schema, grain):
                engine.command(statement)
        applied.append(_record(engine, schema, f"project {step}"))
    for column in missing_columns(engine, schema):
        for statement in add_column_sql(engine, schema, column):
            engine.command(statement)
        applied.append(_record(engine, schema, f"add column {column}"))
    return applied


def stored_requests(engine) -> int:
    return int(engine.query("SELECT count() AS n FROM requests")["n"][0])


def load_parquet(engine, data: DataDir, schema: TelemetrySchema) -> dict[str, int]:
    """Insert a Parquet store's files (requests, releases, quarantine) into a migrated ClickHouse store.

    Reads the same files the DuckDB store reads (compact.visible_request_names), so
    nothing is counted twice; the materialized views fill the rollups as rows arrive.
    """
    import pyarrow.parquet as pq

    from dashboard.core.telemetry.compact import visible_request_names

    counts = {"requests": 0, "releases": 0, "quarantine": 0}
    folders = {"requests": (data.requests, schema.request_schema()), "releases": (data.releases, RELEASE_SCHEMA),
               "quarantine": (data.quarantine, QUARANTINE_SCHEMA)}
    for table, (folder, wanted) in folders.items():
        if not folder.is_dir():
            continue
        names = sorted(p.name for p in folder.glob("*.parquet"))
        if table == "requests":
            names = visible_request_names(names)
        for name in names:
            path = folder / name
            have = set(pq.read_schema(path).names)
            columns = [c for c in wanted if c in have]  # a column a file lacks reads as NULL
            engine.insert_parquet(table, path.resolve(), columns)
            counts[table] += pq.read_metadata(path).num_rows
    return counts
