"""`warroom release record --artifact KIND --version V [...]`: log a release from a CI step."""

from __future__ import annotations

import argparse
import json

import polars as pl

from dashboard.cli import UserError, add_data_arg, nothing_written
from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.contract import RELEASE_SCHEMA
from dashboard.core.telemetry.release_record import record_release
from dashboard.core.telemetry.store_config import StoreConfigError
from dashboard.core.telemetry.store_writes import mirror


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("release", help="log a release event (one line in a CI job)")
    actions = parser.add_subparsers(dest="release_action", required=True)
    record = actions.add_parser(
        "record", help="append one release to the release store",
        description="Append one release event to the data folder's release store, atomically. "
                    "Example: warroom release record --service support-bot --artifact prompt --version v13 "
                    "--previous v12 --commit $GITHUB_SHA --url $RUN_URL")
    record.add_argument("--artifact", required=True, help="artifact kind: model, prompt, index, router, app, "
                                                          "policy, threshold, tool (or a kind the store declares)")
    record.add_argument("--version", required=True, help="the version now live")
    record.add_argument("--service", default=None, help="the service it was released to")
    record.add_argument("--previous", default=None,
                        help="the version it replaces (default: the artifact's last logged version)")
    record.add_argument("--author", default=None)
    record.add_argument("--note", default=None)
    record.add_argument("--scope", default=None, help="the segment the rollout is limited to, e.g. tier=paid")
    record.add_argument("--rollout-pct", type=float, default=None, help="share of the scope's traffic, 0-100")
    record.add_argument("--commit", default=None, help="commit id the release was built from")
    record.add_argument("--url", default=None, help="link to the pipeline run, pull request or model card "
                                                    "(http or https)")
    record.add_argument("--at", default=None, help="when it went live (ISO 8601 or epoch; default: now, UTC)")
    add_data_arg(record)
    record.add_argument("--store", default=None, metavar="STORE",
                        help="also insert it into this ClickHouse store (chdb:PATH or clickhouse://host:port/db; "
                             "default: [store] in the data folder's warroom.toml)")
    record.set_defaults(func=run)
    nothing_written(record, "nothing was recorded")


def run(args: argparse.Namespace) -> int:
    event = record_release(DataDir.at(args.data), artifact=args.artifact, version=args.version,
                           service=args.service, previous=args.previous, author=args.author, note=args.note,
                           scope=args.scope, commit=args.commit, url=args.url, rollout_pct=args.rollout_pct,
                           at=args.at)
    try:
        mirrored = mirror(DataDir.at(args.data), "releases", pl.DataFrame([event], schema=RELEASE_SCHEMA,
                                                                         orient="row"), args.store)
    except StoreConfigError as exc:  # recorded already: this failure must not say "nothing was recorded"
        raise UserError(f"{exc} (recorded in the data folder, not in the ClickHouse store)") from None
    if mirrored:
        event = {**event, "store": mirrored}
    print(json.dumps({k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in event.items()}))
    return 0
