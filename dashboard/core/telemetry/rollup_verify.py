"""`warroom rollup verify`: every rollup recomputed from its request rows and compared.

Returns the number of request files checked and the differences found (missing or
stale rollups, a row count, a count or a sum that differs).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.contract import read_schema
from dashboard.core.telemetry.rollup import (
    TABLES,
    _connect,
    _sql_path,
    build_one,
    rollup_set,
    schema_fingerprint,
)


@dataclass(frozen=True)
class Difference:
    request_file: str
    table: str
    detail: str


def verify(data: DataDir, raws: list[Path]) -> tuple[int, list[Difference]]:
    """Recompute every rollup of `raws` from its request rows and compare with what is stored.

    Returns (files checked, differences). Counts must match exactly; float sums to 1e-9
    relative (their order of addition may differ); a missing or stale rollup is a difference.
    """
    schema = read_schema(data)
    fingerprint = schema_fingerprint(schema)
    con = _connect()
    differences: list[Difference] = []
    checked = 0
    for raw in raws:
        stored = rollup_set(data, raw, fingerprint)
        if stored is None:
            continue
        checked += 1
        if not stored.complete():
            differences.append(Difference(raw.name, "*", "rollups missing or stale (run `warroom rollup build`)"))
            continue
        recomputed: dict[str, pl.DataFrame] = {}
        build_one(stored, schema, con, write=_kept_in(recomputed))  # kept in memory: no file is written
        for table in TABLES:
            detail = _compare(con.sql(f"SELECT * FROM read_parquet({_sql_path(stored.path(table))})").pl(),
                              recomputed[table])
            if detail:
                differences.append(Difference(raw.name, table, detail))
    return checked, differences


def _kept_in(recomputed: dict[str, pl.DataFrame]):
    """A rollup writer that keeps the rows a build would write, by table: compared in memory, not
    written to a file and read back."""
    def keep(con: duckdb.DuckDBPyConnection, select: str, target: Path, order: str) -> None:
        recomputed[target.parent.name] = con.sql(f"{select} ORDER BY {order}").pl()
    return keep


def _compare(a: pl.DataFrame, b: pl.DataFrame) -> str | None:
    """How the stored rows `a` differ from the recomputed `b`, or None."""
    if a.columns != b.columns:
        return f"columns differ: {a.columns} vs {b.columns}"
    if a.height != b.height:
        return f"{a.height} rows stored, {b.height} recomputed"
    keys = [c for c in a.columns
            if a[c].dtype in (pl.String, pl.Datetime("us", "UTC")) or c in ("bin", "measure", "t", "k", "reg")]
    keys = [c for c in keys if c not in ("first_ts", "last_ts")]
    a, b = a.sort(keys, nulls_last=True), b.sort(keys, nulls_last=True)
    for c in a.columns:
        x, y = a[c], b[c]
        if x.dtype.is_float():
            largest = ((x - y).abs() / y.abs().clip(1e-12)).fill_null(0).fill_nan(0).max()
            worst = float(largest) if isinstance(largest, int | float) else 0.0  # None on no rows
            if (x.is_null() != y.is_null()).any() or worst > 1e-9:
                return f"{c}: differs (worst relative difference {worst:.3g})"
        elif not x.equals(y):
            diff = int(x.ne_missing(y).sum())
            return f"{c}: {diff} of {a.height} rows differ"
    return None
