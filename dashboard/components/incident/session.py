"""Who is acting, and how the war room writes: named, against the version seen, nothing lost.

Identity is the signed-in user where sign-in is configured (access.py), otherwise
(single-user mode) a name the person types once per browser session. Every write goes
through `write`, which refuses to write without a name, turns a stale write
(someone else changed the incident meanwhile) into a clear message and a
reload, and keeps the person's input: widgets keep their values across the
rerun, so the form is still filled in when they look again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import streamlit as st

from dashboard.components import access, context
from dashboard.core.incident.chain import ChainReport
from dashboard.core.incident.events import EventError
from dashboard.core.incident.identity import Identity, PermissionDenied
from dashboard.core.incident.lifecycle import CloseRefused, LifecycleError
from dashboard.core.incident.service import Incidents
from dashboard.core.incident.state import IncidentState
from dashboard.core.incident.store import IncidentStoreError, StaleIncidentError
from dashboard.core.text import md

NAME_KEY = "who_name"
FLASH_KEY = "warroom_flash"
INCIDENT_KEY = "incident"
SEEN_KEY = "warroom_seen_versions"


def incidents() -> Incidents:
    """The incident store of the data folder (a short-lived SQLite connection per call)."""
    return Incidents.for_data_dir(context.data_dir())


def who() -> Identity | None:
    """Who is acting: the signed-in identity, else (single-user mode) the name typed once per session."""
    signed = access.current()
    if signed is not None:
        return signed
    name = (st.session_state.get(NAME_KEY) or "").strip()
    return Identity(name=name, via="local") if name else None


def identity_box() -> Identity | None:
    """Show who is acting; without sign-in, ask for a name (kept for the browser session)."""
    signed = access.current()
    if signed is not None:
        st.caption(f"Signed in as **{md(signed.name)}** · {signed.role}")
        if signed.role == "viewer":
            st.caption(":orange[Read only: viewers cannot change an incident.]")
        return signed
    st.text_input("Your name", key=NAME_KEY, persist_state="session", placeholder="set once; recorded on changes",
                  help="Single-user mode (no sign-in configured): every change records the name you type here "
                       "for this browser session.")
    person = who()
    if person is None:
        st.caption(":orange[Set your name before changing anything.]")
    return person


def flash(kind: str, message: str) -> None:
    st.session_state[FLASH_KEY] = (kind, message)


def show_flash() -> None:
    kind, message = st.session_state.pop(FLASH_KEY, (None, None))
    if kind == "success":
        st.success(message, icon=":material/check_circle:")
    elif kind == "warning":
        st.warning(message, icon=":material/warning:")


def mark_seen(state: IncidentState) -> None:
    """Remember the version this person has on screen: their next change is checked against it."""
    st.session_state.setdefault(SEEN_KEY, {})[state.id] = state.version


def seen_version(incident_id: str) -> int | None:
    return st.session_state.get(SEEN_KEY, {}).get(incident_id)


def as_seen(latest: IncidentState) -> IncidentState:
    """The latest state to draw, carrying the version this person last saw for their writes.

    A click reruns the page, which reloads the incident; without this, a change
    would silently apply on top of someone else's change the person never saw.
    """
    seen = seen_version(latest.id)
    if seen is None or seen == latest.version:
        return latest
    return latest.model_copy(update={"version": seen})


def write(what: str, change: Callable[[Identity], IncidentState | None], *, rerun: bool = True) -> bool:
    """Run one change as the current person; report refusals in place, reload on a stale write."""
    actor = who()
    if not actor:
        st.warning("Set your name first (top right of the page): every change records who made it. "
                   "Nothing was written.", icon=":material/front_hand:")
        return False
    try:
        result = change(actor)
    except StaleIncidentError as exc:
        st.session_state.get(SEEN_KEY, {}).pop(exc.incident_id, None)  # the reload shows the latest
        flash("warning", f"{exc.incident_id} changed while you were looking (someone else recorded a change). "
                         "Nothing of yours was written: the page now shows the latest state and your input is "
                         "still in the form. Check it and submit again.")
        st.rerun()
    except CloseRefused as exc:
        st.error("**Close refused.**\n\n" + "\n".join(f"- {reason}" for reason in exc.reasons), icon=":material/block:")
        return False
    except (LifecycleError, PermissionDenied, EventError, IncidentStoreError, ValueError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        st.error(f"Not recorded: {md(message)}", icon=":material/block:")
        return False
    if isinstance(result, IncidentState):
        mark_seen(result)  # the person made this version: they have seen it
    if rerun:
        flash("success", f"{md(what)} recorded as {md(actor)}.")
        st.rerun()
    return True


def pick_incident(service: Incidents) -> IncidentState | None:
    """The incident named by the URL (`?incident=INC-5`), else the newest open one."""
    states = sorted(service.list(), key=lambda s: int(s.id.split("-")[1]), reverse=True)
    if not states:
        return None
    ids = [s.id for s in states]
    by_id = {s.id: s for s in states}
    newest_open = next((i for i, s in enumerate(states) if s.is_open), 0)
    # plain ids as options: the URL carries the option text (?incident=INC-5), links from other pages too
    chosen = st.selectbox("Incident", ids, index=newest_open, key=INCIDENT_KEY, bind="query-params",
                          help="Newest first; the page opens on the newest open incident.")
    open_now = [s for s in states if s.is_open]
    st.caption("Open: " + (" · ".join(f"{s.id} {s.status} {s.severity or ''}" for s in open_now) or "none"))
    return by_id[chosen or ids[newest_open]]


def chain_warning(service: Incidents, incident_id: str) -> bool:
    """Say so, above everything, when the incident's log fails its hash-chain check; True if it does."""
    report = service.audit(incident_id)
    if not report.intact:
        chain_alert(report)
    return not report.intact


def chain_alert(report: ChainReport) -> None:
    """The one way a page says an incident's record was altered outside the war room."""
    incident_id = report.incident_id
    st.error(f"**{incident_id}'s record was altered outside the war room.** Its hash chain breaks at event "
             f"#{report.broken_at}: {md(report.reason)}. What is shown of it is as stored and cannot be trusted "
             f"from that event on; `warroom incident audit {incident_id}` gives the same check.",
             icon=":material/gpp_bad:")


def hhmm(moment: datetime | None) -> str:
    return f"{moment:%H:%M}" if moment else "–"


def when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "–"
