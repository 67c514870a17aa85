"""The work of the incident: the playbook checklist of its type, and the action items."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from dashboard.components.incident.session import hhmm, write
from dashboard.core.incident import events as ev
from dashboard.core.incident.identity import Identity
from dashboard.core.incident.playbooks import PHASE_LABELS, PHASES, playbook_for
from dashboard.core.incident.service import Incidents
from dashboard.core.incident.state import IncidentState
from dashboard.core.text import md

TERMS = ("short", "medium", "long")


def playbook_tab(state: IncidentState, service: Incidents, now: datetime) -> None:
    if state.type is None:
        st.info("Set the incident type to bring its playbook.")
        if state.is_open:
            kind = st.selectbox("Incident type", ev.INCIDENT_TYPES, key=f"type_{state.id}",
                                format_func=lambda t: t.replace("_", " "))
            if st.button("Set type", key=f"type_go_{state.id}"):
                write("Incident type", lambda actor: service.set_type(state.id, state.version, actor, kind, at=now))
        return
    book = playbook_for(state.type)
    done = len([i for i in book.items if i.id in state.checklist_done])
    st.markdown(f"**{book.title} playbook** · {book.symptom} · {done} of {len(book.items)} done")
    st.caption("Checking an item records it on the timeline with your name and the time.")
    for phase in PHASES:
        st.markdown(f"*{PHASE_LABELS[phase]}*")
        for item in book.phase(phase):
            mark = state.checklist_done.get(item.id)
            if mark:
                note = f" — {md(mark.note)}" if mark.note else ""
                st.checkbox(f"{item.text} · :gray[{md(mark.by)} at {hhmm(mark.at)}{note}]", value=True, disabled=True,
                            key=f"chk_done_{item.id}")
                continue
            checked = st.checkbox(item.text, value=False, key=f"chk_{state.id}_{item.id}",
                                  disabled=not state.is_open)
            if checked:
                def check(actor: Identity, item_id: str = item.id) -> IncidentState:
                    return service.check_item(state.id, state.version, actor, item_id, at=now)
                ok = write(f"Checklist: {item.text}", check, rerun=False)
                st.session_state.pop(f"chk_{state.id}_{item.id}", None)  # unticked unless recorded
                if ok:
                    st.rerun()


def actions_tab(state: IncidentState, service: Incidents, now: datetime) -> None:
    open_items = [a for a in state.actions if a.done_at is None]
    st.markdown(f"**Action items** · {len(open_items)} open, {len(state.actions) - len(open_items)} done")
    for item in state.actions:
        c1, c2 = st.columns([6, 1])
        due = f", due {item.due:%Y-%m-%d}" if item.due else ""
        meta = f"{item.action_id} · owner {item.owner or 'unassigned'}{due} · {item.term} term"
        if item.done_at:
            c1.markdown(f"~~{md(item.title)}~~ :gray[{md(meta)} · done by {md(item.done_by)} at {hhmm(item.done_at)}]")
            continue
        c1.markdown(f"**{md(item.title)}** :gray[{md(meta)}]")
        if c2.button("Done", key=f"action_done_{state.id}_{item.action_id}"):
            def complete(actor: Identity, action_id: str = item.action_id) -> IncidentState:
                return service.complete_action(state.id, state.version, actor, action_id, at=now)
            write(f"Action {item.action_id} done", complete)
    with st.form(f"action_form_{state.id}", clear_on_submit=False, border=True):
        st.markdown("Add an action item")
        title = st.text_input("What", key=f"action_title_{state.id}")
        c1, c2, c3 = st.columns(3)
        owner = c1.text_input("Owner", key=f"action_owner_{state.id}")
        due_date = c2.date_input("Due", value=None, key=f"action_due_{state.id}")
        term = c3.selectbox("Term", TERMS, key=f"action_term_{state.id}")
        if st.form_submit_button("Add action item"):
            if not title.strip():
                st.error("An action item needs a title.")
            else:
                write("Action item", lambda actor: service.add_action(
                    state.id, state.version, actor, title.strip(), owner=owner.strip() or None, due=due_date, term=term,
                    at=now))
