"""The war room: a router over the pages; each page reads state, calls core, draws."""

import streamlit as st

st.set_page_config(page_title="AI incident war room", page_icon="🚨", layout="wide")

pages = [
    st.Page("views/summary.py", title="Impact summary", icon="📊", url_path="summary", default=True),
    st.Page("views/explorer.py", title="Explorer", icon="📈", url_path="explorer"),
    st.Page("views/war_room.py", title="War room", icon="🧯", url_path="war-room"),
    st.Page("views/postmortem.py", title="Postmortem", icon="📝", url_path="postmortem"),
    st.Page("views/slos.py", title="SLOs", icon="🎯", url_path="slos"),
]
st.navigation(pages).run()
