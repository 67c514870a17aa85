"""A print stylesheet: the browser's print / save-as-PDF shows the report, not the app around it."""

from __future__ import annotations

import streamlit as st

# Streamlit's own chrome by test id, plus every keyed widget the page marks as screen-only
# (Streamlit gives a keyed element the class st-key-<key>).
PRINT_CSS = """
<style>
@media print {
  [data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stHeader"],
  [data-testid="stToolbar"], [data-testid="stDecoration"], [data-testid="stStatusWidget"],
  [data-testid="stDownloadButton"], [data-testid="stPageLink"], [data-testid="stBaseButton-secondary"],
  [data-testid="stBaseButton-primary"], [class*="st-key-screen-only"], .st-key-incident,
  .st-key-postmortem_incident, [data-testid="stExpander"], iframe {
    display: none !important; }
  [data-testid="stMain"] { margin-left: 0 !important; }
  [data-testid="stMainBlockContainer"] { padding: 0 1rem !important; max-width: none !important; }
  [data-testid="stVerticalBlockBorderWrapper"], [data-testid="stMetric"] { break-inside: avoid; }
  body, [data-testid="stApp"] { background: white !important; }
}
</style>
"""


def print_stylesheet() -> None:
    st.html(PRINT_CSS)


def print_hint() -> None:
    st.caption("To share on paper or as a PDF, use your browser's Print: the sidebar, buttons and menus are "
               "left out.")
