"""Benchmark of the explorer's whole query set, cold and warm, on a store of a given size."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from dashboard.core.datadir import DataDir
from dashboard.core.demo import write_demo
from dashboard.core.diagnosis.investigate import investigate
from dashboard.core.reporting.slo_store import evaluate_slos, load_slos
from dashboard.core.telemetry import rollup
from dashboard.core.telemetry.compact import request_files
from dashboard.core.telemetry.compare import before_after, cohort_comparison
from dashboard.core.telemetry.query import TelemetryStore, choose_bucket
from dashboard.core.telemetry.release_timeline import release_timeline

PAID_ENGLISH = {"tier": ["paid"], "language": ["en"]}
SECONDS_PER_WEEK_AT_1_RPS = 6 * 86400 + 16.25 * 3600  # the demo week ends at 16:15 on day 7


@dataclass
class QueryTiming:
    name: str
    cold_s: float
    warm_median_s: float


def ensure_bench_store(data: DataDir, rows: int) -> tuple[TelemetryStore, dict]:
    """A demo week sized to about `rows` requests (generated day by day once, reused after),
    and its rollups: build seconds (when built now) and sizes beside the requests'."""
    rps = rows / SECONDS_PER_WEEK_AT_1_RPS
    generated = False
    for _ in range(2):  # the daily and weekly cycles make the first guess short; the second is scaled by it
        have = stored_rows(data)  # from file footers: opening a store here would build the rollups untimed
        if have >= rows * 0.95:
            break
        if have:
            rps *= rows / have
        write_demo(data, days=7, rps=rps, rollups=False)  # one day in memory at a time
        generated = True
    began = time.perf_counter()
    built = rollup.maintain(data)
    build = {"rollup_build_s": round(time.perf_counter() - began, 1) if built or generated else None,
             "request_files_built": built, **rollup.sizes(data)}
    return TelemetryStore(data), build


def stored_rows(data: DataDir) -> int:
    """Requests in the store's files, from their Parquet footers (no scan, no rollup build)."""
    import polars as pl

    return sum(int(pl.scan_parquet(path).select(pl.len()).collect().item()) for path in request_files(data.requests))


def _span(store: TelemetryStore) -> tuple[datetime, datetime]:
    """The store's first and newest request time (the benchmark store is never empty)."""
    first, now, _ = store.time_range()
    if first is None or now is None:
        raise ValueError(f"no requests in {store.data.root} to time queries on")
    return first, now


def whole_store(store: TelemetryStore) -> tuple[datetime, datetime]:
    """The explorer's "Whole store" range: from the first whole minute (buckets aligned to an instant
    inside a minute cannot be summed from minute or hour cells, so every row would be read)."""
    first, now = _span(store)
    return first.replace(second=0, microsecond=0), now


def incident_day(store: TelemetryStore) -> tuple[datetime, datetime]:
    _, now = _span(store)
    return now.replace(hour=0, minute=0, second=0, microsecond=0), now


def week_queries(store: TelemetryStore) -> list[tuple[str, Callable[[], object]]]:
    """The explorer over the whole week (its buckets for the range: 10 minutes), unfiltered and on paid English."""
    first, now = whole_store(store)
    return [
        ("week: dimension_values", lambda: store.dimension_values(first, now)),
        ("week: series (all traffic)", lambda: store.series(first, now)),
        ("week: series (paid English)", lambda: store.series(first, now, PAID_ENGLISH)),
        ("week: root-cause panel (refusal rate)", lambda: investigate(store, "refusal_rate", first, now)),
    ]


def explorer_queries(store: TelemetryStore) -> list[tuple[str, Callable[[], object]]]:
    """What one explorer page view runs, on the incident day, unfiltered then on paid English."""
    start, now = incident_day(store)
    releases = store.releases(start, now)
    last_release: datetime = releases["ts"][-1] if releases.height else now
    slos = load_slos(store.data)
    return [
        ("time_range", store.time_range),
        # the explorer's first line: every declared SLO, evaluated over its period (28 days)
        ("SLO evaluation", lambda: evaluate_slos(store, slos, now)),
        ("dimension_values", lambda: store.dimension_values(start, now)),
        # what the page draws: logged releases checked against the requests (late logs, inferred versions)
        ("release timeline", lambda: release_timeline(store, start, now)),
        ("series (all traffic)", lambda: store.series(start, now)),
        ("series (paid English)", lambda: store.series(start, now, PAID_ENGLISH)),
        ("cohort lines by prompt", lambda: store.series(start, now, PAID_ENGLISH, by="prompt_version")),
        ("cohort comparison (prompt)", lambda: cohort_comparison(store, "prompt", start, now, PAID_ENGLISH)),
        ("before/after a release", lambda: before_after(store, last_release, 30, PAID_ENGLISH)),
        ("root-cause panel (refusal rate)", lambda: investigate(store, "refusal_rate", start, now)),
    ]


