"""`warroom rollup build|verify`: the per-minute and per-hour rollups every view reads.

Writers (ingest, the simulator, compaction, `warroom demo`) keep them current; `build`
catches up a store written by something else (or rebuilds all with --full); `verify`
recomputes every rollup from the request rows and lists any difference (exit 1).
"""

from __future__ import annotations

import argparse
import json
import time

from dashboard.cli import add_data_arg
from dashboard.core.datadir import DataDir


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("rollup", help="build or verify the rollups the views read")
    sub = p.add_subparsers(dest="rollup_command", required=True)
    build = sub.add_parser("build", help="build missing rollups (all of them with --full)")
    add_data_arg(build)
    build.add_argument("--full", action="store_true", help="drop every rollup and build all again")
    build.set_defaults(func=run_build)
    check = sub.add_parser("verify", help="recompute the rollups from the request rows and report differences")
    add_data_arg(check)
    check.set_defaults(func=run_verify)


def run_build(args: argparse.Namespace) -> int:
    from dashboard.core.telemetry import rollup

    data = DataDir.at(args.data)
    began = time.perf_counter()
    built = rollup.rebuild(data) if args.full else rollup.maintain(data)
    print(json.dumps({"data": str(data.root), "request_files_built": built,
                      "seconds": round(time.perf_counter() - began, 2), **rollup.sizes(data)}, indent=2))
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from dashboard.core.telemetry.compact import request_files
    from dashboard.core.telemetry.rollup_verify import verify

    data = DataDir.at(args.data)
    checked, differences = verify(data, request_files(data.requests))
    for d in differences:
        print(f"{d.request_file}: {d.table}: {d.detail}")
    print(f"{checked} request files checked, {len(differences)} difference(s)")
    return 1 if differences else 0
