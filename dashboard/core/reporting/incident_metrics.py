"""How fast incidents are detected, acknowledged, mitigated and resolved, across history.

Every duration is measured from the regression start (the incident's window
start, when the record has one), so the four figures nest: detect <=
acknowledge <= mitigate <= resolve, and a slow detection shows up in all of
them, as it does for the users.

* detected: the record's `detected_at` (the alert or the finder's run)
* acknowledged: the incident was opened (a person took it on)
* mitigated: the first move to "monitoring" or the start of the verification
  soak, whichever came first (a fix is in and being watched)
* resolved: closed (after the soak, or by override)
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from dashboard.core.incident.state import IncidentState
from dashboard.core.telemetry import signals as registry
from dashboard.core.telemetry.contract import ARTIFACT_KINDS

# the category an incident type falls under when the record names no known signal
TYPE_CATEGORY: dict[str, str] = {
    "quality_regression": "quality",
    "latency_spike": "latency",
    "cost_blowup": "cost",
    "tool_degradation": "reliability",
    "safety_pressure": "safety",
}
# the category is the signal group the explorer shows it under (quality, safety, latency, cost, reliability)
SIGNAL_CATEGORY: dict[str, str] = {s.name: s.group for s in registry.SIGNALS}
STAGES = ("detect", "acknowledge", "mitigate", "resolve")


@dataclass(frozen=True)
class IncidentTimes:
    incident_id: str
    title: str
    type: str | None
    category: str | None
    artifact_kind: str | None  # kind of the first suspect, "external" when none is a release
    severity: str | None
    regression_start: datetime | None
    detected_at: datetime | None
    acknowledged_at: datetime
    mitigated_at: datetime | None
    resolved_at: datetime | None

    def duration(self, stage: str) -> timedelta | None:
        """Time from regression start to the stage; None when either end is unknown."""
        moment = {"detect": self.detected_at, "acknowledge": self.acknowledged_at,
                  "mitigate": self.mitigated_at, "resolve": self.resolved_at}[stage]
        if moment is None or self.regression_start is None:
            return None
        return moment - self.regression_start

    @property
    def detection_gap(self) -> timedelta | None:
        """Detection to incident open: how long a known problem had no owner."""
        if self.detected_at is None:
            return None
        return self.acknowledged_at - self.detected_at


def suspect_kind(suspect: str) -> str | None:
    """The artifact kind a suspect string names: 'prompt:prompt-v7', 'prompt=prompt-v7',
    'prompt prompt-v7', or a bare kind; None when it names none."""
    head = suspect.strip().replace("=", ":").replace(" ", ":").split(":", 1)[0].lower()
    if head in ARTIFACT_KINDS:
        return head
    if head in ("external", "tool"):
        return head
    return None


def mitigated_at(state: IncidentState) -> datetime | None:
    candidates = [c.at for c in state.status_history if c.to_status == "monitoring"]
    if state.soak.started_at is not None:
        candidates.append(state.soak.started_at)
    return min(candidates) if candidates else None


def incident_times(state: IncidentState) -> IncidentTimes:
    category = next((SIGNAL_CATEGORY[s] for s in state.signals if s in SIGNAL_CATEGORY), None)
    category = category or TYPE_CATEGORY.get(state.type or "")
    kinds = [k for k in (suspect_kind(s) for s in state.suspects) if k]
    kind = kinds[0] if kinds else ("external" if state.type == "tool_degradation" else None)
    return IncidentTimes(
        incident_id=state.id, title=state.title, type=state.type, category=category, artifact_kind=kind,
        severity=state.severity, regression_start=state.window_start or state.detected_at or state.opened_at,
        detected_at=state.detected_at or state.opened_at, acknowledged_at=state.opened_at,
        mitigated_at=mitigated_at(state), resolved_at=state.resolved_at,
    )


@dataclass(frozen=True)
class HistorySummary:
    incidents: tuple[IncidentTimes, ...]
    medians: dict[str, timedelta | None]
    by_type: dict[str, int]
    by_category: dict[str, int]
    by_artifact_kind: dict[str, int]


def median_duration(values: Iterable[timedelta | None]) -> timedelta | None:
    known = [v.total_seconds() for v in values if v is not None]
    return timedelta(seconds=statistics.median(known)) if known else None


def summarize_history(states: Iterable[IncidentState]) -> HistorySummary:
    times = tuple(sorted((incident_times(s) for s in states),
                         key=lambda t: t.regression_start or t.acknowledged_at))
    return HistorySummary(
        incidents=times,
        medians={stage: median_duration(t.duration(stage) for t in times) for stage in STAGES},
        by_type=dict(Counter(t.type or "unknown" for t in times).most_common()),
        by_category=dict(Counter(t.category or "unknown" for t in times).most_common()),
        by_artifact_kind=dict(Counter(t.artifact_kind or "unknown" for t in times).most_common()),
    )


def format_duration(value: timedelta | None) -> str:
    """'1 h 05 min', '40 min', '—' for unknown."""
    if value is None:
        return "—"
    minutes = int(round(value.total_seconds() / 60))
    sign = "-" if minutes < 0 else ""
    minutes = abs(minutes)
    if minutes < 60:
        return f"{sign}{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{sign}{hours} h {rest:02d} min"
    return f"{sign}{hours // 24} d {hours % 24} h"
