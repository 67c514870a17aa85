"""The `cells` and `sketch_cells` CTEs on a ClickHouse store: what rollup_scope.py builds for DuckDB.

Returns, for one scope and its time buckets, the ClickHouse SQL of the two CTEs the
query files in queries/ read, with the same columns the DuckDB store's have:

    cells         key columns, t, every rollup sum (rollup.aggregates()), grp
    sketch_cells  key columns, t, measure, bin, n, grp

and the parameters they bind. The range is cut into the same tiers
(rollup_scope.stretches: hour cells, minute cells, request rows at partial minutes,
one scan per tier when the windows do not overlap),
so an edge inside a minute is as exact here as there. Hour and minute cells come
from rollup_hour / rollup_minute (clickhouse_schema.py), whose rows a background
merge may not have combined yet: harmless, every query sums cells. A sketch cell
is one bin of a merged sumMap, unrolled with ARRAY JOIN; raw rows get their bin
from the same mapping (sketch_bucket_sql). Filter values always travel as parameters.
"""

from __future__ import annotations

from datetime import datetime

from dashboard.core.telemetry import rollup
from dashboard.core.telemetry.clickhouse import quote
from dashboard.core.telemetry.clickhouse_schema import SOURCE, sketch_bucket_sql
from dashboard.core.telemetry.rollup_scope import Buckets, spans_sql, stretches, window_sql
from dashboard.core.telemetry.sketch import SKETCHED

TIME = "DateTime64(6, 'UTC')"
TEXT = "Nullable(String)"
CASTS = {"BIGINT": "Nullable(Int64)", "DOUBLE": "Nullable(Float64)", "TIMESTAMPTZ": f"Nullable({TIME})"}


