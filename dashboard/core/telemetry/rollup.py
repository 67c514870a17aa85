"""Rollups: per-minute and per-hour aggregates of the request store, kept beside it.

Returns, for each request file, four rollup files (built by `build_rollups`):

    rollups/minute/        one row per (service, every segment and artifact column, minute)
                           that occurs: exact counts and sums of every measure, sums of
                           squares and of logs (so means, variances and log-scale tests
                           are exact from sums)
    rollups/minute_sketch/ the quantile sketch (sketch.py) of latency, time to first token and
                           token counts per the same cell: one row per occupied bucket,
                           (k, t, measure, bin, n), k the hash of the cell's key columns
    rollups/keys/          k -> the key columns, for the sketches
    rollups/hour/          the same sums per hour
    rollups/hour_sketch/   the same sketch per hour
    rollups/ten_minute/    the same sums per ten minutes (every key: the filtered views of a week)
    rollups/ten_minute_sketch/ the same sketch per ten minutes
    rollups/minute_users/  the distinct-user sketch (user_sketch.py: HyperLogLog registers) per the
                           same cell: one row per register reached, (k, t, reg, rho)
    rollups/hour_users/    the same registers per hour
    rollups/*_service/     the sums and sketches per service only (what an unfiltered view reads)

Every count and sum merges by SUM (the time span by MIN/MAX), so any time range, filter and grouping is a GROUP BY
over cells. A rollup file is a pure function of one request file and the store's
schema; its name carries that file's name, size and mtime and the schema's
fingerprint, so:
  * rebuilding gives the same files (idempotent); a request file rewritten in place
    gets new rollups, and the stale ones are removed;
  * each file is written to a temporary name and renamed, and readers use a rollup
    only when all four of its files exist: a crash mid-build leaves the previous
    rollups valid and the request file is rebuilt next time;
  * readers use exactly the rollups of the request files they would read
    (compact.visible_request_names), so a row is never counted twice, even while
    live slices are being compacted.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from dashboard.core.datadir import DataDir, remove_leftovers, temporary_beside
from dashboard.core.telemetry.contract import REQUEST_MEASURES, TelemetrySchema, read_schema
from dashboard.core.telemetry.signals import COUNTS
from dashboard.core.telemetry.sketch import SKETCHED, macros_sql
from dashboard.core.telemetry.user_sketch import macros_sql as user_macros_sql
from dashboard.core.telemetry.user_sketch import register_sql

FORMAT_VERSION = 5  # bump when the aggregates below change: every rollup is rebuilt
# the minute counts are written last and read first: a set is complete when they exist
TABLES = ("keys", "minute_sketch", "ten_minute_sketch", "hour_sketch", "minute_sketch_service", "hour_sketch_service",
          "minute_users", "hour_users", "minute_users_service", "hour_users_service",
          "minute_service", "hour_service", "hour", "ten_minute", "minute")

# Per-measure moments beside the registry's counts: sums of squares and of logs, so
# means, variances and log-scale tests come from sums exactly as from rows.
MOMENT_MEASURES = ("latency_ms", "ttft_ms", "cost_usd", "input_tokens", "output_tokens", "quality_score")
LOG_MEASURES = ("latency_ms", "ttft_ms", "cost_usd", "input_tokens", "output_tokens")
# ln of these clamped at a floor (the explorer's log-scale moments of latency and cost count every request)
CLAMPED_LOG = {"latency_ms": 0.001, "cost_usd": 1e-9}


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Aggregate:
    """One rollup column: its SQL over request rows, and how cells merge (sum, min or max)."""

    name: str
    sql: str
    merge: str = "sum"
    cast: str = "BIGINT"  # the type the merged value is cast to


def aggregates() -> list[Aggregate]:
    """What a cell holds: the registry's counts (signals.COUNTS), then moments and the time span."""
    out = [Aggregate(c.name, c.sql, "sum", "DOUBLE" if c.sql.endswith("::DOUBLE") else "BIGINT") for c in COUNTS]
    for m in MOMENT_MEASURES:
        x = f"CAST({q(m)} AS DOUBLE)"
        out += [Aggregate(f"m_{m}_n", f"count({q(m)})"),
                Aggregate(f"m_{m}_sum", f"sum({x})", cast="DOUBLE"),
                Aggregate(f"m_{m}_sumsq", f"sum({x} * {x})", cast="DOUBLE")]
        if m in LOG_MEASURES:
            out += [Aggregate(f"m_{m}_log_n", f"count(*) FILTER (WHERE {q(m)} > 0)"),
                    Aggregate(f"m_{m}_log_sum", f"sum(ln({x})) FILTER (WHERE {q(m)} > 0)", cast="DOUBLE"),
                    Aggregate(f"m_{m}_log_sumsq", f"sum(ln({x}) * ln({x})) FILTER (WHERE {q(m)} > 0)", cast="DOUBLE")]
    for m, floor in CLAMPED_LOG.items():
        lx = f"ln(greatest(CAST({q(m)} AS DOUBLE), {floor!r}))"
        out += [Aggregate(f"m_{m}_lnc_sum", f"sum({lx})", cast="DOUBLE"),
                Aggregate(f"m_{m}_lnc_sumsq", f"sum({lx} * {lx})", cast="DOUBLE")]
    # requests that carry a user id (beside the distinct-user sketch: "users affected" is shown only then)
    out.append(Aggregate("user_id_n", "count(user_id)"))
    out += [Aggregate("first_ts", "min(ts)", "min", "TIMESTAMPTZ"),
            Aggregate("last_ts", "max(ts)", "max", "TIMESTAMPTZ")]
    return out


