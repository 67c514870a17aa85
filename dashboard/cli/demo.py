"""`warroom demo`: generate the embedded demo week (telemetry, releases, incidents)."""

from __future__ import annotations

import argparse
import json

from dashboard.cli import UserError, add_data_arg
from dashboard.core.datadir import DataDir
from dashboard.core.demo import DEFAULT_SEED, write_demo
from dashboard.core.demo.incidents import seed_demo_incidents


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="write the demo week: support-bot refusal incident and four others")
    add_data_arg(p)
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (output is deterministic per seed)")
    p.add_argument("--days", type=int, default=7, help="days of telemetry ending on the incident day (1-28)")
    p.add_argument("--rps", type=float, default=10.0, help="mean requests per second across the day")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.days <= 28:
        raise UserError("--days must be between 1 and 28")
    if not 0 < args.rps <= 200:
        raise UserError("--rps must be above 0 and at most 200")
    data = DataDir.at(args.data)
    summary = write_demo(data, seed=args.seed, days=args.days, rps=args.rps)
    seeded = seed_demo_incidents(data)
    print(json.dumps({
        "data": str(data.root), "requests": summary.requests, "files": summary.files,
        "releases": summary.releases, "incidents_injected": summary.incidents,
        "incidents_recorded": seeded, "start": summary.start.isoformat(), "end": summary.end.isoformat(),
        "seconds": round(summary.seconds, 1),
    }, indent=2))
    return 0
