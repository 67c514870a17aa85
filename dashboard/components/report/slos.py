"""SLO status in plain figures: attainment, error budget left, burn-rate alerts, and offers to open an incident."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

import streamlit as st

from dashboard.components.badges import BadgeColor
from dashboard.components.report.cards import page_link
from dashboard.core.reporting.slo import SloStatus
from dashboard.core.telemetry import signals as sig

STATE_COLORS: dict[str, BadgeColor] = {"burning": "red", "exhausted": "orange", "ok": "green", "no data": "gray"}
STATE_WORDS = {"burning": "Burning now", "exhausted": "Budget spent", "ok": "Within budget", "no data": "No data"}
WAR_ROOM_VIEW = Path(__file__).resolve().parents[2] / "views" / "war_room.py"


def budget_text(status: SloStatus) -> str:
    if status.budget_remaining is None:
        return "not in this data" if any(n.startswith("not in this data") for n in status.notes) else "budget unknown"
    if status.budget_remaining < 0:
        return f"{-status.budget_remaining:.0%} over budget"
    return f"{status.budget_remaining:.0%} of budget left"


def burn_text(status: SloStatus) -> str:
    """'1 h 41.7x / 5 min 0.0x · 6 h ...': both windows of each policy (an alert needs both above its factor)."""
    parts = []
    for alert in status.alerts:
        long_, short = (_burn(alert.long_burn), _burn(alert.short_burn))
        parts.append(f"{_hours(alert.policy.long)} {long_} / {_hours(alert.policy.short)} {short}"
                     + (" FIRING" if alert.firing else ""))
    return " · ".join(parts)


def _burn(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}x"


def _hours(length) -> str:
    minutes = length.total_seconds() / 60
    return f"{minutes / 60:g} h" if minutes >= 60 else f"{minutes:g} min"


def slo_metrics(statuses: list[SloStatus]) -> None:
    """One bordered metric per SLO: 28-day attainment, budget left (red when spent), burn rates."""
    if not statuses:
        st.info("No SLOs declared. Add a `slos.toml` to the data folder (see the shipped default).")
        return
    per_row = 3
    for i, status in enumerate(statuses):
        if i % per_row == 0:
            cols = st.columns(per_row)
        col = cols[i % per_row].container(border=True, height="stretch")
        value = "—" if status.attainment is None else f"{status.attainment:.2%}"
        spent = status.budget_remaining is not None and status.budget_remaining <= 0
        col.metric(status.slo.title, value, delta=budget_text(status), delta_arrow="off",
                   delta_color="gray" if status.budget_remaining is None else "red" if spent or status.firing
                   else "green",
                   help=f"{status.slo.describe()}. Target {status.slo.target:.2%} of "
                        f"{'requests' if status.slo.method == 'requests' else 'windows'} good.")
        col.badge(STATE_WORDS.get(status.state, status.state), color=STATE_COLORS.get(status.state, "gray"))
        if status.state == "no data":
            col.caption(" · ".join(status.notes) or "No telemetry in the period.")
        else:
            col.caption(f"Last hour {sig.format_value(status.slo.signal, status.current_value)} · burn rate "
                        f"{burn_text(status)}")


def firing_alerts(statuses: list[SloStatus]) -> None:
    for status in statuses:
        for alert in status.firing:
            st.error(f"**{status.slo.title}: {alert.policy.name}.** Spending the error budget "
                     f"{alert.long_burn:.1f}x too fast over the last {alert.policy.long.total_seconds() / 3600:g} h "
                     f"and {alert.short_burn:.1f}x over the last {alert.policy.short.total_seconds() / 60:g} min "
                     f"(alert at {alert.policy.factor:g}x).", icon=":material/local_fire_department:")


def open_incident_params(status: SloStatus) -> dict[str, str]:
    """The war room's 'new incident' contract: new=1, the signal, and the SLO's segment as f_<segment>."""
    params = {"new": "1", "signal": status.slo.signal}
    params.update({f"f_{k}": str(v) for k, v in sorted(status.slo.segment.items())})
    return params


def offer_incidents(offers: list[SloStatus]) -> None:
    """A burning SLO no open incident covers: say so and link to opening one in the war room."""
    for status in offers:
        params = open_incident_params(status)
        with st.container(border=True, key=f"offer_{status.slo.name}"):
            st.warning(f"**{status.slo.title}** is burning its error budget and no open incident covers "
                       f"{sig.label(status.slo.signal).lower()}.", icon=":material/warning:")
            if WAR_ROOM_VIEW.exists():
                page_link(st, "views/war_room.py", "Open an incident for it", ":material/add_alert:", params)
            else:
                st.markdown(f"[Open an incident for it](war-room?{urlencode(params)})")


def slo_status_line(statuses: list[SloStatus]) -> None:
    """One line for pages about something else: how many SLOs are in each state, and a link to them all."""
    if not statuses:
        return
    counts = Counter(status.state for status in statuses)
    order = [*STATE_WORDS, *(state for state in counts if state not in STATE_WORDS)]
    parts = [f":{STATE_COLORS.get(state, 'gray')}[{counts[state]} {STATE_WORDS.get(state, state).lower()}]"
             for state in order if counts[state]]
    text, link = st.columns([5, 1], vertical_alignment="center")
    text.markdown("**SLOs** · " + " · ".join(parts))
    page_link(link, "views/slos.py", "Burn rates", ":material/speed:", {})
