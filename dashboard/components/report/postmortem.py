"""The generated parts of a postmortem on screen: header, impact, timeline, phases, detection gap."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard.components.badges import severity_color
from dashboard.core.reporting.incident_metrics import STAGES, format_duration
from dashboard.core.reporting.postmortem.model import Postmortem
from dashboard.core.reporting.postmortem.render import impact_rows
from dashboard.core.telemetry import signals as sig
from dashboard.core.text import md

TONE_STYLES = {"danger": "color: #b42318", "success": "color: #067647", "muted": "color: #5b6475"}
STAGE_LABELS = {"detect": "Time to detect", "acknowledge": "Time to acknowledge",
                "mitigate": "Time to mitigate", "resolve": "Time to resolve"}


def _scope(segment: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in segment.items()) or "all traffic"


def postmortem_header(pm: Postmortem) -> None:
    st.title(f"Postmortem {pm.incident_id}: {md(pm.title)}")
    badges = st.container(horizontal=True)
    badges.badge(pm.severity or "severity not set", color=severity_color(pm.severity))
    badges.badge(pm.status, color="green" if pm.status == "resolved" else "blue")
    if pm.incident_type:
        badges.badge(pm.incident_type.replace("_", " "), color="violet")
    st.caption(f"Blameless review generated from the incident record and telemetry as of "
               f"{pm.as_of:%Y-%m-%d %H:%M} UTC · service {pm.service or '—'} · scope {_scope(pm.segment)}")


def impact_table(pm: Postmortem) -> None:
    if pm.impact is None:
        st.info("No telemetry available to measure impact.")
        return
    rows = impact_rows(pm.impact)
    frame = pl.DataFrame({"figure": [k for k, _ in rows], "value": [v for _, v in rows]}).to_pandas()
    st.table(frame.style.hide(axis="index"))


def timeline_frame(pm: Postmortem) -> pl.DataFrame:
    return pl.DataFrame({"time": [f"{i.at:%m-%d %H:%M}" for i in pm.timeline],
                         "source": [i.source for i in pm.timeline], "event": [i.text for i in pm.timeline],
                         "tone": [i.tone for i in pm.timeline]},
                        schema={"time": pl.String, "source": pl.String, "event": pl.String, "tone": pl.String})


def timeline_table(pm: Postmortem) -> None:
    """Every event in time order: releases and rollbacks, telemetry findings, the record; alarming ones red."""
    frame = timeline_frame(pm)
    tones = frame["tone"].to_list()
    shown = frame.drop("tone").to_pandas()
    styled = shown.style.apply(lambda row: [TONE_STYLES.get(tones[row.name], "")] * len(row), axis=1)
    st.table(styled.hide(axis="index"))


def phases_table(pm: Postmortem) -> None:
    if not pm.phases or not pm.key_signals:
        return
    segment = pm.impact.filters if pm.impact is not None and not pm.segment else pm.segment
    st.markdown(f"**Measured on {_scope(segment)}**, between the changes:")
    frame = pl.DataFrame([{
        "phase": p.label, "from": f"{p.start:%H:%M}", "to": f"{p.end:%H:%M}", "requests": f"{p.requests:,}",
        **{sig.label(s): sig.format_value(s, p.values.get(s)) for s in pm.key_signals}} for p in pm.phases])
    st.table(frame.to_pandas().style.hide(axis="index"))


def detection_metrics(pm: Postmortem) -> None:
    figures = [(STAGE_LABELS[stage], format_duration(pm.times.duration(stage))) for stage in STAGES]
    figures.insert(1, ("Alert to incident open", format_duration(pm.times.detection_gap)))
    for start in range(0, len(figures), 3):
        cols = st.columns(3)
        for col, (name, value) in zip(cols, figures[start:start + 3], strict=False):
            col.metric(name, value, border=True)
    st.caption("Durations run from the regression start (the first bad release), so the detection gap shows in "
               "every figure.")


def reproducer_samples_table(pm: Postmortem) -> None:
    """A few affected and unaffected requests of the packet, each opening its trace (when the folder links traces)."""
    if not pm.reproducer_samples:
        return
    frame = pl.DataFrame({
        "request": [r.request_id for r in pm.reproducer_samples],
        "time (UTC)": [f"{r.at:%m-%d %H:%M:%S}" for r in pm.reproducer_samples],
        "group": ["affected" if r.affected else "unaffected" for r in pm.reproducer_samples],
        "versions": [r.versions for r in pm.reproducer_samples],
        "trace": [r.trace_link for r in pm.reproducer_samples],
    }, schema={"request": pl.String, "time (UTC)": pl.String, "group": pl.String, "versions": pl.String,
               "trace": pl.String})
    st.dataframe(frame, hide_index=True, width="stretch", key="reproducer_samples",
                 column_config={"trace": st.column_config.LinkColumn("trace", display_text="open trace")})
    if all(r.trace_link is None for r in pm.reproducer_samples):
        st.caption("No trace links: keep trace_id on requests and set a [links] trace template in the ingest "
                   "mapping (docs/BRING_YOUR_OWN_TELEMETRY.md).")
