"""Root cause: when the signal moved, which release did it (with evidence to check), and where."""

import streamlit as st

from dashboard.components import context, filters, root_cause
from dashboard.components.links import view_params
from dashboard.components.url_checks import check_link
from dashboard.core.telemetry import signals as sig

store = context.store()
now = context.require_data(store)
first = store.time_range()[0] or now  # set once require_data passed

filters.carry_view_state(list(store.schema.segments))  # first: it may rerun the page once on arrival
check_link(store, first, now, signals=list(sig.DIAGNOSABLE))
st.title("Root cause")
context.as_of_caption(now)
st.caption("Finds when a signal changed (against the same minutes on previous days, so the daily cycle is not a "
           "regression), ranks every release in the window by timing, same-minute cohorts, segment exposure and "
           "rollback response, and names the segments that carry the change.")

signal = filters.signal_picker("Signal", store.signals(sig.DIAGNOSABLE))
start, end = filters.time_range(now, first, incident_open=context.incident_open(store))
chosen_filters = filters.segment_filters(store.dimension_values(start, end), store.schema.segments)
view = view_params(st.query_params.get_all, list(store.schema.segments))

root_cause.full_analysis(store, signal, start, end, chosen_filters, view)
