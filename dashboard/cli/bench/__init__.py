"""`warroom bench ...`: the shipped benchmarks (results go in docs/BENCHMARKS.md)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bench", help="run a benchmark")
    bench = p.add_subparsers(dest="bench", required=True)
    from dashboard.cli.bench.evaluations import register_evaluations
    from dashboard.cli.bench.faults import register_faults_bench
    from dashboard.cli.bench.ingest import register_ingest_bench
    from dashboard.cli.bench.langfuse import register_langfuse_bench
    from dashboard.cli.bench.pages import register_pages_bench
    from dashboard.cli.bench.query import register_query_bench
    from dashboard.cli.bench.rca import register_rca
    from dashboard.cli.bench.receive import register_receive_bench

    register_query_bench(bench)
    register_ingest_bench(bench)
    register_rca(bench)
    register_receive_bench(bench)
    register_faults_bench(bench)
    register_langfuse_bench(bench)
    register_pages_bench(bench)
    register_evaluations(bench)
