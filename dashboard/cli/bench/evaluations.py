"""`warroom bench investigate | scenarios | incident`: the evaluations that print JSON.

investigate: `investigate` timed on every incident of a folder's truth.json;
scenarios: top-1 attribution accuracy on randomized release scenarios;
incident: concurrent appends, reads and soak evaluation on a scratch incident store.
"""

from __future__ import annotations

import argparse
import json

from dashboard.cli import UserError, add_data_arg


def register_evaluations(bench_subparsers) -> None:
    p = bench_subparsers.add_parser("investigate", help="time `investigate` on every incident of truth.json "
                                                        "(query cache off)")
    add_data_arg(p)
    p.add_argument("--repeats", type=int, default=3, help="cold runs per incident (default 3)")
    p.set_defaults(func=run_investigate)

    p = bench_subparsers.add_parser("scenarios", help="top-1 attribution accuracy on randomized release scenarios")
    p.add_argument("--cases", type=int, default=60)
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(func=run_scenarios)

    p = bench_subparsers.add_parser("incident", help="concurrent appends, reads and soak evaluation "
                                                     "on a scratch incident store")
    p.add_argument("--processes", type=int, default=4)
    p.add_argument("--events", type=int, default=250, help="comms posts each process appends")
    p.add_argument("--store-url", metavar="URL", default=None,
                   help="run the concurrent posts on this PostgreSQL database (an empty one: INC-1 is created)")
    p.set_defaults(func=run_incident)


def run_investigate(args: argparse.Namespace) -> int:
    from dashboard.core.bench.investigate import run
    from dashboard.core.datadir import DataDir

    if args.repeats < 1:
        raise UserError("--repeats must be at least 1")
    print(json.dumps(run(DataDir.at(args.data), args.repeats), indent=2))
    return 0


def run_scenarios(args: argparse.Namespace) -> int:
    from dashboard.core.bench.scenarios import run_cases

    if args.cases < 1:
        raise UserError("--cases must be at least 1")
    print(json.dumps(run_cases(args.cases, args.seed), indent=2, default=str))
    return 0


def run_incident(args: argparse.Namespace) -> int:
    from dashboard.core.bench.incident_writes import run_bench

    if args.processes < 1 or args.events < 1:
        raise UserError("--processes and --events must be at least 1")
    print(json.dumps(run_bench(processes=args.processes, events_each=args.events, store_url=args.store_url),
                     indent=2))
    return 0
