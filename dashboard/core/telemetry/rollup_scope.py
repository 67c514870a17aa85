"""What a view reads instead of raw rows: the rollup cells of a scope, as SQL.

Returns the `cells`, `sketch_cells` and `user_cells` CTEs a query in queries/ reads (see query.py):

    cells         key columns, t, grp and every rollup sum (rollup.aggregates())
    sketch_cells  [key columns,] t, grp, measure, bin, n
    user_cells    [key columns,] t, grp, reg, rho (distinct-user registers: user_sketch.py)

A time range [start, end) is cut into tiers, each exact:
    hour cells for the whole hours inside it (when the query's buckets are whole hours),
    or, where hours do not fit the buckets, ten-minute cells for the whole ten minutes of an hour
    or more, for a scope beyond the service (filtered or grouped: the full-key sums and sketches
    have that tier, the per-service ones and the users' not),
    minute cells for the whole minutes left,
    request rows only for the partial minutes at its two ends (each row its own cell, so
    a bucket or window edge anywhere inside a minute is still exact).
A tier is used only when every one of its cells falls inside one of the query's time
buckets (bucket width and origin aligned to it, or the whole range inside one bucket);
otherwise the finer tier serves. Filters and the grouping column apply to every tier alike.
The stretches of one tier are read by one scan (`stretches`): a baseline of six days'
windows is three scans per table, not eighteen, unless the windows overlap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dashboard.core.telemetry import rollup
from dashboard.core.telemetry.user_sketch import register_sql
from dashboard.core.timeutil import EPOCH, HOUR, MINUTE, ceil_to, floor_to

TEN_MINUTES = timedelta(minutes=10)
# ten-minute cells only for a stretch of an hour or more where hours do not fit: a shorter one
# saves fewer rows than its extra scan costs (before/after windows of 30 minutes were 0.2 s slower)
TEN_MINUTE_SPAN = timedelta(hours=1)
# DuckDB's time_bucket origin when none is given (a Monday, midnight): whole minutes and hours
DEFAULT_ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)


@dataclass(frozen=True)
class Buckets:
    """The time buckets a query groups by: width and origin (None: no time buckets)."""

    width: timedelta | None = None
    origin: datetime = DEFAULT_ORIGIN

    def allows(self, grain: timedelta, start: datetime, end: datetime) -> bool:
        """Whether cells `grain` wide, inside [start, end), each fall in a single bucket."""
        if self.width is None:
            return True
        if self.width % grain == timedelta(0) and (self.origin - EPOCH) % grain == timedelta(0):
            return True
        # the whole range inside one bucket (a whole-window total)
        first = (start - self.origin) // self.width
        last = (end - timedelta(microseconds=1) - self.origin) // self.width
        return first == last


    @classmethod
    def of_query(cls, grain: timedelta | None, params: dict) -> Buckets:
        """A query's buckets: `$bucket_us` wide from `$origin` when it takes them, else its file's grain."""
        if "bucket_us" not in params:
            return cls(grain)
        origin = params.get("origin") or DEFAULT_ORIGIN
        origin = origin if origin.tzinfo else origin.replace(tzinfo=UTC)
        return cls(timedelta(microseconds=int(params["bucket_us"])), origin)


def needs_full_keys(params: dict) -> bool:
    """Whether a query groups or filters beyond the service: the per-service tables serve the rest."""
    return bool({"dims", "version_column"} & set(params))

def tiers(start: datetime, end: datetime, buckets: Buckets, hours: bool = True,
          tens: bool = False) -> list[tuple[str, datetime, datetime]]:
    """[(tier, lo, hi)] covering [start, end) exactly once; tier is 'hour', 'ten_minute' (only with
    `tens`, the full-key sums and sketches having that tier, and where hours do not fit), 'minute' or 'raw'."""
    if end <= start:
        return []
    out: list[tuple[str, datetime, datetime]] = []
    m_lo, m_hi = ceil_to(start, MINUTE), floor_to(end, MINUTE)
    if m_lo >= m_hi or not buckets.allows(MINUTE, m_lo, m_hi):
        return [("raw", start, end)]
    out += [("raw", start, m_lo), ("raw", m_hi, end)]
    h_lo, h_hi = ceil_to(start, HOUR), floor_to(end, HOUR)
    t_lo, t_hi = ceil_to(start, TEN_MINUTES), floor_to(end, TEN_MINUTES)
    if hours and h_lo < h_hi and buckets.allows(HOUR, h_lo, h_hi):
        out += [("minute", m_lo, h_lo), ("hour", h_lo, h_hi), ("minute", h_hi, m_hi)]
    elif tens and hours and t_hi - t_lo >= TEN_MINUTE_SPAN and buckets.allows(TEN_MINUTES, t_lo, t_hi):
        out += [("minute", m_lo, t_lo), ("ten_minute", t_lo, t_hi), ("minute", t_hi, m_hi)]
    else:
        out.append(("minute", m_lo, m_hi))
    return [(tier, lo, hi) for tier, lo, hi in out if lo < hi]


Span = tuple[str | None, datetime, datetime]  # (window label or None, lo, hi)


def stretches(ranges: list[Span], buckets: Buckets, hours: bool = True,
              tens: bool = False) -> list[tuple[str, list[Span]]]:
    """[(tier, spans)]: every range cut into tiers, the spans of one tier together (one scan
    reads them) when no two ranges overlap; overlapping ranges (a row counted in two windows)
    keep a scan per span."""
    pieces = [(tier, (label, lo, hi)) for label, a, b in ranges for tier, lo, hi in tiers(a, b, buckets, hours, tens)]
    if not _disjoint(ranges):
        return [(tier, [span]) for tier, span in pieces]
    grouped: dict[str, list[Span]] = {}
    for tier, span in pieces:
        grouped.setdefault(tier, []).append(span)
    return list(grouped.items())


def _disjoint(ranges: list[Span]) -> bool:
    spans = sorted((a, b) for _, a, b in ranges)
    return all(before[1] <= after[0] for before, after in zip(spans, spans[1:], strict=False))


def spans_sql(labelled: list[tuple[str | None, str, str]], column: str) -> str:
    """One scan's time condition: its spans OR-ed (lo and hi are bound parameters)."""
    return "(" + " OR ".join(f"({column} >= {lo} AND {column} < {hi})" for _, lo, hi in labelled) + ")"


