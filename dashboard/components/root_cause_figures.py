"""Figures of the root-cause view, pure (frames in, Plotly figure out) so they are unit-tested without a browser.

- the signal with its releases, each detected change point as a labelled line
  (red: a step the bad way, green: a recovery) and the regression shaded;
- the segment heatmap: one row per dimension, one cell per value, coloured by
  how far that value moved the bad way (red) or the good way (blue), with the
  change written in the cell, so nothing has to be decoded from a colour bar.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

import plotly.graph_objects as go
import polars as pl

from dashboard.components.signal_stack import build_signal_stack
from dashboard.core.diagnosis.models import ChangePointResult
from dashboard.core.text import plotly_text

REGRESSION_COLOR = "#dc2626"
RECOVERY_COLOR = "#16a34a"
# diverging: blue = better, white = no change, red = worse (oriented by the signal's bad direction)
CONTEXT_BEFORE = timedelta(hours=3)
HEAT_SCALE = [[0.0, "#2563eb"], [0.5, "#f8fafc"], [1.0, "#dc2626"]]


def regression_window(points: list[ChangePointResult], end: datetime) -> tuple[datetime, datetime] | None:
    """From the first bad-direction step to the first recovery after the last one (or the window's end)."""
    bad = [p.ts for p in points if p.regression]
    if not bad:
        return None
    recoveries = [p.ts for p in points if not p.regression and p.ts > bad[-1]]
    return bad[0], (recoveries[0] if recoveries else end)


def regression_figure(series: pl.DataFrame, signal: str, releases: pl.DataFrame,
                      points: list[ChangePointResult], end: datetime, bucket: timedelta | None = None) -> go.Figure:
    fig = build_signal_stack(series, [signal], releases, highlight=regression_window(points, end), row_height=300,
                             bucket=bucket)
    for k, p in enumerate(points):
        color = REGRESSION_COLOR if p.regression else RECOVERY_COLOR
        fig.add_shape(type="line", xref="x", yref="paper", x0=p.ts, x1=p.ts, y0=0, y1=1,
                      line={"color": color, "width": 2}, name=f"change:{p.ts:%H:%M}")
        # one text row per change point: change points minutes apart would print over each other
        fig.add_annotation(x=p.ts, y=0.97 - 0.09 * (k % 4), xref="x", yref="paper", showarrow=False,
                           xanchor="left", yanchor="top", font={"size": 11, "color": color},
                           bgcolor="rgba(255,255,255,0.85)",
                           text=f"{p.ts:%H:%M} {p.before_text} → {p.after_text}")
    if points and series.height:
        # open on the change with context before it; the whole range stays a double-click away
        first = min(p.ts for p in points) - CONTEXT_BEFORE
        fig.update_xaxes(range=[max(first, cast(datetime, series["bucket"].min())), end])
    return fig


def segment_heatmap(frame: pl.DataFrame, direction: int, max_values: int = 8) -> go.Figure:
    """Rows = dimensions, cells = that dimension's values (worst first, at most `max_values`).

    The colour is the change's z score oriented so red is always worse, capped at ±10
    (beyond that every shift is certain); the text is the change itself.
    """
    dims = frame["dimension"].unique(maintain_order=True).to_list()
    width = min(max((frame.filter(pl.col("dimension") == d).height for d in dims), default=1), max_values)
    z, text, hover = [], [], []
    for dim in dims:
        part = frame.filter(pl.col("dimension") == dim).head(max_values)
        oriented = [max(-10.0, min(10.0, direction * zz)) for zz in part["z"]]
        pad = width - part.height
        z.append(oriented + [None] * pad)
        cells = zip(part["value"], part["change_text"], strict=True)
        text.append([f"{plotly_text(v)}<br>{c}" for v, c in cells] + [""] * pad)
        hover.append([f"{dim}={plotly_text(r['value'])}: {r['change_text']} (z={r['z']:.1f}; n={r['baseline_n']:,} → "
                      f"{r['current_n']:,})" for r in part.iter_rows(named=True)] + [""] * pad)
    fig = go.Figure(go.Heatmap(z=z, y=dims, x=[f"#{i + 1}" for i in range(width)], text=text,
                               texttemplate="%{text}", customdata=hover, hovertemplate="%{customdata}<extra></extra>",
                               colorscale=HEAT_SCALE, zmin=-10, zmax=10, xgap=3, ygap=3, showscale=False))
    fig.update_layout(height=70 + 62 * len(dims), margin={"l": 90, "r": 10, "t": 10, "b": 10},
                      plot_bgcolor="white", yaxis={"autorange": "reversed"},
                      xaxis={"showticklabels": False, "showgrid": False})
    return fig
