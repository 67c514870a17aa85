"""Named SQL files, the scope a query sees, and paths DuckDB reads as themselves.

What the query layer (query.py) runs: `load_sql` reads one file of queries/ with
its declared `$named` parameters and what it reads (`scoped`, `cells`,
`sketch_cells`); `Scope` is the time range, filters and grouping of one query;
`choose_bucket` the chart bucket for a range; `literal_glob`/`duckdb_path` keep
glob characters in a folder's name from being expanded.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import duckdb
import polars as pl

from dashboard.core.telemetry import rollup
from dashboard.core.telemetry.signals import counts_sql

QUERIES_DIR = Path(__file__).resolve().parents[3] / "queries"
PARAM_RE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")

# Bucket widths a chart may use; the first that keeps a series under the cap wins.
BUCKET_STEPS = [timedelta(minutes=m) for m in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)]
MAX_POINTS = 1500


def choose_bucket(start: datetime, end: datetime, max_points: int = MAX_POINTS) -> timedelta:
    span = end - start
    for step in BUCKET_STEPS:
        if span / step <= max_points:
            return step
    return BUCKET_STEPS[-1]


@dataclass(frozen=True)
class SqlFile:
    name: str
    text: str
    params: frozenset[str]
    declared: frozenset[str]
    uses_scope: bool
    uses_cells: bool
    uses_sketch: bool
    uses_users: bool
    grain: timedelta | None  # "-- cells grain: 1 minute": cells no coarser than this

    @property
    def uses_rollups(self) -> bool:
        return self.uses_cells or self.uses_sketch or self.uses_users


@cache
def load_sql(name: str) -> SqlFile:
    path = QUERIES_DIR / f"{name}.sql"
    if not path.exists():
        raise FileNotFoundError(f"no query named {name!r} in {QUERIES_DIR.name}/")
    # `@counts` is the registry's count columns, so every query computes them alike; `@cell_counts`
    # the same columns summed over rollup cells
    text = (path.read_text().replace("@cell_counts", rollup.merged_counts_sql(indent="    "))
            .replace("@counts", counts_sql(indent="    ")))
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    header = next((line for line in text.splitlines() if line.startswith("-- params:")), "-- params:")
    grain = re.search(r"^-- cells grain: 1 (minute|hour)$", text, re.MULTILINE)
    return SqlFile(name, text, frozenset(PARAM_RE.findall(body)), frozenset(PARAM_RE.findall(header)),
                   bool(re.search(r"\bscoped\b", body)), bool(re.search(r"\bcells\b", body)),
                   bool(re.search(r"\bsketch_cells\b", body)), bool(re.search(r"\buser_cells\b", body)),
                   (timedelta(minutes=1) if grain.group(1) == "minute" else timedelta(hours=1)) if grain else None)


@dataclass(frozen=True)
class Scope:
    """Which requests a query sees and how they are grouped."""

    start: datetime
    end: datetime
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    by: str | None = None  # group by this dimension's value
    windows: tuple[tuple[str, datetime, datetime], ...] = ()  # or by named time window
    minutes: tuple[datetime, ...] = ()  # only these minutes (e.g. when two versions overlap)

    @classmethod
    def of(cls, start: datetime, end: datetime, filters: dict | None = None, by: str | None = None,
           windows=(), minutes=()) -> Scope:
        norm = {k: (v,) if isinstance(v, str) else tuple(v) for k, v in (filters or {}).items() if v}
        return cls(start, end, norm, by, tuple(windows), tuple(minutes))


@dataclass(frozen=True)
class Dialect:
    """How the `scoped` CTE's pieces are spelled in one engine's SQL (DuckDB here, ClickHouse in clickhouse_sql)."""

    param: Callable[[str], str]  # a named parameter: "$x", "{x: }"
    member: Callable[[str, str], str]  # (column, list parameter name) -> "column is in the list"
    minute: str  # ts truncated to its minute
    text: str  # the string type `grp` is cast to


DUCKDB = Dialect(param=lambda k: f"${k}", member=lambda c, k: f"{c} IN (SELECT unnest(${k}))",
                 minute="time_bucket(INTERVAL 1 minute, ts)", text="VARCHAR")


def scoped_cte(scope: Scope, column: Callable[[str], str], dialect: Dialect = DUCKDB) -> tuple[str, dict]:
    """The `scoped` CTE (the requests in a time range, filtered, with `grp`) and its parameters.

    `column` checks a dimension name and quotes it; filter values always travel as parameters.
    """
    p = dialect.param
    params: dict = {"scope_start": scope.start, "scope_end": scope.end}
    where = [f"ts >= {p('scope_start')}", f"ts < {p('scope_end')}"]
    for i, (name, values) in enumerate(sorted(scope.filters.items())):
        where.append(dialect.member(column(name), f"scope_f{i}"))
        params[f"scope_f{i}"] = list(values)
    if scope.minutes:
        where.append(dialect.member(dialect.minute, "scope_minutes"))
        params["scope_minutes"] = list(scope.minutes)
    if scope.windows:
        cases = []
        for i, (label, a, b) in enumerate(scope.windows):
            cases.append(f"WHEN ts >= {p(f'scope_w{i}_start')} AND ts < {p(f'scope_w{i}_end')} "
                         f"THEN {p(f'scope_w{i}_label')}")
            params.update({f"scope_w{i}_start": a, f"scope_w{i}_end": b, f"scope_w{i}_label": label})
        grp = f"CASE {' '.join(cases)} END"
        where.append(f"({grp}) IS NOT NULL")  # a request outside every window is not in the scope
    elif scope.by:
        grp = f"CAST({column(scope.by)} AS {dialect.text})"
    else:
        grp = f"CAST(NULL AS {dialect.text})"
    return f"WITH scoped AS (SELECT *, {grp} AS grp FROM requests WHERE {' AND '.join(where)})", params


def with_scope(cte: str, text: str) -> str:
    """Prepend the scope CTE, joining a query's own WITH clause if it has one."""
    body = re.sub(r"^(\s*--[^\n]*\n)*", "", text)
    if re.match(r"\s*WITH\s", body, re.IGNORECASE):
        return cte + ",\n" + re.sub(r"^\s*WITH\s", "", body, count=1, flags=re.IGNORECASE)
    return f"{cte}\n{text}"