class ClickHouseCells:
    """Builds the two CTEs for one scope on the ClickHouse tables; parameters are collected as it goes."""

    def __init__(self, keys: list[str], columns: set[str], scope, buckets: Buckets, full_keys: bool):
        self.all_keys = keys
        self.columns = columns  # the requests table's columns: a filter or grouping must name one
        self.scope = scope
        self.buckets = buckets
        full = full_keys or bool(scope.filters) or scope.by not in (None, "service")
        self.keys = keys if full else ["service"]  # as the DuckDB cells (its per-service tables) have
        self.params: dict = {}
        self._filters: list[tuple[str, str]] = []
        for i, (column, values) in enumerate(sorted(scope.filters.items())):
            self._filters.append((self.column(column), f"cells_f{i}"))
            self.params[f"cells_f{i}"] = list(values)
        if scope.minutes:
            self.params["cells_minutes"] = list(scope.minutes)

    def column(self, name: str) -> str:
        if name not in self.columns:
            raise ValueError(f"unknown column {name!r}")
        return quote(name)

    def cell_columns(self) -> list[str]:
        """The columns of `cells`, in order (what COLUMNS(...) in a query file picks from)."""
        return [*self.keys, "t", *(a.name for a in rollup.aggregates()), "grp"]

    def sketch_columns(self) -> list[str]:
        return [*self.keys, "t", "measure", "bin", "n", "grp"]

    def _param(self, value) -> str:
        name = f"cells_p{len(self.params)}"
        self.params[name] = value
        return "{" + name + ": }"

    def _ranges(self) -> list[tuple[str | None, datetime, datetime]]:
        if self.scope.windows:
            return [(label, a, b) for label, a, b in self.scope.windows]
        return [(None, self.scope.start, self.scope.end)]

    def _grp(self, labelled: list[tuple[str | None, str, str]], time: str, prefix: str = "") -> str:
        """The grp column of one scan, as rollup_scope.CellsBuilder._grp (the CASE on `time`)."""
        if (window := window_sql(labelled, time, self._param)) is not None:
            return f"CAST({window} AS {TEXT})"
        if self.scope.by:
            return f"CAST({prefix}{self.column(self.scope.by)} AS {TEXT})"
        return f"CAST(NULL AS {TEXT})"

    def _pieces(self):
        """(tier, WHERE clause, grp expression) per scan, as rollup_scope.CellsBuilder._pieces."""
        raw = f"{SOURCE}.ts"
        for tier, spans in stretches(self._ranges(), self.buckets, hours=not self.scope.minutes):
            time, minute, prefix = ((raw, f"toDateTime64(toStartOfMinute({raw}), 6, 'UTC')", f"{SOURCE}.")
                                    if tier == "raw" else ("t", "toDateTime64(t, 6, 'UTC')", ""))
            labelled = [(label, self._param(lo), self._param(hi)) for label, lo, hi in spans]
            where = [spans_sql(labelled, time), *(f"{prefix}{c} IN {{{p}: }}" for c, p in self._filters)]
            if self.scope.minutes:
                where.append(f"{minute} IN {{cells_minutes: }}")
            yield tier, " AND ".join(where), self._grp(labelled, time, prefix)

    def _keys(self, prefix: str = "") -> str:
        return ", ".join(f"{prefix}{quote(k)} AS {quote(k)}" for k in self.keys)

    def cells(self) -> str:
        from dashboard.core.telemetry.clickhouse_schema import state_columns

        exprs = {c.name: c.expr for c in state_columns()}
        parts = []
        pieces = list(self._pieces()) or [("raw", "0", f"CAST(NULL AS {TEXT})")]
        for tier, where, grp in pieces:
            if tier == "raw":  # each distinct (keys, ts) its own cell, summed from the rows
                sums = ", ".join(f"CAST({exprs[a.name]} AS {CASTS[a.cast]}) AS {quote(a.name)}"
                                 for a in rollup.aggregates())
                group = ", ".join([*(quote(k) for k in self.keys), "t", "grp"])
                parts.append(f"SELECT {self._keys(SOURCE + '.')}, {SOURCE}.ts AS t, {sums}, {grp} AS grp "
                             f"FROM requests AS {SOURCE} WHERE {where} GROUP BY {group}")
            else:
                sums = ", ".join(f"CAST({quote(a.name)} AS {CASTS[a.cast]}) AS {quote(a.name)}"
                                 for a in rollup.aggregates())
                parts.append(f"SELECT {self._keys()}, toDateTime64(t, 6, 'UTC') AS t, {sums}, {grp} AS grp "
                             f"FROM rollup_{tier} WHERE {where}")
        return "cells AS (" + "\nUNION ALL\n".join(parts) + ")"

    def sketch_cells(self) -> str:
        parts = []
        pieces = list(self._pieces()) or [("raw", "0", f"CAST(NULL AS {TEXT})")]
        keys = ", ".join(quote(k) for k in self.keys)
        for tier, where, grp in pieces:
            if tier == "raw":  # a bin per row and measure, counted per (keys, ts, measure, bin)
                rows = " UNION ALL ".join(
                    f"SELECT {self._keys(SOURCE + '.')}, {SOURCE}.ts AS t, '{m}' AS measure, "
                    f"{sketch_bucket_sql(f'{SOURCE}.{quote(m)}')} AS bin, {grp} AS grp "
                    f"FROM requests AS {SOURCE} WHERE {where} AND {SOURCE}.{quote(m)} IS NOT NULL"
                    for m in SKETCHED)
                parts.append(f"SELECT {keys}, t, measure, bin, toInt64(count()) AS n, grp FROM ({rows}) "
                             f"GROUP BY {keys}, t, measure, bin, grp")
                continue
            maps = ", ".join(f"tuple('{m}', {quote('sketch_' + m)})" for m in SKETCHED)
            parts.append(f"SELECT {self._keys()}, toDateTime64(t, 6, 'UTC') AS t, tupleElement(m, 1) AS measure, "
                         f"tupleElement(b, 1) AS bin, toInt64(tupleElement(b, 2)) AS n, {grp} AS grp "
                         f"FROM rollup_{tier} ARRAY JOIN [{maps}] AS m "
                         f"ARRAY JOIN arrayZip(tupleElement(tupleElement(m, 2), 1), "
                         f"tupleElement(tupleElement(m, 2), 2)) AS b WHERE {where}")
        return "sketch_cells AS (" + "\nUNION ALL\n".join(parts) + ")"
