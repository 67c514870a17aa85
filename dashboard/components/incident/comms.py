"""Comms: compose an update from the template for an audience, post it, and the comms log.

The draft is prefilled with facts measured on telemetry up to the data's
clock (current vs baseline on the incident's segment, affected share,
suspects, soak); the person edits it before posting. Each posted update can
be copied as Markdown for chat or email.
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from dashboard.components.incident.session import flash, when, write
from dashboard.core.incident.comms import AUDIENCE_LABELS, render_update
from dashboard.core.incident.drafting import comms_facts_for
from dashboard.core.incident.service import Incidents
from dashboard.core.incident.soak import SoakEvaluation
from dashboard.core.incident.state import IncidentState
from dashboard.core.text import md, md_prose


def draft_key(incident_id: str, audience: str) -> str:
    return f"update_{incident_id}_{audience}"


def compose(state: IncidentState, service: Incidents, store, now: datetime,
            evaluation: SoakEvaluation | None) -> None:
    audiences = list(AUDIENCE_LABELS)
    audience = st.segmented_control("Audience", audiences, default="executives", key=f"audience_{state.id}",
                                    format_func=lambda a: AUDIENCE_LABELS[a]) or "executives"
    key = draft_key(state.id, audience)
    if st.button("Refill from the latest measurements", key=f"refill_{state.id}_{audience}"):
        st.session_state.pop(key, None)
    if key not in st.session_state:
        # prefilled once per audience; the person's edits survive reruns (and a stale-write reload)
        st.session_state[key] = render_update(comms_facts_for(state, store, now, evaluation), audience)
    message = st.text_area(f"Update for {AUDIENCE_LABELS[audience]} (Markdown)", key=key, height=300)
    with st.expander("Preview"):
        st.markdown(md_prose(message))
    if st.button(f"Post update to {AUDIENCE_LABELS[audience].lower()}", type="primary", key=f"post_{state.id}"):
        posted = write(f"Update to {audience}", lambda actor: service.post_update(
            state.id, state.version, actor, audience, message, at=now), rerun=False)
        if posted:
            st.session_state.pop(key, None)  # the next update starts from fresh measurements
            flash("success", f"Update to {AUDIENCE_LABELS[audience].lower()} posted.")
            st.rerun()


def comms_log(state: IncidentState) -> None:
    if not state.updates:
        st.caption("No update posted yet.")
        return
    st.markdown(f"**Comms log** · {len(state.updates)} update(s), newest first")
    for update in reversed(state.updates):
        label = f"{when(update.at)} · {AUDIENCE_LABELS.get(update.audience, update.audience)} · by {md(update.by)}"
        with st.expander(label, expanded=update is state.updates[-1]):
            st.markdown(md_prose(update.message))
            st.caption("Copy as Markdown (copy button at the top right of the block):")
            st.code(update.message, language="markdown")


def comms_tab(state: IncidentState, service: Incidents, store, now: datetime,
              evaluation: SoakEvaluation | None) -> None:
    if state.is_open:
        compose(state, service, store, now, evaluation)
        st.divider()
    comms_log(state)
