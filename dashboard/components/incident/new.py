"""Open an incident with one action, prefilled from a finding.

Reached from the explorer or the regression finder through the URL:

    /war-room?new=1&signal=refusal_rate&f_tier=paid&f_language=en
             &start=2025-02-18T13:30:00Z&suspect=prompt:prompt-v7&suspect=index:kb-2025-02-15
             &also=task_success_rate&title=...&source=explorer

Only `new=1` is required. `signal` is a signal registry name (the key one);
`also` repeats for other signals that moved; `f_<segment>`
narrows to one value of a segment (the explorer's filter parameters; with
several values the first is taken); `start` is when the regression started
(default: an hour before the data's now); `suspect` repeats; `title` and
`source` are optional. The draft (type, measured impact, suggested severity
with its reasoning) is recomputed from telemetry as the fields change.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta

import streamlit as st

from dashboard.components.filters import link_values
from dashboard.components.incident.session import INCIDENT_KEY, flash, who
from dashboard.core.incident import events as ev
from dashboard.core.incident.drafting import draft_incident
from dashboard.core.incident.identity import PermissionDenied
from dashboard.core.incident.service import Incidents
from dashboard.core.incident.telemetry_adapter import VERIFIABLE_SIGNALS
from dashboard.core.telemetry import signals as registry
from dashboard.core.text import md
from dashboard.core.timeutil import naive_utc

URL_KEYS = ("new", "signal", "also", "start", "suspect", "title", "source")
ALL = "(all)"


def url_prefill(segments: list[str]) -> dict:
    """What the link carries, read once when the form first opens."""
    q = st.query_params
    signal = next(iter(link_values("signal")), None)
    start = q.get("start")
    try:
        start_at = datetime.fromisoformat(start.replace("Z", "+00:00")) if start else None
    except ValueError:
        st.warning(f"Ignored start={md(start)} in the link: not an ISO timestamp (e.g. 2025-02-18T13:30:00Z).")
        start_at = None
    several = [s for s in segments if len(link_values(f"f_{s}")) > 1]
    if several:
        st.warning("An incident names one value per segment; the link has several for "
                   + ", ".join(several) + ": the first is used. Change it below if needed.")
    return {
        "signal": signal if signal in VERIFIABLE_SIGNALS else None,
        "also": [a for a in q.get_all("also") if registry.is_known(a) and a != signal],
        "bad_signal": signal if signal and signal not in VERIFIABLE_SIGNALS else None,
        "segments": {s: link_values(f"f_{s}")[0] for s in segments if link_values(f"f_{s}")},
        "start": start_at,
        "suspects": [s for s in q.get_all("suspect") if s.strip()],
        "title": q.get("title"),
        "source": q.get("source") or "war room",
    }


def leave_form(segments: list[str], opened_id: str | None = None) -> None:
    for key in [*URL_KEYS, *(f"f_{s}" for s in segments)]:
        if key in st.query_params:
            del st.query_params[key]
    if opened_id:
        st.session_state[INCIDENT_KEY] = opened_id
    st.rerun()


def new_incident_form(service: Incidents, store, now: datetime) -> None:
    # the finding's scope: every segment, and any other column the link filters on (a model, a provider)
    segments = list(store.schema.segments) + [c for c in store.schema.dimension_columns
                                              if c not in store.schema.segments and link_values(f"f_{c}")]
    pre = url_prefill(segments)
    st.subheader("Open an incident")
    st.caption("Prefilled from the link and measured on telemetry up to the data's now. Check it, then open.")
    if pre["bad_signal"]:
        st.warning(f"Unknown or unverifiable signal {md(pre['bad_signal'])} in the link; pick one below.")
    signals = list(VERIFIABLE_SIGNALS)
    c1, c2 = st.columns([1, 1])
    signal = c1.selectbox("Signal that moved", signals, key="new_signal",
                          index=signals.index(pre["signal"]) if pre["signal"] else 0,
                          format_func=lambda s: f"{registry.get(s).label} ({s})")
    naive_now = naive_utc(now).replace(second=0, microsecond=0)
    default_start = (naive_utc(pre["start"]) if pre["start"]
                     else naive_now - timedelta(hours=1))
    started = c2.datetime_input("Regression started (UTC)", value=default_start, key="new_start",
                                step=timedelta(minutes=5))
    window_start = (started or default_start).replace(tzinfo=UTC)
    values = store.dimension_values(now - timedelta(days=1), now)
    chosen: dict[str, str] = {}
    for col, seg in zip(st.columns(len(segments)), segments, strict=True):
        wanted = pre["segments"].get(seg)
        # the link's value stays choosable even when it served nothing in the last day (an older finding)
        options = [ALL, *sorted(set(values.get(seg, [])) | ({wanted} if wanted else set()))]
        pick = col.selectbox(seg.replace("_", " ").title(), options, key=f"new_seg_{seg}",
                             index=options.index(wanted) if wanted in options else 0)
        if pick != ALL:
            chosen[seg] = pick
    suspects_text = st.text_input("Suspects (comma-separated, e.g. prompt:prompt-v7)",
                                  value=", ".join(pre["suspects"]), key="new_suspects")
    suspects = [s.strip() for s in suspects_text.split(",") if s.strip()]
    if window_start >= now:
        st.error("The regression start must be before the data's now "
                 f"({now:%Y-%m-%d %H:%M} UTC): there is nothing to measure after it.")
        return
    draft = draft_incident(store, signal, chosen or None, window_start, now, suspects=suspects, title=pre["title"],
                           also_moves=[a for a in pre["also"] if a != signal])

    with st.container(border=True):
        st.markdown("**Measured** (baseline: the 3 hours before the start; current: the last 15 minutes)")
        st.markdown("\n".join(f"- {f.sentence()}" for f in draft.facts) or "- no samples on this segment")
        if draft.impact.affected_share is not None:
            st.caption(f"Segment share of traffic: {draft.impact.affected_share:.1%}")
        st.markdown(f"Suggested severity **{draft.suggestion.level}**")
        st.caption("  \n".join(f"· {r}" for r in draft.suggestion.reasons))

    # the draft's fields re-prefill when what it was measured on changes
    fingerprint = zlib.crc32(f"{signal}|{sorted(chosen.items())}|{window_start:%Y%m%d%H%M}".encode())
    title = st.text_input("Title", value=draft.title, key=f"new_title_{fingerprint}")
    c1, c2, c3 = st.columns(3)
    types = list(ev.INCIDENT_TYPES)
    kind = c1.selectbox("Type", types, index=types.index(draft.type), key=f"new_type_{fingerprint}",
                        format_func=lambda t: t.replace("_", " "))
    levels = list(ev.SEVERITIES)
    level = c2.selectbox("Severity", levels, index=levels.index(draft.suggestion.level),
                         key=f"new_sev_{fingerprint}")
    commander = c3.text_input("Incident commander", value=str(who() or ""), key="new_commander",
                              placeholder="default: you")
    b1, b2 = st.columns([1, 5])
    if b1.button("Open incident", type="primary", key="new_open"):
        actor = who()
        if not actor:
            st.warning("Set your name first (top right of the page): the opener is recorded. Nothing was written.",
                       icon=":material/front_hand:")
            return
        reasons = (draft.suggestion.reasons if level == draft.suggestion.level
                   else [f"set to {level} by {actor} (suggested {draft.suggestion.level})",
                         *draft.suggestion.reasons])
        try:
            state = service.open(actor, title, at=now, type=kind, severity=level, severity_reasons=reasons,
                                 commander=commander.strip() or None, detected_at=now, window_start=window_start,
                                 signals=draft.signals, segments=draft.segments, suspects=draft.suspects,
                                 source=pre["source"], service=_service_name(store, window_start, now))
        except (ev.EventError, PermissionDenied, ValueError) as exc:
            st.error(f"Not opened: {md(exc)}")
            return
        flash("success", f"{state.id} opened as {md(actor)}.")
        leave_form(segments, state.id)
    if b2.button("Cancel", key="new_cancel"):
        leave_form(segments)


def _service_name(store, start: datetime, end: datetime) -> str | None:
    """The service the releases name, when the store holds exactly one."""
    releases = store.releases()
    services = releases["service"].unique().to_list() if "service" in releases.columns else []
    return services[0] if len(services) == 1 else None
