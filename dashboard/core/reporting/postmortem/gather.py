"""Collect what a postmortem is built from: the record, the releases, and measured phases."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from dashboard.core.datadir import DataDir
from dashboard.core.errors import WarroomError
from dashboard.core.incident.service import Incidents
from dashboard.core.incident.state import IncidentState
from dashboard.core.incident.store import IncidentStoreError
from dashboard.core.reporting.impact_store import incident_impact
from dashboard.core.reporting.packet import sample_incident_requests
from dashboard.core.reporting.postmortem import (
    build_postmortem,
    incident_releases,
    mark_rollbacks,
    phase_windows,
)
from dashboard.core.reporting.postmortem.edits import PostmortemEdits
from dashboard.core.reporting.postmortem.model import FinderResult, FinderSuspect, Phase, Postmortem, SampleRequest
from dashboard.core.telemetry import signals as sig
from dashboard.core.telemetry.links import LinksError, load_links
from dashboard.core.telemetry.release_timeline import release_timeline
from dashboard.core.timeutil import utc

DETECTION_WINDOW = timedelta(minutes=10)
FINDER_LEAD = timedelta(hours=3)  # the finder needs a stretch of normal traffic before the regression
MAX_KEY_SIGNALS = 2


class PostmortemError(WarroomError):
    """The postmortem cannot be produced as asked (unknown incident, unreadable store)."""


def key_signals_of(state: IncidentState) -> list[str]:
    """What the team verifies recovery on, else the incident's own signals."""
    names = [m.signal for m in state.verification] + list(state.signals)
    known = [n for n in dict.fromkeys(names) if n in sig.BY_NAME]
    return known[:MAX_KEY_SIGNALS]


def measurement_segment(state: IncidentState) -> dict[str, str]:
    """Where recovery is judged: the verification segment when defined, else the incident's."""
    if state.verification and state.verification[0].segment:
        return dict(state.verification[0].segment)
    return dict(state.segments)


def measure_windows(store, windows: list[tuple[str, datetime, datetime]], signals: list[str],
                    segment: dict[str, str]) -> dict[str, tuple[int, dict[str, float | None]]]:
    """label -> (requests, {signal: value pooled over the window}) on the segment."""
    if not windows:
        return {}
    frame = store.window_totals(windows, filters=segment or None)
    out: dict[str, tuple[int, dict[str, float | None]]] = {}
    for label, _, _ in windows:
        row = frame.filter(pl.col("grp") == label) if not frame.is_empty() else frame
        requests = int(row["requests"].sum() or 0) if not row.is_empty() else 0
        out[label] = (requests, {s: _window_value(row, s) for s in signals})
    return out


def _window_value(row: pl.DataFrame, signal: str) -> float | None:
    """A rate or mean pooled over the window's counts; a quantile as computed over the whole window."""
    if row.is_empty():
        return None
    math_ = sig.BY_NAME[signal]
    if math_.kind == "quantile":
        value = row[math_.value_column][0]
        return None if value is None else float(value)
    return sig.pooled_value(math_, row)


def measure_phases(store, releases: list[dict], start: datetime, end: datetime, signals: list[str],
                   segment: dict[str, str]) -> list[Phase]:
    spans = phase_windows(releases, start, end)
    named = [(f"p{i}", a, b) for i, (_, a, b, _) in enumerate(spans)]
    measured = measure_windows(store, named, signals, segment)
    phases = []
    for (name, a, b), (label, _, _, rel) in zip(named, spans, strict=True):
        requests, values = measured.get(name, (0, {}))
        phases.append(Phase(label, a, b, requests, values, rel))
    return phases


def run_finder(store, signal: str, start: datetime, end: datetime, segment: dict[str, str]) -> FinderResult:
    """The regression finder on the key signal up to the first rollback (attribution is clean there)."""
    from dashboard.core.diagnosis.investigate import investigate

    lo = start - FINDER_LEAD
    try:
        result = investigate(store, signal, lo, end, dict(segment) or None, with_segments=False)
    except ValueError as exc:  # e.g. an empty window: shown in the document, not hidden
        return FinderResult(signal, lo, end, "", error=str(exc))
    suspects = tuple(FinderSuspect(s.artifact, s.version, float(s.score), float(s.explained_share),
                                   tuple(e.text for e in s.evidence), measured=s.expected_effect is not None)
                     for s in result.suspects)
    return FinderResult(signal, lo, end, result.verdict, suspects)


