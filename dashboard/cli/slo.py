"""`warroom slo`: SLO attainment, error budget and burn-rate alerts as of the newest telemetry."""

from __future__ import annotations

import argparse
import json

from dashboard.cli import UserError, add_data_arg, existing_data_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    slo = subparsers.add_parser("slo", help="SLO attainment, error budget and burn-rate alerts as of the "
                                            "newest telemetry")
    add_data_arg(slo)
    slo.add_argument("--json", action="store_true", help="machine-readable output")
    slo.set_defaults(func=run_slo)


def run_slo(args: argparse.Namespace) -> int:
    from dashboard.core.reporting.slo_report import slo_rows, slo_table
    from dashboard.core.reporting.slo_store import evaluate_slos, load_slos
    from dashboard.core.telemetry.clickhouse_store import open_store

    data = existing_data_dir(args)
    config = load_slos(data)
    if not data.has_requests():
        raise UserError(f"no telemetry in {data.requests} (create some with `warroom demo --data DIR`)")
    store = open_store(data)
    statuses = evaluate_slos(store, config)
    if args.json:
        as_of = store.now()  # set: the folder has requests
        print(json.dumps({"as_of": as_of.isoformat() if as_of else None, "source": str(config.source),
                          "slos": slo_rows(statuses)}, indent=2))
    else:
        print(slo_table(statuses, store.now()))
    return 0
