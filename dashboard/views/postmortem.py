"""Postmortem: written from the record and the telemetry, edited by the team, exported for printing."""

import streamlit as st

from dashboard.components import context
from dashboard.components.incident.session import chain_alert, identity_box
from dashboard.components.report import data as report_data
from dashboard.components.report.actions import action_items
from dashboard.components.report.postmortem import (
    detection_metrics,
    impact_table,
    phases_table,
    postmortem_header,
    reproducer_samples_table,
    timeline_table,
)
from dashboard.components.report.printing import print_stylesheet
from dashboard.components.report.sections import editable_section
from dashboard.core.reporting.postmortem.render import to_html, to_markdown
from dashboard.core.text import md

PICK_KEY = "postmortem_incident"

print_stylesheet()
store = context.store()
data = store.data
now = context.require_data(store)
with st.sidebar:
    person = identity_box()  # the war room's: one name per browser session across pages

states = report_data.incidents(data)
if not states:
    st.title("Postmortem")
    st.info("No incidents recorded yet: a postmortem is written from an incident's record.")
    st.stop()
titles = {s.id: s.title for s in states}
ids = list(titles)
wanted = st.query_params.get("incident")
if wanted and wanted not in titles:
    st.warning(f"No incident {md(wanted)} in the record; showing {ids[0]}.")
if st.session_state.get(PICK_KEY) not in titles:  # arriving on the page: the link decides
    st.session_state[PICK_KEY] = wanted if wanted in titles else ids[0]
incident_id = st.selectbox("Incident", ids, key=PICK_KEY)
# Always in the URL (a bound widget would leave its default out): a copied link names the incident shown.
try:
    st.query_params["incident"] = incident_id
except st.errors.StreamlitAPIException:
    pass  # another page's widget still holds the binding during this run; the next run writes it
state = next(s for s in states if s.id == incident_id)
for broken in report_data.broken_chains(data):
    if broken.incident_id == incident_id:
        chain_alert(broken)
pm = report_data.postmortem(str(data.root), store.files_version(), state.id, state.version,
                            report_data.edits_stamp(data, state.id), now, store)

postmortem_header(pm)
markdown, html_doc = to_markdown(pm), to_html(pm)
exports = st.container(horizontal=True, key="screen-only-exports")
exports.download_button("Download Markdown", markdown, file_name=f"{pm.incident_id}-postmortem.md",
                        mime="text/markdown", icon=":material/download:", on_click="ignore", key="download_md")
exports.download_button("Download HTML (for printing)", html_doc, file_name=f"{pm.incident_id}-postmortem.html",
                        mime="text/html", icon=":material/print:", on_click="ignore", key="download_html")

editable_section(data, pm, "summary", person)
st.subheader("Impact")
impact_table(pm)
st.subheader("Timeline (UTC)")
timeline_table(pm)
phases_table(pm)
st.subheader("Detection gap and response times")
detection_metrics(pm)
for section in ("root_cause", "went_well", "went_badly", "lessons"):
    editable_section(data, pm, section, person)
action_items(data, pm, state.version, person)
st.subheader("Reproducer")
st.markdown(pm.reproducer)
reproducer_samples_table(pm)

with st.expander("Print view (the HTML export as it prints)", icon=":material/print:"):
    st.iframe(html_doc, height=900)
