"""`warroom simulate`: keep the demo's telemetry going, so a soak can be watched (or pushed) to its end.

    warroom simulate --live [--speed X] [--duration SECONDS] [--rps N]   real time, paced
    warroom simulate --minutes N                                        N simulated minutes at once
    warroom simulate --until 2025-02-18T17:30:00Z                       up to a moment, at once

Every mode continues from the newest request in the data folder and writes new
Parquet files under requests/ (atomically), never touching the existing ones.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime

from dashboard.cli import add_data_arg
from dashboard.core.datadir import DataDir


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("simulate", help="append demo telemetry after the newest request (live or at once)")
    add_data_arg(p)
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--live", action="store_true", help="append in real time until --duration runs out")
    mode.add_argument("--minutes", type=float, metavar="N", help="append N simulated minutes at once")
    mode.add_argument("--until", type=_timestamp, metavar="ISO", help="append up to this moment at once")
    p.add_argument("--speed", type=float, default=1.0,
                   help="simulated seconds per real second (--live; 60 = a minute per second)")
    p.add_argument("--duration", type=float, default=600.0, metavar="SECONDS",
                   help="real seconds to run (--live; default 600)")
    p.add_argument("--flush-every", type=float, default=5.0, metavar="SECONDS",
                   help="real seconds between files (--live; default 5)")
    p.add_argument("--rps", type=float, default=None, help="mean requests per second (default: the demo's)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the demo's)")
    p.add_argument("--json", action="store_true", help="print a JSON summary at the end")
    p.set_defaults(func=run)


def _timestamp(text: str) -> datetime:
    from dashboard.core.timeutil import utc

    try:
        return utc(datetime.fromisoformat(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO timestamp: {text!r} (e.g. 2025-02-18T17:30:00Z)") from None


def run(args: argparse.Namespace) -> int:
    from dashboard.core.demo import live

    data = DataDir.at(args.data)
    quiet = args.json

    def report(piece: live.Slice) -> None:
        if not quiet:
            print(f"{piece.start:%Y-%m-%d %H:%M:%S} → {piece.end:%H:%M:%S} UTC: {piece.rows:,} requests "
                  f"({piece.path.name if piece.path else 'no file: no request in this slice'})", flush=True)

    try:
        if args.live:
            slices = live.run_live(data, speed=args.speed, duration_s=args.duration, flush_every_s=args.flush_every,
                                   seed=args.seed, rps=args.rps, on_slice=report)
        elif args.minutes is not None:
            slices = live.append_minutes(data, args.minutes, seed=args.seed, rps=args.rps)
        else:
            slices = live.append_until(data, args.until, seed=args.seed, rps=args.rps)
    except KeyboardInterrupt:
        return 130
    if not args.live:
        for piece in slices:
            report(piece)
    summary = {
        "data": str(data.root), "files": len(slices), "requests": sum(s.rows for s in slices),
        "start": slices[0].start.isoformat() if slices else None,
        "end": slices[-1].end.isoformat() if slices else None,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"appended {summary['requests']:,} requests in {summary['files']} file(s); data now ends "
              f"{summary['end'] or 'where it was'}")
    return 0
