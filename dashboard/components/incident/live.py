"""The live part of the war room: the data's clock, the comms countdown, the soak, the timeline.

Drawn inside `st.fragment(run_every=...)`, so it re-reads the incident and the
telemetry every few seconds without reloading the page. The judgement is in
core (comms_clock, evaluate_incident_soak); this module only draws it and puts
what the soak found on the timeline (breaches, the pass), once.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import streamlit as st

from dashboard.components.incident.session import hhmm, mark_seen, seen_version
from dashboard.core.incident.comms import CommsClock, comms_clock
from dashboard.core.incident.identity import SYSTEM_NAME
from dashboard.core.incident.lifecycle import decide_soak_findings
from dashboard.core.incident.service import Incidents
from dashboard.core.incident.soak import MetricSoak, SoakEvaluation
from dashboard.core.incident.state import IncidentState
from dashboard.core.incident.store import IncidentStoreError
from dashboard.core.incident.telemetry_adapter import evaluate_incident_soak, telemetry_now
from dashboard.core.telemetry import signals as registry
from dashboard.core.text import md

REFRESH = timedelta(seconds=5)


def plain(text: str) -> str:
    """Recorded text inside Markdown the page writes (a coloured span too): shown as typed, nothing rendered."""
    return md(text)


def countdown_text(clock: CommsClock) -> str:
    """'next update due 16:20 UTC, in 4 min' or 'update OVERDUE by 12 min (due 16:05 UTC)'."""
    if clock.due_at is None or clock.minutes_left is None:
        return "no update cadence (incident closed)" if clock.cadence_minutes else "no update cadence"
    minutes = abs(clock.minutes_left)
    span = f"{int(minutes // 60)} h {int(minutes % 60)} min" if minutes >= 60 else f"{minutes:.0f} min"
    if clock.overdue:
        return f"update OVERDUE by {span} (was due {clock.due_at:%H:%M} UTC, every {clock.cadence_minutes} min)"
    return f"next update due {clock.due_at:%H:%M} UTC, in {span} (every {clock.cadence_minutes} min)"


def record_findings(service: Incidents, state: IncidentState, evaluation: SoakEvaluation) -> bool:
    """Put new breaches and a pass on the timeline, as the system; True when something was written.

    Every open page evaluates the soak to draw it; the write is decided under the
    store's lock on the latest state, so each finding lands once, whoever looks.
    """
    if not state.is_open or evaluation.status == "not_started":
        return False
    if not decide_soak_findings(state, evaluation, SYSTEM_NAME):
        return False  # nothing new: no write, no lock taken
    try:
        return service.record_soak(state.id, state.version, None, evaluation).version != state.version
    except IncidentStoreError:
        return False  # unreadable or vanished meanwhile; the next refresh tries again


def value_text(metric, value: float) -> str:
    """A rate as a percentage, a percentile as its share of slow requests, anything else in its unit."""
    if metric.quantile is not None:
        return metric.value_text(value)
    try:
        return registry.get(metric.signal).format(value)
    except KeyError:
        return f"{value:.4g}"


def threshold_text(metric) -> str:
    return metric.value_text(metric.judged_threshold) if metric.quantile is not None else value_text(
        metric, metric.threshold)


def metric_rows(evaluation: SoakEvaluation) -> pl.DataFrame:
    rows = []
    for m in evaluation.metrics:
        metric = m.metric
        seg = ", ".join(f"{k}={v}" for k, v in metric.segment.items()) or "all traffic"
        rows.append({
            "metric": f"{metric.label or metric.signal} {metric.comparator} {threshold_text(metric)}",
            "segment": seg,
            "status": m.status,
            "now (window)": "–" if m.current_value is None else value_text(metric, m.current_value),
            "n (window)": m.current_sample_size,
            "held": f"{m.held_minutes} / {metric.soak_minutes} min",
            "left": f"{m.time_left_minutes} min",
            "breaches": len(m.breaches),
        })
    return pl.DataFrame(rows)


def breach_lines(m: MetricSoak) -> list[str]:
    out = []
    for b in m.breaches:
        span = f"{hhmm(b.first_at)}–{hhmm(b.last_at)}" if b.last_at != b.first_at else hhmm(b.first_at)
        out.append(f":red[**{plain(m.metric.label or m.metric.signal)}** breached {span} UTC: "
                   f"{value_text(m.metric, b.worst_value)} vs {b.comparator} {threshold_text(m.metric)} "
                   f"(past by {value_text(m.metric, b.excess)}, n={b.sample_size:,})]")
    return out


def soak_panel(state: IncidentState, evaluation: SoakEvaluation | None) -> None:
    if not state.is_open:
        how = "after the verification soak passed" if state.closed_via == "soak" else "by override"
        if state.resolved_at is None:
            st.info(f"{state.status.title()}.")
        else:
            (st.success if state.closed_via == "soak" else st.error)(
                f"{state.status.title()}: resolved {state.resolved_at:%Y-%m-%d %H:%M} UTC {how}.")
        return
    if not state.verification:
        st.info("No verification metrics yet: define them below (Verification) to start the soak.")
        return
    if evaluation is None or evaluation.status == "not_started":
        st.info("Soak not running: it starts when the incident enters monitoring (or when you start it).")
        return
    # plain text: the progress label does not render icon shortcodes
    text = f"{evaluation.summary()} · started {hhmm(evaluation.started_at)} UTC"
    st.progress(evaluation.progress, text=text)
    st.dataframe(metric_rows(evaluation), hide_index=True, width="stretch", key=f"soak_table_{state.id}")
    lines = [line for m in evaluation.metrics for line in breach_lines(m)]
    if lines:
        st.markdown("**Breaches** (each restarts the metric's clock)\n\n" + "\n\n".join(lines))
    thin = [m for m in evaluation.metrics if m.thin_windows]
    for m in thin:
        st.caption(f"{m.metric.label or m.metric.signal}: {m.thin_windows} window(s) under "
                   f"{m.metric.min_samples} samples were not judged")
    for m in evaluation.metrics:
        if m.status != "passed":
            st.caption(f"{m.metric.label or m.metric.signal}: {m.note}")


def live_panel(incident_id: str, service: Incidents, store) -> None:
    """Clock, countdown and soak; re-run every REFRESH while the page is open."""

    @st.fragment(run_every=REFRESH)
    def _panel() -> None:
        state = service.get(incident_id)
        now = telemetry_now(store)
        evaluation = evaluate_incident_soak(state, store, now) if state.is_open else None
        if evaluation is not None and record_findings(service, state, evaluation):
            if seen_version(state.id) == state.version:
                mark_seen(service.get(incident_id))  # up to date before: the recording is no news to them
            st.rerun(scope="app")  # the rest of the page is at the old version: reload it
        seen = seen_version(state.id)
        if seen is not None and seen < state.version:
            newer = [e for e in state.timeline if e.seq > seen]
            who_changed = ", ".join(sorted({e.actor for e in newer})) or "someone"
            c1, c2 = st.columns([5, 1], vertical_alignment="center")
            c1.warning(f"{incident_id} changed since this page was drawn ({who_changed}: "
                       f"{plain(newer[-1].text) if newer else 'new events'}). Reload before changing anything: "
                       "a change based on the old view is refused.", icon=":material/sync:")
            if c2.button("Reload", key=f"reload_{incident_id}"):
                st.rerun(scope="app")
        clock = comms_clock(state, now)
        c1, c2 = st.columns([2, 3])
        c1.markdown(f"**As of {now:%Y-%m-%d %H:%M:%S} UTC** (newest telemetry)")
        if clock.overdue:
            c2.markdown(f":red-background[:red[**:material/alarm: {countdown_text(clock)}**]]")
        elif clock.due_at is not None:
            c2.markdown(f":material/schedule: {countdown_text(clock)}")
        soak_panel(state, evaluation)

    _panel()


def timeline_panel(incident_id: str, service: Incidents) -> None:
    """Every event in time order; overrides and soak breaks in red, passes and closes in green."""

    @st.fragment(run_every=REFRESH)
    def _timeline() -> None:
        state = service.get(incident_id)
        lines = []
        for entry in reversed(state.timeline):
            text = f"`{entry.at:%m-%d %H:%M}` **{md(entry.actor)}** · {plain(entry.text)}"
            if entry.tone == "danger":
                text = f":red[{text}]"
            elif entry.tone == "success":
                text = f":green[{text}]"
            lines.append(text)
        st.caption(f"{len(state.timeline)} events, newest first")
        st.markdown("\n\n".join(lines))

    _timeline()

