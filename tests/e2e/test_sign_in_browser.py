"""Sign-in for a team, in a real browser against a real OIDC provider started here.

The provider is `oidc-provider-mock` (a real OpenID Connect server: discovery,
authorization code flow, signed ID tokens) on a free port; the app gets an
`[auth]` section in a secrets file of its own and signs in through `st.login`.
A commander's post is recorded under the token's subject and e-mail; a viewer
(role from the data folder's roles.toml) sees every page but is refused a write.
"""

from __future__ import annotations

import secrets
import subprocess

import pytest

from dashboard.core.datadir import DataDir
from dashboard.core.incident.service import Incidents
from tests.e2e.conftest import _free_port, screenshot, start_app, wait_for_app
from tests.fixtures import copy_store

pytestmark = pytest.mark.e2e
PRIYA = {"email": "priya@example.com", "name": "Priya Raman", "warroom_roles": ["commander"]}
ERIN = {"email": "erin@example.com", "name": "Erin Exec"}  # no role claim: roles.toml says viewer


@pytest.fixture(scope="module")
def provider():
    from oidc_provider_mock import User, run_server_in_thread

    users = [User(sub="priya-7f3a", claims=PRIYA), User(sub="erin-21c9", claims=ERIN)]
    with run_server_in_thread(port=_free_port(), user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def team_app(demo_data, provider, tmp_path_factory):
    """(url, data folder) of an app with sign-in configured, over a private copy of the demo week."""
    base = tmp_path_factory.mktemp("e2e-sign-in")
    root = base / "data"
    copy_store(demo_data.root, root)
    (root / "roles.toml").write_text('default = "viewer"\n[people]\n"erin@example.com" = "viewer"\n')
    port = _free_port()
    secrets_file = base / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(16)}"\n'
        'client_id = "warroom"\n'
        'client_secret = "warroom-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n')
    proc, url = start_app(root, port, ("--secrets.files", str(secrets_file)))
    yield url, DataDir(root)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def sign_in(page, url: str, subject: str) -> None:
    page.goto(f"{url}/war-room?incident=INC-5")
    page.get_by_role("button", name="Sign in").click()
    # the provider's own authorization page: pick the user
    page.get_by_role("button", name=subject).click()
    page.wait_for_url(f"{url}/**", timeout=60_000)
    wait_for_app(page)
    page.goto(f"{url}/war-room?incident=INC-5")  # the callback lands on the app's start page
    wait_for_app(page)
    page.get_by_role("tab", name="Comms").click()


def test_every_page_needs_sign_in(page, team_app):
    url, _ = team_app
    for path in ("", "/explorer", "/war-room", "/postmortem"):
        page.goto(f"{url}{path}")
        page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
        assert page.get_by_text("Incident commander").count() == 0
        assert page.locator('[data-testid="stPlotlyChart"]').count() == 0
    screenshot(page, "auth-sign-in")


def test_a_commander_post_is_recorded_under_the_signed_in_identity(page, team_app):
    url, data = team_app
    sign_in(page, url, "priya-7f3a")
    page.get_by_text("Signed in as priya@example.com · commander").first.wait_for(timeout=60_000)
    assert page.get_by_role("textbox", name="Your name").count() == 0  # no typed names when signed in
    page.get_by_role("button", name="Post update to executives").click()
    page.get_by_text("Update to executives posted").first.wait_for(timeout=60_000)
    event = Incidents.for_data_dir(data).events("INC-5")[-1]
    assert event.kind == "update_posted" and event.actor == "priya@example.com"
    assert event.identity == {"via": "oidc", "role": "commander", "subject": "priya-7f3a",
                              "email": "priya@example.com"}
    screenshot(page, "auth-commander-posted")


def test_a_viewer_reads_but_cannot_write(page, team_app):
    url, data = team_app
    before = Incidents.for_data_dir(data).get("INC-5").version
    sign_in(page, url, "erin-21c9")
    page.get_by_text("Signed in as erin@example.com · viewer").first.wait_for(timeout=60_000)
    page.get_by_text("Read only: viewers cannot change an incident.").wait_for(timeout=30_000)
    page.get_by_role("button", name="Post update to executives").click()
    page.get_by_text("erin@example.com is viewer: writing to an incident needs the responder role").wait_for(
        timeout=60_000)
    assert Incidents.for_data_dir(data).get("INC-5").version == before
    screenshot(page, "auth-viewer-refused")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="End session").click()  # the provider ends its session too
    page.goto(f"{url}/war-room")
    page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
