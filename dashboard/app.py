"""The war room: a router over the pages; each page reads state, calls core, draws."""

import streamlit as st

st.set_page_config(page_title="AI incident war room", page_icon="🚨", layout="wide")

pages = [
    st.Page("views/explorer.py", title="Explorer", icon="📈", url_path="explorer"),
]
st.navigation(pages).run()
