"""The root-cause page and the explorer's panel on the demo week: the finder's answer reaches the screen."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.fixtures import REPO_ROOT, as_read

APP = REPO_ROOT / "dashboard" / "app.py"


def open_page(data, monkeypatch, page: str) -> AppTest:
    monkeypatch.setenv("WARROOM_DATA", str(data.root))
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    return as_read("\n".join([m.value for m in at.markdown] + [e.value for e in at.error] + [i.value for i in at.info]))


def test_support_bot_regression_ranks_the_prompt_then_the_index(demo_data, monkeypatch):
    at = open_page(demo_data, monkeypatch, "views/root_cause.py")
    at.multiselect(key="f_tier").set_value(["paid"])
    at.multiselect(key="f_language").set_value(["en"]).run()
    assert not at.exception
    shown = texts(at)
    assert "prompt prompt-v7 is the most likely cause" in shown
    first = shown.index("1. prompt prompt-v6 → prompt-v7")
    second = shown.index("2. index kb-2025-02-01 → kb-2025-02-15")
    assert first < second
    assert "rollback: signal recovered on rollback" in shown
    headers = [h.value for h in at.subheader]
    assert headers == ["Suspects", "Rollback plan", "Where it happened"]
    # change points, rollback plan (both steps done) and the localized segments are tables
    points = at.dataframe[0].value
    assert points["at (UTC)"].tolist()[:2] == ["02-18 13:30", "02-18 13:40"]
    plan = at.dataframe[1].value
    assert plan["status"].tolist() == ["done at 14:50", "done at 15:35"]
    segments = at.dataframe[2].value
    assert segments["segment"].tolist()[0] == "(all)"  # on paid English, all of it moved together
    assert len(at.dataframe) == 3


def test_tool_degradation_blames_no_release(demo_data, monkeypatch):
    at = open_page(demo_data, monkeypatch, "views/root_cause.py")
    at.selectbox(key="signal_pick").set_value("tool_error_rate")
    at.segmented_control(key="range").set_value("Whole store").run()
    assert not at.exception
    assert any("No release explains this" in e.value for e in at.error)
    assert any("No release explains this change" in i.value for i in at.info)
    assert not [m.value for m in at.markdown if m.value.startswith("**1. ")]


def test_a_signal_that_did_not_change_is_not_said_to_have_an_unexplained_change(demo_data, monkeypatch):
    # the demo's refusal jump shortens answers: output tokens' tail does not grow, so nothing is a suspect
    at = open_page(demo_data, monkeypatch, "views/root_cause.py")
    at.selectbox(key="signal_pick").set_value("output_tokens_p95").run()
    assert not at.exception
    assert any(s.value == "no regression of output tokens p95 in this window" for s in at.success)
    assert not [i.value for i in at.info if "No release explains" in i.value]
    assert any(c.value.startswith("No change to explain") and "the share of requests above" in c.value
               for c in at.caption)


def test_explorer_panel_names_the_suspects_and_links_onward(demo_data, monkeypatch):
    at = open_page(demo_data, monkeypatch, "views/explorer.py")
    shown = texts(at)
    assert "1. **prompt prompt-v7**" in shown and "2. **index kb-2025-02-15**" in shown
    assert "**regression** at **13:30**" in shown
    labels = [link.proto.label for link in at.get("page_link")]
    assert "Full root-cause analysis" in labels and "Open an incident from this" in labels
    # SLO state is on the explorer too: the demo's week spent several budgets (refusals, deflection, ...)
    slo_line = next(m.value for m in at.markdown if m.value.startswith("**SLOs** · "))
    assert "budget spent" in slo_line and "Burn rates" in labels
