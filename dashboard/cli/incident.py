"""`warroom incident ...`: the incident record for automation (alert hooks, scripts).

Writes go through the same rules as the war room page. The author of every
change is the operating-system user running the command, with the role
roles.toml gives it (`[cli]`, default admin: they can write the data folder
anyway); `--as NAME` is recorded beside it as a claim, never as the author.
`close` is refused unless the verification soak has passed on telemetry or the
commander (or an admin) overrides with a reason. Event times follow the data's clock (the
newest telemetry timestamp) unless `--at` is given.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime

from dashboard.cli import UserError, add_data_arg
from dashboard.cli.incident_context import Context, print_state, segments, timestamp, write
from dashboard.core.incident.events import AUDIENCES, INCIDENT_TYPES, ROLES, SEVERITIES, STATUSES
from dashboard.core.incident.soak import VerificationMetric
from dashboard.core.incident.store_config import has_incident_store


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("incident", help="list, open and update incidents; close is gated on the soak")
    sub = p.add_subparsers(dest="incident_command", required=True)
    from dashboard.cli.packet import register_packet

    register_packet(sub)  # `warroom incident packet ID --out DIR`: the reproducer

    def cmd(name: str, help_: str, writes: bool = True, with_id: bool = True) -> argparse.ArgumentParser:
        q = sub.add_parser(name, help=help_)
        add_data_arg(q)
        q.add_argument("--json", action="store_true", help="machine-readable output")
        if with_id:
            q.add_argument("id", help="incident id, e.g. INC-1")
        if writes:
            q.add_argument("--as", dest="claimed_as", default=None, metavar="NAME",
                           help="a name to record beside the author: kept as a claim, the author is the OS "
                                "user running this (role from [cli] in roles.toml, default admin)")
            q.add_argument("--at", type=timestamp, default=None, metavar="ISO",
                           help="event time (default: the data's clock)")
            if with_id:
                q.add_argument("--expect-version", type=int, default=None, metavar="N",
                               help="refuse if the incident is no longer at version N")
        return q

    q = cmd("list", "incidents with status, severity, commander and soak", writes=False, with_id=False)
    q.add_argument("--open", action="store_true", help="only open incidents")
    q.set_defaults(func=run_list)

    q = cmd("show", "one incident: state, soak, comms clock and timeline", writes=False)
    q.set_defaults(func=run_show)

    q = cmd("open", "open an incident", with_id=False)
    q.add_argument("--title", required=True)
    q.add_argument("--type", choices=INCIDENT_TYPES)
    q.add_argument("--severity", choices=SEVERITIES)
    q.add_argument("--commander", help="incident commander (default: the person opening it)")
    q.add_argument("--service")
    q.add_argument("--summary", default="")
    q.add_argument("--signal", action="append", default=[], help="affected signal (repeatable)")
    q.add_argument("--segment", action="append", default=[], metavar="COL=VALUE", help="affected segment")
    q.add_argument("--suspect", action="append", default=[], help="suspect, e.g. prompt:prompt-v7")
    q.add_argument("--source", help="what opened it, e.g. alert name")
    q.add_argument("--started", type=timestamp, metavar="ISO", help="when the regression started")
    q.add_argument("--detected", type=timestamp, metavar="ISO", help="when it was detected (alert time)")
    q.set_defaults(func=run_open)

    q = cmd("post", "post a comms update")
    q.add_argument("--audience", required=True, choices=AUDIENCES)
    q.add_argument("--message", required=True)
    q.set_defaults(func=run_post)

    q = cmd("status", "move the incident to another status (resolving goes through close)")
    q.add_argument("status", choices=[s for s in STATUSES if s != "resolved"])
    q.add_argument("--note", default="")
    q.set_defaults(func=run_status)

    q = cmd("close", "resolve: refused unless the soak passed, or the commander overrides with a reason")
    q.add_argument("--override", metavar="REASON", help="commander only: close without a passed soak")
    q.add_argument("--note", default="")
    q.set_defaults(func=run_close)

    q = cmd("severity", "set the severity")
    q.add_argument("severity", choices=SEVERITIES)
    q.add_argument("--reason", default="")
    q.set_defaults(func=run_severity)

    q = cmd("assign", "assign or hand over a role")
    q.add_argument("role", choices=ROLES)
    q.add_argument("person")
    q.set_defaults(func=run_assign)

    q = cmd("verify", "define the verification metrics (and start the soak)")
    q.add_argument("--metric", action="append", default=[], metavar="SIGNAL<=X",
                   help="e.g. 'refusal_rate<=0.06' or 'task_success_rate>=0.40' (repeatable)")
    q.add_argument("--default", action="store_true", help="propose the defaults from the incident's telemetry")
    q.add_argument("--segment", action="append", default=None, metavar="COL=VALUE",
                   help="segment filter (default: the incident's segments)")
    q.add_argument("--soak", type=int, default=60, metavar="MIN", help="soak minutes (default 60)")
    q.add_argument("--window", type=int, default=10, metavar="MIN", help="rolling window minutes (default 10)")
    q.add_argument("--min-samples", type=int, default=200, help="fewest requests for a window to be judged")
    q.add_argument("--start-soak", action="store_true", help="start the soak now (automatic in monitoring)")
    q.set_defaults(func=run_verify)

    q = cmd("correct", "amend wrong facts of the record (title, scope, signals, window); the old values stay "
                       "in the log")
    q.add_argument("--reason", required=True, help="why the record was wrong (shown on the timeline)")
    q.add_argument("--title")
    q.add_argument("--summary")
    q.add_argument("--service")
    q.add_argument("--signal", action="append", default=None, help="the affected signals (repeatable; "
                                                                    "replaces them)")
    q.add_argument("--segment", action="append", default=None, metavar="COL=VALUE",
                   help="the affected segments (repeatable; replaces the whole scope)")
    q.add_argument("--no-segments", action="store_true", help="clear the scope: the incident is about all traffic")
    q.add_argument("--suspect", action="append", default=None, help="suspects (repeatable; replaces them)")
    q.add_argument("--started", type=timestamp, metavar="ISO", help="when the regression started")
    q.add_argument("--detected", type=timestamp, metavar="ISO", help="when it was detected")
    q.set_defaults(func=run_correct)

    q = cmd("audit", "check the hash chain of one incident's log (or --all): the first broken link",
            writes=False, with_id=False)
    q.add_argument("id", nargs="?", help="incident id, e.g. INC-1")
    q.add_argument("--all", action="store_true", help="every incident in the store")
    q.set_defaults(func=run_audit)

    q = sub.add_parser("token", help="make a bearer token for an integration (alert hook, CI) and print the "
                                     "roles.toml entry that names it")
    q.add_argument("name", help="the integration, e.g. alertmanager (recorded as the author of its writes)")
    q.add_argument("--role", default="responder", choices=("viewer", "responder", "commander", "admin"))
    q.set_defaults(func=run_token)


# --- commands -----------------------------------------------------------------

def run_list(args: argparse.Namespace) -> int:
    ctx = Context(args)
    states = ctx.incidents.list(include_closed=not args.open) if has_incident_store(ctx.data) else []
    rows = [ctx.summary(s) for s in states]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no incidents")
    for r in rows:
        print(f"{r['id']:<8} {r['status']:<13} {r['severity'] or '-':<5} {r['commander'] or '-':<16} "
              f"soak {r['soak']['status']:<12} {r['title']}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    ctx = Context(args)
    state = ctx.incidents.get(args.id)
    summary = ctx.summary(state, full=args.json)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"{state.id}: {state.title}")
    chain = ctx.incidents.audit(state.id)
    if not chain.intact:
        print(f"  !! {chain.line()}")
    print(f"  status {state.status} · severity {state.severity or '-'} · type {state.type or '-'} · v{state.version}")
    print("  roles: " + ", ".join(f"{role} {person}" for role, person in state.roles.items()))
    soak = summary["soak"]
    print(f"  soak: {soak.get('summary') or soak['status']}")
    for m in soak.get("metrics", []):
        value = "-" if m["current_value"] is None else f"{m['current_value']:.4g}"
        print(f"    {m['label']} {m['condition']}: {m['status']}, now {value} (n={m['current_sample_size']}), "
              f"{m['time_left_minutes']} min left, {len(m['breaches'])} breach(es)")
    if summary.get("next_update_due"):
        print(f"  next update due {summary['next_update_due']}" + (" (OVERDUE)" if summary["update_overdue"] else ""))
    if summary.get("close_blockers"):
        print("  close blocked: " + "; ".join(summary["close_blockers"]))
    print("  timeline:")
    for entry in state.timeline:
        mark = "!! " if entry.tone == "danger" else ""
        print(f"    {entry.at:%Y-%m-%d %H:%M} {entry.actor}: {mark}{entry.text}")
    return 0


def _check_references(ctx: Context, signals: list[str], segments: dict[str, str]) -> None:
    from dashboard.core.incident.references import ReferenceError, check_segments, check_signals

    try:
        check_signals(signals)
        check_segments(segments, ctx.telemetry)
    except ReferenceError as exc:
        raise UserError(f"{exc} (nothing was written)") from None


def run_open(args: argparse.Namespace) -> int:
    ctx = Context(args)
    _check_references(ctx, args.signal, segments(args.segment))
    try:
        state = ctx.incidents.open(
            ctx.actor, args.title, at=args.at or ctx.now(), type=args.type, severity=args.severity,
            commander=args.commander or args.claimed_as, service=args.service, summary=args.summary,
            signals=args.signal, segments=segments(args.segment), suspects=args.suspect, source=args.source,
            window_start=args.started, detected_at=args.detected)
    except ValueError as exc:  # a field pydantic refuses as the record is built (a WarroomError passes to main)
        raise UserError(str(exc)) from None
    print_state(args, ctx, state)
    return 0


def run_post(args: argparse.Namespace) -> int:
    return write(args, lambda ctx, v, at: ctx.incidents.post_update(args.id, v, ctx.actor, args.audience,
                                                                     args.message, at=at))


def run_status(args: argparse.Namespace) -> int:
    return write(args, lambda ctx, v, at: ctx.incidents.set_status(args.id, v, ctx.actor, args.status,
                                                                    note=args.note, at=at))


def run_severity(args: argparse.Namespace) -> int:
    return write(args, lambda ctx, v, at: ctx.incidents.set_severity(args.id, v, ctx.actor, args.severity,
                                                                      reason=args.reason, at=at))


def run_assign(args: argparse.Namespace) -> int:
    return write(args, lambda ctx, v, at: ctx.incidents.assign_role(args.id, v, ctx.actor, args.role,
                                                                     args.person, at=at))


def run_close(args: argparse.Namespace) -> int:
    def change(ctx: Context, version: int, at: datetime):
        state = ctx.incidents.get(args.id)
        return ctx.incidents.close(args.id, version, ctx.actor, ctx.evaluate(state),
                                   override_reason=args.override, note=args.note, at=at)
    return write(args, change)


def parse_metric(text: str, segment: dict[str, str], soak: int, window: int, min_samples: int) -> VerificationMetric:
    for comparator in ("<=", ">="):
        signal, sep, threshold = text.partition(comparator)
        if sep:
            try:
                value = float(threshold)
            except ValueError:
                raise UserError(f"--metric {text!r}: threshold {threshold!r} is not a number") from None
            from dashboard.core.incident.telemetry_adapter import check_verifiable

            check_verifiable(signal.strip())  # unsupported signals are refused here, not at evaluation
            return VerificationMetric(signal=signal.strip(), segment=segment, comparator=comparator,
                                      threshold=value, soak_minutes=soak, window_minutes=window,
                                      min_samples=min_samples)
    raise UserError(f"--metric {text!r}: expected SIGNAL<=THRESHOLD or SIGNAL>=THRESHOLD")


def run_verify(args: argparse.Namespace) -> int:
    def change(ctx: Context, version: int, at: datetime):
        state = ctx.incidents.get(args.id)
        segment = segments(args.segment) if args.segment is not None else dict(state.segments)
        _check_references(ctx, [], segment)
        if args.default:
            if ctx.telemetry is None:
                raise UserError("--default needs telemetry in the data folder to measure baselines")
            from dashboard.core.incident.telemetry_adapter import propose_for_incident

            metrics = propose_for_incident(state.model_copy(update={"segments": segment}), ctx.telemetry,
                                           soak_minutes=args.soak)
        elif args.metric:
            metrics = [parse_metric(m, segment, args.soak, args.window, args.min_samples) for m in args.metric]
        else:
            raise UserError("give --metric SIGNAL<=X (repeatable) or --default")
        return ctx.incidents.define_verification(args.id, version, ctx.actor, metrics,
                                                 start_soak=True if args.start_soak else None, at=at)
    return write(args, change)


def run_correct(args: argparse.Namespace) -> int:
    if args.no_segments and args.segment:
        raise UserError("give --segment or --no-segments, not both")
    scope = {} if args.no_segments else segments(args.segment) if args.segment is not None else None
    changes = {"title": args.title, "summary": args.summary, "service": args.service, "signals": args.signal,
               "segments": scope, "suspects": args.suspect, "window_start": args.started,
               "detected_at": args.detected}
    changes = {name: value for name, value in changes.items() if value is not None}
    if not changes:
        raise UserError("give at least one field to correct, e.g. --segment region=eu-west")
    ctx = Context(args)
    _check_references(ctx, changes.get("signals", []), changes.get("segments") or {})
    return write(args, lambda ctx, v, at: ctx.incidents.correct(args.id, v, ctx.actor, args.reason, at=at,
                                                                 **changes))


def run_audit(args: argparse.Namespace) -> int:
    """Exit 0 when every chain checked is intact, 1 when one is broken (2: bad arguments)."""
    if bool(args.id) == bool(args.all):
        raise UserError("give one incident id, or --all")
    ctx = Context(args)
    reports = ctx.incidents.audit_all() if args.all else [ctx.incidents.audit(args.id)]
    if args.json:
        print(json.dumps([{"id": r.incident_id, "events": r.events, "intact": r.intact, "broken_at": r.broken_at,
                           "reason": r.reason, "head": r.head} for r in reports], indent=2))
    else:
        for report in reports:
            print(report.line())
        if not reports:
            print("no incidents")
    return 0 if all(r.intact for r in reports) else 1


def run_token(args: argparse.Namespace) -> int:
    """The token is printed once and never stored: roles.toml keeps only its SHA-256."""
    import re
    import secrets

    from dashboard.core.incident.roles import token_hash

    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", args.name):
        raise UserError(f"integration name {args.name!r}: letters, digits, '-' and '_' only")
    token = secrets.token_urlsafe(32)
    print(f"# give this token to {args.name} (Authorization: Bearer <token>); it is not stored anywhere:\n{token}\n")
    print(f"# add to roles.toml in the data folder:\n[tokens.{args.name}]\nrole = \"{args.role}\"\n"
          f"sha256 = \"{token_hash(token)}\"")
    return 0
