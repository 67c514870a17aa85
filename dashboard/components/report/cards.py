"""One open incident for executives: state, what users see, then the impact in big numbers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Literal
from urllib.parse import urlencode

import streamlit as st

from dashboard.components.badges import severity_color
from dashboard.core.incident.comms import CommsClock
from dashboard.core.reporting.impact import Impact
from dashboard.core.reporting.incident_metrics import format_duration
from dashboard.core.reporting.summary import Figure, IncidentCard, executive_update
from dashboard.core.telemetry import signals as sig
from dashboard.core.text import md

# the colours Streamlit's metric delta accepts
DeltaColor = Literal["normal", "inverse", "off", "red", "orange", "yellow", "green", "blue", "violet", "gray",
                     "grey", "primary"]

TREND_WORDS = {"better": "getting better", "worse": "getting worse", "steady": "holding steady",
               "unknown": "trend unknown"}
TREND_COLORS: dict[str, DeltaColor] = {"better": "green", "worse": "red", "steady": "gray", "unknown": "gray"}


def next_update_text(clock: CommsClock) -> tuple[str, str, DeltaColor]:
    """(value, delta, colour) for the 'next update' metric; overdue reads red."""
    if clock.due_at is None:
        return "none scheduled", "", "off"
    left = timedelta(minutes=clock.minutes_left or 0)
    if clock.overdue:
        return f"{clock.due_at:%H:%M} UTC", f"OVERDUE by {format_duration(-left)}", "red"
    return f"{clock.due_at:%H:%M} UTC", f"in {format_duration(left)}", "gray"


def trend_delta(trend: str | None) -> dict:
    """st.metric delta arguments saying whether the last 30 minutes got better or worse."""
    if not trend:
        return {}
    # no arrow: for a rate that should fall, "better" points down, which reads as bad news
    return {"delta": TREND_WORDS.get(trend, trend) + " over the last 30 min",
            "delta_color": TREND_COLORS.get(trend, "gray"), "delta_arrow": "off"}


def state_badges(card: IncidentCard) -> None:
    s = card.state
    row = st.container(horizontal=True, vertical_alignment="center")
    row.badge(s.severity or "severity not set", color=severity_color(s.severity))
    row.badge(s.status.capitalize(), color="blue")
    row.markdown(f"Commander **{md(s.commander or 'unassigned')}**"
                 + (f" · service {md(s.service)}" if s.service else ""))


def state_row(card: IncidentCard) -> None:
    s = card.state
    due, due_delta, due_color = next_update_text(card.clock)
    cols = st.columns(3)
    cols[0].metric("Open for", format_duration(card.age), delta=f"since {(s.window_start or s.opened_at):%H:%M} UTC",
                   delta_color="gray", delta_arrow="off", border=True,
                   help="Counted from the start of the regression, not from when the incident was opened.")
    cols[1].metric("Next update due", due, delta=due_delta or None, delta_color=due_color, delta_arrow="off",
                   border=True, help=f"Updates every {card.clock.cadence_minutes} min at {s.severity or 'SEV2'}"
                   if card.clock.cadence_minutes else None)
    detected = s.detected_at or s.opened_at
    lag = format_duration(detected - (s.window_start or detected))
    cols[2].metric("Detected", f"{detected:%H:%M} UTC", delta=f"{lag} after it started", delta_color="gray",
                   delta_arrow="off", border=True)


def figure_metric(column, figure: Figure) -> None:
    box = column.container(border=True, height="stretch")
    if figure.trend:
        box.metric(figure.label, figure.value, **trend_delta(figure.trend))
        if figure.detail:
            box.caption(figure.detail)
    else:
        box.metric(figure.label, figure.value, delta=figure.detail or None, delta_color="gray", delta_arrow="off")


def consequence_figures(impact: Impact) -> list[Figure]:
    """What the degraded rates mean in events: extra refusals, tickets not deflected, ..."""
    out = []
    for d in impact.deltas:
        if d.degraded and d.excess_events and d.event_label and d.excess_events > 0:
            out.append(Figure(d.event_label.capitalize(), f"{d.excess_events:,.0f}",
                              f"beyond the {sig.format_value(d.signal, d.baseline)} baseline", bad=True))
    return out


def impact_rows(card: IncidentCard) -> None:
    impact = card.impact
    if impact is None:
        st.info("No telemetry covers this incident yet, so its impact cannot be measured.")
        return
    scale = [f for f in card.figures if f.trend is None]
    quality = [f for f in card.figures if f.trend is not None]
    for row in (scale, quality, consequence_figures(impact)):
        if not row:
            continue
        cols = st.columns(max(len(row), 3))
        for col, figure in zip(cols, row, strict=False):
            figure_metric(col, figure)
    scope = ", ".join(f"{k}={v}" for k, v in impact.filters.items()) or "all traffic"
    st.caption(f"Measured on {scope} from {impact.window_start:%Y-%m-%d %H:%M} to {impact.window_end:%H:%M} UTC, "
               f"against {impact.baseline_label}. A → B: baseline → worst 30 minutes.")


def incident_card(card: IncidentCard, postmortem_page=None, war_room_page=None) -> None:
    s = card.state
    with st.container(border=True, key=f"card_{s.id}"):
        st.markdown(f"### {s.id} · {md(s.title)}")
        state_badges(card)
        state_row(card)
        st.markdown(f"**What users are seeing:** {md(card.users_see)}")
        if card.problem:
            st.warning(f"{s.id}: {md(card.problem)}", icon=":material/warning:")
        impact_rows(card)
        actions = st.container(horizontal=True, key=f"actions_{s.id}")
        actions.download_button("Download executive update (Markdown)", executive_update(card),
                                file_name=f"{s.id}-executive-update.md", mime="text/markdown",
                                key=f"download_{s.id}", icon=":material/download:", on_click="ignore")
        for page, text, icon in ((war_room_page, "Open in the war room", ":material/emergency:"),
                                 (postmortem_page, "Postmortem draft", ":material/description:")):
            if page is not None:
                page_link(actions, page, text, icon, {"incident": s.id})


def page_link(container, page: str, text: str, icon: str, params: Mapping[str, str | list[str]]) -> None:
    """A link to another page of the app; a plain relative link when that page is not routed."""
    try:
        container.page_link(page, label=text, icon=icon, query_params=params)
    except st.errors.StreamlitAPIException:
        slug = page.rsplit("/", 1)[-1].removesuffix(".py").replace("_", "-")
        container.markdown(f"[{text}]({slug}?{urlencode(params, doseq=True)})")  # a list: one key=value each
