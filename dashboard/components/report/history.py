"""Incident history for readers who ask 'are we getting faster?': medians, per-incident times, counts."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard.core.reporting.incident_metrics import STAGES, HistorySummary, format_duration

STAGE_LABELS = {"detect": "Time to detect", "acknowledge": "Time to acknowledge",
                "mitigate": "Time to mitigate", "resolve": "Time to resolve"}
STAGE_HELP = {"detect": "Regression start to the alert (or the finder's run).",
              "acknowledge": "Regression start to the incident being opened.",
              "mitigate": "Regression start to a fix being in and watched (monitoring or soak start).",
              "resolve": "Regression start to the close."}


def median_metrics(summary: HistorySummary) -> None:
    cols = st.columns(len(STAGES))
    for col, stage in zip(cols, STAGES, strict=True):
        known = sum(1 for t in summary.incidents if t.duration(stage) is not None)
        col.metric(f"Median {STAGE_LABELS[stage].lower()}", format_duration(summary.medians[stage]),
                   delta=f"over {known} incident{'s' if known != 1 else ''}", delta_color="gray",
                   delta_arrow="off", border=True, help=STAGE_HELP[stage])


def times_frame(summary: HistorySummary) -> pl.DataFrame:
    """One row per incident, durations as readable text (the core keeps the timedeltas)."""
    rows = [{
        "incident": t.incident_id, "started": f"{t.regression_start:%m-%d %H:%M}" if t.regression_start else "—",
        **{STAGE_LABELS[s].replace("Time to ", "to "): format_duration(t.duration(s)) for s in STAGES},
        "severity": t.severity or "—", "type": t.type or "—", "category": t.category or "—",
        "artifact at fault": t.artifact_kind or "—", "title": t.title,
    } for t in summary.incidents]
    return pl.DataFrame(rows)


def counts_frame(counts: dict[str, int], name: str) -> pl.DataFrame:
    return pl.DataFrame({name: list(counts), "incidents": list(counts.values())},
                        schema={name: pl.String, "incidents": pl.Int64})


def history_block(summary: HistorySummary) -> None:
    if not summary.incidents:
        st.info("No incidents recorded yet.")
        return
    median_metrics(summary)
    st.dataframe(times_frame(summary), hide_index=True, width="stretch", key="history_table")
    c1, c2, c3 = st.columns(3)
    for col, counts, name in ((c1, summary.by_type, "type"), (c2, summary.by_category, "category"),
                              (c3, summary.by_artifact_kind, "artifact kind at fault")):
        col.dataframe(counts_frame(counts, name), hide_index=True, width="stretch")
