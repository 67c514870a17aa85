"""`warroom bench ingest [--rows N] [--csv-rows N] [--repeats N]`: ingest throughput.

`register_ingest_bench(bench_subparsers)` is called by the `bench` command
group to add this benchmark next to the others.
"""

from __future__ import annotations

import argparse
import json


def register_ingest_bench(bench_subparsers: argparse._SubParsersAction) -> None:
    parser = bench_subparsers.add_parser(
        "ingest",
        help="rows per second ingesting synthetic requests from Parquet and CSV",
        description="Generate synthetic request files, ingest each into a fresh temporary data folder "
                    "and report the median rows per second. Nothing is written to your data folder.",
    )
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows in the Parquet file (default 2,000,000)")
    parser.add_argument("--csv-rows", type=int, default=None,
                        help="rows in the CSV file (default: same as --rows; 0 skips CSV)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per format; the median is reported")
    parser.set_defaults(func=run_ingest_bench)


def run_ingest_bench(args: argparse.Namespace) -> int:
    from dashboard.core.bench.ingest import ingest_benchmark

    result = ingest_benchmark(rows=args.rows, repeats=args.repeats, csv_rows=args.csv_rows)
    print(json.dumps(result, indent=2))
    return 0
