"""`warroom bench faults [--tries N] [--seed N]`: kill -9 writers at random points, a full disk, a read-only folder.

`register_faults_bench(bench_subparsers)` is called by the `bench` command group.
Works in a temporary folder; the data folder is not touched. Figures go in docs/RELIABILITY.md.
"""

from __future__ import annotations

import argparse
import json
import sys


def register_faults_bench(bench_subparsers: argparse._SubParsersAction) -> None:
    p = bench_subparsers.add_parser(
        "faults", help="kill writers at random points, fill a disk, mount read-only; count what is lost",
        description="Each try kills one writer (ingest, compaction, live simulator, the OTLP receiver under load, "
                    "incident notes) with SIGKILL at a random moment in a copy of a demo folder and checks rows, "
                    "events and leftover files.")
    p.add_argument("--tries", type=int, default=20, help="kill -9 tries, spread over the writer kinds (default 20)")
    p.add_argument("--seed", type=int, default=1, help="random seed for the kill moments")
    p.add_argument("--ingest-rows", type=int, default=300_000, help="rows in the file the ingest tries load")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dashboard.core.bench.faults import run_fault_bench

    result = run_fault_bench(args.tries, args.seed, args.ingest_rows,
                             progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(json.dumps(result, indent=2))
    total = result["total"]
    return 0 if total["survived"] == total["tries"] else 1
