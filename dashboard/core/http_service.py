"""A small authenticated HTTP service that endpoints register on (`warroom receive` serves it).

Routes are (method, path) -> handler, each with the scope a token must grant
to call it: the OTLP traces endpoint needs `traces`; another integration
(an incident-write hook, say) adds its route with its own scope, and tokens are
issued per integration with the scopes it may use. Without any token
configured the service is open (it binds to 127.0.0.1 by default); with tokens,
every route needs `Authorization: Bearer <token>` granting its scope.

Built on the standard library's ThreadingHTTPServer (HTTP/1.1 keep-alive, one
thread per connection): the endpoints are few and their cost is the work
behind them, not the HTTP layer, so no web framework is added for it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_HOST = "127.0.0.1"
DEFAULT_MAX_BODY = 16 * 1024 * 1024  # bytes, after decompression too


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes  # already gunzip'd
    client: str
    integration: str | None  # the name of the token used, when tokens are required

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: object) -> Response:
        return cls(status, json.dumps(payload).encode(), "application/json")


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    scope: str  # what a token must grant to call it


@dataclass(frozen=True)
class Token:
    integration: str  # who holds it, e.g. "otel-collector"
    secret: str  # "" when only its hash is known
    scopes: frozenset[str]
    sha256: str | None = None  # hex SHA-256 of the secret, for tokens stored hashed (roles.toml [tokens])

    def matches(self, presented: str) -> bool:
        if self.sha256:
            digest = hashlib.sha256(presented.encode()).hexdigest()
            return hmac.compare_digest(self.sha256.encode(), digest.encode())
        return bool(self.secret) and hmac.compare_digest(self.secret.encode(), presented.encode())


class TokenAuth:
    """Bearer tokens, each naming its integration and the scopes it grants; none configured = open."""

    def __init__(self, tokens: list[Token] | None = None):
        self.tokens = list(tokens or [])

    @property
    def required(self) -> bool:
        return bool(self.tokens)

    def check(self, header: str | None, scope: str) -> tuple[bool, str | None]:
        """(allowed, integration name)."""
        if not self.required:
            return True, None
        scheme, _, secret = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not secret:
            return False, None
        for token in self.tokens:
            if token.matches(secret.strip()):
                return scope in token.scopes, token.integration
        return False, None


class HttpService:
    """Routes plus authentication plus body limits, served on one port."""

    verbose = False  # log every request line to stderr

    def __init__(self, routes: list[Route], auth: TokenAuth | None = None, max_body: int = DEFAULT_MAX_BODY):
        self.routes = {(r.method, r.path): r for r in routes}
        self.auth = auth or TokenAuth()
        self.max_body = max_body
        self._server: ThreadingHTTPServer | None = None

    def add(self, route: Route) -> None:
        self.routes[(route.method, route.path)] = route

    def handle(self, method: str, path: str, headers: dict[str, str], read_body: Callable[[int], bytes],
               client: str) -> Response:
        path = path.split("?", 1)[0]
        route = self.routes.get((method, path))
        if route is None:
            allowed = sorted(m for m, p in self.routes if p == path)
            if allowed:
                response = Response.json(HTTPStatus.METHOD_NOT_ALLOWED, {"message": f"use {', '.join(allowed)}"})
                response.headers["Allow"] = ", ".join(allowed)
                return response
            return Response.json(HTTPStatus.NOT_FOUND, {"message": f"no endpoint {path}"})
        ok, integration = self.auth.check(headers.get("authorization"), route.scope)
        if not ok:
            status = HTTPStatus.FORBIDDEN if integration else HTTPStatus.UNAUTHORIZED
            return Response(status, json.dumps({"message": "a bearer token granting "
                                                f"'{route.scope}' is required"}).encode(),
                            headers={"WWW-Authenticate": "Bearer"} if status == HTTPStatus.UNAUTHORIZED else {})
        try:
            length = int(headers.get("content-length", "0") or 0)
        except ValueError:
            return Response.json(HTTPStatus.BAD_REQUEST, {"message": "bad Content-Length"})
        if length > self.max_body:
            return Response.json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                                 {"message": f"body of {length} bytes is over the limit of {self.max_body}"})
        body = read_body(length)
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding == "gzip":
            try:
                body = _gunzip_limited(body, self.max_body)
            except OverflowError:
                return Response.json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                                     {"message": f"decompressed body is over the limit of {self.max_body} bytes"})
            except (OSError, EOFError, zlib.error) as exc:
                return Response.json(HTTPStatus.BAD_REQUEST, {"message": f"body is not valid gzip ({exc})"})
        elif encoding not in ("identity", ""):
            return Response.json(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                                 {"message": f"Content-Encoding {encoding!r} is not supported (use gzip)"})
        request = Request(method, path, headers, body, client, integration)
        return route.handler(request)

    # -- serving ----------------------------------------------------------------

    def serve(self, host: str = DEFAULT_HOST, port: int = 4318) -> ThreadingHTTPServer:
        """Bind and return the server (call serve_forever on it, or run it in a thread)."""
        service = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _dispatch(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                body_read = []

                def read_body(length: int) -> bytes:
                    body_read.append(length)
                    return self.rfile.read(length)

                try:
                    response = service.handle(self.command, self.path, headers, read_body, self.client_address[0])
                except Exception as exc:  # never a traceback to the client; the log gets it
                    self.log_error("internal error on %s %s: %r", self.command, self.path, exc)
                    response = Response.json(HTTPStatus.INTERNAL_SERVER_ERROR, {"message": "internal error"})
                self.send_response(response.status)
                self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(len(response.body)))
                for name, value in response.headers.items():
                    self.send_header(name, value)
                if not body_read and headers.get("content-length", "0") not in ("0", ""):
                    self.send_header("Connection", "close")  # an unread body would be taken for the next request
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(response.body)

            do_POST = do_GET = do_PUT = _dispatch

            def log_message(self, format: str, *args) -> None:  # noqa: A002 (the stdlib's name)
                if service.verbose:
                    super().log_message(format, *args)

        server = ThreadingHTTPServer((host, port), _Handler)
        server.daemon_threads = True
        self._server = server
        return server

    def start_in_thread(self, host: str = DEFAULT_HOST, port: int = 0) -> tuple[ThreadingHTTPServer, int]:
        """Serve in a background thread (tests, the benchmark); returns the server and its port."""
        server = self.serve(host, port)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, server.server_address[1]


def _gunzip_limited(body: bytes, limit: int) -> bytes:
    """gunzip, refusing output beyond `limit` bytes (a small bomb must not fill memory)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = inflater.decompress(body, limit + 1)
    if len(out) > limit or inflater.unconsumed_tail:
        raise OverflowError
    out += inflater.flush()
    if not inflater.eof:
        raise EOFError("truncated gzip stream")
    return out


__all__ = ["HttpService", "Request", "Response", "Route", "Token", "TokenAuth", "DEFAULT_HOST"]
