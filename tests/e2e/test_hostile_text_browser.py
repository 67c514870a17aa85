"""Hostile text is inert: payloads in every field a person, a telemetry source or a link fills, every page opened.

The browser may fetch nothing from outside the app (every request is intercepted:
one to another host is recorded and refused), and no page may hold an element
made from a payload: a link or image to the payload's host, or the payload's
bold, HTML or colour markup rendered as such (shown as text, it is inert).
"""

from __future__ import annotations

import os
from datetime import timedelta
from urllib.parse import quote, urlparse

import polars as pl
import pytest

from dashboard.core.datadir import DataDir
from dashboard.core.incident.service import Incidents
from dashboard.core.reporting.postmortem.edits import PostmortemEdits
from tests.e2e.conftest import start_app, wait_for_app
from tests.fixtures import copy_store

pytestmark = pytest.mark.e2e
SHOTS = os.environ.get("WARROOM_SHOTS", "artifacts/screenshots/hostile")
EVIL = "evil.invalid"
STREAMLIT_ICONS = "fonts.gstatic.com"


def payload(where: str) -> str:
    """Markdown image and link, raw HTML, an autolink, a Streamlit directive, a Plotly tag: all named by `where`."""
    return (f"{where} ![i](http://{EVIL}/{where}.png) [click {where}](http://{EVIL}/{where}) "
            f"<b>BOLD{where}</b> <a href=\"http://{EVIL}/a-{where}\">a</a> <img src=\"http://{EVIL}/img-{where}.png\"> "
            f"www.{EVIL}/{where} :red[RED{where}]")


@pytest.fixture(scope="module")
def hostile(demo_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile") / "data"
    copy_store(demo_data.root, root)
    data = DataDir(root)
    # telemetry: a release whose version is a payload, and requests whose segment value is one
    newest = sorted(data.requests.glob("*.parquet"))[-1]
    tail = pl.read_parquet(newest).sort("ts").tail(400)
    tail = tail.with_columns(pl.lit(payload("segment")).alias("region"),
                             pl.lit(payload("version")).alias("prompt_version"),
                             (pl.col("request_id") + "-h").alias("request_id"))
    tail.write_parquet(data.requests / "hostile.parquet")
    release = pl.read_parquet(sorted(data.releases.glob("*.parquet"))[0]).head(1)
    release = release.with_columns(pl.lit(tail["ts"].min() - timedelta(minutes=1)).alias("ts"),
                                   pl.lit("prompt").alias("artifact"), pl.lit(payload("version")).alias("version"))
    release.write_parquet(data.releases / "hostile.parquet")
    # the record: every text field of an incident
    incidents = Incidents.for_data_dir(data)
    who = payload("actor")
    state = incidents.open(who, payload("title"), summary=payload("summary"), commander=payload("commander"),
                           signals=["refusal_rate"], segments={"region": "eu-west"},
                           suspects=[f"prompt:{payload('suspect')}"], source=payload("source"))
    incidents.post_update(state.id, None, who, "executives", payload("comms"))
    incidents.add_note(state.id, None, who, payload("note"))
    incidents.add_action(state.id, None, who, payload("action"), owner=payload("owner"))
    state = incidents.get(state.id)
    incidents.assign_role(state.id, state.version, payload("commander"), "tech_lead", payload("lead"))
    state = incidents.get(state.id)
    incidents.set_severity(state.id, state.version, payload("commander"), "SEV2", reason=payload("reason"))
    state = incidents.get(state.id)
    incidents.correct(state.id, state.version, payload("commander"), payload("correction"),
                      summary=payload("corrected-summary"))
    PostmortemEdits(data.incidents_db).save(state.id, "summary", payload("edit"), payload("editor"), 0)
    proc, url = start_app(root)
    yield url, state.id
    proc.terminate()
    proc.wait(timeout=10)


def pages(incident: str) -> list[tuple[str, str]]:
    echo = quote(f"[Your session expired - log in again](http://{EVIL}/login)")
    return [("summary", f"summary?incident={incident}"), ("war-room", f"war-room?incident={incident}"),
            ("war-room-timeline", f"war-room?incident={incident}&room_tab=Timeline"),
            ("explorer", "explorer?range=Last+6+h&tab=Releases"),
            ("explorer-cohorts", "explorer?range=Last+6+h&tab=Cohorts+by+version"),
            ("root-cause", "root-cause?range=Last+6+h"), ("postmortem", f"postmortem?incident={incident}"),
            ("slos", "slos"), ("postmortem-echo", f"postmortem?incident={echo}"),
            ("war-room-new-echo", f"war-room?new=1&start={echo}&signal={echo}&f_region={echo}"),
            ("explorer-echo", f"explorer?range={echo}&signal={echo}&f_region={echo}")]


def test_every_page_with_payloads_in_every_field_fetches_nothing_outside_and_renders_no_payload_markup(
        hostile, browser):
    url, incident = hostile
    app_host = urlparse(url).netloc
    context = browser.new_context(viewport={"width": 1440, "height": 1400})
    outside: list[str] = []
    current = [""]

    def guard(route):
        host = urlparse(route.request.url).netloc
        if host != app_host:
            if host != STREAMLIT_ICONS:  # the app's own page icon, which Streamlit fetches from its icon font CDN
                outside.append(f"{current[0]}: {route.request.url}")
            route.abort()
        else:
            route.continue_()

    os.makedirs(SHOTS, exist_ok=True)
    context.route("**/*", guard)
    page = context.new_page()
    made: dict[str, list] = {}
    for name, path in pages(incident):
        current[0] = name
        page.goto(f"{url}/{path}")
        wait_for_app(page)
        page.wait_for_timeout(1500)  # charts and fragments draw
        page.screenshot(path=f"{SHOTS}/{name}.png", timeout=120_000)
        made[name] = page.evaluate(f"""() => [
            ...[...document.querySelectorAll(
                    'a[href*="{EVIL}"], img[src*="{EVIL}"], [src*="{EVIL}"], [href*="{EVIL}"]')]
                .map(e => e.outerHTML.slice(0, 160)),
            ...[...document.querySelectorAll('b, strong, span, tspan, text')]
                .filter(e => /^(BOLD|RED)/.test(e.textContent.trim()) && e.children.length === 0)
                .map(e => e.outerHTML.slice(0, 160))]""")
        assert "Traceback" not in page.inner_text("body"), name
    context.close()
    assert outside == [], outside
    assert {name: found for name, found in made.items() if found} == {}
