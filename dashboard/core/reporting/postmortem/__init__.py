"""The blameless postmortem, generated from the incident record and the telemetry.

Pure: the caller (gather.py) supplies the folded incident state,
the release rows, and the key signals measured per phase; everything written
here is derived from those, so every number in the document can be traced to
the record or to telemetry, never typed in.

A phase is the stretch between two changes (a release or a rollback), measured
from `SETTLE` after the change (the rollout ramp) to the next change. The
first rollback that recovers most of the excess names the root cause; the
others that recover the rest are contributing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import polars as pl

from dashboard.core.incident.state import IncidentState
from dashboard.core.reporting.impact import Impact
from dashboard.core.reporting.incident_metrics import format_duration, incident_times
from dashboard.core.reporting.postmortem.model import (
    EDITABLE_SECTIONS,
    ActionLine,
    CauseFinding,
    FinderResult,
    Phase,
    Postmortem,
    Section,
    TimelineItem,
)
from dashboard.core.reporting.postmortem.text import (
    actions_from_state,
    generated_sections,
    measured_after,
    recovery_label,
    release_text,
)

SETTLE = timedelta(minutes=5)
RELEASE_LOOKBACK = timedelta(minutes=30)
# record events shown elsewhere in the document, not on the timeline
TIMELINE_SKIP = {"action_added", "action_done"}
RECORD_TONE = {"soak_broken": "danger", "override": "danger", "soak_passed": "success", "closed": "success"}


def incident_releases(releases: pl.DataFrame, state: IncidentState, end: datetime) -> pl.DataFrame:
    """Releases from shortly before the regression start to `end`, of the incident's service."""
    start = (state.window_start or state.detected_at or state.opened_at) - RELEASE_LOOKBACK
    if releases.is_empty():
        return releases
    frame = releases.filter((pl.col("ts") >= start) & (pl.col("ts") <= end))
    if state.service and "service" in frame.columns:
        frame = frame.filter(pl.col("service").is_null() | (pl.col("service") == state.service))
    return frame.sort("ts")


def mark_rollbacks(releases: pl.DataFrame) -> list[dict]:
    """Release rows as dicts with `rollback` = True when it restores a version an earlier
    release in the list replaced (or its note says so)."""
    out: list[dict] = []
    replaced: dict[str, str] = {}
    for row in releases.iter_rows(named=True):
        restored = replaced.get(row["artifact"]) == row["version"]
        note = (row.get("note") or "").lower()
        row = dict(row, rollback=restored or note.startswith("rollback"))
        if row.get("previous_version"):
            replaced[row["artifact"]] = row["previous_version"]
        out.append(row)
    return out


def phase_windows(releases: list[dict], start: datetime, end: datetime,
                  baseline: timedelta = timedelta(hours=1)) -> list[tuple[str, datetime, datetime, dict | None]]:
    """(label, start, end, release) for the baseline hour, then one per release in [start, end)."""
    windows: list[tuple[str, datetime, datetime, dict | None]] = [("before", start - baseline, start, None)]
    changes = [r for r in releases if start - RELEASE_LOOKBACK <= r["ts"] < end and r["ts"] >= start - SETTLE]
    for i, rel in enumerate(changes):
        nxt = changes[i + 1]["ts"] if i + 1 < len(changes) else end
        a = rel["ts"] + SETTLE
        if a >= nxt:
            continue
        verb = "rolled back to" if rel["rollback"] else "deployed"
        windows.append((f"after {rel['artifact']} {verb} {rel['version']}", a, nxt, rel))
    return windows


