"""Impact summary: how bad, for whom, what it costs, is it getting better, when we hear more."""

import streamlit as st

from dashboard.components import context
from dashboard.components.incident.session import chain_alert
from dashboard.components.report import data as report_data
from dashboard.components.report.cards import incident_card
from dashboard.components.report.history import history_block
from dashboard.components.report.printing import print_hint, print_stylesheet
from dashboard.components.report.slos import WAR_ROOM_VIEW, firing_alerts, offer_incidents, slo_metrics
from dashboard.core.reporting.slo_config import SloConfigError
from dashboard.core.reporting.summary import slo_offers

print_stylesheet()
store = context.store()
data = store.data
now = context.require_data(store)
states = report_data.incidents(data)
record = report_data.fingerprint(states)
titles = {s.id: s.title for s in states if s.is_open}

st.title("Impact summary")
context.as_of_caption(now)

choices = ["All open incidents", *titles]
# plain ids as options: a bound widget matches the URL against the option labels, and links carry the id
picked = st.selectbox("Incident", choices, key="incident", bind="query-params",
                      help="Pick one to get a link that shows only that incident.")

st.header("Open incidents")
for broken in report_data.broken_chains(data):
    chain_alert(broken)
cards = report_data.cards(str(data.root), store.files_version(), now, record, store)
shown = [c for c in cards if picked in (choices[0], c.state.id)]
if not shown:
    st.success("No open incidents. Everything below is history and SLO status.")
for card in shown:
    incident_card(card, postmortem_page="views/postmortem.py",
                  war_room_page="views/war_room.py" if WAR_ROOM_VIEW.exists() else None)
with st.container(key="screen-only-print-hint"):
    print_hint()

st.header("Service level objectives")
st.caption("Attainment and error budget over the SLO period (28 days, or the data available); "
           "burn-rate alerts: fast = 1 h and 5 min above 14.4x, slow = 6 h and 30 min above 6x.")
try:
    statuses = report_data.slo_statuses(str(data.root), store.files_version(), now, report_data.slo_stamp(data), store)
except SloConfigError as exc:
    st.error(f"The SLO file cannot be used: {exc}")
    statuses = []
slo_metrics(statuses)
firing_alerts(statuses)
offer_incidents(slo_offers(statuses, [s for s in states if s.is_open]))
st.page_link("views/slos.py", label="Every SLO with its burn rates", icon=":material/speed:")

st.header("Incident history")
st.caption("Every duration runs from the regression start, so a slow detection shows in all four.")
history_block(report_data.history(str(data.root), record))
