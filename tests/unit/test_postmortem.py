"""Postmortem generation on a hand-made record, releases and measured phases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from dashboard.core.incident.events import NewEvent
from dashboard.core.incident.state import fold
from dashboard.core.incident.store import IncidentStore
from dashboard.core.reporting.postmortem import (
    build_postmortem,
    find_causes,
    mark_rollbacks,
    phase_windows,
)
from dashboard.core.reporting.postmortem.model import Phase
from dashboard.core.reporting.postmortem.render import to_html, to_markdown

DAY = datetime(2025, 2, 18, tzinfo=UTC)


def at(hhmm: str) -> datetime:
    h, m = hhmm.split(":")
    return DAY + timedelta(hours=int(h), minutes=int(m))


RELEASES = pl.DataFrame([
    {"ts": at("09:00"), "service": "bot", "artifact": "app", "version": "a2", "previous_version": "a1",
     "author": "be", "note": "long before"},
    {"ts": at("13:30"), "service": "bot", "artifact": "prompt", "version": "p7", "previous_version": "p6",
     "author": "cd", "note": "wording"},
    {"ts": at("13:40"), "service": "bot", "artifact": "index", "version": "kb2", "previous_version": "kb1",
     "author": "si", "note": "refresh"},
    {"ts": at("14:50"), "service": "bot", "artifact": "prompt", "version": "p6", "previous_version": "p7",
     "author": "oncall", "note": "revert"},
    {"ts": at("15:35"), "service": "bot", "artifact": "index", "version": "kb1", "previous_version": "kb2",
     "author": "oncall", "note": "rollback: still high"},
    {"ts": at("15:00"), "service": "other", "artifact": "model", "version": "m9", "previous_version": "m8",
     "author": "x", "note": "another service"},
])
KEYS = ["refusal_rate", "task_success_rate"]


@pytest.fixture()
def state(tmp_path):
    store = IncidentStore(tmp_path / "incidents.sqlite")
    events = [
        NewEvent.make("opened", {"title": "Bot refuses <answerable> | questions", "type": "quality_regression",
                                 "service": "bot", "severity": "SEV2", "detected_at": at("14:10"),
                                 "window_start": at("13:30"), "signals": ["refusal_rate"],
                                 "segments": {"tier": "paid", "language": "en"},
                                 "suspects": ["prompt:p7", "index:kb2"]}, "ana", at("14:14")),
        NewEvent.make("update_posted", {"audience": "executives", "message": "refusals up"}, "lena", at("14:20")),
        NewEvent.make("status_changed", {"to": "mitigating"}, "ana", at("14:38")),
        NewEvent.make("action_added", {"action_id": "a1", "title": "Gate prompt releases", "owner": "marcus",
                                       "due": "2025-02-25", "term": "short"}, "ana", at("14:44")),
        NewEvent.make("status_changed", {"to": "monitoring"}, "ana", at("15:35")),
        NewEvent.make("verification_defined", {"metrics": [
            {"signal": "refusal_rate", "comparator": "<=", "threshold": 0.06,
             "segment": {"tier": "paid", "language": "en"}}]}, "ana", at("15:35")),
        NewEvent.make("soak_started", {}, "ana", at("15:36")),
    ]
    incident_id = store.create(events)
    return fold(store.events(incident_id))


def phases_for(rows: list[dict]) -> list[Phase]:
    """Phases as measure_phases would build them, with hand-set values."""
    levels = {"before": (0.04, 0.42), "prompt": (0.15, 0.30), "index": (0.19, 0.25)}
    out = []
    for label, a, b, rel in phase_windows(rows, at("13:30"), at("16:15")):
        if rel is None:
            vals = levels["before"]
        elif rel["rollback"]:
            vals = (0.08, 0.36) if rel["artifact"] == "prompt" else (0.05, 0.41)
        else:
            vals = levels[rel["artifact"]]
        out.append(Phase(label, a, b, 1000, dict(zip(KEYS, vals, strict=True)), rel))
    return out


def rows_of(state):
    from dashboard.core.reporting.postmortem import incident_releases

    return mark_rollbacks(incident_releases(RELEASES, state, at("16:15")))


def test_rollbacks_are_recognised_by_restored_version(state):
    rows = rows_of(state)
    assert [(r["artifact"], r["version"], r["rollback"]) for r in rows] == [
        ("prompt", "p7", False), ("index", "kb2", False), ("prompt", "p6", True), ("index", "kb1", True)]


def test_phase_windows_start_after_settling(state):
    spans = phase_windows(rows_of(state), at("13:30"), at("16:15"))
    assert [(s[1], s[2]) for s in spans] == [
        (at("12:30"), at("13:30")), (at("13:35"), at("13:40")), (at("13:45"), at("14:50")),
        (at("14:55"), at("15:35")), (at("15:40"), at("16:15"))]


def test_causes_ranked_by_recovered_share(state):
    rows = rows_of(state)
    causes = find_causes(state, rows, phases_for(rows), "refusal_rate")
    assert [(c.artifact, c.version, c.role) for c in causes] == [
        ("prompt", "p7", "root cause"), ("index", "kb2", "contributing")]
    assert causes[0].recovered_share == pytest.approx((0.19 - 0.08) / (0.19 - 0.04))
    assert causes[1].recovered_share == pytest.approx((0.08 - 0.05) / (0.19 - 0.04))


@pytest.fixture()
def pm(state):
    rows = rows_of(state)
    return build_postmortem(state, releases=RELEASES, phases=phases_for(rows), key_signals=KEYS,
                            as_of=at("16:15"), detection_values={"refusal_rate": 0.188},
                            soak_line="soaking: 40 of 60 min")


def test_timeline_orders_releases_telemetry_and_record(pm):
    texts = [(i.at.strftime("%H:%M"), i.kind) for i in pm.timeline]
    assert texts[:4] == [("13:30", "release"), ("13:30", "regression"), ("13:40", "release"),
                         ("14:10", "detection")]
    assert ("09:00", "release") not in texts  # long before the regression
    assert not any("m9" in i.text for i in pm.timeline)  # another service
    assert not any(i.kind == "action_added" for i in pm.timeline)
    assert pm.timeline[-1].kind == "now" and pm.timeline[-1].text == "soaking: 40 of 60 min"
    detection = next(i for i in pm.timeline if i.kind == "detection")
    assert "18.8%" in detection.text


def test_rollback_entries_carry_measured_recovery(pm):
    prompt_rb, index_rb = [i.text for i in pm.timeline if i.kind == "rollback"]
    assert "partial recovery" in prompt_rb and "8.0% / 36.0%" in prompt_rb
    assert "full recovery" in index_rb and "5.0% / 41.0%" in index_rb


def test_generated_sections_use_the_record(pm):
    assert "no code or model deploy" in pm.section("summary").text
    assert "Root cause: prompt p7" in pm.section("root_cause").text
    assert "Detection took 40 min" in pm.section("went_badly").text
    assert pm.times.duration("mitigate") == timedelta(minutes=125)  # 13:30 -> monitoring at 15:35


def test_actions_keep_recorded_and_suggest_missing_terms(pm):
    recorded = [a for a in pm.actions if not a.suggested]
    assert [(a.title, a.owner, str(a.due), a.term) for a in recorded] == [
        ("Gate prompt releases", "marcus", "2025-02-25", "short")]
    assert {a.term for a in pm.actions if a.suggested} == {"medium", "long"}


def test_edits_replace_generated_text_but_keep_it(state):
    rows = rows_of(state)
    when = at("17:00")
    pm = build_postmortem(state, releases=RELEASES, phases=phases_for(rows), key_signals=KEYS, as_of=at("16:15"),
                          edits={"summary": ("Our words.", "tom", when)})
    assert pm.section("summary").text == "Our words."
    assert "no code or model deploy" in pm.section("summary").generated
    assert "Edited by tom" in to_markdown(pm)


def test_markdown_escapes_table_pipes_and_html_escapes_markup(pm):
    md = to_markdown(pm)
    # escaped for Markdown: a renderer shows the title as typed, no tag, no table cell break
    assert "# Postmortem INC-1: Bot refuses \\<answerable\\> \\| questions" in md
    assert "| Time | Source | Event |" in md
    html = to_html(pm)
    assert "&lt;answerable&gt;" in html and "<answerable>" not in html
    assert html.startswith("<!DOCTYPE html>") and "@media print" in html
    assert "<link" not in html and "<script" not in html  # self-contained, prints as is


def test_finder_evidence_joins_recorded_suspects_and_adds_new_ones(state):
    from dashboard.core.reporting.postmortem.model import FinderResult, FinderSuspect

    rows = rows_of(state)
    finder = FinderResult("refusal_rate", at("10:30"), at("14:50"), "prompt p7 is the most likely cause",
                          (FinderSuspect("prompt", "p7", 0.67, 0.92, ("changed at 13:30",)),
                           FinderSuspect("router", "r9", 0.1, 0.05, ())))
    pm = build_postmortem(state, releases=RELEASES, phases=phases_for(rows), key_signals=KEYS,
                          as_of=at("16:15"), finder=finder)
    by = {(c.artifact, c.version): c for c in pm.causes}
    assert "regression finder: score 0.67, explains 92% (changed at 13:30)" in by[("prompt", "p7")].evidence
    assert by[("router", "r9")].role == "suspect"
    assert "prompt p7 is the most likely cause" in pm.section("root_cause").text
    failed = FinderResult("refusal_rate", at("10:30"), at("14:50"), "", error="the window is empty")
    pm = build_postmortem(state, releases=RELEASES, phases=phases_for(rows), key_signals=KEYS,
                          as_of=at("16:15"), finder=failed)
    assert "could not run on refusal_rate: the window is empty" in pm.section("root_cause").text
