"""What every `warroom incident` command shares: the data folder's incident store and telemetry,
the CLI user as author, argument parsing for times and segments, and writing one change with
retries on a lost race (`write`).
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime

from dashboard.cli import UserError
from dashboard.core.datadir import DataDir
from dashboard.core.incident.roles import cli_user, load_roles
from dashboard.core.incident.service import Incidents
from dashboard.core.incident.store import StaleIncidentError
from dashboard.core.incident.summary import incident_summary
from dashboard.core.timeutil import utc


class Context:
    def __init__(self, args: argparse.Namespace):
        self.data = DataDir.at(args.data)
        self.incidents = Incidents.for_data_dir(self.data)
        self.actor = cli_user(load_roles(self.data.root), getattr(args, "claimed_as", None))
        self._telemetry = None

    @property
    def telemetry(self):
        """The TelemetryStore, or None where the data folder holds no telemetry."""
        if self._telemetry is None and self.data.has_requests():
            from dashboard.core.telemetry.clickhouse_store import open_store

            self._telemetry = open_store(self.data)
        return self._telemetry

    def now(self) -> datetime:
        from dashboard.core.incident.telemetry_adapter import telemetry_now

        return telemetry_now(self.telemetry)

    def evaluate(self, state):
        if self.telemetry is None or not state.is_open or state.soak.started_at is None:
            return None
        from dashboard.core.incident.telemetry_adapter import evaluate_incident_soak

        return evaluate_incident_soak(state, self.telemetry, self.now())

    def summary(self, state, full: bool = False) -> dict:
        return incident_summary(state, self.evaluate(state), self.now(), full=full)


def timestamp(text: str) -> datetime:
    try:
        return utc(datetime.fromisoformat(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO timestamp: {text!r} (e.g. 2025-02-18T15:35:00Z)") from None


def segments(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        column, sep, value = item.partition("=")
        if not sep or not column.strip() or not value.strip():
            raise UserError(f"--segment {item!r}: expected COLUMN=VALUE, e.g. tier=paid")
        out[column.strip()] = value.strip()
    return out


STALE_RETRIES = 5


def write(args: argparse.Namespace, change) -> int:
    """Run one change against the version loaded now (or --expect-version); print the result.

    Appends never go stale. A decision (status, severity, roles, close) that
    loses a race to another decision is retried on the new state, where the
    rules are checked again: it lands only if it is still valid there (a status
    change someone else already made is refused as such). With --expect-version
    the caller named the state they decided on: no retry.
    """
    ctx = Context(args)
    at = args.at or ctx.now()
    try:
        for attempt in range(STALE_RETRIES + 1):
            version = args.expect_version
            if version is None:
                version = ctx.incidents.get(args.id).version
            try:
                state = change(ctx, version, at)
                break
            except StaleIncidentError:
                if args.expect_version is not None or attempt == STALE_RETRIES:
                    raise
    except (ValueError, KeyError) as exc:
        # what the record's models and the signal registry refuse as a change is built (a WarroomError passes
        # to main); a KeyError's str() is its repr, so show the message itself
        raise UserError(exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)) from None
    print_state(args, ctx, state)
    return 0


def print_state(args: argparse.Namespace, ctx: Context, state) -> None:
    summary = ctx.summary(state)
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    soak = summary["soak"]
    print(f"{state.id} v{state.version} · {state.status} · {state.severity or 'no severity'} · "
          f"commander {state.commander} · soak {soak['status']}" +
          (f" ({soak['summary']})" if soak.get("summary") else ""))
