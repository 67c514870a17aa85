"""War room: run one incident — severity, roles, comms on a cadence, playbook, and a close gated on a soak."""

import streamlit as st

from dashboard.components import context
from dashboard.components.guard import shown_or_warned
from dashboard.components.incident import session
from dashboard.components.incident.comms import comms_tab
from dashboard.components.incident.correct import correction_form
from dashboard.components.incident.header import command_panels, title_block
from dashboard.components.incident.live import live_panel, timeline_panel
from dashboard.components.incident.new import new_incident_form
from dashboard.components.incident.verification import close_panel, verification_form
from dashboard.components.incident.work import actions_tab, playbook_tab
from dashboard.core.incident.telemetry_adapter import evaluate_incident_soak

store = context.store()
now = context.require_data(store)
service = session.incidents()

top_left, top_right = st.columns([4, 1])
top_left.title("War room")
with top_right:
    session.identity_box()
session.show_flash()

if st.query_params.get("new") == "1":
    new_incident_form(service, store, now)
    st.stop()

pick_col, new_col = st.columns([5, 1], vertical_alignment="bottom")
with pick_col:
    latest = session.pick_incident(service)
if new_col.button("Open a new incident", key="open_new"):
    st.query_params["new"] = "1"
    st.rerun()
if latest is None:
    st.info("No incident recorded yet. Open one with the button above, or from the explorer.")
    st.stop()
state = session.as_seen(latest)  # drawn fresh; writes checked against what this person saw

session.chain_warning(service, state.id)
title_block(state)
shown_or_warned("Correcting the record", correction_form, state, service, store, now)
shown_or_warned("The live view", live_panel, state.id, service, store)
shown_or_warned("Severity and roles", command_panels, state, service, store, now)
evaluation = shown_or_warned("The soak", evaluate_incident_soak, state, store, now) if state.is_open else None

# keyed and in the URL: a change reruns the page and the person stays on the tab they were using
comms, playbook, actions, verification, timeline = st.tabs(
    ["Comms", "Playbook", "Action items", "Verification & close", "Timeline"], key="room_tab", bind="query-params")
with comms:
    shown_or_warned("Comms", comms_tab, state, service, store, now, evaluation)
with playbook:
    shown_or_warned("The playbook", playbook_tab, state, service, now)
with actions:
    shown_or_warned("Action items", actions_tab, state, service, now)
with verification:
    shown_or_warned("Verification", verification_form, state, service, store, now)
    st.divider()
    shown_or_warned("Close", close_panel, state, service, store, now, evaluation)
with timeline:
    timeline_panel(state.id, service)
session.mark_seen(latest)
