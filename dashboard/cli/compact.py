"""`warroom compact`: merge each finished ten minutes of live telemetry files into one file.

`warroom simulate --live` does this by itself as each block ends; run it by hand after
any streaming writer that leaves many small files. Safe while the app is open.
"""

from __future__ import annotations

import argparse
import json

from dashboard.cli import add_data_arg
from dashboard.core.datadir import DataDir


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("compact", help="merge each finished ten minutes of live telemetry files into one file")
    add_data_arg(p)
    p.add_argument("--all", action="store_true", help="also the newest block (only when nothing is writing)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dashboard.core.telemetry.compact import compact_live_files

    data = DataDir.at(args.data)
    merged = compact_live_files(data, keep_latest=0 if args.all else 1)
    print(json.dumps({"data": str(data.root), "blocks": [
        {"block": m.block, "files_merged": m.files, "rows": m.rows, "file": m.path.name} for m in merged]}, indent=2))
    return 0
