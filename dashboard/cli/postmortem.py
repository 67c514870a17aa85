"""`warroom postmortem ID` and `warroom slo`: the reporting side of the command line."""

from __future__ import annotations

import argparse
import json
import sys

from dashboard.cli import UserError, add_data_arg
from dashboard.core.datadir import DataDir


def register(subparsers: argparse._SubParsersAction) -> None:
    pm = subparsers.add_parser("postmortem", help="print an incident's postmortem (generated from the record, "
                                                  "with the team's edits)")
    pm.add_argument("incident_id", metavar="ID", help="incident id, e.g. INC-5")
    pm.add_argument("--format", choices=("md", "html"), default="md", help="Markdown (default) or printable HTML")
    pm.add_argument("--out", metavar="FILE", default=None, help="write to FILE instead of standard output")
    add_data_arg(pm)
    pm.set_defaults(func=run_postmortem)

    slo = subparsers.add_parser("slo", help="SLO attainment, error budget and burn-rate alerts as of the "
                                            "newest telemetry")
    add_data_arg(slo)
    slo.add_argument("--json", action="store_true", help="machine-readable output")
    slo.set_defaults(func=run_slo)


def _data(args: argparse.Namespace) -> DataDir:
    data = DataDir.at(args.data)
    if not data.root.is_dir():
        raise UserError(f"data folder {data.root} does not exist (create one with `warroom demo --data DIR`)")
    return data


def run_slo(args: argparse.Namespace) -> int:
    from dashboard.core.reporting.slo_report import slo_rows, slo_table
    from dashboard.core.reporting.slo_store import evaluate_slos, load_slos
    from dashboard.core.telemetry.query import TelemetryStore

    data = _data(args)
    config = load_slos(data)
    if not data.has_requests():
        raise UserError(f"no telemetry in {data.requests} (create some with `warroom demo --data DIR`)")
    store = TelemetryStore(data)
    statuses = evaluate_slos(store, config)
    if args.json:
        as_of = store.now()  # set: the folder has requests
        print(json.dumps({"as_of": as_of.isoformat() if as_of else None, "source": str(config.source),
                          "slos": slo_rows(statuses)}, indent=2))
    else:
        print(slo_table(statuses, store.now()))
    return 0


def run_postmortem(args: argparse.Namespace) -> int:
    from dashboard.core.datadir import atomic_write_text
    from dashboard.core.output_paths import output_file
    from dashboard.core.reporting.postmortem.service import render_postmortem

    data = _data(args)
    out = output_file(args.out) if args.out else None  # checked before the work, not after
    text = render_postmortem(data, args.incident_id, fmt=args.format)
    if out is not None:
        try:
            atomic_write_text(out, text)
        except OSError as exc:
            raise UserError(f"{args.out}: could not write ({exc.strerror or exc})") from None
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
