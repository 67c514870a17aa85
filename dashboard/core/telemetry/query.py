"""The query layer: named SQL files from queries/, run on DuckDB over the Parquet store.

One DuckDB connection per store; every query runs on its own cursor, because a
shared connection refuses concurrent calls from several browser sessions.
Telemetry stays in Parquet files (no database file lock), so ingestion and the
live simulator can add files while the app reads: the views (query_views.py) are
bound again on each new file listing.

Views read rollups (rollup.py), not request rows: a query that reads `cells`
(counts and sums), `sketch_cells` (quantile sketches) or `user_cells` (distinct-user
registers) gets them prepended for its
scope by rollup_scope.py, hour and minute cells with request rows only for the
partial minutes at a range's ends. A query that reads `scoped` (where rows are the
answer: the packet's sample, an ingest's duplicate check) gets the requests in a
time range, narrowed by segment filters. Either way a `grp` column carries one
dimension's value or the name of the time window a row falls in. Filter values
always travel as parameters; column names are checked against the schema before
they are quoted.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime, timedelta

import duckdb
import polars as pl

from dashboard.core.datadir import DataDir
from dashboard.core.telemetry import query_views, request_spans, rollup, sketch, user_sketch
from dashboard.core.telemetry import signals as sig
from dashboard.core.telemetry.compact import visible_request_names
from dashboard.core.telemetry.contract import REQUEST_MEASURES, read_schema
from dashboard.core.telemetry.query_cache import ResultCache
from dashboard.core.telemetry.query_sql import (
    QUERIES_DIR,
    Scope,
    SqlFile,
    choose_bucket,
    duckdb_path,
    literal_glob,
    load_sql,
    scoped_cte,
    with_scope,
)
from dashboard.core.telemetry.rollup_scope import Buckets, CellsBuilder, needs_full_keys

__all__ = ["QUERIES_DIR", "Scope", "TelemetryStore", "choose_bucket", "duckdb_path", "literal_glob", "load_sql"]


RETRIES_ON_VANISHED = 20


class TelemetryStore:
    """Queries over the store, with results cached until the set of files changes (query_cache.py).

    `cache=False` measures the engine.
    """

    CACHE_ENTRIES = 256
    DISTINCT_USERS_BOUND = user_sketch.BOUND  # reporting_distinct_users merges the rollups' HyperLogLog

    def __init__(self, data: DataDir, cache: bool = True):
        self.data = data
        self.schema = read_schema(data)
        self._requests_dir = data.requests.resolve()
        self._con = duckdb.connect()  # without ICU, TIMESTAMPTZ is plain UTC
        for statement in rollup.macros_sql_all():
            self._con.execute(statement)
        self._lock = threading.Lock()
        self._views_have_files: tuple[tuple[str, ...], bool] | None = None  # (request files, any releases)
        self._cache_enabled = cache  # query results; `_scan`'s presence checks are cached either way
        self._cache = ResultCache(self.CACHE_ENTRIES)
        self._measures: tuple[tuple, frozenset[str]] | None = None
        self._spans: tuple[tuple, dict] | None = None  # (listing, per-file spans): _file_spans
        self._ensure_views()

    def files_version(self) -> tuple:
        """Names, sizes and mtimes of every Parquet file: changes whenever data arrives."""
        entries = []
        for folder in (self.data.requests, self.data.releases):
            if folder.is_dir():
                with os.scandir(folder) as it:
                    for e in it:
                        if e.name.endswith(".parquet"):
                            try:
                                st = e.stat()
                            except FileNotFoundError:  # compacted away between listing and stat
                                continue
                            entries.append((folder.name, e.name, st.st_size, st.st_mtime_ns))
        return tuple(sorted(entries))

    # -- plumbing ---------------------------------------------------------

    def _request_files(self, version: tuple) -> tuple[str, ...]:
        """The request files to read, from a `files_version()` listing (joined to the folder resolved once)."""
        names = [name for folder, name, *_ in version if folder == self.data.requests.name]
        return tuple(str(self._requests_dir / n) for n in visible_request_names(names))

    def _ensure_views(self, version: tuple | None = None) -> None:
        """(Re)create the views when the file listing changes.

        The requests view reads an explicit file list, not a glob: while a block of
        live slices is being compacted, the listing shows the merged file and hides
        the slices it holds (compact.visible_request_names), so no row is counted twice.
        """
        for attempt in range(1, RETRIES_ON_VANISHED + 1):
            try:
                return self._create_views(version)
            except duckdb.IOException:
                # creating a view reads its files' schemas: a file listed a moment ago was
                # compacted away before the view was bound; list again
                if attempt == RETRIES_ON_VANISHED:
                    raise
                version = None
                time.sleep(0.05 * min(attempt, 4))

    def _create_views(self, version: tuple | None) -> None:
        version = self.files_version() if version is None else version
        files = self._request_files(version)
        state = (files, any(folder == self.data.releases.name for folder, *_ in version))
        if state == self._views_have_files:
            return
        with self._lock:
            query_views.create_views(self._con, self.data, self.schema, *state)
            self._views_have_files = state

    def _cells_sql(self, sql: SqlFile, scope: Scope, params: dict, version: tuple) -> tuple[str, dict]:
        """The `cells` / `sketch_cells` CTEs for a query's scope and time buckets, over `version`'s files."""
        builder = CellsBuilder(rollup.key_columns(self.schema), self._column, scope,
                               Buckets.of_query(sql.grain, params), full_keys=needs_full_keys(params),
                               rows_between=lambda lo, hi: self._rows_between(version, lo, hi))
        ctes = []
        if sql.uses_cells:
            ctes.append(builder.cells())
        if sql.uses_sketch:
            ctes.append(builder.sketch_cells())
        if sql.uses_users:
            ctes.append(builder.user_cells())
        return "WITH " + ",\n".join(ctes), builder.params

    def _column(self, name: str) -> str:
        allowed = set(self.schema.dimension_columns) | {"service", "error_type", "user_id"}
        if name not in allowed:
            raise ValueError(f"unknown column {name!r}; known dimensions: {sorted(self.schema.dimension_columns)}")
        return '"' + name.replace('"', '""') + '"'

    def run_sql(self, name: str, params: dict | None = None, scope: Scope | None = None) -> pl.DataFrame:
        """Run queries/<name>.sql; its declared parameters must be exactly the ones given."""
        sql = load_sql(name)
        params = dict(params or {})
        if set(params) != sql.params:
            raise ValueError(f"query {name}: takes {sorted(sql.params)}, given {sorted(params)}")
        return self._cached((name, repr(sorted(params.items())), repr(scope)),
                            lambda version: self._run(sql, params, scope, version))

    def _cached(self, key: tuple, compute, always: bool = False) -> pl.DataFrame:
        """`compute(version)` over one file listing, kept in the result cache under `key` until the
        listing changes (when the cache is on, or `always`: metadata every page view asks)."""
        version = self.files_version()  # one listing serves the cache key and the views
        use = always or self._cache_enabled
        if use and (hit := self._cache.get(key, version)) is not None:
            return hit
        result = compute(version)
        if use:
            self._cache.put(key, result)
        return result

    def _run(self, sql: SqlFile, params: dict, scope: Scope | None, version: tuple) -> pl.DataFrame:
        """One query file, its `cells` or `scoped` CTE composed for the scope, over `version`'s files."""
        def compose(version: tuple) -> tuple[str, dict]:
            """The text and parameters over one listing (the raw tier names its files)."""
            if sql.uses_rollups:
                if scope is None:
                    raise ValueError(f"query {sql.name} reads rollup cells: pass a Scope")
                cte, cell_params = self._cells_sql(sql, scope, params, version)
                return with_scope(cte, sql.text), {**params, **cell_params}
            if sql.uses_scope:
                if scope is None:
                    raise ValueError(f"query {sql.name} reads `scoped`: pass a Scope")
                cte, scope_params = scoped_cte(scope, self._column)
                return with_scope(cte, sql.text), {**params, **scope_params}
            return sql.text, params

        return self._execute(compose, version)

    def _execute(self, compose, version: tuple) -> pl.DataFrame:
        """Run SQL on its own cursor over the views of `version`'s file listing; `compose(version)`
        gives the text and parameters (composed again on a new listing)."""
        attempts = 0
        while True:
            self._ensure_views(version)
            listed = self._views_have_files
            text, params = compose(version)
            cursor = self._con.cursor()
            try:
                return cursor.sql(text, params=params or None).pl()
            except duckdb.IOException:
                # a file listed a moment ago was compacted away (a request file, or a rollup file
                # the listing does not name): rerun on the new listing; an unreadable file that is
                # still listed after a few tries is a real error
                attempts += 1
                version = self.files_version()
                self._ensure_views(version)
                # a compaction under load can take seconds between removing a file and building its
                # successor's rollups: keep trying for about 4 s before calling it a real error
                if self._views_have_files == listed and attempts > RETRIES_ON_VANISHED:
                    raise
                time.sleep(0.05 * min(attempts, 4))
            finally:
                cursor.close()

    # -- what pages and commands ask ---------------------------------------

    def time_range(self) -> tuple[datetime | None, datetime | None, int]:
        """(first, last, count) of the requests, from file statistics when every file has them."""
        if not self.data.has_requests():
            return None, None, 0
        spans = self._file_spans(self.files_version())
        if not spans or any(span is None for span in spans.values()):
            row = self.run_sql("time_range_scan").row(0, named=True)
            return row["first_ts"], row["last_ts"], int(row["requests"] or 0)
        known = [span for span in spans.values() if span is not None]
        return min(s[0] for s in known), max(s[1] for s in known), sum(s[2] for s in known)

    def _file_spans(self, version: tuple) -> dict[str, request_spans.Span]:
        """Per request file of the listing: (first ts, last ts, rows) from its statistics; None for a
        file without them. Cached with the listing, even when query results are not (it is metadata,
        asked by every view with a partial minute)."""
        cached = self._spans
        if cached is not None and cached[0] == version:
            return cached[1]
        while True:  # the file list is a parameter here: list again while compaction moves files
            files = self._request_files(version)
            try:
                frame = self.run_sql("request_file_spans", {"files": [literal_glob(f) for f in files]}) \
                    if files else pl.DataFrame()
                break
            except duckdb.IOException:
                fresh = self.files_version()
                if self._request_files(fresh) == files:
                    raise
                version = fresh
        spans = request_spans.spans_of(frame, files)
        self._spans = (version, spans)
        return spans

    def _rows_between(self, version: tuple, lo: datetime, hi: datetime) -> str:
        """The request rows of [lo, hi) and more, as a relation (request_spans.rows_between)."""
        return request_spans.rows_between(self._file_spans(version), lo, hi)

    def measures(self) -> frozenset[str]:
        """The request measures the store has: present in some file and not null in every row.

        Read from the Parquet statistics (null counts per row group), so it costs no
        scan; a file without null counts is counted by a scan of that column.
        Cached with the file listing.
        """
        version = self.files_version()
        cached = self._measures
        if cached is not None and cached[0] == version:
            return cached[1]
        files = self._request_files(version)
        present: set[str] = set()
        if files:
            try:
                frame = self.run_sql("measure_presence", {"files": list(files)})
            except duckdb.IOException:  # compacted away mid-listing: list again
                return self.measures()
            for row in frame.iter_rows(named=True):
                name = row["column_name"]
                if name not in REQUEST_MEASURES:
                    continue
                if row["unknown"]:
                    if self._has_values(name):
                        present.add(name)
                elif (row["rows"] or 0) > (row["nulls"] or 0):
                    present.add(name)
        result = frozenset(present)
        self._measures = (version, result)
        return result

    def measures_by_service(self) -> dict[str, frozenset[str]]:
        """Per service, the measures its requests carry (one grouped scan, cached with the listing)."""
        candidates = sorted(self.measures())
        if not candidates:
            return {}
        counts = ", ".join(f'count("{c}") AS "{c}"' for c in candidates)
        frame = self._scan(f"SELECT service, {counts} FROM requests GROUP BY service")
        return {str(r["service"]): frozenset(c for c in candidates if r[c]) for r in frame.iter_rows(named=True)}

    def signals(self, names=None, service: str | None = None) -> list[str]:
        """The signals (of `names`, default all, registry order) this store has data for."""
        have = self.measures() if service is None else self.measures_by_service().get(service, frozenset())
        return sig.available(have, names)

    def has_signal(self, name: str) -> bool:
        return name in self.signals([name])

    def _has_values(self, column: str) -> bool:
        frame = self._scan(f'SELECT count("{column}") AS n FROM requests')
        return bool(frame["n"][0])

    def _scan(self, text: str) -> pl.DataFrame:
        """Ad-hoc SQL over the requests (measure presence), cached with the file listing even when
        query results are not (it is asked on every page view)."""
        return self._cached(("_scan", text), lambda version: self._execute(lambda _: (text, {}), version),
                            always=True)

    def now(self) -> datetime | None:
        """The data's clock: the newest telemetry timestamp."""
        return self.time_range()[1]

    def series(self, start: datetime, end: datetime, filters: dict | None = None,
               bucket: timedelta | None = None, by: str | None = None) -> pl.DataFrame:
        bucket = bucket or choose_bucket(start, end)
        return self._signal_series(bucket_params(bucket, start), Scope.of(start, end, filters, by))

    def _signal_series(self, params: dict, scope: Scope) -> pl.DataFrame:
        """signal_series with the percentiles of its buckets (sketch.quantile_columns) joined on.

        The joined answer is what the result cache keeps: the bins (half a million rows for a
        day of minutes) are read, turned into percentiles and dropped."""
        def joined(version: tuple) -> pl.DataFrame:
            counts = self._run(load_sql("signal_series"), params, scope, version)
            bins = self._run(load_sql("signal_quantile_bins"), params, scope, version)
            if counts.is_empty():
                return counts.with_columns(pl.lit(None, dtype=pl.Float64).alias(c)
                                           for c, _, _ in sketch.SERIES_QUANTILES)
            quantiles = sketch.quantile_columns(bins).with_columns(pl.col("bucket").cast(counts.schema["bucket"]),
                                                                   pl.col("grp").cast(counts.schema["grp"]))
            return counts.join(quantiles, on=["bucket", "grp"], how="left", nulls_equal=True)

        return self._cached(("signal_series with quantiles", repr(sorted(params.items())), repr(scope)), joined)

    def window_totals(self, windows: list[tuple[str, datetime, datetime]], filters: dict | None = None,
                      by: str | None = None, minutes: tuple[datetime, ...] = ()) -> pl.DataFrame:
        """One row per named window (and `by` value when given): the series counts over it."""
        start = min(w[1] for w in windows)
        end = max(w[2] for w in windows)
        if by is None:
            scope = Scope.of(start, end, filters, windows=windows, minutes=minutes)
            params = bucket_params(end - start, start, whole_window=True)
            return self._signal_series(params, scope).drop("bucket")
        frames = []
        for label, a, b in windows:
            part = self._signal_series(bucket_params(b - a, a, whole_window=True),
                                       Scope.of(a, b, filters, by, minutes=minutes))
            frames.append(part.drop("bucket").rename({"grp": by}).with_columns(pl.lit(label).alias("grp")))
        return pl.concat(frames) if frames else pl.DataFrame()

    def releases(self, start: datetime | None = None, end: datetime | None = None) -> pl.DataFrame:
        if start is None or end is None:
            first, last, _ = self.time_range()
            start = start or first or datetime(1970, 1, 1).astimezone()
            end = end or (last + timedelta(seconds=1) if last else datetime(2100, 1, 1).astimezone())
        return self.run_sql("releases_in_range", {"start": start, "end": end})

    def dimension_values(self, start: datetime, end: datetime, filters: dict | None = None) -> dict[str, list[str]]:
        if not self.schema.dimension_columns:  # a store of timestamps and tokens has nothing to filter by
            return {}
        frame = self.run_sql("dimension_values", {"dims": self.schema.dimension_columns},
                             Scope.of(start, end, filters))
        out: dict[str, list[str]] = {d: [] for d in self.schema.dimension_columns}
        for dim, value in frame.select("dim", "value").iter_rows():
            out.setdefault(dim, []).append(value)
        return out

    def segment_leaves(self, windows: list[tuple[str, datetime, datetime]], dims: list[str] | None = None,
                       filters: dict | None = None, minutes: tuple[datetime, ...] = ()) -> pl.DataFrame:
        dims = dims or list(self.schema.segments)
        for d in dims:
            self._column(d)
        start = min(w[1] for w in windows)
        end = max(w[2] for w in windows)
        return self.run_sql("segment_leaves", {"dims": dims},
                            Scope.of(start, end, filters, windows=windows, minutes=minutes))


def bucket_params(width: timedelta, origin: datetime, whole_window: bool = False) -> dict:
    """$bucket_us and $origin of a bucketed query; a whole-window bucket gets one extra microsecond
    so the window's last instant stays in it (microseconds counted exactly, not through a float)."""
    return {"bucket_us": width // timedelta(microseconds=1) + int(whole_window), "origin": origin}