def week_page(store: TelemetryStore) -> list[tuple[str, Callable[[], object]]]:
    """A whole-week page view: what every explorer view runs first (clock, SLOs, pickers, releases), then the week's."""
    return explorer_queries(store)[:4] + week_queries(store)


def page_runs(queries: list[tuple[str, Callable[[], object]]], repeats: int) -> list[float]:
    """Seconds for the whole query set, `repeats` times (setup stays outside the clock)."""
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _, fn in queries:
            fn()
        runs.append(time.perf_counter() - t0)
    return runs


def run_query_bench(data: DataDir, rows: int = 10_000_000, repeats: int = 5, peer: bool = True) -> dict:
    import resource

    store, build = ensure_bench_store(data, rows)
    total_rows = store.time_range()[2]
    fresh = TelemetryStore(data, cache=False)  # the engine's own speed: no result cache
    timings: list[QueryTiming] = []
    for name, fn in explorer_queries(fresh) + week_queries(fresh):
        t0 = time.perf_counter()
        fn()
        cold = time.perf_counter() - t0
        warm = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            warm.append(time.perf_counter() - t0)
        timings.append(QueryTiming(name, cold, statistics.median(warm)))
    whole = page_runs(explorer_queries(fresh), repeats)
    week = page_runs(week_page(fresh), repeats)
    cached_queries = explorer_queries(TelemetryStore(data))
    page_runs(cached_queries, 1)  # fill the result cache
    repeat_view = page_runs(cached_queries, repeats)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the peer loads anything
    result = {
        "rows": total_rows,
        **build,
        "page_repeat_view_median_s": statistics.median(repeat_view),
        "repeats": repeats,
        "queries": [t.__dict__ for t in timings],
        "page_cold_s": sum(t.cold_s for t in timings[:len(explorer_queries(fresh))]),
        "page_warm_median_s": statistics.median(whole),
        "week_page_warm_median_s": statistics.median(week),
        "peak_rss_mb_engine": round(peak_mb),
    }
    if peer:
        result["polars_peer"] = run_peer(data, fresh, repeats, {t.name: t.warm_median_s for t in timings})
    return result


def run_peer(data: DataDir, store: TelemetryStore, repeats: int, ours: dict[str, float]) -> dict:
    """The in-memory Polars peer on the same views, side by side with the project's medians."""
    from datetime import timedelta

    from dashboard.core.bench import query_peer as bench_peer

    frame, load_s = bench_peer.load(data)
    start, now = incident_day(store)
    first = whole_store(store)[0]
    week = choose_bucket(first, now)  # the explorer's buckets for the range, as store.series picks them
    views = {
        "series (all traffic)": (start, now, timedelta(minutes=1)),
        "series (paid English)": (start, now, timedelta(minutes=1), PAID_ENGLISH),
        "cohort lines by prompt": (start, now, timedelta(minutes=1), PAID_ENGLISH, "prompt_version"),
        "week: series (all traffic)": (first, now, week),
        "week: series (paid English)": (first, now, week, PAID_ENGLISH),
    }
    peer = bench_peer.time_views(frame, views, repeats)
    return {"load_s": round(load_s, 2), "resident_mb": round(frame.estimated_size() / 2**20),
            "views": [{"name": n, "polars_s": s, "project_s": ours.get(n),
                       "speedup": (s / ours[n]) if ours.get(n) else None} for n, s in peer.items()]}


def run_compaction_bench(data: DataDir, minutes: int = 60, slice_seconds: float = 5.0, repeats: int = 3) -> dict:
    """An explorer page view over a store whose last `minutes` arrived as live slices, before and after compaction.

    `data` should be a scratch folder: a one-day demo store is written there first.
    """
    from datetime import timedelta

    from dashboard.core.demo import live
    from dashboard.core.telemetry.compact import compact_live_files

    write_demo(data, days=1, rps=10)
    live.append_minutes(data, minutes, chunk=timedelta(seconds=slice_seconds))
    live.append_minutes(data, 1, chunk=timedelta(minutes=1))  # the block being written stays in slices

    def page_view() -> tuple[int, float]:
        store = TelemetryStore(data, cache=False)
        queries = explorer_queries(store)
        files = len(list(data.requests.glob("*.parquet")))
        return files, statistics.median(page_runs(queries, repeats))

    before_files, before = page_view()
    merged = compact_live_files(data)
    after_files, after = page_view()
    return {"rows": TelemetryStore(data).time_range()[2], "slice_seconds": slice_seconds, "minutes": minutes,
            "before": {"files": before_files, "page_warm_median_s": before},
            "after": {"files": after_files, "page_warm_median_s": after},
            "blocks_merged": len(merged), "speedup": before / after if after else None}