def merge_sql(agg: Aggregate) -> str:
    return f"{agg.merge}({q(agg.name)})::{agg.cast}"


def merged_counts_sql(indent: str = "    ") -> str:
    """The registry's count columns summed over cells (what `@cell_counts` in a query expands to)."""
    names = {c.name for c in COUNTS}
    return (",\n" + indent).join(f"{merge_sql(a)} AS {q(a.name)}" for a in aggregates() if a.name in names)


def macros_sql_all() -> list[str]:
    """Macros a connection reading rollups needs: the sketches', and a variance from sums."""
    return [*macros_sql(), *user_macros_sql(),
            # var_samp from n, sum and sum of squares (NULL below two values, like var_samp)
            "CREATE OR REPLACE MACRO var_from_sums(s, ss, n) AS "
            "CASE WHEN n > 1 THEN greatest((ss - s * s / n) / (n - 1), 0) END"]


def key_columns(schema: TelemetrySchema) -> list[str]:
    return ["service", *schema.dimension_columns]


def schema_fingerprint(schema: TelemetrySchema) -> str:
    text = repr((FORMAT_VERSION, key_columns(schema), aggregates(), SKETCHED, macros_sql(), user_macros_sql()))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def rollup_root(data: DataDir) -> Path:
    return data.root / "rollups"


def rollup_name(raw: Path, stat: os.stat_result, fingerprint: str) -> str:
    return f"{raw.stem}~{stat.st_size}-{stat.st_mtime_ns}-{fingerprint}.parquet"


@dataclass(frozen=True)
class RollupSet:
    """The four rollup files of one request file (paths may not exist yet)."""

    raw: Path
    name: str
    root: Path

    def path(self, table: str) -> Path:
        return self.root / table / self.name

    def complete(self) -> bool:
        return all(self.path(t).exists() for t in TABLES)  # written in this order, minute last


def rollup_set(data: DataDir, raw: Path, fingerprint: str) -> RollupSet | None:
    try:
        stat = raw.stat()
    except FileNotFoundError:  # compacted away meanwhile
        return None
    return RollupSet(raw, rollup_name(raw, stat, fingerprint), rollup_root(data))


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    for statement in macros_sql_all():
        con.execute(statement)
    return con


_builders = threading.local()


