"""`warroom bench receive`: load test of the OTLP/HTTP receiver on loopback, kill -9 included.

`register_receive_bench(bench_subparsers)` adds it to the `bench` command group.
"""

from __future__ import annotations

import argparse
import json


def register_receive_bench(bench_subparsers: argparse._SubParsersAction) -> None:
    parser = bench_subparsers.add_parser(
        "receive",
        help="spans per second through `warroom receive`, and nothing acknowledged lost across a kill -9",
        description="Start `warroom receive` on a free loopback port with a temporary data folder; several "
                    "processes send GenAI spans with the OpenTelemetry SDK's OTLP/HTTP exporter at a fixed rate; "
                    "the receiver is killed with SIGKILL part way and restarted. Checks every acknowledged span "
                    "is stored exactly once. Needs the dev extra (opentelemetry-sdk and its OTLP/HTTP exporter).",
    )
    parser.add_argument("--rate", type=float, default=2000.0, help="spans per second, all senders together")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the senders send")
    parser.add_argument("--senders", type=int, default=4, help="sender processes")
    parser.add_argument("--kill-at", type=float, default=20.0,
                        help="seconds in at which the receiver is killed -9 and restarted (negative: never)")
    parser.add_argument("--flush-every", type=float, default=1.0, help="the receiver's group-commit interval")
    parser.set_defaults(func=run_receive_bench)


def run_receive_bench(args: argparse.Namespace) -> int:
    from dashboard.core.bench.receive import receive_benchmark

    result = receive_benchmark(rate=args.rate, seconds=args.seconds, senders=args.senders,
                               kill_at=args.kill_at if args.kill_at >= 0 else None, flush_every=args.flush_every)
    print(json.dumps(result, indent=2))
    ok = result["acknowledged_missing"] == 0 and result["stored_more_than_once"] == 0
    return 0 if ok else 1
