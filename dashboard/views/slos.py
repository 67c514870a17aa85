"""SLOs: every declared objective, its error budget, and how fast it has been burning."""

import polars as pl
import streamlit as st

from dashboard.components import context
from dashboard.components.report import data as report_data
from dashboard.components.report.burn import burn_chart, burn_series
from dashboard.components.report.slos import budget_text, firing_alerts, offer_incidents, slo_metrics
from dashboard.core.reporting.slo_config import SloConfigError, slo_file_for
from dashboard.core.reporting.slo_report import slo_rows
from dashboard.core.reporting.summary import slo_offers
from dashboard.core.telemetry import signals as sig

store = context.store()
data = store.data
now = context.require_data(store)

st.title("Service level objectives")
context.as_of_caption(now)
st.caption(f"Declared in `{slo_file_for(data).name}`"
           + (" in the data folder." if data.slos.exists() else " (the shipped default; put a "
              "`slos.toml` in the data folder to declare your own)."))
try:
    statuses = report_data.slo_statuses(str(data.root), store.files_version(), now, report_data.slo_stamp(data), store)
except SloConfigError as exc:
    st.error(f"The SLO file cannot be used: {exc}")
    st.stop()

slo_metrics(statuses)
firing_alerts(statuses)
states = report_data.incidents(data)
offer_incidents(slo_offers(statuses, [s for s in states if s.is_open]))

rows = slo_rows(statuses)
st.dataframe(pl.DataFrame([{
    "SLO": r["title"], "state": r["state"],
    "now (last hour)": sig.format_value(s.slo.signal, s.current_value),
    "attained": "—" if r["attainment"] is None else f"{r['attainment']:.2%}", "target": f"{r['target']:.2%}",
    "error budget": budget_text(s),
    **{f"{a['name']} ({a['long_window_min'] / 60:g} h / {a['short_window_min']:g} min)":
       "—" if a["long_burn"] is None else f"{a['long_burn']:.1f}x / {a['short_burn'] or 0:.1f}x"
       + (" FIRING" if a["firing"] else "") for a in r["alerts"]},
} for r, s in zip(rows, statuses, strict=True)]).fill_null("—"), hide_index=True, width="stretch", key="slo_table")
notes = sorted({n for s in statuses for n in s.notes})
for note in notes:
    st.caption(f"Note: {note}")

hours = st.segmented_control("Burn rate over the last", [6, 24, 72], default=24, key="burn_hours",
                             format_func=lambda h: f"{h} h", bind="query-params") or 24
for status in statuses:
    if status.attainment is None:
        continue
    with st.expander(f"{status.slo.title} — {status.slo.describe()}", expanded=True):
        series = burn_series(str(data.root), store.files_version(), status.slo.name, now, int(hours), status, store)
        st.plotly_chart(burn_chart(series), width="stretch", key=f"burn_{status.slo.name}",
                        config={"displaylogo": False})
