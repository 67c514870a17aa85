"""`warroom investigate`: when a signal moved, which release did it, and where."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta

from dashboard.cli import UserError, add_data_arg
from dashboard.core.datadir import DataDir
from dashboard.core.diagnosis.investigate import investigate
from dashboard.core.diagnosis.models import Investigation, suspect_brief
from dashboard.core.incident.references import unknown_values
from dashboard.core.telemetry import signals as sig
from dashboard.core.telemetry.clickhouse_store import open_store
from dashboard.core.timeutil import utc


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("investigate", help="find the change in a signal, rank the releases behind it, "
                                                  "plan the rollback")
    add_data_arg(p)
    p.add_argument("--signal", required=True, choices=sig.DIAGNOSABLE, metavar="SIGNAL",
                   help=f"one of: {', '.join(sig.DIAGNOSABLE)}")
    p.add_argument("--start", help="window start, ISO time (UTC if no zone; default: 6 hours before --end)")
    p.add_argument("--end", help="window end, ISO time (default: the newest telemetry)")
    p.add_argument("--filter", action="append", default=[], metavar="K=V",
                   help="only requests with this segment or version value (repeatable; K=V1|V2 for several)")
    p.add_argument("--json", action="store_true", help="print the investigation as JSON")
    p.set_defaults(func=run)


def parse_time(text: str | None, flag: str) -> datetime | None:
    if text is None:
        return None
    try:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(f"{flag}: {text!r} is not an ISO time such as 2025-02-18T13:00") from None
    return utc(ts)


def parse_filters(items: list[str], known: list[str]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or not value:
            raise UserError(f"--filter {item!r}: expected KEY=VALUE, e.g. language=en")
        if key not in known:
            raise UserError(f"--filter {item!r}: unknown column {key!r}; known: {', '.join(known)}")
        out[key] = tuple(dict.fromkeys([*out.get(key, ()), *(v.strip() for v in value.split("|") if v.strip())]))
    return out


def run(args: argparse.Namespace) -> int:
    data = DataDir.at(args.data)
    if not data.has_requests():
        raise UserError(f"{data.root}: no request telemetry (requests/*.parquet); run `warroom demo` or ingest first")
    store = open_store(data)
    filters = parse_filters(args.filter, store.schema.dimension_columns)
    unknown = unknown_values(filters, store)
    if unknown:  # a typo must not read as "no regression"
        raise UserError(f"--filter matches no request: {unknown[0]}")
    if not store.has_signal(args.signal):
        # a signal without data is never "no regression": say it is not there, and fail
        spec = sig.get(args.signal)
        message = (f"{args.signal} is not in this data: no request in {data.root} carries "
                   f"{', '.join(spec.measures)}; signals it has: {', '.join(store.signals(sig.DIAGNOSABLE))}")
        if args.json:
            print(json.dumps({"signal": args.signal, "in_data": False, "message": message,
                              "available": store.signals(sig.DIAGNOSABLE)}, indent=2))
            return 2
        raise UserError(message)
    result = investigate(store, args.signal, parse_time(args.start, "--start"), parse_time(args.end, "--end"),
                         filters)
    if args.json:
        print(json.dumps(result.to_json_dict(), indent=2, allow_nan=False))
    else:
        print(render_text(result))
    return 0


def render_text(inv: Investigation) -> str:
    clock = "%m-%d %H:%M" if inv.end - inv.start > timedelta(days=1) else "%H:%M"
    where = ", ".join(k + "=" + "|".join(v) for k, v in inv.filters.items())
    lines = [f"{inv.signal_label} from {inv.start:%Y-%m-%d %H:%M} to {inv.end:%Y-%m-%d %H:%M} UTC"
             + (f" where {where}" if where else ""), ""]
    lines.append("Change points:" if inv.change_points else "No change point in this window.")
    for cp in inv.change_points:
        tag = "regression" if cp.regression else "recovery"
        at = f" at {cp.aligned_release}" if cp.aligned_release else ""
        lines.append(f"  {cp.ts:{clock}}{at} [{tag}] {cp.before_text} -> {cp.after_text} ({cp.effect_text}, "
                     f"p={cp.p_value:.2g})")
        lines.append(f"      {cp.detectability}")
    lines += ["", inv.verdict]
    for n, s in enumerate(inv.suspects, start=1):
        lines.append(f"  {n}. {s.artifact} {s.previous_version} -> {s.version} at {s.released_at:%H:%M} "
                     f"({suspect_brief(s.score, s.explained_share, s.expected_effect is not None)})")
        lines += [f"       - {e.text}" for e in s.evidence]
    if inv.rollback_plan:
        lines += ["", "Rollback plan:"]
        for step in inv.rollback_plan:
            lines.append(f"  {step.order}. {step.artifact} {step.from_version} -> {step.to_version} [{step.status}]: "
                         f"{step.expected_text}")
    if inv.segments:
        lines += ["", "Segments carrying it:"]
        for seg in inv.segments[:5]:
            lines.append(f"  {seg['label']}: {100 * seg['share_of_change']:.0f}% of the change, "
                         f"{seg['surprise']:.1f} sd")
    lines += [f"note: {n}" for n in inv.notes]
    return "\n".join(lines)