def _builder() -> duckdb.DuckDBPyConnection:
    """This thread's connection for building rollups after a write, made once per thread and process.

    Defining the sketch macros takes about 30 ms, a live slice's whole rollup build about 150 ms:
    the live simulator and the receiver, which build after every slice, keep one connection
    (build_one drops its temporary tables, so nothing is left on it between builds). A forked
    child makes its own: a DuckDB connection must not cross a fork.
    """
    kept = getattr(_builders, "kept", None)
    if kept is None or kept[0] != os.getpid():
        kept = _builders.kept = (os.getpid(), _connect())
    return kept[1]


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _raw_select(con: duckdb.DuckDBPyConnection, raw: Path, schema: TelemetrySchema) -> str:
    """The request file as a relation with every key column (a missing one reads as NULL)."""
    have = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet({_sql_path(raw)})").fetchall()}
    cols = [q(c) if c in have else f"CAST(NULL AS VARCHAR) AS {q(c)}" for c in key_columns(schema)]
    measures = [q(m) if m in have else f"CAST(NULL AS {_duck_type(m)}) AS {q(m)}" for m in REQUEST_MEASURES]
    user = "user_id" if "user_id" in have else "CAST(NULL AS VARCHAR) AS user_id"
    return f"SELECT ts, {', '.join(cols)}, {', '.join(measures)}, {user} FROM read_parquet({_sql_path(raw)})"


def _duck_type(measure: str) -> str:
    t = REQUEST_MEASURES[measure]
    if t == pl.Boolean():
        return "BOOLEAN"
    if t == pl.String():
        return "VARCHAR"
    return "BIGINT" if t.is_integer() else "DOUBLE"


def cell_sql(source: str, keys: list[str], time_expr: str) -> str:
    """Aggregate request rows of `source` into cells keyed by `keys` and `time_expr AS t` (raw edges, verify)."""
    key_list = ", ".join(q(k) for k in keys)
    aggs = ", ".join(f"{a.sql} AS {q(a.name)}" for a in aggregates())
    return f"SELECT {key_list}, {time_expr} AS t, {aggs} FROM ({source}) GROUP BY ALL"


def sketch_sql(source: str, keys: list[str], time_expr: str) -> str:
    """One row per (keys, t, measure, bin) that occurs, with its count."""
    key_list = ", ".join(q(k) for k in keys)
    parts = [f"SELECT {key_list}, {time_expr} AS t, '{m}' AS measure, sketch_bucket({q(m)}) AS bin "
             f"FROM ({source}) WHERE {q(m)} IS NOT NULL" for m in SKETCHED]
    return (f"SELECT {key_list}, t, measure, bin, count(*)::BIGINT AS n FROM ({' UNION ALL '.join(parts)}) "
            f"GROUP BY ALL")


