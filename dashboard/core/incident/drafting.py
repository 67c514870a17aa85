"""Measured facts for opening an incident and for its updates, read from telemetry.

The regression finder and the explorer open an incident with one action: the
draft carries the window, signals, segment, suspects, a type and a suggested
severity with its reasoning. Comms updates get the same measured facts
(current vs baseline, affected share). Everything here is a thin reading of
`TelemetryStore.window_totals`; the judgement lives in severity.py and comms.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from dashboard.core.incident.comms import CommsFacts, SignalFact, facts_from_state
from dashboard.core.incident.severity import ImpactMeasure, SeveritySuggestion, suggest_severity
from dashboard.core.incident.soak import SoakEvaluation
from dashboard.core.incident.state import IncidentState
from dashboard.core.incident.telemetry_adapter import pooled_values
from dashboard.core.telemetry import signals as registry

BASELINE_HOURS = 3.0
CURRENT_MINUTES = 15
SAFETY_SIGNAL = "policy_violation_rate"
# a policy-violation rise counts as a safety signal when it is this many points and this factor up
SAFETY_MIN_POINTS, SAFETY_MIN_FACTOR = 0.002, 1.5


class IncidentDraft(BaseModel):
    """What `Incidents.open(...)` needs, measured; the person confirms and opens it."""

    title: str
    type: str
    signals: list[str]
    segments: dict[str, str]
    suspects: list[str]
    window_start: datetime
    detected_at: datetime
    impact: ImpactMeasure
    suggestion: SeveritySuggestion
    facts: list[SignalFact] = Field(default_factory=list)


def affected_share(store, segment: dict[str, str] | None, start: datetime, end: datetime) -> float | None:
    """The segment's share of all requests over [start, end) (1.0 for no segment)."""
    if not segment:
        return 1.0
    everyone = store.window_totals([("w", start, end)])
    part = store.window_totals([("w", start, end)], filters=segment)
    total = everyone["requests"][0] if not everyone.is_empty() else 0
    if not total:
        return None
    return float(part["requests"][0] if not part.is_empty() else 0) / float(total)


def signal_fact(store, signal: str, segment: dict[str, str] | None, window_start: datetime,
                now: datetime, current_minutes: int = CURRENT_MINUTES) -> SignalFact | None:
    """Current (last minutes up to now) vs baseline (hours before the regression) for one signal."""
    spec = registry.get(signal)
    base = pooled_values(store, [signal], window_start - timedelta(hours=BASELINE_HOURS), window_start, segment)
    current_start = max(window_start, now - timedelta(minutes=current_minutes))
    cur = pooled_values(store, [signal], current_start, now, segment)
    if signal not in base or signal not in cur:
        return None
    sample = store.window_totals([("w", current_start, now)], filters=segment or None)
    n = int(sample[spec.denominator or "requests"][0]) if not sample.is_empty() else None
    return SignalFact(signal=signal, label=spec.label.lower(), current=cur[signal], baseline=base[signal],
                      unit="%" if spec.unit == "%" else spec.unit, sample_size=n)


def impact_measure(store, signal: str, segment: dict[str, str] | None, window_start: datetime,
                   now: datetime) -> ImpactMeasure:
    """Share of traffic degraded, size of the degradation, and any safety signal, measured."""
    fact = signal_fact(store, signal, segment, window_start, now, current_minutes=int(
        max(1, min(60, (now - window_start).total_seconds() // 60))))
    share = affected_share(store, segment, window_start, now)
    safety = False
    safety_share = None
    if signal != SAFETY_SIGNAL:
        pv = signal_fact(store, SAFETY_SIGNAL, segment, window_start, now)
        if pv and pv.current - pv.baseline >= SAFETY_MIN_POINTS and pv.current >= SAFETY_MIN_FACTOR * pv.baseline:
            safety = True
            safety_share = (pv.current - pv.baseline) * (share or 1.0)
    elif fact and share is not None:
        safety = fact.current - fact.baseline >= SAFETY_MIN_POINTS
        safety_share = max(0.0, fact.current - fact.baseline) * share
    return ImpactMeasure(
        affected_share=share, signal=fact.label if fact else signal,
        baseline=fact.baseline if fact else None, current=fact.current if fact else None,
        is_rate=registry.get(signal).unit == "%", safety_signal=safety, safety_share=safety_share,
    )


def draft_incident(store, signal: str, segment: dict[str, str] | None, window_start: datetime, now: datetime,
                   suspects: Sequence[str] = (), title: str | None = None,
                   also_moves: Sequence[str] = ()) -> IncidentDraft:
    """Everything an incident opened from a finding needs, measured up to `now` (the data's clock)."""
    impact = impact_measure(store, signal, segment, window_start, now)
    facts = [f for f in (signal_fact(store, s, segment, window_start, now) for s in [signal, *also_moves]) if f]
    where = ", ".join(f"{k}={v}" for k, v in (segment or {}).items()) or "all traffic"
    label = registry.get(signal).label.lower()
    direction = ("up" if impact.current is not None and impact.baseline is not None
                 and impact.current > impact.baseline else "down")
    return IncidentDraft(
        title=title or f"{label} {direction} on {where}", type=registry.get(signal).incident_type,
        signals=[signal, *also_moves], segments=dict(segment or {}), suspects=list(suspects),
        window_start=window_start, detected_at=now, impact=impact, suggestion=suggest_severity(impact),
        facts=facts,
    )


def comms_facts_for(state: IncidentState, store, now: datetime,
                    evaluation: SoakEvaluation | None = None) -> CommsFacts:
    """Prefilled facts for an update: the incident's signals measured now against their baseline."""
    start = state.window_start or state.detected_at or state.opened_at
    facts = [f for f in (signal_fact(store, s, state.segments, start, now) for s in state.signals[:3]) if f]
    share = affected_share(store, state.segments, start, now)
    soak = evaluation.summary() if evaluation is not None and evaluation.status != "not_started" else None
    return facts_from_state(state, now, signals=facts, affected_share=share, soak=soak)
