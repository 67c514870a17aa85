"""Burn-rate charts for the SLO page: how fast each SLO has been spending its budget, with the alert lines."""

from __future__ import annotations

from datetime import datetime, timedelta

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboard.core.reporting.slo import DEFAULT_POLICIES, SloStatus, burn_rate_series, slo_events
from dashboard.core.reporting.slo_store import slo_counts
from dashboard.core.telemetry.query import TelemetryStore

POLICY_COLORS = ("#b42318", "#d97706")


@st.cache_data(show_spinner=False, max_entries=32)
def burn_series(root: str, files: tuple, slo_name: str, now: datetime, hours: int, _status: SloStatus,
                _store: TelemetryStore) -> dict[str, pl.DataFrame]:
    """Per policy name: the burn rate over its long window at every bucket of the last `hours`."""
    slo = _status.slo
    lead = max(p.long for p in DEFAULT_POLICIES)
    events = slo_events(slo_counts(_store, slo, now, timedelta(hours=hours) + lead), slo)
    start = now - timedelta(hours=hours)
    return {p.name: burn_rate_series(events, p.long, slo.allowed_bad_fraction).filter(pl.col("bucket") >= start)
            for p in DEFAULT_POLICIES}


def burn_chart(series: dict[str, pl.DataFrame]) -> go.Figure:
    fig = go.Figure()
    for (policy, color) in zip(DEFAULT_POLICIES, POLICY_COLORS, strict=True):
        frame = series.get(policy.name)
        if frame is None or frame.is_empty():
            continue
        fig.add_trace(go.Scatter(x=frame["bucket"].to_list(), y=frame["burn_rate"].to_list(), mode="lines",
                                 name=f"{policy.name} ({policy.long.total_seconds() / 3600:g} h window)",
                                 line={"color": color, "width": 1.6}))
        # labels on alternate sides: the two alert lines sit close together on a tall axis
        fig.add_hline(y=policy.factor, line={"color": color, "dash": "dot", "width": 1},
                      annotation_text=f"{policy.name} alert {policy.factor:g}x", annotation_font_size=10,
                      annotation_position="top right" if policy is DEFAULT_POLICIES[0] else "top left")
    fig.add_hline(y=1, line={"color": "#6b7280", "dash": "dash", "width": 1},
                  annotation_text="1x = budget lasts the period", annotation_font_size=10,
                  annotation_position="bottom left")
    fig.update_layout(height=260, margin={"l": 50, "r": 20, "t": 30, "b": 30}, plot_bgcolor="white",
                      yaxis={"title": "burn rate (x)", "gridcolor": "#eef0f3", "rangemode": "tozero"},
                      xaxis={"gridcolor": "#eef0f3"}, legend={"orientation": "h", "y": 1.15, "x": 0})
    return fig
