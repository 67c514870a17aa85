"""Verification metrics (defaults proposed from the incident) and the soak-gated close.

The metrics are edited as plain rows of widgets (signal, segment filter,
comparator, threshold, soak and window minutes, minimum samples); the close
button asks core's gate, which refuses with its reasons unless the soak
passed on telemetry. The commander may override with a reason instead; the
override is shown in red on the timeline and in the postmortem.
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from dashboard.components.incident.session import write
from dashboard.core.incident.identity import Identity
from dashboard.core.incident.lifecycle import close_gate
from dashboard.core.incident.service import Incidents
from dashboard.core.incident.soak import SoakEvaluation, VerificationMetric
from dashboard.core.incident.state import IncidentState
from dashboard.core.incident.telemetry_adapter import VERIFIABLE_SIGNALS, evaluate_incident_soak, propose_for_incident
from dashboard.core.text import md

MAX_ROWS = 5


def segment_text(segment: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in segment.items())


def parse_segment(text: str, row: int) -> dict[str, str]:
    """'tier=paid, language=en' -> {'tier': 'paid', 'language': 'en'}; a bad part names the row."""
    out: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        column, sep, value = part.partition("=")
        if not sep or not column.strip() or not value.strip():
            raise ValueError(f"metric {row}: segment part {part!r} is not COLUMN=VALUE (e.g. tier=paid)")
        out[column.strip()] = value.strip()
    return out


def proposed(state: IncidentState, store) -> tuple[list[VerificationMetric], str | None]:
    """The incident's current metrics, else defaults from its telemetry (key, safety, business)."""
    if state.verification:
        return list(state.verification), None
    try:
        return propose_for_incident(state, store), None
    except (KeyError, ValueError) as exc:
        return [], f"No defaults could be measured ({exc.args[0] if exc.args else exc}); enter the metrics by hand."


def metric_row(state: IncidentState, i: int, default: VerificationMetric | None) -> dict:
    k = f"vm_{state.id}_{i}"
    signals = list(VERIFIABLE_SIGNALS)
    cols = st.columns([1.0, 2.2, 2.4, 1.2, 1.4, 1.1, 1.1, 1.3, 1.8])
    use = cols[0].checkbox("Use", value=default is not None, key=f"{k}_use")
    signal = cols[1].selectbox("Signal", signals, key=f"{k}_signal",
                               index=signals.index(default.signal) if default and default.signal in signals else 0)
    segment = cols[2].text_input("Segment", value=segment_text(default.segment) if default else
                                 segment_text(state.segments), key=f"{k}_segment", placeholder="all traffic")
    comparator = cols[3].selectbox("Cmp", ["<=", ">="], key=f"{k}_cmp",
                                   index=1 if default and default.comparator == ">=" else 0)
    threshold = cols[4].number_input("Threshold", value=float(default.threshold) if default else 0.0,
                                     format="%.4f", key=f"{k}_threshold")
    soak = cols[5].number_input("Soak min", 1, 24 * 60, default.soak_minutes if default else 60, key=f"{k}_soak")
    window = cols[6].number_input("Window min", 1, 240, default.window_minutes if default else 10, key=f"{k}_window")
    samples = cols[7].number_input("Min samples", 1, 1_000_000, default.min_samples if default else 200,
                                   key=f"{k}_samples")
    label = cols[8].text_input("Label", value=(default.label or "") if default else "", key=f"{k}_label")
    return {"use": use, "signal": signal, "segment": segment, "comparator": comparator, "threshold": threshold,
            "soak": soak, "window": window, "samples": samples, "label": label}


def build_metrics(rows: list[dict]) -> list[VerificationMetric]:
    metrics = []
    for i, r in enumerate(rows, start=1):
        if not r["use"]:
            continue
        metrics.append(VerificationMetric(
            signal=r["signal"], segment=parse_segment(r["segment"], i), comparator=r["comparator"],
            threshold=float(r["threshold"]), soak_minutes=int(r["soak"]), window_minutes=int(r["window"]),
            min_samples=int(r["samples"]), label=r["label"].strip() or None))
    return metrics


def verification_form(state: IncidentState, service: Incidents, store, now: datetime) -> None:
    defaults, problem = proposed(state, store)
    if state.verification:
        st.markdown("**Current verification**\n\n" + "\n".join(f"- {m.describe()}" for m in state.verification))
        st.caption("Redefining restarts the soak: the old one proves nothing about new conditions.")
    else:
        st.markdown("**Define verification** — defaults proposed from the incident: its key metric, a safety "
                    "metric and a business metric on its segment, thresholds a little past the pre-incident "
                    "baseline.")
    if problem:
        st.warning(problem)
    if not state.is_open:
        return
    with st.form(f"verification_{state.id}", border=True):
        rows = [metric_row(state, i, defaults[i] if i < len(defaults) else None)
                for i in range(max(len(defaults) + 1, 2) if len(defaults) < MAX_ROWS else MAX_ROWS)]
        start_now = st.checkbox("Start the soak now", value=state.status == "monitoring",
                                key=f"vm_{state.id}_start",
                                help="In monitoring the soak starts at once; otherwise it starts when the "
                                     "incident enters monitoring, unless you tick this.")
        label = "Redefine verification" if state.verification else "Define verification"
        if st.form_submit_button(label, type="primary"):
            try:
                metrics = build_metrics(rows)
            except ValueError as exc:
                st.error(f"Not recorded: {md(exc)}")
                return
            write("Verification", lambda actor: service.define_verification(
                state.id, state.version, actor, metrics, start_soak=True if start_now else None, at=now))


def close_panel(state: IncidentState, service: Incidents, store, now: datetime,
                evaluation: SoakEvaluation | None) -> None:
    if not state.is_open:
        how = "after the soak passed" if state.closed_via == "soak" else "by override"
        st.success(f"Resolved {how} at {state.resolved_at:%Y-%m-%d %H:%M} UTC by {md(state.resolved_by)}.")
        if state.override:
            st.markdown(f":red[**Override** by {md(state.override.by)}: {md(state.override.reason)}]")
        return
    gate = close_gate(state, evaluation)
    if gate.allowed:
        st.success("The soak passed: every metric held for its whole window. The incident may be resolved.")
    else:
        st.markdown("**Not closable yet:**\n" + "\n".join(f"- {r}" for r in gate.reasons))
    note = st.text_input("Closing note", key=f"close_note_{state.id}")
    if st.button("Resolve incident", type="primary" if gate.allowed else "secondary", key=f"close_{state.id}"):
        def close(actor: Identity):
            # judge on the freshest telemetry at the moment of the click
            fresh = evaluate_incident_soak(state, store)
            return service.close(state.id, state.version, actor, fresh, note=note, at=fresh.now)
        write("Resolved", close)
    with st.expander("Override the soak gate (incident commander only)"):
        st.caption(f"Only {md(state.commander)} can override. The reason is shown in red on the timeline and in the "
                   "postmortem.")
        reason = st.text_input("Reason for closing without a passed soak", key=f"override_reason_{state.id}")
        if st.button("Override and resolve", key=f"override_{state.id}", disabled=not reason.strip()):
            write("Override", lambda actor: service.close(state.id, state.version, actor, evaluation,
                                                          override_reason=reason, note=note, at=now))
