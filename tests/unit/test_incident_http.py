"""POST /v1/incidents on the receiver's HTTP service: one bearer token per integration, each a named
identity with a role; appends never refused, a viewer token refused, no token no write."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest

from dashboard.cli import main
from dashboard.cli.receive import _add_incident_endpoint
from dashboard.core.datadir import DataDir
from dashboard.core.http_service import HttpService, Token, TokenAuth
from dashboard.core.incident.roles import token_hash
from dashboard.core.incident.service import Incidents

HOOK = "alert-hook-token-0123456789abcdef"
EXEC_BOARD = "exec-board-token-0123456789abcdef"
CI = "ci-token-0123456789abcdef"


@pytest.fixture()
def served(tmp_path):
    """(url, data) of the HTTP service as `warroom receive` composes it, with a traces token configured too."""
    data = DataDir(tmp_path / "data")
    data.root.mkdir()
    (data.root / "roles.toml").write_text(
        f'[tokens.alertmanager]\nrole = "responder"\nsha256 = "{token_hash(HOOK)}"\n'
        f'[tokens.exec-board]\nrole = "viewer"\nsha256 = "{token_hash(EXEC_BOARD)}"\n'
        f'[tokens.deploy-ci]\nrole = "admin"\nsha256 = "{token_hash(CI)}"\n')
    auth = TokenAuth([Token("otel-collector", "traces-token-0123456789abcdef", frozenset({"traces"}))])
    service = HttpService([], auth)
    _add_incident_endpoint(service, auth, data)
    server, port = service.start_in_thread()
    yield f"http://127.0.0.1:{port}/v1/incidents", data
    server.shutdown()
    server.server_close()


def call(url: str, body: dict, token: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_each_token_writes_as_its_integration_with_its_role(served):
    url, data = served
    code, opened = call(url, {"action": "open", "title": "Refusals up", "severity": "SEV2"}, CI)
    assert code == 200 and opened["id"] == "INC-1" and opened["by"] == "deploy-ci (token)"
    code, posted = call(url, {"action": "post", "incident": "INC-1", "audience": "support",
                              "message": "alert fired: refusal_rate 9%"}, HOOK)
    assert code == 200 and posted["version"] == 2
    event = Incidents.for_data_dir(data).events("INC-1")[-1]
    assert event.actor == "alertmanager (token)"
    assert event.identity == {"via": "token", "role": "responder", "subject": "alertmanager"}
    # a status change decided on the latest state; a stale explicit version is a 409
    assert call(url, {"action": "status", "incident": "INC-1", "to": "mitigating"}, HOOK)[0] == 200
    code, refused = call(url, {"action": "severity", "incident": "INC-1", "severity": "SEV1",
                               "expected_version": 1}, HOOK)
    assert code == 409 and "changed since you loaded it" in refused["message"]


def test_no_token_a_wrong_token_or_a_viewer_token_writes_nothing(served):
    url, data = served
    assert call(url, {"action": "open", "title": "t"}, CI)[0] == 200
    post = {"action": "post", "incident": "INC-1", "audience": "support", "message": "x"}
    assert call(url, post, None)[0] == 401
    assert call(url, post, "not-a-token-0123456789abcdef")[0] == 401
    assert call(url, post, "traces-token-0123456789abcdef")[0] == 403  # the collector's token: traces only
    code, body = call(url, post, EXEC_BOARD)
    assert code == 403 and "exec-board (token) is viewer" in body["message"]
    code, body = call(url, {"action": "post", "incident": "INC-9", "audience": "support", "message": "x"}, HOOK)
    assert code == 404
    code, body = call(url, {"action": "post", "incident": "INC-1", "audience": "nobody", "message": "x"}, HOOK)
    assert code == 409 and "unknown audience" in body["message"]
    assert call(url, {"action": "delete", "incident": "INC-1"}, HOOK)[0] == 400
    assert Incidents.for_data_dir(data).get("INC-1").version == 1


def test_concurrent_posts_over_http_all_land(served):
    url, data = served
    assert call(url, {"action": "open", "title": "t"}, CI)[0] == 200
    codes: list[int] = []

    def poster(worker: int) -> None:
        for k in range(10):
            codes.append(call(url, {"action": "post", "incident": "INC-1", "audience": "engineering",
                                    "message": f"{worker}-{k}"}, HOOK)[0])

    threads = [threading.Thread(target=poster, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * 60
    assert len(Incidents.for_data_dir(data).get("INC-1").updates) == 60


def test_the_token_command_prints_a_token_and_its_roles_entry(tmp_path, capsys):
    assert main(["incident", "token", "pagerduty", "--role", "responder"]) == 0
    out = capsys.readouterr().out
    token = out.splitlines()[1]
    assert f'sha256 = "{token_hash(token)}"' in out and "[tokens.pagerduty]" in out and 'role = "responder"' in out
