"""The impact summary (landing page) on the demo week: what executives read matches the core's figures."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl

from streamlit.testing.v1 import AppTest

from dashboard.core.incident.service import Incidents
from dashboard.core.reporting.incident_metrics import STAGES, format_duration, summarize_history
from dashboard.core.reporting.slo_store import evaluate_slos, load_slos
from dashboard.core.reporting.summary import open_incident_cards
from dashboard.core.telemetry.query import TelemetryStore
from tests.fixtures import REPO_ROOT, as_read

APP = REPO_ROOT / "dashboard" / "app.py"


def summary_page(data, monkeypatch, **params) -> AppTest:
    monkeypatch.setenv("WARROOM_DATA", str(data.root))
    at = AppTest.from_file(str(APP), default_timeout=180)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()  # the summary is the default page: no switch needed
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in at.metric:
        out.setdefault(m.label, []).append(m.value)
    return out


def test_landing_page_is_the_summary_with_the_open_incident_measured(demo_data_copy, monkeypatch):
    at = summary_page(demo_data_copy, monkeypatch)
    assert at.title[0].value == "Impact summary"
    card = open_incident_cards(demo_data_copy)[0]
    shown = metrics(at)
    assert card.state.id == "INC-5"
    # every headline figure the core measured is on screen with the same value
    assert card.figures, "the demo incident has measured impact"
    for figure in card.figures:
        assert figure.value in shown.get(figure.label, []), (figure.label, figure.value, shown.get(figure.label))
    # the demo's story in big numbers: refusals up from ~4% to ~19%, deflection down from ~42% to ~25%
    refusal = card.impact.delta("refusal_rate")
    deflection = card.impact.delta("task_success_rate")
    assert round(refusal.baseline * 100) == 4 and 18 <= refusal.worst * 100 <= 21
    assert round(deflection.baseline * 100) == 42 and 23 <= deflection.worst * 100 <= 26
    # and what that means in tickets
    assert shown["Tickets not deflected"] == [f"{deflection.excess_events:,.0f}"]
    assert shown["Extra refusals"] == [f"{refusal.excess_events:,.0f}"]
    # state first: commander, next update, what users are seeing from the latest update
    assert shown["Next update due"] == [f"{card.clock.due_at:%H:%M} UTC"]
    assert any("Priya Raman" in m.value for m in at.markdown)
    assert any(m.value.startswith("**What users are seeing:**") and card.users_see in as_read(m.value)
               for m in at.markdown)
    downloads = at.get("download_button")
    assert [d.label for d in downloads] == ["Download executive update (Markdown)"]


def test_overdue_update_is_flagged_and_most_severe_incident_comes_first(demo_data_copy, monkeypatch):
    store = TelemetryStore(demo_data_copy)
    now = store.now()
    # a SEV1 opened two hours before the data's clock with no update since: 30-minute cadence, 90 min overdue
    Incidents.for_data_dir(demo_data_copy).open(
        "Dana Ivers", "Latency up for free users", at=now - timedelta(hours=2), severity="SEV1",
        window_start=now - timedelta(hours=2, minutes=10), signals=["latency_p95_ms"], segments={"tier": "free"},
        service="support-bot")
    at = summary_page(demo_data_copy, monkeypatch)
    headings = [m.value for m in at.markdown if m.value.startswith("### ")]
    assert headings[0].startswith("### INC-6") and headings[1].startswith("### INC-5")
    due = [m for m in at.metric if m.label == "Next update due"]
    assert due[0].value == f"{now - timedelta(hours=2) + timedelta(minutes=30):%H:%M} UTC"
    assert due[0].proto.delta.startswith("OVERDUE by 1 h 30 min")
    assert not due[1].proto.delta.startswith("OVERDUE")


def test_incident_link_shows_only_that_incident(demo_data_copy, monkeypatch):
    store = TelemetryStore(demo_data_copy)
    Incidents.for_data_dir(demo_data_copy).open("Dana Ivers", "Second open incident", at=store.now(),
                                                 severity="SEV3", segments={"tier": "free"})
    everything = summary_page(demo_data_copy, monkeypatch)
    assert len([m for m in everything.markdown if m.value.startswith("### INC-")]) == 2
    one = summary_page(demo_data_copy, monkeypatch, incident="INC-5")
    assert one.selectbox(key="incident").value == "INC-5"
    assert [m.value for m in one.markdown if m.value.startswith("### INC-")] == [
        "### INC-5 · Support bot refusing answerable questions; deflection down"]


def test_slo_status_and_history_match_the_core(demo_data_copy, monkeypatch):
    at = summary_page(demo_data_copy, monkeypatch)
    shown = metrics(at)
    store = TelemetryStore(demo_data_copy)
    for status in evaluate_slos(store, load_slos(demo_data_copy)):
        assert shown[status.slo.title] == [f"{status.attainment:.2%}"]
    history = summarize_history(Incidents.for_data_dir(demo_data_copy).list())
    for stage in STAGES:
        label = next(k for k in shown if k == f"Median time to {stage}")
        assert shown[label] == [format_duration(history.medians[stage])]
    table = at.dataframe[0].value
    assert list(table["incident"]) == [t.incident_id for t in history.incidents]
    assert list(table["to detect"]) == [format_duration(t.duration("detect")) for t in history.incidents]


BURNING_SLOS = """
[[slo]]
name = "latency-tight"
title = "p95 latency at most 1 s"
signal = "latency_p95_ms"
op = "<="
threshold = 1000
method = "windows"
objective = 0.99
window = "5m"
segment = { tier = "free" }

