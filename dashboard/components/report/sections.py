"""Editable postmortem prose: read, edit, save with optimistic concurrency so nobody's text is lost.

A save names the edit it started from. When someone saved in between, the save
is refused (StaleEditError), the draft stays in its box, and the newer version
is shown beside it so the writer can merge and save again.
"""

from __future__ import annotations

import streamlit as st

from dashboard.core.datadir import DataDir
from dashboard.core.incident.service import Actor
from dashboard.core.reporting.postmortem.model import Postmortem
from dashboard.core.reporting.postmortem.service import EditError, StaleEditError, save_section, section_history
from dashboard.core.text import md, md_prose


def _keys(incident_id: str, section: str) -> tuple[str, str, str]:
    base = f"pm_{incident_id}_{section}"
    return f"{base}_editing", f"{base}_draft", f"{base}_seq"


def latest_seq(data: DataDir, incident_id: str, section: str) -> int:
    history = section_history(data, incident_id, section)
    return history[-1].seq if history else 0


def _start(data: DataDir, incident_id: str, section: str, text: str) -> None:
    editing, draft, seq = _keys(incident_id, section)
    st.session_state[editing] = True
    st.session_state[draft] = text
    st.session_state[seq] = latest_seq(data, incident_id, section)


def _stop(incident_id: str, section: str) -> None:
    editing, draft, seq = _keys(incident_id, section)
    for key in (editing, draft, seq):
        st.session_state.pop(key, None)


def _rebase(data: DataDir, incident_id: str, section: str) -> None:
    """Keep the draft, accept that it now replaces the newest saved version."""
    st.session_state[_keys(incident_id, section)[2]] = latest_seq(data, incident_id, section)


def _save(data: DataDir, incident_id: str, section: str, person: Actor | None) -> None:
    editing, draft, seq = _keys(incident_id, section)
    flash = f"pm_{incident_id}_{section}_flash"
    if not person:
        st.session_state[flash] = ("error", "Set your name in the sidebar first: every edit records its author.")
        return
    if getattr(person, "role", None) == "viewer":
        st.session_state[flash] = ("error", f"Not saved: {person} is a viewer (read only).")
        return
    try:
        save_section(data, incident_id, section, st.session_state.get(draft, ""), str(person),
                     expected_seq=int(st.session_state.get(seq, 0)))
    except StaleEditError as exc:
        latest = section_history(data, incident_id, section)[-1]
        st.session_state[flash] = ("stale", f"Not saved: {latest.author} saved this section at "
                                   f"{latest.edited_at:%H:%M} UTC while you were editing ({exc.actual} versions "
                                   "now). Your text is still in the box. Compare it with theirs below, merge, "
                                   "then save again.")
        return
    except EditError as exc:
        st.session_state[flash] = ("error", f"Not saved: {exc}")
        return
    _stop(incident_id, section)
    st.session_state[flash] = ("saved", "Saved.")


def editable_section(data: DataDir, pm: Postmortem, section: str, person: Actor | None) -> None:
    sec = pm.section(section)
    editing, draft, _ = _keys(pm.incident_id, section)
    flash_key = f"pm_{pm.incident_id}_{section}_flash"
    st.subheader(sec.title)
    flash = st.session_state.pop(flash_key, None)
    if not st.session_state.get(editing):
        st.markdown(md_prose(sec.text) if sec.text else "_Nothing written yet._")
        if sec.edited is not None:
            st.caption(f"Edited by {md(sec.edited_by)} on {sec.edited_at:%Y-%m-%d %H:%M} UTC")
            with st.expander("Generated from the record"):
                st.markdown(md_prose(sec.generated))
        if flash and flash[0] == "saved":
            st.toast(f"{sec.title}: saved", icon=":material/check:")
        st.button("Edit", key=f"screen-only-edit-{pm.incident_id}-{section}", icon=":material/edit:",
                  on_click=_start, args=(data, pm.incident_id, section, sec.text))
        return
    st.text_area(f"{sec.title} (Markdown)", key=draft, height=220, label_visibility="collapsed")
    if flash and flash[0] == "stale":
        st.error(flash[1], icon=":material/sync_problem:")
        latest = section_history(data, pm.incident_id, section)[-1]
        st.markdown(f"**Their version ({md(latest.author)}, {latest.edited_at:%H:%M} UTC):**")
        st.code(latest.text, language="markdown", wrap_lines=True)
        st.button("I merged theirs into mine: save over it next", key=f"screen-only-rebase-{pm.incident_id}-{section}",
                  on_click=_rebase, args=(data, pm.incident_id, section))
    elif flash:
        st.error(flash[1])
    cols = st.columns([1, 1, 6])
    cols[0].button("Save", key=f"screen-only-save-{pm.incident_id}-{section}", type="primary",
                   on_click=_save, args=(data, pm.incident_id, section, person))
    cols[1].button("Cancel", key=f"screen-only-cancel-{pm.incident_id}-{section}",
                   on_click=_stop, args=(pm.incident_id, section))