def _write(con: duckdb.DuckDBPyConnection, select: str, target: Path, order: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_beside(target)  # names its writer: the next maintenance removes it if that one died
    try:
        con.execute(f"COPY ({select} ORDER BY {order}) TO {_sql_path(tmp)} "
                    f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


class RollupKeyCollision(RuntimeError):
    """Two key combinations hashed alike in one file (never seen; refusing keeps counts exact)."""


# writes one rollup table: (connection, its SELECT, the target file, the ORDER BY of its rows)
Writer = Callable[[duckdb.DuckDBPyConnection, str, Path, str], None]


def build_one(rollups: RollupSet, schema: TelemetrySchema, con: duckdb.DuckDBPyConnection | None = None,
              write: Writer | None = None) -> None:
    """Write the rollup files of one request file (the minute counts last: they mark it complete).

    Rows are grouped by a 64-bit hash of their key columns (grouping by a dozen strings
    costs several times more); each combination's columns are joined back from a
    per-file dictionary, which is checked to map every hash to one combination.
    `write` is `_write` but for `warroom rollup verify`, which compares the rows instead.
    """
    con = con or _connect()
    write = write or _write
    keys = key_columns(schema)
    key_list = ", ".join(q(k) for k in keys)
    tag = uuid.uuid4().hex[:8]
    src, dic = f"_src_{tag}", f"_dict_{tag}"
    needed = sorted({*REQUEST_MEASURES, "user_id"})
    con.execute(f"CREATE TEMP TABLE {src} AS SELECT hash({key_list}) AS k, "
                f"time_bucket(INTERVAL 1 minute, ts) AS t, ts, {', '.join(q(m) for m in needed)} "
                f"FROM ({_raw_select(con, rollups.raw, schema)})")
    con.execute(f"CREATE TEMP TABLE {dic} AS SELECT DISTINCT hash({key_list}) AS k, {key_list} "
                f"FROM ({_raw_select(con, rollups.raw, schema)})")
    try:
        clashes = con.execute(f"SELECT count(*) - count(DISTINCT k) FROM {dic}").fetchall()[0][0]
        if clashes:
            raise RollupKeyCollision(f"{rollups.raw.name}: {clashes} key combinations share a hash")
        joined = f"SELECT {', '.join('d.' + q(k) for k in keys)}, c.* EXCLUDE (k) FROM ({{}}) c JOIN {dic} d USING (k)"
        aggs = ", ".join(f"{a.sql} AS {q(a.name)}" for a in aggregates())
        sums = ", ".join(f"{merge_sql(a)} AS {q(a.name)}" for a in aggregates())
        parts = [f"SELECT k, t, '{m}' AS measure, sketch_bucket({q(m)}) AS bin FROM {src} "
                 f"WHERE {q(m)} IS NOT NULL" for m in SKETCHED]
        union = " UNION ALL ".join(parts)
        minute_sketch = f"SELECT k, t, measure, bin, count(*)::BIGINT AS n FROM ({union}) GROUP BY ALL"
        con.execute(f"CREATE TEMP TABLE {src}_sk AS {minute_sketch}")
        hour_sketch = (f"SELECT k, time_bucket(INTERVAL 1 hour, t) AS t, measure, bin, sum(n)::BIGINT AS n "
                       f"FROM {src}_sk GROUP BY ALL")
        by_service = (f"SELECT d.service, c.t, c.measure, c.bin, sum(c.n)::BIGINT AS n FROM ({{}}) c "
                      f"JOIN {dic} d USING (k) GROUP BY ALL")
        # row groups of one measure together (a latency query skips the tokens), then a total
        # order (by the key's hash: sorting by a dozen strings costs more than the rest of the
        # build), so a rebuild writes the same rows in the same order
        sketch_order = "measure, t, k, bin"
        service_order = "measure, t, service, bin"
        # the per-combination sketches keep only the key's hash (narrow rows, several times
        # faster to write and scan); `keys` maps it back to the columns
        write(con, f"SELECT * FROM {dic}", rollups.path("keys"), "k")
        write(con, f"SELECT * FROM {src}_sk", rollups.path("minute_sketch"), sketch_order)
        # ten-minute cells of every key: what a filtered week at the explorer's 10-minute buckets reads
        # (a third of the minute bins; the hour cells do not fit its buckets)
        write(con, f"SELECT k, time_bucket(INTERVAL 10 minute, t) AS t, measure, bin, sum(n)::BIGINT AS n "
                   f"FROM {src}_sk GROUP BY ALL", rollups.path("ten_minute_sketch"), sketch_order)
        write(con, hour_sketch, rollups.path("hour_sketch"), sketch_order)
        write(con, by_service.format(f"SELECT * FROM {src}_sk"), rollups.path("minute_sketch_service"), service_order)
        write(con, by_service.format(hour_sketch), rollups.path("hour_sketch_service"), service_order)
        # the distinct-user registers: the largest rank per register merges by MAX
        con.execute(f"CREATE TEMP TABLE {src}_users AS {register_sql(f'SELECT * FROM {src}', ['k'], 't', q)}")
        hour_users = (f"SELECT k, time_bucket(INTERVAL 1 hour, t) AS t, reg, max(rho) AS rho FROM {src}_users "
                      f"GROUP BY ALL")
        users_by_service = (f"SELECT d.service, c.t, c.reg, max(c.rho) AS rho FROM ({{}}) c JOIN {dic} d USING (k) "
                            f"GROUP BY ALL")
        write(con, f"SELECT * FROM {src}_users", rollups.path("minute_users"), "t, k, reg")
        write(con, hour_users, rollups.path("hour_users"), "t, k, reg")
        write(con, users_by_service.format(f"SELECT * FROM {src}_users"), rollups.path("minute_users_service"),
               "t, service, reg")
        write(con, users_by_service.format(hour_users), rollups.path("hour_users_service"), "t, service, reg")
        con.execute(f"CREATE TEMP TABLE {src}_cells AS SELECT k, t, {aggs} FROM {src} GROUP BY ALL")
        # per service only: what a view without filters reads (a few rows per minute)
        per_service = f"SELECT d.service, c.t, {sums} FROM ({{}}) c JOIN {dic} d USING (k) GROUP BY ALL"
        write(con, per_service.format(f"SELECT * FROM {src}_cells"), rollups.path("minute_service"), "t, service")
        write(con, per_service.format(f"SELECT k, time_bucket(INTERVAL 1 hour, t) AS t, {sums} FROM {src}_cells "
                                       f"GROUP BY ALL"), rollups.path("hour_service"), "t, service")
        write(con, joined.format(f"SELECT k, time_bucket(INTERVAL 1 hour, t) AS t, {sums} FROM {src}_cells "
                                  f"GROUP BY ALL"), rollups.path("hour"), "t, k")
        write(con, joined.format(f"SELECT k, time_bucket(INTERVAL 10 minute, t) AS t, {sums} FROM {src}_cells "
                                 f"GROUP BY ALL"), rollups.path("ten_minute"), "t, k")
        write(con, joined.format(f"SELECT * FROM {src}_cells"), rollups.path("minute"), "t, k")
    finally:
        for table in (src, dic, f"{src}_sk", f"{src}_cells", f"{src}_users"):
            con.execute(f"DROP TABLE IF EXISTS {table}")


def ensure_rollups(data: DataDir, raws: list[Path], schema: TelemetrySchema | None = None) -> list[RollupSet]:
    """The complete rollups of the given request files (the ones a reader reads), building missing ones."""
    schema = schema or read_schema(data)
    fingerprint = schema_fingerprint(schema)
    out = []
    for raw in raws:
        rs = rollup_set(data, raw, fingerprint)
        if rs is None:
            continue
        if not rs.complete():
            try:
                build_one(rs, schema, _builder())
            except duckdb.IOException:
                if raw.exists():
                    raise
                continue  # compacted away while building
        out.append(rs)
    return out


def maintain(data: DataDir) -> int:
    """After any write: build the rollups of new request files, remove those of files gone. Returns built count."""
    schema = read_schema(data)
    fingerprint = schema_fingerprint(schema)
    folder = data.requests
    existing = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    wanted: set[str] = set()
    built = 0
    for raw in existing:  # every request file, hidden slices too: a reader may still hold their names
        rs = rollup_set(data, raw, fingerprint)
        if rs is None:
            continue
        wanted.add(rs.name)
        if not rs.complete():
            try:
                build_one(rs, schema, _builder())
                built += 1
            except duckdb.IOException:
                if raw.exists():
                    raise
    prune(data, wanted)
    return built


def prune(data: DataDir, wanted: set[str]) -> None:
    for table in TABLES:
        folder = rollup_root(data) / table
        if not folder.is_dir():
            continue
        remove_leftovers(folder)  # a writer killed mid-file (its temporary file would stay forever)
        for path in folder.glob("*.parquet"):
            if path.name not in wanted:
                path.unlink(missing_ok=True)


def rebuild(data: DataDir) -> int:
    """Drop every rollup and build them again from the request files (`warroom rollup build --full`)."""
    prune(data, set())
    return maintain(data)


def sizes(data: DataDir) -> dict:
    """Bytes of the request files and of each rollup table (the benchmark reports them side by side)."""
    def total(folder: Path) -> int:
        return sum(p.stat().st_size for p in folder.glob("*.parquet")) if folder.is_dir() else 0

    return {"request_bytes": total(data.requests),
            "rollup_bytes": {t: total(rollup_root(data) / t) for t in TABLES}}
