"""Correct the record: amend a wrong title, scope, signals or start without rewriting history.

The form shows the facts as recorded; what the person changes becomes one
`corrected` event (the timeline keeps the earlier values). Segments and signals
are checked against the telemetry as when an incident is opened, so a
correction cannot introduce the kind of typo it is there to fix.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import streamlit as st

from dashboard.components.incident.session import write
from dashboard.core.incident.references import check_segments, check_signals
from dashboard.core.incident.service import Incidents
from dashboard.core.incident.state import IncidentState
from dashboard.core.telemetry import signals as registry
from dashboard.core.text import md
from dashboard.core.timeutil import naive_utc

ALL = "(all)"


def correction_form(state: IncidentState, service: Incidents, store, now: datetime) -> None:
    with st.expander("Correct the record", expanded=_names_unknown(state, store)):
        st.caption("For facts recorded wrong (a typo in the scope, the wrong signal, the start). The earlier "
                   "values stay on the timeline; decisions such as severity or status have their own controls.")
        key = f"fix_{state.id}_{state.version}"  # a new version re-prefills the form from the record
        title = st.text_input("Title", value=state.title, key=f"{key}_title")
        options = list(dict.fromkeys([*state.signals, *store.signals()]))  # the data's signals, and the record's
        signals = st.multiselect("Signals", options, default=state.signals, key=f"{key}_signals",
                                 format_func=_signal_label)
        scope = _scope_pickers(state, store, now, key)
        started = st.datetime_input("Regression started (UTC)", key=f"{key}_start", step=timedelta(minutes=5),
                                    value=naive_utc(state.window_start) if state.window_start else None)
        reason = st.text_input("Why the record was wrong", key=f"{key}_reason",
                               placeholder="e.g. the scope named a region that does not exist")
        if not st.button("Record the correction", key=f"{key}_go"):
            return
        if not reason.strip():
            st.error("Say why the record was wrong: the reason goes on the timeline. Nothing was written.")
            return
        changes = {"title": title, "signals": signals, "segments": scope,
                   "window_start": started.replace(tzinfo=UTC) if started else None}

        def correct(actor):
            check_signals(signals)  # a ReferenceError is shown in place by `write`
            check_segments(scope, store)
            return service.correct(state.id, state.version, actor, reason, at=now, **changes)
        write("Correction", correct)


def _scope_pickers(state: IncidentState, store, now: datetime, key: str) -> dict[str, str]:
    """One picker per segment of the data, plus any column the record names that the data lacks."""
    columns = list(store.schema.segments)
    recorded = [c for c in state.segments if c not in columns]
    values = store.dimension_values(now - timedelta(days=1), now)
    chosen: dict[str, str] = {}
    for col, column in zip(st.columns(len(columns)) if columns else [], columns, strict=True):
        current = state.segments.get(column)
        options = [ALL, *sorted(set(values.get(column, [])) | ({current} if current else set()))]
        pick = col.selectbox(column.replace("_", " ").title(), options, key=f"{key}_seg_{column}",
                             index=options.index(current) if current in options else 0)
        if pick != ALL:
            chosen[column] = pick
    for column in recorded:
        keep = st.checkbox(f"Keep {md(column)}={md(state.segments[column])} (not a segment of this data)",
                           value=False, key=f"{key}_keep_{column}")
        if keep:
            chosen[column] = state.segments[column]
    return chosen


def _names_unknown(state: IncidentState, store) -> bool:
    """Open the form when the record names something the data does not have: that is what it is for."""
    columns = set(store.schema.dimension_columns)
    return any(c not in columns for c in state.segments) or any(not registry.is_known(s) for s in state.signals)


def _signal_label(name: str) -> str:
    return f"{registry.get(name).label} ({name})" if registry.is_known(name) else f"{name} (unknown)"
