"""`warroom bench langfuse [--generations N] [--repeats N]`: Langfuse export ingest throughput."""

from __future__ import annotations

import argparse
import json


def register_langfuse_bench(bench_subparsers: argparse._SubParsersAction) -> None:
    parser = bench_subparsers.add_parser(
        "langfuse", help="observations per second ingesting a synthetic Langfuse export (JSONL and Parquet)",
        description="Write a synthetic blob-storage export (observations and scores), ingest it with "
                    "--format langfuse into fresh temporary folders and report the median per file type.")
    parser.add_argument("--generations", type=int, default=100_000, help="generations (spans: half as many more)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per file type; the median is reported")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dashboard.core.bench.langfuse import langfuse_benchmark

    print(json.dumps(langfuse_benchmark(args.generations, args.repeats), indent=2))
    return 0
