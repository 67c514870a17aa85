"""`warroom incident packet ID --out DIR`: export the incident's reproducer packet (core/reporting/packet.py)."""

from __future__ import annotations

import argparse
import json

from dashboard.cli import add_data_arg
from dashboard.core.datadir import DataDir
from dashboard.core.reporting.packet import DEFAULT_SAMPLE, DEFAULT_SEED, export_packet


def register_packet(incident_subparsers: argparse._SubParsersAction) -> None:
    """Add `packet ID --out DIR [--sample N] [--seed N]` under the `warroom incident` command group."""
    p = incident_subparsers.add_parser("packet", help="export the incident's reproducer: sampled affected and "
                                                      "unaffected requests with every artifact version")
    p.add_argument("incident_id", metavar="ID")
    p.add_argument("--out", metavar="DIR", required=True, help="folder to write requests.parquet, "
                                                             "requests.jsonl and manifest.json into")
    p.add_argument("--sample", type=int, default=DEFAULT_SAMPLE, help="requests per group (default %(default)s)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="sampling seed (default %(default)s)")
    p.add_argument("--force", action="store_true", help="write into an existing folder that is not empty "
                                                        "(its requests.* and manifest.json are replaced)")
    add_data_arg(p)

    def run(args) -> int:
        result = export_packet(DataDir.at(args.data), args.incident_id, args.out, args.sample, args.seed,
                               force=args.force)
        print(json.dumps({"out": str(result.out_dir), **result.manifest["counts"]}, indent=2))
        return 0

    p.set_defaults(func=run)
