"""`warroom postmortem ID`: an incident's postmortem, as Markdown or printable HTML."""

from __future__ import annotations

import argparse
import sys

from dashboard.cli import UserError, add_data_arg, existing_data_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    pm = subparsers.add_parser("postmortem", help="print an incident's postmortem (generated from the record, "
                                                  "with the team's edits)")
    pm.add_argument("incident_id", metavar="ID", help="incident id, e.g. INC-5")
    pm.add_argument("--format", choices=("md", "html"), default="md", help="Markdown (default) or printable HTML")
    pm.add_argument("--out", metavar="FILE", default=None, help="write to FILE instead of standard output")
    add_data_arg(pm)
    pm.set_defaults(func=run_postmortem)


def run_postmortem(args: argparse.Namespace) -> int:
    from dashboard.core.datadir import atomic_write_text
    from dashboard.core.output_paths import output_file
    from dashboard.core.reporting.postmortem.service import render_postmortem

    data = existing_data_dir(args)
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
