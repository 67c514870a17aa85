"""Acceptance on the demo week: every injected incident found at its time and pinned on its cause."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from dashboard.core.diagnosis.investigate import investigate
from dashboard.core.telemetry import signals as sig
from dashboard.core.telemetry.query import TelemetryStore
from tests.fixtures import run_cli, truth


@pytest.fixture(scope="module")
def store(demo_data):
    return TelemetryStore(demo_data)


def _window(store, incident):
    start = datetime.fromisoformat(incident["start"])
    data_end = store.now() + timedelta(microseconds=1)
    end = datetime.fromisoformat(incident["end"]) + timedelta(hours=1) if incident["end"] else data_end
    return start - timedelta(hours=3), min(end, data_end)


def _incidents(demo_data):
    return truth(demo_data)["incidents"]


def test_every_demo_incident_is_found_and_attributed(store, demo_data):
    incidents = _incidents(demo_data)
    assert len(incidents) == 5
    for incident in incidents:
        a, b = _window(store, incident)
        inv = investigate(store, incident["metric"], a, b)
        regressions = [cp for cp in inv.change_points if cp.regression]
        assert regressions, incident["id"]
        true_start = datetime.fromisoformat(incident["start"])
        assert abs((regressions[0].ts - true_start).total_seconds()) <= 600, (incident["id"], regressions[0].ts)
        cause = incident["cause"]
        if cause["kind"] == "external":
            assert inv.suspects == [], (incident["id"], [(s.artifact, s.version) for s in inv.suspects])
            assert inv.verdict.startswith("No release explains this")
        else:
            top = inv.suspects[0]
            assert (top.artifact, top.version, top.previous_version) == \
                (cause["artifact"], cause["version"], cause["previous_version"]), incident["id"]
            assert {e.kind for e in top.evidence} == {"timing", "cohort", "exposure", "rollback"}
        for contributing in incident.get("contributing", []):
            ranked = [(s.artifact, s.version) for s in inv.suspects]
            assert ranked[1] == (contributing["artifact"], contributing["version"])
        if incident["segments"] and sig.get(incident["metric"]).localize is not None:
            top3 = [seg["combination"] for seg in inv.segments[:3]]
            for seg in incident["segments"]:
                assert seg in top3, (incident["id"], top3)


def test_support_bot_rollback_plan_is_prompt_then_index(store, demo_data):
    incident = next(i for i in _incidents(demo_data) if i["id"] == "support-bot-refusals")
    inv = investigate(store, "refusal_rate", *_window(store, incident))
    plan = [(s.artifact, s.from_version, s.to_version) for s in inv.rollback_plan]
    assert plan == [("prompt", "prompt-v7", "prompt-v6"), ("index", "kb-2025-02-15", "kb-2025-02-01")]
    # each step lowers the expected refusal rate, ending near the pre-incident level
    first, second = inv.rollback_plan
    peak = max(cp.after for cp in inv.change_points if cp.regression)
    baseline = inv.change_points[0].before
    assert peak > first.expected_level > second.expected_level
    assert abs(second.expected_level - baseline) < 0.015
    assert first.status.startswith("done at 14:5") and second.status.startswith("done at 15:3")


def test_a_release_whose_change_was_already_there_is_not_blamed(store, demo_data):
    # from 13:35 on the prompt's regression is already in place; the index release at
    # 13:40 adds its own, so it stays a suspect, but the prompt rollback at 14:50
    # (a release after the regression began) must not be blamed for it
    incident = next(i for i in _incidents(demo_data) if i["id"] == "support-bot-refusals")
    inv = investigate(store, "refusal_rate", *_window(store, incident))
    blamed = {(s.artifact, s.version) for s in inv.suspects}
    assert ("prompt", "prompt-v6") not in blamed and ("index", "kb-2025-02-01") not in blamed


def test_no_regression_means_no_suspect(store):
    # the quiet morning of the incident day: nothing moved
    inv = investigate(store, "refusal_rate", store.now() - timedelta(hours=10), store.now() - timedelta(hours=5))
    assert [cp for cp in inv.change_points if cp.regression] == []
    assert inv.suspects == [] and inv.rollback_plan == []


def test_cli_json_shape(demo_data):
    out = run_cli("investigate", "--data", str(demo_data.root), "--signal", "refusal_rate",
                  "--filter", "language=en", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert {"change_points", "suspects", "rollback_plan", "segments"} <= set(doc)
    first = doc["suspects"][0]
    assert {"artifact", "version", "previous_version", "score", "evidence"} <= set(first)
    assert (first["artifact"], first["version"]) == ("prompt", "prompt-v7")
    assert all(isinstance(e["text"], str) and e["text"] for e in first["evidence"])


def test_cli_rejects_bad_input(demo_data):
    bad = run_cli("investigate", "--data", str(demo_data.root), "--signal", "refusal_rate", "--start", "yesterday")
    assert bad.returncode == 2 and "--start" in bad.stderr