[[slo]]
name = "refusals-tight"
title = "Refusal rate at most 1%"
signal = "refusal_rate"
op = "<="
threshold = 0.01
method = "windows"
objective = 0.99
window = "5m"
"""


def test_burning_slo_without_an_incident_offers_to_open_one(demo_data_copy, monkeypatch):
    (demo_data_copy.root / "slos.toml").write_text(BURNING_SLOS)
    at = summary_page(demo_data_copy, monkeypatch)
    fires = [e.value for e in at.error]
    assert any("p95 latency at most 1 s: fast burn" in e for e in fires)
    assert any("Refusal rate at most 1%: fast burn" in e for e in fires)
    offers = [w.value for w in at.warning]
    # refusals are covered by the open demo incident; latency is not
    assert len(offers) == 1 and "p95 latency at most 1 s" in offers[0]
    link = next(el for el in at.get("page_link") if el.proto.label == "Open an incident for it")
    assert link.proto.page == "war-room"
    assert dict(parse_qsl(link.proto.query_string)) == {"new": "1", "signal": "latency_p95_ms", "f_tier": "free"}


def test_broken_slo_file_is_named_not_a_crash(demo_data_copy, monkeypatch):
    (demo_data_copy.root / "slos.toml").write_text("[[slo]]\nname = 'x'\nsignal = 'no_such_signal'\n")
    at = summary_page(demo_data_copy, monkeypatch)
    assert any("The SLO file cannot be used" in e.value and "slos.toml" in e.value for e in at.error)
    assert any(m.label == "Requests affected" for m in at.metric)  # the rest of the page still renders


def test_slo_page_lists_every_slo_with_its_burn_chart(demo_data_copy, monkeypatch):
    monkeypatch.setenv("WARROOM_DATA", str(demo_data_copy.root))
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    at.switch_page("views/slos.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    statuses = evaluate_slos(TelemetryStore(demo_data_copy), load_slos(demo_data_copy))
    table = at.dataframe[0].value
    assert list(table["SLO"]) == [s.slo.title for s in statuses]
    assert list(table["attained"]) == [f"{s.attainment:.2%}" for s in statuses]
    assert list(table["state"]) == [s.state for s in statuses]
    # the demo's refusal SLO spent its budget during the incident
    refusals = next(s for s in statuses if s.slo.signal == "refusal_rate")
    assert refusals.budget_remaining < 0 and refusals.state == "exhausted"
    assert len(at.get("plotly_chart")) == len(statuses)