def soak_line(state: IncidentState, store, as_of: datetime) -> str | None:
    if not state.is_open or state.soak.started_at is None or not state.verification:
        return None
    from dashboard.core.incident.telemetry_adapter import evaluate_incident_soak

    evaluation = evaluate_incident_soak(state, store, as_of)
    return f"As of {as_of:%H:%M} UTC: {evaluation.summary()}"


REPRODUCER_SAMPLE = 3  # requests per group (affected, unaffected) named in the document


def reproducer_samples(store, state, as_of: datetime) -> tuple[SampleRequest, ...]:
    """A few of the packet's affected and unaffected requests, each with its trace link."""
    try:
        links = load_links(store.data)
    except LinksError:
        links = {}  # the document still renders; `warroom incident packet` names the broken file
    rows = sample_incident_requests(store, state, as_of, REPRODUCER_SAMPLE, links=links).rows
    columns = store.schema.artifacts
    out = []
    for r in rows.iter_rows(named=True):
        versions = ", ".join(f"{kind} {r[col]}" for kind, col in columns.items() if r.get(col) is not None)
        out.append(SampleRequest(str(r["request_id"]), r["ts"], bool(r["affected"]), versions, r.get("trace_link")))
    return tuple(out)


def gather_postmortem(data: DataDir, incident_id: str, store=None) -> Postmortem:
    try:
        state = Incidents.for_data_dir(data).get(incident_id)
    except IncidentStoreError as exc:
        raise PostmortemError(f"{data.incidents_db}: {exc}") from None
    if store is None and data.has_requests():
        from dashboard.core.telemetry.clickhouse_store import open_store

        store = open_store(data)
    edits = {k: (e.text, e.author, e.edited_at) for k, e in PostmortemEdits(data.incidents_db).latest(state.id).items()}
    reproducer = (f"`warroom incident packet {state.id} --out DIR` exports affected and unaffected requests from "
                  "the incident window with every artifact version (Parquet, JSONL and a manifest) for the "
                  "regression suite.")
    data_now = store.now() if store is not None else None
    if data_now is None:
        return build_postmortem(state, releases=pl.DataFrame(), phases=[], key_signals=key_signals_of(state),
                                as_of=state.last_event_at, edits=edits, reproducer=reproducer)
    as_of = utc(data_now)
    start = state.window_start or state.detected_at or state.opened_at
    end = min(state.resolved_at or as_of, as_of)
    signals = key_signals_of(state)
    segment = measurement_segment(state)
    releases = release_timeline(store, start - timedelta(hours=1), end + timedelta(seconds=1))
    releases = releases.with_columns(pl.col("ts").dt.convert_time_zone("UTC")) if not releases.is_empty() else releases
    rel_rows = mark_rollbacks(incident_releases(releases, state, end))
    phases = measure_phases(store, rel_rows, start, end, signals, segment)
    detection = {}
    if state.detected_at is not None:
        detected = measure_windows(store, [("d", state.detected_at - DETECTION_WINDOW, state.detected_at)],
                                   signals, segment)
        detection = detected.get("d", (0, {}))[1]
    impact = incident_impact(store, state, now=as_of)
    finder = None
    if signals:
        first_rollback = next((r["ts"] for r in rel_rows if r["rollback"]), end)
        finder = run_finder(store, signals[0], start, min(first_rollback, end), segment)
    return build_postmortem(state, releases=releases, phases=phases, key_signals=signals, as_of=as_of,
                            impact=impact, detection_values=detection, soak_line=soak_line(state, store, as_of),
                            edits=edits, reproducer=reproducer, finder=finder,
                            reproducer_samples=reproducer_samples(store, state, as_of))