def find_causes(state: IncidentState, releases: list[dict], phases: list[Phase],
                key_signal: str | None, finder: FinderResult | None = None) -> list[CauseFinding]:
    """Suspects (recorded, and any the regression finder adds) ranked by how much of the key
    signal's excess their rollback removed; the finder's evidence is appended to each."""
    by_version = {(r["artifact"], r["version"]): r for r in releases if not r["rollback"]}
    found = {(f.artifact, f.version): f for f in (finder.suspects if finder else ())}
    suspects = list(dict.fromkeys([*state.suspects, *(f"{a}:{v}" for a, v in found)]))
    base = phases[0].values.get(key_signal) if phases and key_signal else None
    peak = _peak(phases, key_signal)
    findings: list[CauseFinding] = []
    for suspect in suspects:
        kind, _, version = suspect.partition(":")
        if kind == "external" or not version:
            findings.append(CauseFinding(kind, version or "", None, None, "suspect",
                                         "external cause: no release involved"))
            continue
        deploy = by_version.get((kind, version))
        share, evidence = None, "recorded as a suspect"
        rollback_phase = next((p for p in phases if p.release and p.release["rollback"]
                               and p.release["artifact"] == kind and p.release.get("previous_version") == version),
                              None)
        rolled_back = rollback_phase.release if rollback_phase is not None else None  # set: found by it
        if (rollback_phase is not None and rolled_back is not None and key_signal and base is not None
                and peak is not None and peak != base):
            before = _value_before(phases, rollback_phase, key_signal)
            after = rollback_phase.values.get(key_signal)
            if before is not None and after is not None:
                share = (before - after) / (peak - base)
                evidence = (f"rolling it back at {rolled_back['ts']:%H:%M} moved "
                            f"{_label(key_signal).lower()} from "
                            f"{_fmt(key_signal, before)} to {_fmt(key_signal, after)}: "
                            f"{share:.0%} of the excess over the {_fmt(key_signal, base)} baseline")
        elif rolled_back is not None:
            evidence = f"rolled back at {rolled_back['ts']:%H:%M}; its effect could not be measured"
        elif deploy is not None:
            evidence = f"deployed at {deploy['ts']:%H:%M}, inside the regression window; not rolled back"
        hit = found.get((kind, version))
        if hit is not None:
            evidence += (f"; regression finder: score {hit.score:.2f}, "
                         + (f"explains {hit.explained_share:.0%}" if hit.measured else "effect not measured")
                         + (f" ({hit.evidence[0]})" if hit.evidence else ""))
        findings.append(CauseFinding(kind, version, deploy.get("previous_version") if deploy else None,
                                     deploy["ts"] if deploy else None, "suspect", evidence, share))
    ranked = sorted(findings, key=lambda f: -(f.recovered_share or 0.0))
    out = []
    for i, f in enumerate(ranked):
        role = f.role
        if f.recovered_share is not None and f.recovered_share > 0.1:
            role = "root cause" if i == 0 else "contributing"
        out.append(CauseFinding(f.artifact, f.version, f.previous_version, f.deployed_at, role, f.evidence,
                                f.recovered_share))
    return out


def build_timeline(state: IncidentState, releases: list[dict], phases: list[Phase], key_signals: list[str],
                   detection_values: Mapping[str, float | None], soak_line: str | None,
                   as_of: datetime) -> list[TimelineItem]:
    items: list[TimelineItem] = []
    phase_by_release = {(p.release["artifact"], p.release["version"], p.release["ts"]): p
                        for p in phases if p.release is not None}
    key = key_signals[0] if key_signals else None
    base = phases[0].values.get(key) if phases and key else None
    peak = _peak(phases, key)
    for rel in releases:
        phase = phase_by_release.get((rel["artifact"], rel["version"], rel["ts"]))
        recovery = None
        if rel["rollback"] and phase is not None and key:
            recovery = recovery_label(base, peak, phase.values.get(key))
        text = release_text(rel) + measured_after(phase, key_signals, recovery)
        items.append(TimelineItem(rel["ts"], "rollback" if rel["rollback"] else "release", text, "releases",
                                  "success" if rel["rollback"] else "normal"))
    start = state.window_start
    if start is not None:
        names = " and ".join(_label(s).lower() for s in key_signals) or "signals"
        items.append(TimelineItem(start, "regression", f"Regression starts: {names} depart from baseline"
                                  + _segment_suffix(state.segments), "telemetry", "danger"))
    if state.detected_at is not None:
        levels = ", ".join(f"{_label(s)} {_fmt(s, detection_values.get(s))}" for s in key_signals
                           if detection_values.get(s) is not None)
        items.append(TimelineItem(state.detected_at, "detection",
                                  "Alert: trouble detected" + (f" ({levels})" if levels else ""), "telemetry",
                                  "danger"))
    for entry in state.timeline:
        if entry.kind in TIMELINE_SKIP:
            continue
        items.append(TimelineItem(entry.at, entry.kind, f"{entry.text} — {entry.actor}", "record",
                                  RECORD_TONE.get(entry.kind, entry.tone if entry.tone != "normal" else "normal")))
    if soak_line:
        items.append(TimelineItem(as_of, "now", soak_line, "telemetry", "muted"))
    order = {"releases": 0, "telemetry": 1, "record": 2}
    return sorted(items, key=lambda i: (i.at, order[i.source]))


