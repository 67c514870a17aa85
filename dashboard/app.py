"""The war room: a router over the pages; each page reads state, calls core, draws."""

import logging

import streamlit as st

from dashboard.components import access

st.set_page_config(page_title="AI incident war room", page_icon=":material/emergency:", layout="wide")
access.gate()  # sign-in where configured (every page), else the single-user notice

pages = [
    st.Page("views/summary.py", title="Impact summary", icon=":material/monitoring:", url_path="summary", default=True),
    st.Page("views/explorer.py", title="Explorer", icon=":material/show_chart:", url_path="explorer"),
    st.Page("views/root_cause.py", title="Root cause", icon=":material/troubleshoot:", url_path="root-cause"),
    st.Page("views/war_room.py", title="War room", icon=":material/local_fire_department:", url_path="war-room"),
    st.Page("views/postmortem.py", title="Postmortem", icon=":material/description:", url_path="postmortem"),
    st.Page("views/slos.py", title="SLOs", icon=":material/speed:", url_path="slos"),
]
page = st.navigation(pages)
# Which page ran last: a page opened from another re-seeds its view from the link (filters.carry_view_state).
st.session_state["_arrived"] = st.session_state.get("_page") != page.url_path
st.session_state["_page"] = page.url_path
try:
    page.run()
except Exception as exc:  # st.stop / st.rerun are not Exceptions, so they pass through
    # the user gets what failed and what to try; the server log gets the whole error
    logging.getLogger("warroom").exception("page %s failed", page.url_path)
    if st.get_option("client.showErrorDetails") in ("full", "stacktrace", True):
        raise
    st.error(f"**{page.title} could not be drawn** ({type(exc).__name__}). Try a different time range or "
             "fewer filters, or reload the page; the full error is in the server log.", icon=":material/error:")
