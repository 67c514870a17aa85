"""`warroom ingest requests|releases FILE... [--data DIR] [--mapping FILE] [--format auto|table|langfuse]`."""

from __future__ import annotations

import argparse
import json

from dashboard.cli import UserError, add_data_arg
from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.ingest import (
    IngestError,
    SchemaConflict,
    UnreadableFile,
    ingest_releases,
    ingest_requests,
)
from dashboard.core.telemetry.langfuse_ingest import looks_like_langfuse
from dashboard.core.telemetry.mapping import MappingError, load_mapping

FORMATS_HELP = "Parquet (.parquet), CSV (.csv, .tsv) or JSONL (.jsonl, .ndjson); CSV/JSONL may be gzip'd (.gz)"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="load your own request telemetry or release log",
        description="Validate files against the telemetry contract, quarantine bad rows with the reason, "
                    "and add the accepted rows to the data folder. Prints a JSON summary.",
    )
    kinds = parser.add_subparsers(dest="ingest_kind", required=True)
    for kind, what in (("requests", "request-level telemetry"), ("releases", "release events")):
        sub = kinds.add_parser(kind, help=f"ingest {what}", description=f"Ingest {what}. Files: {FORMATS_HELP}.")
        sub.add_argument("files", nargs="+", metavar="FILE", help="file(s) to ingest, checked together")
        add_data_arg(sub)
        sub.add_argument("--mapping", metavar="FILE", default=None,
                         help="TOML or YAML mapping of your column names onto the contract (see docs/INGEST.md)")
        sub.add_argument("--dry-run", action="store_true",
                         help="check the files and the mapping and print the summary with the first rejected "
                              "rows, without writing anything")
        if kind == "requests":
            sub.add_argument("--format", dest="source_format", choices=("auto", "table", "langfuse"), default="auto",
                             help="table: flat rows with a mapping; langfuse: Langfuse observations export (UI or "
                                  "blob storage: CSV, JSON, JSONL, Parquet) with optional scores and traces "
                                  "exports (see docs/BRING_YOUR_OWN_TELEMETRY.md); auto: read it from the files")
        sub.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    data_dir = DataDir.at(args.data)
    try:
        mapping = load_mapping(args.mapping) if args.mapping else None
        if args.ingest_kind == "requests":
            fmt = args.source_format
            if fmt == "auto":
                fmt = "langfuse" if looks_like_langfuse(args.files[0]) else "table"
            summary = ingest_requests(args.files, data_dir, mapping, args.mapping or "mapping",
                                      dry_run=args.dry_run, fmt=fmt)
        else:
            summary = ingest_releases(args.files, data_dir, mapping, args.mapping or "mapping", dry_run=args.dry_run)
    except (UnreadableFile, MappingError, SchemaConflict, IngestError) as exc:
        raise UserError(f"{exc} (nothing was written)") from None
    print(json.dumps(summary.as_dict(), indent=2))
    return summary.exit_code