def build_postmortem(state: IncidentState, *, releases: pl.DataFrame, phases: list[Phase],
                     key_signals: list[str], as_of: datetime, impact: Impact | None = None,
                     detection_values: Mapping[str, float | None] | None = None, soak_line: str | None = None,
                     edits: Mapping[str, tuple[str, str, datetime]] | None = None,
                     reproducer: str = "", finder: FinderResult | None = None,
                     reproducer_samples: tuple = ()) -> Postmortem:
    """Assemble the document. `edits`: section -> (text, author, when) of the latest edit."""
    rel_rows = mark_rollbacks(incident_releases(releases, state, as_of))
    times = incident_times(state)
    causes = find_causes(state, rel_rows, phases, key_signals[0] if key_signals else None, finder)
    timeline = build_timeline(state, rel_rows, phases, key_signals, detection_values or {}, soak_line, as_of)
    generated = generated_sections(state, times, impact, phases, causes, rel_rows, key_signals, finder)
    edits = edits or {}
    sections = {}
    for key, title in EDITABLE_SECTIONS.items():
        text, by, at = edits.get(key, (None, None, None))
        sections[key] = Section(key, title, generated.get(key, ""), text, by, at)
    actions: list[ActionLine] = actions_from_state(state, causes, rel_rows)
    return Postmortem(
        incident_id=state.id, title=state.title, service=state.service, severity=state.severity,
        status=state.status, incident_type=state.type, segment=dict(state.segments), as_of=as_of, times=times,
        impact=impact, key_signals=tuple(key_signals), phases=tuple(phases), timeline=tuple(timeline),
        causes=tuple(causes), actions=tuple(actions), sections=sections, reproducer=reproducer, finder=finder,
        reproducer_samples=tuple(reproducer_samples),
    )


def _peak(phases: list[Phase], signal: str | None) -> float | None:
    if not signal or len(phases) < 2:
        return None
    values = [v for p in phases[1:] if (v := p.values.get(signal)) is not None]
    if not values:
        return None
    base = phases[0].values.get(signal)
    if base is None:
        return None
    return max(values, key=lambda v: abs(v - base))


def _value_before(phases: list[Phase], phase: Phase, signal: str) -> float | None:
    index = phases.index(phase)
    return phases[index - 1].values.get(signal) if index > 0 else None


def _segment_suffix(segment: Mapping[str, str]) -> str:
    return " on " + ", ".join(f"{k}={v}" for k, v in segment.items()) if segment else ""


def _fmt(signal: str, value: float | None) -> str:
    from dashboard.core.telemetry import signals as sig

    return sig.format_value(signal, value)


def _label(signal: str) -> str:
    from dashboard.core.telemetry import signals as sig

    return sig.label(signal)


__all__ = ["build_postmortem", "phase_windows", "mark_rollbacks", "find_causes", "build_timeline",
           "incident_releases", "format_duration", "SETTLE"]
