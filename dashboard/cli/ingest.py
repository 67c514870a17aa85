"""`warroom ingest requests|releases FILE... [--data DIR] [--mapping FILE] [--format F] [--set C=V]`.

`--format` is auto, table, otlp or langfuse.
"""

from __future__ import annotations

import argparse
import json
import sys

from dashboard.cli import UserError, add_data_arg, nothing_written
from dashboard.cli.store import add_store_arg
from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.ingest.langfuse.validate import looks_like_langfuse
from dashboard.core.telemetry.ingest.pipeline import ingest_releases, ingest_requests
from dashboard.core.telemetry.mapping import load_mapping
from dashboard.core.telemetry.store_config import StoreConfigError
from dashboard.core.telemetry.store_writes import mirror_files

FORMATS_HELP = ("Parquet (.parquet), CSV (.csv, .tsv) or JSONL (.jsonl, .ndjson); CSV/JSONL may be gzip'd (.gz); "
                "requests also from OpenTelemetry traces (OTLP JSON Lines, JSON or protobuf)")


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
        add_store_arg(sub)
        sub.add_argument("--mapping", metavar="FILE", default=None,
                         help="TOML or YAML mapping of your column names onto the contract (see docs/INGEST.md)")
        sub.add_argument("--dry-run", action="store_true",
                         help="check the files and the mapping and print the summary with the first rejected "
                              "rows, without writing anything")
        sub.add_argument("--reload", action="store_true",
                         help="read files the data folder already holds again (by default a file ingested before "
                              "is skipped and named; read again, its stored rows are quarantined as duplicates)")
        if kind == "requests":
            sub.add_argument("--format", dest="source_format", choices=("auto", "table", "otlp", "langfuse"),
                             default="auto",
                             help="table: flat rows with a mapping; otlp: OpenTelemetry traces (OTLP JSON Lines as "
                                  "the Collector's file exporter writes them, OTLP JSON, OTLP protobuf; gzip'd or "
                                  "not); langfuse: Langfuse observations export (UI or blob storage: CSV, JSON, "
                                  "JSONL, Parquet) with optional scores and traces exports (see "
                                  "docs/BRING_YOUR_OWN_TELEMETRY.md); auto: read it from the files")
            sub.add_argument("--set", dest="constants", action="append", default=[], metavar="COLUMN=VALUE",
                             help="one value for every row of this command, e.g. --set service=azure-llm "
                                  "--set workload=code (the service, a segment or an artifact column)")
        sub.set_defaults(func=run)
        nothing_written(sub)


def parse_constants(pairs: list[str]) -> dict[str, str]:
    """`--set a=b --set c=d` as {"a": "b", "c": "d"}; a malformed or repeated one is a user error."""
    constants: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise UserError(f"--set {pair!r}: expected COLUMN=VALUE, e.g. --set service=azure-llm")
        if name in constants and constants[name] != value:
            raise UserError(f"--set {name} given twice ({constants[name]!r} and {value!r})")
        constants[name] = value
    return constants


def run(args: argparse.Namespace) -> int:
    data_dir = DataDir.at(args.data)
    mapping = load_mapping(args.mapping) if args.mapping else None
    if args.ingest_kind == "requests":
        fmt = args.source_format
        if fmt == "auto" and looks_like_langfuse(args.files[0]):
            fmt = "langfuse"
        summary = ingest_requests(args.files, data_dir, mapping, args.mapping or "mapping",
                                  dry_run=args.dry_run, constants=parse_constants(args.constants), fmt=fmt,
                                  reload=args.reload)
    else:
        summary = ingest_releases(args.files, data_dir, mapping, args.mapping or "mapping", dry_run=args.dry_run,
                                  reload=args.reload)
    for warning in summary.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    result = summary.to_json_dict()
    if not args.dry_run:
        try:  # the accepted rows are committed to the data folder; the ClickHouse store gets the same
            stored = mirror_files(data_dir, {args.ingest_kind: summary.written,
                                             "quarantine": summary.quarantine_path}, args.store)
        except StoreConfigError as exc:
            raise UserError(f"{exc} (written to the data folder only)") from None
        if stored:
            result["store"] = stored
    print(json.dumps(result, indent=2))
    return summary.exit_code
