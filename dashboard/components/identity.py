"""Who is acting: the signed-in user when login is configured, else a name set once per browser session.

Every write (an incident event, a postmortem edit) names its author; pages call
`current_person()` and refuse to write without one.
"""

from __future__ import annotations

import streamlit as st

NAME_KEY = "identity_name"  # plain session state: survives pages that do not draw the input
INPUT_KEY = "identity_name_input"


def signed_in_name() -> str | None:
    """The name (or email) of the signed-in user; None when login is not configured or nobody signed in."""
    if not st.user.get("is_logged_in"):
        return None
    return str(st.user.get("name") or st.user.get("email") or "").strip() or None


def current_person() -> str | None:
    return signed_in_name() or (str(st.session_state.get(NAME_KEY) or "").strip() or None)


def identity_sidebar() -> str | None:
    """Show who is writing in the sidebar, asking for a name once per session when nobody is signed in."""
    signed = signed_in_name()
    if signed:
        st.sidebar.caption(f"Signed in as **{signed}**")
        return signed
    if INPUT_KEY not in st.session_state:
        st.session_state[INPUT_KEY] = st.session_state.get(NAME_KEY, "")
    st.sidebar.text_input("Your name", key=INPUT_KEY, placeholder="e.g. Priya Raman", on_change=_remember,
                          help="Recorded with every change you make. Kept for this browser session.")
    _remember()
    return current_person()


def _remember() -> None:
    st.session_state[NAME_KEY] = str(st.session_state.get(INPUT_KEY) or "").strip()