GLOB_CHARACTERS = re.compile(r"([\[*?])")


def literal_glob(path: str | Path) -> str:
    """A path DuckDB's file functions take as itself: `*`, `?` and `[` each in a class of its own.

    DuckDB expands glob characters in every path it reads (a folder named data[1]
    matches nothing and the query fails).
    """
    return GLOB_CHARACTERS.sub(r"[\1]", str(path))


def duckdb_path(path: str | Path) -> str:
    """`literal_glob(path)` to write inside single quotes in SQL."""
    return literal_glob(path).replace("'", "''")


def create_empty_table(con: duckdb.DuckDBPyConnection, name: str, schema: dict) -> None:
    """A real table (a registered frame is private to one connection; cursors must see it)."""
    con.register("_schema_source", pl.DataFrame(schema=schema).to_arrow())
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _schema_source")
    con.unregister("_schema_source")


def duck_type(dtype: pl.DataType) -> str:
    """The DuckDB type a contract column is stored as."""
    if dtype == pl.Boolean:
        return "BOOLEAN"
    if dtype in (pl.Int8, pl.Int16, pl.Int32, pl.Int64):
        return "BIGINT"
    if dtype == pl.Float64:
        return "DOUBLE"
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMPTZ"
    return "VARCHAR"


def parquet_glob(folder: Path) -> str:
    """Every Parquet file directly in `folder`, its own name quoted for DuckDB."""
    return duckdb_path(folder.resolve()) + "/*.parquet"
