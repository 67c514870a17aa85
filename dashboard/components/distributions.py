"""The Explorer's distributions: per-bucket percentiles of a measure and its histogram over the view."""

from __future__ import annotations

from datetime import datetime, timedelta

import plotly.graph_objects as go
import streamlit as st

from dashboard.components.signal_stack import complete_grid
from dashboard.core.telemetry.distributions import DISTRIBUTION_MEASURES, distribution_measures, histogram, percentiles
from dashboard.core.telemetry.query import TelemetryStore

LINES = {"p50": "#1f2937", "p90": "#d97706", "p99": "#dc2626"}


def distributions_panel(store: TelemetryStore, start: datetime, end: datetime, filters: dict[str, list[str]],
                        bucket: timedelta) -> None:
    measures = distribution_measures(store)
    if not measures:
        st.info("This data has no latency or token counts to draw a distribution of.")
        return
    measure = st.selectbox("Distribution of", measures, format_func=lambda m: DISTRIBUTION_MEASURES.get(m, m),
                           key="dist_measure",
                           bind="query-params")
    frame = percentiles(store, measure, start, end, filters, bucket)
    if frame.is_empty():
        st.info("No request in this range and filter carries it.")
        return
    frame = complete_grid(frame, bucket)  # a bucket without a value is a gap, not a ramp
    fig = go.Figure([go.Scatter(x=frame["bucket"].to_list(), y=frame[q].to_list(), name=q, mode="lines",
                                connectgaps=False, line={"width": 1.5, "color": color})
                     for q, color in LINES.items()])
    fig.update_layout(height=320, margin={"l": 60, "r": 20, "t": 30, "b": 30}, hovermode="x unified",
                      yaxis={"title": DISTRIBUTION_MEASURES[measure]}, plot_bgcolor="white",
                      legend={"orientation": "h", "y": 1.1})
    st.plotly_chart(fig, width="stretch", key="dist_percentiles", config={"displaylogo": False})
    hist = histogram(store, measure, start, end, filters)
    edges = list(zip(hist["lo"], hist["hi"], strict=True))
    bars = go.Figure(go.Bar(x=[(a + b) / 2 for a, b in edges], y=hist["requests"].to_list(),
                            width=[b - a for a, b in edges], marker_color="#2563eb",
                            hovertemplate="%{x:,.0f}: %{y:,} requests<extra></extra>"))
    bars.update_layout(height=260, margin={"l": 60, "r": 20, "t": 10, "b": 40}, bargap=0.05, plot_bgcolor="white",
                       xaxis={"title": DISTRIBUTION_MEASURES[measure]}, yaxis={"title": "requests"})
    st.plotly_chart(bars, width="stretch", key="dist_histogram", config={"displaylogo": False})
    st.caption(f"{int(hist['requests'].sum()):,} requests carry it in this range and filter "
               f"({bucket.total_seconds() / 60:g}-minute buckets for the percentiles).")
