"""The postmortem page on the demo week: the generated timeline, edits with conflict detection, action items."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from dashboard.core.incident.service import Incidents
from dashboard.core.reporting.postmortem.service import save_section, section_history
from tests.fixtures import REPO_ROOT

APP = REPO_ROOT / "dashboard" / "app.py"


def postmortem_page(data, monkeypatch, incident: str = "INC-5") -> AppTest:
    monkeypatch.setenv("WARROOM_DATA", str(data.root))
    at = AppTest.from_file(str(APP), default_timeout=240)
    at.query_params["incident"] = incident
    at.run()
    at.switch_page("views/postmortem.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def rows(table) -> list[str]:
    return [" | ".join(str(v) for v in row) for row in table.value.itertuples(index=False)]


def timeline(at: AppTest) -> list[str]:
    return next(rows(t) for t in at.table if list(t.value.columns) == ["time", "source", "event"])


def test_demo_postmortem_tells_the_two_artifact_story(demo_data_copy, monkeypatch):
    at = postmortem_page(demo_data_copy, monkeypatch)
    assert at.title[0].value.startswith("Postmortem INC-5")
    lines = timeline(at)

    def line(time: str, *words: str) -> str:
        found = [ln for ln in lines if ln.startswith(f"02-18 {time}") and all(w in ln for w in words)]
        assert found, f"no timeline line at {time} with {words}: {lines}"
        return found[0]

    line("13:30", "releases", "prompt-v7 deployed")
    line("13:40", "releases", "kb-2025-02-15 deployed")
    line("14:10", "telemetry", "Alert")
    prompt_rollback = next(ln for ln in lines if "rolled back prompt-v7 → prompt-v6" in ln)
    index_rollback = next(ln for ln in lines if "rolled back kb-2025-02-15 → kb-2025-02-01" in ln)
    assert "partial recovery" in prompt_rollback and "full recovery" in index_rollback
    # refusal / deflection after each rollback: about 8% / 36%, then 5% / 41%
    phases = next(t.value for t in at.table if "phase" in t.value.columns)
    after_prompt = phases[phases["phase"].str.contains("prompt rolled back")].iloc[0]
    after_index = phases[phases["phase"].str.contains("index rolled back")].iloc[0]
    assert round(float(after_prompt["Refusal rate"].rstrip("%"))) == 8
    assert round(float(after_prompt["Task success (deflection)"].rstrip("%"))) == 36
    assert round(float(after_index["Refusal rate"].rstrip("%"))) == 5
    assert round(float(after_index["Task success (deflection)"].rstrip("%"))) in (41, 42)
    assert after_prompt["Refusal rate"] in prompt_rollback and after_index["Refusal rate"] in index_rollback
    assert any("Verification soak started" in ln for ln in lines)
    assert any("soaking" in ln for ln in lines)
    # root cause and contributing artifact, and the detection gap in figures
    assert any("Root cause: prompt prompt-v7" in m.value and "Contributing: index kb-2025-02-15" in m.value
               for m in at.markdown)
    shown = {m.label: m.value for m in at.metric}
    assert shown["Time to detect"] == "40 min" and shown["Alert to incident open"] == "4 min"
    assert [d.label for d in at.get("download_button")] == ["Download Markdown", "Download HTML (for printing)"]


def test_edit_is_saved_with_its_author_and_a_stale_save_keeps_the_draft(demo_data_copy, monkeypatch):
    at = postmortem_page(demo_data_copy, monkeypatch)
    at.text_input(key="who_name").set_value("Dana Ivers").run()
    at.button(key="screen-only-edit-INC-5-lessons").click().run()
    at.text_area(key="pm_INC-5_lessons_draft").set_value("Canary every artifact, not only code.").run()
    at.button(key="screen-only-save-INC-5-lessons").click().run()
    assert not at.exception
    history = section_history(demo_data_copy, "INC-5", "lessons")
    assert [(e.seq, e.text, e.author) for e in history] == [(1, "Canary every artifact, not only code.", "Dana Ivers")]
    assert any("Canary every artifact, not only code." in m.value for m in at.markdown)
    assert any(c.value.startswith("Edited by Dana Ivers") for c in at.caption)

    # Dana starts editing again; meanwhile Sam saves the same section
    at.button(key="screen-only-edit-INC-5-lessons").click().run()
    at.text_area(key="pm_INC-5_lessons_draft").set_value("Dana's second thoughts.").run()
    save_section(demo_data_copy, "INC-5", "lessons", "Sam's version.", "Sam Ortiz", expected_seq=1)
    at.button(key="screen-only-save-INC-5-lessons").click().run()
    errors = [e.value for e in at.error]
    assert any("Not saved" in e and "Sam Ortiz" in e for e in errors), errors
    assert at.text_area(key="pm_INC-5_lessons_draft").value == "Dana's second thoughts."  # nothing lost
    assert [e.author for e in section_history(demo_data_copy, "INC-5", "lessons")] == ["Dana Ivers", "Sam Ortiz"]
    # after merging, Dana saves over Sam's version knowingly
    at.button(key="screen-only-rebase-INC-5-lessons").click().run()
    at.text_area(key="pm_INC-5_lessons_draft").set_value("Dana's merge of Sam's version.").run()
    at.button(key="screen-only-save-INC-5-lessons").click().run()
    latest = section_history(demo_data_copy, "INC-5", "lessons")[-1]
    assert (latest.seq, latest.text, latest.author) == (3, "Dana's merge of Sam's version.", "Dana Ivers")


def test_action_items_are_completed_and_added_as_incident_events(demo_data_copy, monkeypatch):
    at = postmortem_page(demo_data_copy, monkeypatch)
    # nobody named: nothing is written
    at.button(key="screen-only-action-INC-5-A1").click().run()
    assert any("Set your name" in e.value for e in at.error)
    assert Incidents.for_data_dir(demo_data_copy).get("INC-5").actions[0].done_at is None

    at.text_input(key="who_name").set_value("Dana Ivers").run()
    at.button(key="screen-only-action-INC-5-A1").click().run()
    state = Incidents.for_data_dir(demo_data_copy).get("INC-5")
    done = next(a for a in state.actions if a.action_id == "A1")
    assert done.done_by == "Dana Ivers" and done.done_at is not None
    assert any(e.kind == "action_done" and e.actor == "Dana Ivers"
               for e in Incidents.for_data_dir(demo_data_copy).events("INC-5"))
    assert "screen-only-action-INC-5-A1" not in [b.key for b in at.button]  # done: no button any more

    at.text_input(key="pm_new_title").set_value("Alert on refusal rate per language within 10 min")
    at.selectbox(key="pm_new_term").set_value("medium")
    at.text_input(key="pm_new_owner").set_value("Marcus Lee").run()
    at.button(key="screen-only-add-action").click().run()
    state = Incidents.for_data_dir(demo_data_copy).get("INC-5")
    added = state.actions[-1]
    assert (added.title, added.term, added.owner, added.added_by) == (
        "Alert on refusal rate per language within 10 min", "medium", "Marcus Lee", "Dana Ivers")
    assert added.due is not None
    assert any("Alert on refusal rate per language within 10 min" in m.value for m in at.markdown)
