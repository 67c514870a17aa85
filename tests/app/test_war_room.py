"""The war room page through Streamlit's AppTest, on a private copy of the demo week.

AppTest cannot fire `run_every`; the refresh itself is covered by the browser
test, and what the live part computes (soak, comms clock) by core's unit tests.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.core.incident.service import Incidents
from tests.fixtures import REPO_ROOT

APP = REPO_ROOT / "dashboard" / "app.py"
NAME = "Ana Example"


@pytest.fixture
def data(demo_data_copy, monkeypatch):
    monkeypatch.setenv("WARROOM_DATA", str(demo_data_copy.root))
    return demo_data_copy


def open_room(query: dict | None = None, name: str | None = None, pick: str | None = "INC-5") -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.switch_page("views/war_room.py")
    if pick:
        # AppTest carries the landing page's "incident" picker value ("All open incidents") into this
        # page's picker of the same URL parameter; a browser does not. Start from a valid choice.
        at.session_state["incident"] = (query or {}).get("incident", pick)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    if name:
        at.session_state["who_name"] = name
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_opens_the_demo_incident_in_monitoring_with_its_soak(data):
    at = open_room(pick=None)  # the default: the newest open incident
    assert at.subheader[0].value.startswith("INC-5 · ")
    text = markdown(at)
    assert ":blue-badge[monitoring]" in text and ":orange-badge[SEV2]" in text
    assert "As of 2025-02-18 16:14" in text  # the data's clock, not the wall clock
    assert "next update due 16:20 UTC" in text
    # the soak is judged on telemetry: partly through, with the early relapse shown as a breach
    progress = at.get("progress")[0]
    assert 0.3 < progress.value / 100 < 0.95 if progress.value > 1 else 0.3 < progress.value < 0.95
    assert "soaking" in progress.proto.text and "min left" in progress.proto.text
    assert "refusal rate** breached 15:36" in text
    soak_table = at.dataframe[0].value
    assert list(soak_table["status"]) == ["soaking", "soaking"]
    assert all(n >= 200 for n in soak_table["n (window)"])
    # closing is not possible yet, and says why
    assert "Not closable yet" in text and "min left" in text


def test_nothing_is_written_before_the_person_names_themselves(data):
    incidents = Incidents.for_data_dir(data)
    before = incidents.get("INC-5")
    at = open_room()
    at.button(key="post_INC-5").click().run()
    assert any("Set your name first" in w.value for w in at.warning)
    assert incidents.get("INC-5").version == before.version

    at.text_input(key="who_name").input(NAME).run()
    at.button(key="post_INC-5").click().run()
    assert not at.exception
    after = incidents.get("INC-5")
    assert after.version == before.version + 1
    posted = after.updates[-1]
    assert (posted.audience, posted.by) == ("executives", NAME)
    # prefilled from measurements on the data's clock, and on the timeline
    assert "as of 2025-02-18 16:14 UTC" in posted.message and "refusal rate" in posted.message
    assert posted.at.isoformat().startswith("2025-02-18T16:14")
    assert any("Update to executives posted" in m.value for m in at.markdown)
    assert any("Update to executives posted" in s.value for s in at.success)


def test_an_edited_update_for_another_audience_is_posted_as_written(data):
    at = open_room(name=NAME)
    at.segmented_control(key="audience_INC-5").set_value("support").run()
    box = at.text_area(key="update_INC-5_support")
    assert "Talking points" in box.value  # the support template
    box.input(box.value + "\nExtra line for the support team.").run()
    at.button(key="post_INC-5").click().run()
    update = Incidents.for_data_dir(data).get("INC-5").updates[-1]
    assert update.audience == "support" and update.message.endswith("Extra line for the support team.")


def test_a_post_lands_after_someone_elses_write(data):
    incidents = Incidents.for_data_dir(data)
    at = open_room(name=NAME)
    at.text_area(key="update_INC-5_executives").input("My careful update").run()
    loaded = incidents.get("INC-5")
    # someone else writes after this page loaded the incident: a comms post depends on nothing they changed
    incidents.add_note("INC-5", loaded.version, "Someone Else", "rollback confirmed by the index team")
    at.button(key="post_INC-5").click().run()
    assert not at.exception and not any("changed while you were looking" in w.value for w in at.warning)
    state = incidents.get("INC-5")
    assert state.version == loaded.version + 2 and state.updates[-1].message == "My careful update"
    assert state.notes[-1].text == "rollback confirmed by the index team"


def test_a_stale_decision_is_refused_reloaded_and_the_input_kept(data):
    incidents = Incidents.for_data_dir(data)
    at = open_room(name=NAME)
    at.selectbox(key="sev_INC-5").select("SEV1").run()
    at.text_input(key="sev_reason_INC-5").input("regulator asked about refusals").run()
    loaded = incidents.get("INC-5")
    # someone else changes the severity after this page loaded it: a decision on the old state is refused
    incidents.set_severity("INC-5", loaded.version, "Someone Else", "SEV3", reason="scope is small")
    at.button(key="sev_go_INC-5").click().run()
    assert not at.exception
    assert any("changed while you were looking" in w.value for w in at.warning)
    state = incidents.get("INC-5")
    assert state.version == loaded.version + 1 and state.severity == "SEV3"
    assert at.text_input(key="sev_reason_INC-5").value == "regulator asked about refusals"
    # the reload shows the other person's change
    assert any("scope is small" in m.value for m in at.markdown)


def test_close_is_refused_with_reasons_while_the_soak_runs(data):
    at = open_room(name=NAME)
    at.button(key="close_INC-5").click().run()
    errors = " ".join(e.value for e in at.error)
    assert "Close refused" in errors and "min left" in errors and "override" in errors
    assert Incidents.for_data_dir(data).get("INC-5").status == "monitoring"


def test_override_by_someone_other_than_the_commander_is_refused(data):
    at = open_room(name=NAME)
    at.text_input(key="override_reason_INC-5").input("customers need it closed").run()
    at.button(key="override_INC-5").click().run()
    assert "only the incident commander (Priya Raman)" in " ".join(e.value for e in at.error)
    assert Incidents.for_data_dir(data).get("INC-5").is_open


def test_commander_override_closes_and_shows_red(data):
    at = open_room(name="Priya Raman")
    at.text_input(key="override_reason_INC-5").input("business call: soak waived").run()
    at.button(key="override_INC-5").click().run()
    state = Incidents.for_data_dir(data).get("INC-5")
    assert state.status == "resolved" and state.closed_via == "override"
    # as typed, escaped
    assert any(":red[" in m.value and "business call\\: soak waived" in m.value for m in at.markdown)


def test_checking_a_playbook_item_is_a_timeline_event(data):
    at = open_room(name=NAME)
    item = "quality_regression.diagnosis.localize-segments"
    at.checkbox(key=f"chk_INC-5_{item}").check().run()
    state = Incidents.for_data_dir(data).get("INC-5")
    assert state.checklist_done[item].by == NAME
    assert at.checkbox(key=f"chk_done_{item}").value is True


def test_action_item_added_and_completed(data):
    at = open_room(name=NAME)
    # inside a form: the values travel with the submit
    at.text_input(key="action_title_INC-5").input("Add a refusal canary to the prompt pipeline")
    at.text_input(key="action_owner_INC-5").input("Marcus Lee")
    at.button(key="FormSubmitter:action_form_INC-5-Add action item").click().run()
    state = Incidents.for_data_dir(data).get("INC-5")
    assert state.actions[-1].title == "Add a refusal canary to the prompt pipeline"
    assert state.actions[-1].owner == "Marcus Lee"
    at.button(key=f"action_done_INC-5_{state.actions[-1].action_id}").click().run()
    assert Incidents.for_data_dir(data).get("INC-5").actions[-1].done_by == NAME


def test_picking_a_resolved_incident_shows_its_record(data):
    # the URL binding (?incident=INC-1) is exercised in the browser test; AppTest drives the picker
    at = open_room()
    at.selectbox(key="incident").select("INC-1").run()
    assert at.subheader[0].value.startswith("INC-1 · ")
    assert "Resolved after the soak passed" in " ".join(s.value for s in at.success)


def test_open_a_new_incident_from_an_explorer_link(data):
    at = open_room({"new": "1", "signal": "refusal_rate", "f_tier": "paid", "f_language": "en",
                    "start": "2025-02-18T13:30:00Z", "suspect": "prompt:prompt-v7", "also": "task_success_rate"},
                   name=NAME, pick=None)
    assert at.selectbox(key="new_signal").value == "refusal_rate"
    assert at.selectbox(key="new_seg_tier").value == "paid"
    assert at.selectbox(key="new_seg_language").value == "en"
    assert at.text_input(key="new_suspects").value == "prompt:prompt-v7"
    assert "Suggested severity" in markdown(at)
    at.button(key="new_open").click().run()
    assert not at.exception, [e.value for e in at.exception]
    state = Incidents.for_data_dir(data).get("INC-6")
    assert state.segments == {"tier": "paid", "language": "en"}
    assert state.signals == ["refusal_rate", "task_success_rate"] and state.suspects == ["prompt:prompt-v7"]
    assert state.type == "quality_regression" and state.severity in ("SEV1", "SEV2", "SEV3", "SEV4")
    assert state.window_start.isoformat().startswith("2025-02-18T13:30")
    assert state.opened_by == NAME and state.commander == NAME
    # the room now shows the new incident
    assert at.subheader[0].value.startswith("INC-6 · ")


def test_verification_defined_from_the_proposed_defaults_starts_the_soak_in_monitoring(data):
    incidents = Incidents.for_data_dir(data)
    state = incidents.open(NAME, "refusals up on paid English", type="quality_regression",
                           signals=["refusal_rate"], segments={"tier": "paid", "language": "en"},
                           window_start=__import__("datetime").datetime.fromisoformat("2025-02-18T13:30:00+00:00"),
                           at=__import__("datetime").datetime.fromisoformat("2025-02-18T16:00:00+00:00"))
    incidents.set_status(state.id, state.version, NAME, "monitoring",
                         at=__import__("datetime").datetime.fromisoformat("2025-02-18T16:01:00+00:00"))
    at = open_room({"incident": state.id}, name=NAME)
    # proposed: the key metric, a safety and a business metric on the segment, from the baseline
    assert at.selectbox(key=f"vm_{state.id}_0_signal").value == "refusal_rate"
    assert at.number_input(key=f"vm_{state.id}_0_threshold").value == pytest.approx(0.06)
    assert at.text_input(key=f"vm_{state.id}_0_segment").value == "tier=paid, language=en"
    at.button(key=f"FormSubmitter:verification_{state.id}-Define verification").click().run()
    assert not at.exception, [e.value for e in at.exception]
    after = incidents.get(state.id)
    assert [m.signal for m in after.verification][0] == "refusal_rate"
    assert after.soak.started_at is not None
    assert at.get("progress"), "the soak progress shows once it runs"


def test_the_live_part_records_the_soak_pass_once_as_the_system(data):
    from dashboard.core.demo.live import append_minutes
    from dashboard.core.incident.identity import SYSTEM_NAME

    incidents = Incidents.for_data_dir(data)
    append_minutes(data, 25)  # the demo's soak completes in this stretch
    at = open_room()  # nobody named: the finding is the telemetry's, not the viewer's
    assert at.get("progress")[0].proto.text.endswith("started 15:35 UTC")
    assert "soak passed" in at.get("progress")[0].proto.text
    state = incidents.get("INC-5")
    assert state.soak.passed_at is not None
    # recorded when the slowest metric completed its 60 minutes, not when someone looked
    assert state.soak.passed_at.isoformat() < "2025-02-18T16:40"
    [passed] = [e for e in incidents.events("INC-5") if e.kind == "soak_passed"]
    assert passed.actor == SYSTEM_NAME and passed.identity["via"] == "system"
    # idempotent: another viewer, another refresh, records nothing new
    version = state.version
    at.run()
    open_room(name=NAME)
    assert incidents.get("INC-5").version == version
    assert "The soak passed" in " ".join(s.value for s in at.success)


def test_severity_status_and_handover_are_recorded(data):
    incidents = Incidents.for_data_dir(data)
    at = open_room(name=NAME)
    at.selectbox(key="sev_INC-5").select("SEV1").run()
    at.text_input(key="sev_reason_INC-5").input("regulator asked about refusals").run()
    at.button(key="sev_go_INC-5").click().run()
    assert incidents.get("INC-5").severity == "SEV1"
    at.radio(key="status_to_INC-5").set_value("mitigating").run()
    at.button(key="status_go_INC-5").click().run()
    assert incidents.get("INC-5").status == "mitigating"
    at.selectbox(key="role_INC-5").select("comms_lead").run()
    at.text_input(key="role_person_INC-5").input("Nora Kim").run()
    at.button(key="role_go_INC-5").click().run()
    state = incidents.get("INC-5")
    assert state.roles["comms_lead"] == "Nora Kim"
    assert "Comms lead handed over from Lena Vogel to Nora Kim" in markdown(at)
    # SEV1 updates every 30 minutes: the countdown follows the new cadence
    assert "every 30 min" in markdown(at)


def test_an_incident_whose_log_was_altered_is_shown_as_broken(data):
    import sqlite3

    conn = sqlite3.connect(data.incidents_db)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("UPDATE events SET actor = 'Someone Else' WHERE incident_id = 'INC-5' AND seq = 4")
    conn.commit()
    conn.close()
    at = open_room()
    errors = " ".join(e.value for e in at.error)
    assert "INC-5's record was altered outside the war room" in errors and "event #4" in errors
    assert Incidents.for_data_dir(data).audit("INC-1").intact
    # the landing summary and the incident's postmortem say so too; another incident's postmortem does not
    for page, query, shown in (("views/summary.py", {}, True), ("views/postmortem.py", {"incident": "INC-5"}, True),
                               ("views/postmortem.py", {"incident": "INC-1"}, False)):
        at.switch_page(page)
        at.query_params.clear()
        at.query_params.update(query)
        at.session_state["postmortem_incident"] = query.get("incident", "INC-5")
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        errors = " ".join(e.value for e in at.error)
        assert ("INC-5's record was altered outside the war room" in errors) is shown, (page, query, errors)


def test_an_incident_from_a_finding_on_one_version_keeps_that_scope_and_measures_impact_on_it(data):
    from datetime import timedelta

    from dashboard.core.telemetry.query import TelemetryStore

    store = TelemetryStore(data)
    _, last, _ = store.time_range()
    start = last - timedelta(hours=1)
    # a version column (not a segment) with two versions serving the last hour: the finding is on the smaller
    column, version = next(
        (c, t.sort("requests")[c][0]) for c in store.schema.artifacts.values()
        if (t := store.window_totals([("w", start, last)], by=c).drop_nulls(c)).height >= 2)
    at = open_room({"new": "1", "signal": "latency_p95_ms", f"f_{column}": version,
                    "start": start.strftime("%Y-%m-%dT%H:%M:00Z")}, name=NAME, pick=None)
    assert at.selectbox(key=f"new_seg_{column}").value == version
    share = next(c.value for c in at.caption if c.value.startswith("Segment share of traffic"))
    assert float(share.split(": ")[1].rstrip("%")) < 60  # its own share, not "100% of all traffic"
    at.button(key="new_open").click().run()
    assert not at.exception, [e.value for e in at.exception]
    state = Incidents.for_data_dir(data).get("INC-6")
    assert state.segments == {column: version}


def test_a_wrong_scope_is_corrected_from_the_page_and_the_warning_goes(data):
    bad = Incidents.for_data_dir(data).open("Priya Raman", "Refusals up", segments={"nosuchcol": "x"},
                                            signals=["refusal_rate"]).id
    at = open_room({"incident": bad}, name=NAME, pick=bad)
    key = f"fix_{bad}_1"
    assert "nosuchcol" in " ".join(w.value for w in at.warning)
    at.selectbox(key=f"{key}_seg_region").set_value("eu-west")
    at.button(key=f"{key}_go").click().run()
    assert "Say why the record was wrong" in " ".join(e.value for e in at.error)
    assert Incidents.for_data_dir(data).get(bad).version == 1  # nothing written without a reason
    at.text_input(key=f"{key}_reason").input("the scope named a column the data does not have")
    at.button(key=f"{key}_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    state = Incidents.for_data_dir(data).get(bad)
    assert state.segments == {"region": "eu-west"}
    assert state.corrections[0].by == NAME
    assert "nosuchcol" not in " ".join(w.value for w in at.warning)
