"""`warroom receive`: an OTLP/HTTP endpoint (POST /v1/traces) storing GenAI spans as live telemetry,
and POST /v1/incidents for the integrations that roles.toml gives a token (core/incident/http_endpoint.py)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from dashboard.cli import UserError, add_data_arg
from dashboard.core.datadir import DataDir
from dashboard.core.http_service import DEFAULT_HOST, Token, TokenAuth
from dashboard.core.telemetry.mapping import load_mapping
from dashboard.core.telemetry.receiver import DEFAULT_FLUSH_EVERY, TRACES_PATH, TRACES_SCOPE, TraceReceiver

TOKEN_ENV = "WARROOM_RECEIVE_TOKEN"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "receive", help="receive OpenTelemetry GenAI spans over OTLP/HTTP",
        description="Serve POST /v1/traces (OTLP/HTTP, protobuf or JSON, gzip or not). Model-call spans are "
                    "stored as requests in the data folder once durable, then acknowledged.")
    add_data_arg(parser)
    parser.add_argument("--port", type=int, default=4318, help="port (default 4318, the OTLP/HTTP port)")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to bind (default {DEFAULT_HOST}: this machine only; 0.0.0.0 for every "
                             "interface, then require a token)")
    parser.add_argument("--mapping", metavar="FILE", default=None,
                        help="ingest mapping: segments, artifacts, [otlp] attributes, [prices], [links]")
    parser.add_argument("--token-file", metavar="FILE", default=None,
                        help=f"require a bearer token: one per line, 'integration: secret' or just the secret "
                             f"(or set ${TOKEN_ENV})")
    parser.add_argument("--flush-every", type=float, default=DEFAULT_FLUSH_EVERY, metavar="SECONDS",
                        help=f"batches arriving within this interval share one slice file (default "
                             f"{DEFAULT_FLUSH_EVERY}); each is acknowledged once written")
    parser.add_argument("--max-body-mb", type=float, default=16.0, help="largest accepted body (default 16 MB)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.set_defaults(func=run)


def load_tokens(path: str | None) -> TokenAuth:
    tokens = []
    if os.environ.get(TOKEN_ENV):
        tokens.append(Token("env", os.environ[TOKEN_ENV].strip(), frozenset({TRACES_SCOPE})))
    if path:
        file = Path(path)
        if not file.is_file():
            raise UserError(f"{file}: token file not found")
        for number, line in enumerate(file.read_text().splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, sep, secret = line.partition(":")
            name, secret = (name.strip(), secret.strip()) if sep else (f"token-{number}", name.strip())
            if len(secret) < 16:
                raise UserError(f"{file} line {number}: a token must be at least 16 characters")
            tokens.append(Token(name, secret, frozenset({TRACES_SCOPE})))
        if not tokens:
            raise UserError(f"{file}: no token in it")
    return TokenAuth(tokens)


def _add_incident_endpoint(service, auth: TokenAuth, data: DataDir) -> str:
    """POST /v1/incidents on the same service, for the integrations roles.toml gives a token."""
    from dashboard.core.incident.http_endpoint import INCIDENTS_PATH, IncidentEndpoint, incident_tokens
    from dashboard.core.incident.roles import load_roles
    from dashboard.core.incident.service import Incidents

    roles = load_roles(data.root)
    incidents = Incidents.for_data_dir(data)
    if not roles.tokens:
        return ""
    if auth.required:
        auth.tokens.extend(incident_tokens(roles))  # traces tokens keep their scope; these grant incidents
    service.add(IncidentEndpoint(incidents, roles).route())
    return f"; {INCIDENTS_PATH} for {', '.join(t.name for t in roles.tokens)}"


def run(args: argparse.Namespace) -> int:
    data = DataDir.at(args.data)
    auth = load_tokens(args.token_file)
    mapping = load_mapping(args.mapping) if args.mapping else None
    receiver = TraceReceiver(data, mapping, flush_every=args.flush_every)
    service = receiver.service(auth, max_body=int(args.max_body_mb * 1024 * 1024))
    incidents_note = _add_incident_endpoint(service, auth, data)
    service.verbose = args.verbose
    try:
        server = service.serve(args.host, args.port)
    except OSError as exc:
        raise UserError(f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc})") from None
    stop = threading.Event()

    def shutdown(*_):
        if not stop.is_set():
            stop.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    host, port = str(server.server_address[0]), server.server_address[1]  # an IP address: text
    print(f"warroom receive: listening on http://{host}:{port}{TRACES_PATH} -> {data.requests}"
          f"{' (bearer token required)' if auth.required else ''}{incidents_note}", file=sys.stderr, flush=True)
    if not auth.required and host not in ("127.0.0.1", "::1", "localhost"):
        print(f"warroom receive: warning: listening on {host} without a token: anyone who can reach this port "
              f"can write telemetry (give --token-file or set ${TOKEN_ENV})", file=sys.stderr, flush=True)
    server.serve_forever()
    server.server_close()
    receiver.close()
    print(f"warroom receive: stopped; {receiver.stats.__dict__}", file=sys.stderr)
    return 0
