"""Postmortem action items tracked to done: each change is an incident event (who, when)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import streamlit as st

from dashboard.core.datadir import DataDir
from dashboard.core.incident.events import EventError
from dashboard.core.incident.identity import PermissionDenied
from dashboard.core.incident.lifecycle import LifecycleError
from dashboard.core.incident.service import Actor, Incidents
from dashboard.core.incident.store import IncidentStoreError
from dashboard.core.reporting.postmortem.model import ActionLine, Postmortem
from dashboard.core.text import md

TERMS = ("short", "medium", "long")
TERM_LABELS = {"short": "Short term", "medium": "Medium term", "long": "Long term"}
TERM_DAYS = {"short": 7, "medium": 30, "long": 90}
FLASH = "pm_actions_flash"


def _write(data: DataDir, incident_id: str, expected_version: int, person: Actor | None,
           command: Callable[[Incidents, Actor], object], done: str) -> None:
    """Run one incident command against the version the page showed; say what happened."""
    if not person:
        st.session_state[FLASH] = ("error", "Set your name in the sidebar first: every change records who made it.")
        return
    try:
        command(Incidents.for_data_dir(data), person)
    except IncidentStoreError as exc:  # includes a stale version: someone wrote in between
        st.session_state[FLASH] = ("error", f"Not recorded: {exc}. The page now shows the latest record; "
                                   "check it and try again.")
        return
    except (LifecycleError, PermissionDenied, EventError, ValueError) as exc:
        st.session_state[FLASH] = ("error", f"Not recorded: {exc}")
        return
    st.session_state[FLASH] = ("ok", done)


def _complete(data, incident_id, version, person, action: ActionLine):
    action_id = action.action_id
    if action_id is None:  # only an adopted item has a "Mark done" button
        return
    _write(data, incident_id, version, person,
           lambda inc, who: inc.complete_action(incident_id, version, who, action_id),
           f"Done: {action.title}")


def _adopt(data, incident_id, version, person, action: ActionLine):
    _write(data, incident_id, version, person,
           lambda inc, who: inc.add_action(incident_id, version, who, action.title, term=action.term,
                                           owner=action.owner, due=action.due),
           f"Added: {action.title}")


def _add(data, incident_id, version, person):
    title = str(st.session_state.get("pm_new_title") or "").strip()
    if not title:
        st.session_state[FLASH] = ("error", "An action item needs a title.")
        return
    owner = str(st.session_state.get("pm_new_owner") or "").strip() or None
    term = st.session_state.get("pm_new_term") or "short"
    due = st.session_state.get("pm_new_due")
    _write(data, incident_id, version, person,
           lambda inc, who: inc.add_action(incident_id, version, who, title, term=term, owner=owner, due=due),
           f"Added: {title}")
    if st.session_state.get(FLASH, ("",))[0] == "ok":
        st.session_state["pm_new_title"] = ""
        st.session_state["pm_new_owner"] = ""


def action_status(a: ActionLine, today: date) -> str:
    if a.suggested:
        return "suggested"
    if a.done_at:
        return f"done {a.done_at:%Y-%m-%d}"
    if a.due and a.due < today:
        return f"OVERDUE (due {a.due})"
    return "open"


def action_items(data: DataDir, pm: Postmortem, version: int, person: Actor | None) -> None:
    st.subheader("Action items")
    flash = st.session_state.pop(FLASH, None)
    if flash:
        (st.success if flash[0] == "ok" else st.error)(flash[1])
    today = pm.as_of.date()
    done = sum(1 for a in pm.actions if a.done_at)
    tracked = sum(1 for a in pm.actions if not a.suggested)
    st.caption(f"{done} of {tracked} done. Completing or adding one records an incident event with your name.")
    for term in TERMS:
        items = [a for a in pm.actions if a.term == term]
        if not items:
            continue
        st.markdown(f"**{TERM_LABELS[term]}**")
        for a in items:
            row = st.columns([5, 2, 2, 2, 2], vertical_alignment="center")
            row[0].markdown(f"~~{md(a.title)}~~" if a.done_at else (f"_{md(a.title)}_" if a.suggested else md(a.title)))
            row[1].markdown(a.owner or "no owner")
            row[2].markdown(f"due {a.due}" if a.due else "no due date")
            row[3].markdown(action_status(a, today))
            key = f"screen-only-action-{pm.incident_id}-{a.action_id or a.title[:40]}"
            if a.suggested:
                row[4].button("Adopt", key=key, on_click=_adopt, args=(data, pm.incident_id, version, person, a))
            elif not a.done_at:
                row[4].button("Mark done", key=key, icon=":material/check:", on_click=_complete,
                              args=(data, pm.incident_id, version, person, a))
    with st.expander("Add an action item", icon=":material/add:"):
        st.text_input("Action", key="pm_new_title", placeholder="e.g. Canary every index release")
        c1, c2, c3 = st.columns(3)
        term = c1.selectbox("Term", TERMS, key="pm_new_term", format_func=lambda t: TERM_LABELS[t])
        c2.text_input("Owner", key="pm_new_owner")
        c3.date_input("Due", value=today + timedelta(days=TERM_DAYS.get(term or "short", 7)), key="pm_new_due")
        st.button("Add action item", key="screen-only-add-action", type="primary", on_click=_add,
                  args=(data, pm.incident_id, version, person))
