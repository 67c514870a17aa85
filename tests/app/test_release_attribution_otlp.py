"""Done-when of the telemetry-formats issue: a model release recorded from CI is blamed for the
output-token jump in OTLP data, by the investigation and on the Root cause page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.cli import main as cli_main
from dashboard.core.datadir import DataDir
from dashboard.core.diagnosis.investigate import investigate
from dashboard.core.telemetry.query import TelemetryStore
from tests.fixtures import REPO_ROOT, otlp_model_change_jsonl

APP = REPO_ROOT / "dashboard" / "app.py"
SWITCH = datetime(2025, 3, 4, 12, 30, tzinfo=UTC)
OLD, NEW = "gpt-4o-2024-05-13", "gpt-4o-2024-08-06"


@pytest.fixture(scope="module")
def otlp_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("otlp-release")
    traces = otlp_model_change_jsonl(root / "traces.jsonl", SWITCH)
    data = root / "data"
    assert cli_main(["ingest", "requests", str(traces), "--format", "otlp", "--data", str(data)]) == 0
    # the deploy job logs the release a few minutes after the new model started serving
    assert cli_main(["release", "record", "--data", str(data), "--service", "support-bot", "--artifact", "model",
                     "--version", NEW, "--previous", OLD, "--commit", "4be1d09", "--author", "ci",
                     "--url", "https://ci.example.com/runs/52",
                     "--at", (SWITCH + timedelta(minutes=6)).isoformat()]) == 0
    return DataDir(data)


def test_the_investigation_blames_the_recorded_model_release(otlp_store):
    store = TelemetryStore(otlp_store)
    inv = investigate(store, "output_tokens_per_request", SWITCH - timedelta(hours=1), SWITCH + timedelta(hours=1))
    assert inv.suspects, inv.verdict
    top = inv.suspects[0]
    assert (top.artifact, top.version, top.previous_version) == ("model", NEW, OLD)
    # the step is placed where the traffic changed, not at the (late) logged time
    assert abs(top.released_at - SWITCH) < timedelta(seconds=30)
    assert any(p.regression and abs(p.ts - SWITCH) <= timedelta(minutes=2) for p in inv.change_points)
    assert any(e.kind == "release log" and "logged 12:36" in e.text for e in top.evidence)


def test_the_root_cause_page_shows_the_model_release_as_the_cause(otlp_store, monkeypatch):
    monkeypatch.setenv("WARROOM_DATA", str(otlp_store.root))
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    at.switch_page("views/root_cause.py")
    at.run()
    at.selectbox(key="signal_pick").set_value("output_tokens_per_request").run()
    assert not at.exception, [e.value for e in at.exception]
    # text from telemetry reaches the page escaped for Markdown: read it as the reader does
    shown = "\n".join([m.value for m in at.markdown] + [e.value for e in at.error]).replace("\\", "")
    assert f"model {NEW} is the most likely cause" in shown
    assert f"1. model {OLD} → {NEW}" in shown.replace("`", "")
    assert "served since 12:30, logged 12:36" in shown
