"""The incident's header: severity (rubric, suggestion, confirm or change), status moves, roles."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from dashboard.components.badges import severity_color, status_color
from dashboard.components.incident.session import hhmm, write
from dashboard.core.incident import events as ev
from dashboard.core.incident.drafting import impact_measure
from dashboard.core.incident.lifecycle import TRANSITIONS
from dashboard.core.incident.service import Incidents
from dashboard.core.incident.severity import RUBRIC, RUBRIC_FOOTNOTE, SeveritySuggestion, suggest_severity
from dashboard.core.incident.state import IncidentState
from dashboard.core.telemetry import signals as registry
from dashboard.core.text import md


def badges(state: IncidentState) -> None:
    sev = state.severity or "no severity"
    st.markdown(f":{severity_color(state.severity)}-badge[{sev}] "
                f":{status_color(state.status)}-badge[{state.status}] "
                f":gray-badge[{(state.type or 'type not set').replace('_', ' ')}] "
                f":gray-badge[commander: {md(state.commander or '–')}]")


def suggestion_for(state: IncidentState, store, now: datetime) -> SeveritySuggestion | None:
    """Suggested severity from measured impact on the incident's key signal and segment."""
    signal = next((s for s in state.signals if registry.is_known(s)), None)
    start = state.window_start or state.detected_at
    if signal is None or start is None or start >= now:
        return None
    return suggest_severity(impact_measure(store, signal, state.segments or None, start, now))


def severity_panel(state: IncidentState, service: Incidents, store, now: datetime) -> None:
    st.markdown("**Severity**")
    st.caption("  \n".join(f"**{level}** — {text}" for level, text in RUBRIC.items()) + f"  \n_{RUBRIC_FOOTNOTE}_")
    suggestion = suggestion_for(state, store, now)
    if suggestion:
        same = "matches the current severity" if suggestion.level == state.severity else \
            f"current is {state.severity or 'not set'}"
        with st.container(border=True):
            st.markdown(f"Suggested from measured impact: **{suggestion.level}** ({same})")
            st.caption("  \n".join(f"· {r}" for r in suggestion.reasons))
    elif state.severity_reason:
        st.caption(f"Reason on record: {md(state.severity_reason)}")
    if not state.is_open:
        return
    levels = list(ev.SEVERITIES)
    default = suggestion.level if suggestion else (state.severity or "SEV2")
    c1, c2 = st.columns([1, 2])
    level = c1.selectbox("Set severity", levels, index=levels.index(default), key=f"sev_{state.id}")
    reason = c2.text_input("Reason", key=f"sev_reason_{state.id}",
                           placeholder="why (required to confirm the current level)")
    label = "Confirm severity" if level == state.severity else f"Change to {level}"
    if st.button(label, key=f"sev_go_{state.id}"):
        why = reason.strip() or (f"suggested from measured impact: {'; '.join(suggestion.reasons[:2])}"
                                 if suggestion and suggestion.level == level else "")
        if level == state.severity and not why:
            why = "confirmed by the commander"
        write(f"Severity {level}", lambda actor: service.set_severity(state.id, state.version, actor, level,
                                                                      reason=why, at=now))


def status_panel(state: IncidentState, service: Incidents, now: datetime) -> None:
    st.markdown(f"**Status:** {state.status} since {hhmm(state.status_history[-1].at)} UTC")
    allowed = [s for s in TRANSITIONS.get(state.status, ()) if s != "resolved"]
    if not allowed:
        st.caption("No further status change from here.")
        return
    st.caption("Resolving goes through the close button (it checks the verification soak).")
    to = st.radio("Move to", allowed, index=None, key=f"status_to_{state.id}")
    note = st.text_input("Note", key=f"status_note_{state.id}", placeholder="what changed")
    if st.button("Change status", key=f"status_go_{state.id}", disabled=not to) and to:
        target = to  # chosen: the button is disabled until it is
        write(f"Status {to}", lambda actor: service.set_status(state.id, state.version, actor, target, note=note,
                                                               at=now))


def roles_panel(state: IncidentState, service: Incidents, now: datetime) -> None:
    st.markdown("**Roles**")
    rows = []
    for role in ev.ROLES:
        person = state.roles.get(role)
        since = next((c for c in reversed(state.role_history) if c.role == role), None)
        rows.append(f"- {ev.ROLE_LABELS[role]}: **{md(person or 'unassigned')}**"
                    + (f" (since {hhmm(since.at)})" if since else ""))
    st.markdown("\n".join(rows))
    handovers = [c for c in state.role_history if c.previous and c.previous != c.person]
    if handovers:
        st.caption("Handovers: " + "; ".join(
            f"{ev.ROLE_LABELS[c.role]} {md(c.previous)} → {md(c.person)} at {hhmm(c.at)}" for c in handovers))
    if not state.is_open:
        return
    c1, c2 = st.columns(2)
    role = c1.selectbox("Role", list(ev.ROLES), format_func=lambda r: ev.ROLE_LABELS[r], key=f"role_{state.id}")
    person = c2.text_input("Person", key=f"role_person_{state.id}")
    verb = "Hand over" if state.roles.get(role) else "Assign"
    if st.button(f"{verb} {ev.ROLE_LABELS[role].lower()}", key=f"role_go_{state.id}"):
        write(f"{ev.ROLE_LABELS[role]} {person}",
              lambda actor: service.assign_role(state.id, state.version, actor, role, person, at=now))


def title_block(state: IncidentState) -> None:
    st.subheader(f"{state.id} · {md(state.title)}")
    badges(state)
    scope = ", ".join(f"{k}={v}" for k, v in state.segments.items()) or "all traffic"
    st.caption(f"Opened {state.opened_at:%Y-%m-%d %H:%M} UTC by {md(state.opened_by)} · scope {md(scope)} · "
               f"signals {md(', '.join(state.signals) or '–')} · suspects {md(', '.join(state.suspects) or '–')}")


def command_panels(state: IncidentState, service: Incidents, store, now: datetime) -> None:
    with st.expander("Severity, status and roles", expanded=state.is_open):
        c1, c2, c3 = st.columns([4, 3, 4], gap="large")
        with c1:
            severity_panel(state, service, store, now)
        with c2:
            status_panel(state, service, now)
        with c3:
            roles_panel(state, service, now)
