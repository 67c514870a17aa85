"""Who is using the app: sign-in where it is configured, single-user mode where it is not.

With an `[auth]` section in Streamlit's secrets (an OIDC provider, see the
README's deployment section), every page first requires sign-in through
`st.login`; the signed-in identity (subject and e-mail from the ID token, role
from a token claim or the data folder's roles.toml) is what every write is
attributed to. Without one, the app is single-user: it must listen on this
machine only, refuses to serve otherwise, and says so on every page.
"""

from __future__ import annotations

import ipaddress

import streamlit as st

from dashboard.components import context
from dashboard.core.incident.identity import Identity
from dashboard.core.incident.roles import RolesError, load_roles, signed_in

IDENTITY_KEY = "warroom_identity"
ROLE_HELP = {
    "viewer": "read only: you can follow every incident but not change one",
    "responder": "you can post updates, work the playbook and change status and severity",
    "commander": "you can also open incidents and close one on a passed soak",
    "admin": "you can also override a close and hand over command on any incident",
}


def auth_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file at all, or an unreadable one: no sign-in configured
        return False


def _listens_locally() -> bool:
    address = (st.get_option("server.address") or "").strip()
    if address in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False  # "" (every interface) or a host name


def current() -> Identity | None:
    """The signed-in identity, or None in single-user mode (set by `gate` on every run)."""
    return st.session_state.get(IDENTITY_KEY)


def gate() -> Identity | None:
    """Run before any page: sign-in (or stop), or the single-user notice (or stop if exposed)."""
    if not auth_configured():
        st.session_state[IDENTITY_KEY] = None
        if not _listens_locally():
            st.error("**No sign-in is configured, so this app only serves this machine.** It is listening on "
                     f"`{st.get_option('server.address') or 'every interface'}`: restart it with "
                     "`--server.address 127.0.0.1`, or configure sign-in (README, *Running it for a team*).",
                     icon=":material/lock:")
            st.stop()
        st.sidebar.caption(":material/person: **Single-user mode**: no sign-in is configured, the app listens "
                           "on this machine only, and changes are recorded under the name you type.")
        return None
    if not st.user.is_logged_in:
        _sign_in_screen()
        st.stop()
    try:
        identity = signed_in(st.user.to_dict(), load_roles(context.data_dir().root))
    except RolesError as exc:
        st.error(f"Signed in, but the roles cannot be read: {exc}", icon=":material/block:")
        st.stop()
    st.session_state[IDENTITY_KEY] = identity
    with st.sidebar:
        st.caption(f":material/verified_user: Signed in as **{identity.name}** · {identity.role}: "
                   f"{ROLE_HELP.get(identity.role or '', '')}.")  # signed in: always a role
        st.button("Sign out", on_click=st.logout, key="sign_out", icon=":material/logout:")
    return identity


def _sign_in_screen() -> None:
    st.title("AI incident war room")
    st.write("This war room is shared by a team: sign in to see and run incidents. "
             "Every change you make is recorded under your signed-in identity.")
    st.button("Sign in", on_click=st.login, type="primary", key="sign_in", icon=":material/login:")
