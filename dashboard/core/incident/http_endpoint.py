"""POST /v1/incidents: incident writes from outside the machine (alert hooks, CI), one identity per token.

Served by the same HTTP service as the OTLP receiver (`warroom receive`). Each
integration holds its own bearer token, declared in the data folder's
roles.toml as `[tokens.NAME]` with a role and the token's SHA-256; the write
is recorded under that integration's name with `via: token`, and the role
rules of identity.py apply (a viewer token cannot write, only an admin token
overrides a close). Without a token the endpoint refuses, even where the
service itself is open.

Body (JSON), one change per request:

    {"action": "open",     "title": "...", "severity": "SEV2", "type": "...", "source": "alertmanager"}
    {"action": "post",     "incident": "INC-5", "audience": "support", "message": "..."}
    {"action": "note",     "incident": "INC-5", "text": "..."}
    {"action": "status",   "incident": "INC-5", "to": "mitigating", "note": "..."}
    {"action": "severity", "incident": "INC-5", "severity": "SEV1", "reason": "..."}

Appends (post, note) never fail for staleness. A decision (status, severity)
names `expected_version` to be checked against what the caller saw; without
it, it is decided on the latest state and retried, like the CLI, while still
valid. Answers: 200 with the incident's id, version, status and severity;
400 for a bad body, 401/403 for a missing or insufficient token, 404 for an
unknown incident, 409 when the rules or a newer state refuse the change.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from dashboard.core.http_service import Request, Response, Route, Token
from dashboard.core.incident.events import EventError
from dashboard.core.incident.identity import Identity, PermissionDenied
from dashboard.core.incident.lifecycle import LifecycleError
from dashboard.core.incident.roles import RolesConfig, bearer
from dashboard.core.incident.service import Incidents
from dashboard.core.incident.store import IncidentNotFound, IncidentStoreError, StaleIncidentError

INCIDENTS_PATH = "/v1/incidents"
INCIDENTS_SCOPE = "incidents"
RETRIES = 5


def incident_tokens(roles: RolesConfig) -> list[Token]:
    """The service-level tokens granting this endpoint (their secrets are known only by their hash)."""
    return [Token(t.name, "", frozenset({INCIDENTS_SCOPE}), sha256=t.sha256) for t in roles.tokens]


class IncidentEndpoint:
    def __init__(self, incidents: Incidents, roles: RolesConfig):
        self.incidents = incidents
        self.roles = roles

    def route(self) -> Route:
        return Route("POST", INCIDENTS_PATH, self.handle, INCIDENTS_SCOPE)

    def handle(self, request: Request) -> Response:
        scheme, _, secret = request.headers.get("authorization", "").partition(" ")
        who = bearer(secret, self.roles) if scheme.lower() == "bearer" and secret else None
        if who is None:
            return Response(HTTPStatus.UNAUTHORIZED, _message("a bearer token of an integration named in "
                                                              "roles.toml [tokens] is required"),
                            headers={"WWW-Authenticate": "Bearer"})
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            return Response(HTTPStatus.BAD_REQUEST, _message(f"body is not JSON: {exc}"))
        if not isinstance(body, dict):
            return Response(HTTPStatus.BAD_REQUEST, _message("body must be a JSON object"))
        try:
            state = self._apply(who, body)
        except _BadRequest as exc:
            return Response(HTTPStatus.BAD_REQUEST, _message(str(exc)))
        except PermissionDenied as exc:
            return Response(HTTPStatus.FORBIDDEN, _message(str(exc)))
        except IncidentNotFound as exc:
            return Response(HTTPStatus.NOT_FOUND, _message(str(exc)))
        except (StaleIncidentError, LifecycleError) as exc:
            return Response(HTTPStatus.CONFLICT, _message(str(exc)))
        except (EventError, IncidentStoreError, ValueError) as exc:
            return Response(HTTPStatus.BAD_REQUEST, _message(str(exc)))
        return Response.json(HTTPStatus.OK, {"id": state.id, "version": state.version, "status": state.status,
                                             "severity": state.severity, "by": who.name})

    def _apply(self, who: Identity, body: dict[str, Any]):
        action = body.get("action")
        inc = self.incidents
        if action == "open":
            return inc.open(who, _text(body, "title"), severity=body.get("severity"), type=body.get("type"),
                            service=body.get("service"), summary=str(body.get("summary") or ""),
                            source=body.get("source") or who.subject)
        incident_id = _text(body, "incident")
        if action == "post":
            return inc.post_update(incident_id, None, who, _text(body, "audience"), _text(body, "message"))
        if action == "note":
            return inc.add_note(incident_id, None, who, _text(body, "text"))
        if action == "status":
            return self._decide(incident_id, body, lambda v: inc.set_status(
                incident_id, v, who, _text(body, "to"), note=str(body.get("note") or "")))
        if action == "severity":
            return self._decide(incident_id, body, lambda v: inc.set_severity(
                incident_id, v, who, _text(body, "severity"), reason=str(body.get("reason") or "")))
        raise _BadRequest(f"unknown action {action!r}: use open, post, note, status or severity")

    def _decide(self, incident_id: str, body: dict[str, Any], change):
        expected = body.get("expected_version")
        if expected is not None:
            if not isinstance(expected, int) or isinstance(expected, bool):
                raise _BadRequest("expected_version must be an integer")
            return change(expected)
        for attempt in range(RETRIES + 1):
            try:
                return change(self.incidents.get(incident_id).version)
            except StaleIncidentError:
                if attempt == RETRIES:
                    raise


class _BadRequest(ValueError):
    pass


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _BadRequest(f"{key!r} is required (a non-empty string)")
    return value


def _message(text: str) -> bytes:
    return json.dumps({"message": text}).encode()