def window_sql(labelled: list[tuple[str | None, str, str]], column: str, bind) -> str | None:
    """The window each row of one scan falls in: its label (bound by `bind`), a CASE over the
    scan's spans when it reads several windows, None when the scope has no windows."""
    if labelled[0][0] is None:
        return None
    if len(labelled) == 1:
        return bind(labelled[0][0])
    return "CASE " + " ".join(f"WHEN {column} >= {lo} AND {column} < {hi} THEN {bind(label)}"
                              for label, lo, hi in labelled) + " END"


class CellsBuilder:
    """Builds the two CTEs for one scope; parameters are collected as it goes."""

    def __init__(self, keys: list[str], quote, scope, buckets: Buckets, full_keys: bool,
                 rows_between: Callable[[datetime, datetime], str] = lambda lo, hi: "requests"):
        self.keys = keys
        self.quote = quote  # checks a column name against the schema and quotes it
        # the relation holding (at least) the request rows of [lo, hi): the store names only the
        # files that meet a partial minute, so an edge does not read every file's footer
        self.rows_between = rows_between
        self.scope = scope
        self.buckets = buckets
        self.full_keys = full_keys or bool(scope.filters) or scope.by not in (None, "service")
        # whether the query reads key columns of the sketch or user cells (segment leaves, exposure):
        # otherwise their full-key cells are chosen by key hash, not joined to every key column
        self.reads_keys = full_keys
        self.params: dict = {}
        self._filter_sql: list[str] = []
        for i, (column, values) in enumerate(sorted(scope.filters.items())):
            self._filter_sql.append(f"{quote(column)} IN (SELECT unnest($cells_f{i}))")
            self.params[f"cells_f{i}"] = list(values)
        if scope.minutes:
            self.params["cells_minutes"] = list(scope.minutes)

    def _param(self, value) -> str:
        name = f"cells_p{len(self.params)}"
        self.params[name] = value
        return f"${name}"

    def _ranges(self) -> list[tuple[str | None, datetime, datetime]]:
        if self.scope.windows:
            return [(label, a, b) for label, a, b in self.scope.windows]
        return [(None, self.scope.start, self.scope.end)]

    def _grp(self, labelled: list[tuple[str | None, str, str]]) -> str:
        """The grp column of one scan: its window's label (a CASE over the scan's spans, on `t`,
        which raw rows carry as their cell's time too), else the grouping column, else NULL."""
        if (window := window_sql(labelled, "t", self._param)) is not None:
            return f"CAST({window} AS VARCHAR)"
        if self.scope.by:
            return f"CAST({self.quote(self.scope.by)} AS VARCHAR)"
        return "CAST(NULL AS VARCHAR)"

    def _pieces(self, tens: bool = False):
        """(tier, WHERE clause, grp expression, rows) for every scan a view reads: whole hours from
        the hour cells, whole ten minutes from the ten-minute cells (`tens`: full-key sums and
        sketches only), whole minutes from the minute cells, partial minutes from raw rows (`rows`:
        the relation they are read from; None for the cell tiers)."""
        for tier, spans in stretches(self._ranges(), self.buckets, hours=not self.scope.minutes,
                                     tens=tens and self.full_keys):
            column, minute = ("ts", "time_bucket(INTERVAL 1 minute, ts)") if tier == "raw" else ("t", "t")
            rows = self.rows_between(min(lo for _, lo, _ in spans), max(hi for _, _, hi in spans)) \
                if tier == "raw" else None
            labelled = [(label, self._param(lo), self._param(hi)) for label, lo, hi in spans]
            when = [spans_sql(labelled, column)]
            if self.scope.minutes:
                when.append(f"{minute} IN (SELECT unnest($cells_minutes))")
            yield tier, " AND ".join(when), self._grp(labelled), rows

    def _where(self, when: str) -> str:
        """A scan's time condition and the scope's filters on the key columns."""
        return " AND ".join([when, *self._filter_sql])

    def cells(self) -> str:
        parts = []
        keys = self.keys if self.full_keys else ["service"]
        suffix = "" if self.full_keys else "_service"
        key_list = ", ".join(rollup.q(k) for k in keys)
        sums = ", ".join(rollup.q(a.name) for a in rollup.aggregates())
        for tier, when, grp, rows in self._pieces(tens=True):
            where = self._where(when)
            if tier == "raw":
                source = f"SELECT * FROM {rows} WHERE {where}"
                parts.append(f"SELECT *, {grp} AS grp FROM ({rollup.cell_sql(source, keys, 'ts')})")
            else:
                parts.append(f"SELECT {key_list}, t, {sums}, {grp} AS grp FROM rollup_{tier}{suffix} WHERE {where}")
        return "cells AS (" + "\nUNION ALL BY NAME\n".join(parts or [self._empty_cells()]) + ")"

    def _empty_cells(self) -> str:
        source = "SELECT * FROM requests WHERE false"
        return f"SELECT *, CAST(NULL AS VARCHAR) AS grp FROM ({rollup.cell_sql(source, self.keys, 'ts')})"

    def sketch_cells(self) -> str:
        return self._merged_cells("sketch_cells", "sketch", "measure, bin, n",
                                  lambda source, keys: rollup.sketch_sql(source, keys, "ts"), tens=True)

    def user_cells(self) -> str:
        """The distinct-user registers of the scope (merge them with max(rho) GROUP BY reg)."""
        return self._merged_cells("user_cells", "users", "reg, rho",
                                  lambda source, keys: register_sql(source, keys, "ts", rollup.q))

    def _merged_cells(self, name: str, table: str, columns: str, from_rows, tens: bool = False) -> str:
        """A CTE over rollup_<tier>_<table>: its rows at whole minutes and hours (and ten minutes, when
        the table has that tier), `from_rows` of the request rows at partial minutes (and of no rows,
        typed, when the range is empty)."""
        keys = self.keys if self.full_keys else ["service"]
        key_list = ", ".join(rollup.q(k) for k in keys)
        parts = []
        for tier, when, grp, rows in self._pieces(tens):
            where = self._where(when)
            if tier == "raw":
                raw = from_rows(f"SELECT * FROM {rows} WHERE {where}", keys)
                parts.append(f"SELECT *, {grp} AS grp FROM ({raw})")
            elif self.full_keys and self.reads_keys:  # the query reads key columns: join them all
                source = f"SELECT * FROM rollup_{tier}_{table} JOIN rollup_keys USING (k) WHERE {where}"
                parts.append(f"SELECT {key_list}, t, {columns}, {grp} AS grp FROM ({source})")
            elif self.full_keys:
                # filters pick key hashes (a semi-join on the small keys table) and a grouping column is
                # the one column joined: 0.39 -> 0.24 s for a filtered day's bins at 100M requests
                chosen = f" AND k IN (SELECT k FROM rollup_keys WHERE {self._where('true')})" \
                    if self._filter_sql else ""
                joined = f" JOIN (SELECT DISTINCT k, {self.quote(self.scope.by)} FROM rollup_keys) USING (k)" \
                    if self.scope.by and not self.scope.windows else ""
                parts.append(f"SELECT t, {columns}, {grp} AS grp FROM rollup_{tier}_{table}{joined} "
                             f"WHERE {when}{chosen}")
            else:
                parts.append(f"SELECT {key_list}, t, {columns}, {grp} AS grp FROM rollup_{tier}_{table}_service "
                             f"WHERE {where}")
        if not parts:
            empty = from_rows("SELECT * FROM requests WHERE false", keys)
            parts.append(f"SELECT *, CAST(NULL AS VARCHAR) AS grp FROM ({empty})")
        return f"{name} AS (" + "\nUNION ALL BY NAME\n".join(parts) + ")"
