"""`warroom bench query`: the explorer's whole query set on a store of N requests."""

from __future__ import annotations

import argparse
import json

from dashboard.cli import UserError, add_data_arg
from dashboard.core.datadir import DataDir


def register_query_bench(bench: argparse._SubParsersAction) -> None:
    p = bench.add_parser("query", help="time the explorer's queries, cold and warm (median)")
    add_data_arg(p)
    p.add_argument("--rows", type=int, default=10_000_000,
                   help="store size; a demo week of about this many requests is generated when the store is smaller")
    p.add_argument("--repeats", type=int, default=5, help="warm runs per query (the median is reported)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--no-peer", action="store_true", help="skip the in-memory Polars peer (it loads the whole store)")
    p.add_argument("--store", default="duckdb", metavar="STORE",
                   help="duckdb (the whole query set), or chdb:PATH: the same views and page views, side by side "
                        "on DuckDB and on a ClickHouse store in PATH (loaded from --data when empty)")
    p.set_defaults(func=run)

    c = bench.add_parser("compact", help="an explorer view over many live slices, before and after compaction")
    c.add_argument("--data", default=None, help="scratch folder (default: a new temporary one)")
    c.add_argument("--minutes", type=int, default=60, help="simulated minutes written as slices")
    c.add_argument("--slice-seconds", type=float, default=5.0, help="simulated seconds per slice file")
    c.set_defaults(func=run_compact)


def run(args: argparse.Namespace) -> int:
    if args.store != "duckdb":
        return run_engines(args)
    from dashboard.core.bench.query import run_query_bench

    result = run_query_bench(DataDir.at(args.data or "data/bench"), rows=args.rows, repeats=args.repeats,
                             peer=not args.no_peer)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"store: {result['rows']:,} requests; warm = median of {result['repeats']} runs")
    print(f"{'query':32s} {'cold s':>8s} {'warm s':>8s}")
    for q in result["queries"]:
        print(f"{q['name']:32s} {q['cold_s']:8.3f} {q['warm_median_s']:8.3f}")
    print(f"{'whole page view':32s} {result['page_cold_s']:8.3f} {result['page_warm_median_s']:8.3f}")
    print(f"{'whole page view, week':32s} {'':8s} {result['week_page_warm_median_s']:8.3f}")
    print(f"{'repeat view (result cache)':32s} {'':8s} {result['page_repeat_view_median_s']:8.3f}")
    mb = 2 ** 20
    per_table = ", ".join(f"{t} {b / mb:,.0f}" for t, b in result["rollup_bytes"].items())
    print(f"requests {result['request_bytes'] / mb:,.0f} MB; rollups "
          f"{sum(result['rollup_bytes'].values()) / mb:,.0f} MB ({per_table}); "
          f"rollup build {result['rollup_build_s']} s; peak RSS during the views {result['peak_rss_mb_engine']:,} MB")
    if "polars_peer" in result:
        peer = result["polars_peer"]
        print(f"in-memory Polars peer: load {peer['load_s']} s, {peer['resident_mb']:,} MB resident")
        for v in peer["views"]:
            print(f"  {v['name']:34s} polars {v['polars_s']:7.3f}  project {v['project_s']:7.3f}  x{v['speedup']:.1f}")
    return 0


def run_engines(args: argparse.Namespace) -> int:
    from dashboard.core.bench.query_engines import run_engine_bench
    from dashboard.core.telemetry.clickhouse import open_engine
    from dashboard.core.telemetry.store_config import StoreConfigError, parse_store

    data = DataDir.at(args.data or "data/bench")
    if not data.has_requests():
        raise UserError(f"{data.root}: no requests to compare on (make one with warroom demo --data DIR)")
    try:
        config = parse_store(args.store, base=data.root)
        if config.engine == "duckdb":
            raise StoreConfigError("--store: expected duckdb or chdb:PATH")
        engine = open_engine(config)
    except StoreConfigError as exc:
        raise UserError(str(exc)) from None
    result = run_engine_bench(data, engine, repeats=args.repeats)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    load = f"; ClickHouse store loaded in {result['chdb_load_s']} s" if result["chdb_load_s"] else ""
    print(f"store: {result['rows']:,} requests; warm = median of {result['repeats']} runs{load}")
    print(f"{'view':40s} {'duckdb s':>9s} {'chdb s':>9s}  same series")
    agree = {True: "yes", False: "NO", None: ""}
    for v in [*result["views"], *result["pages"]]:
        print(f"{v['name']:40s} {v['duckdb_s']:9.3f} {v['chdb_s']:9.3f}  {agree[v.get('same_answer')]}")
    return 1 if any(v["same_answer"] is False for v in result["views"]) else 0


def run_compact(args: argparse.Namespace) -> int:
    import tempfile

    from dashboard.core.bench.query import run_compaction_bench

    root = args.data or tempfile.mkdtemp(prefix="warroom-compact-bench-")
    result = run_compaction_bench(DataDir.at(root), minutes=args.minutes, slice_seconds=args.slice_seconds)
    print(json.dumps(result, indent=2))
    return 0
