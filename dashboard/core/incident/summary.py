"""One JSON-ready view of an incident: what `warroom incident --json` prints and a page can show."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dashboard.core.incident.comms import comms_clock
from dashboard.core.incident.lifecycle import close_gate
from dashboard.core.incident.playbooks import PHASE_LABELS, PHASES, playbook_for
from dashboard.core.incident.soak import SoakEvaluation
from dashboard.core.incident.state import IncidentState


def soak_state(state: IncidentState, evaluation: SoakEvaluation | None) -> dict[str, Any]:
    """The soak as judged now; for a closed incident (or without telemetry) what the record says."""
    if evaluation is None or not state.is_open:
        if state.soak.passed_at is not None:
            status = "passed"
        elif state.soak.started_at is None:
            status = "not_started"
        else:
            status = "not_passed" if not state.is_open else "unknown"
        return {"status": status, "started_at": _iso(state.soak.started_at), "passed_at": _iso(state.soak.passed_at),
                "recorded_breaches": len(state.soak.breaches), "evaluated": False}
    return {
        "status": evaluation.status,
        "started_at": _iso(evaluation.started_at),
        "as_of": _iso(evaluation.now),
        "progress": round(evaluation.progress, 4),
        "time_left_minutes": evaluation.time_left_minutes,
        "summary": evaluation.summary(),
        "evaluated": True,
        "metrics": [{
            "metric": m.metric.key,
            "label": m.metric.label or m.metric.signal,
            "condition": f"{m.metric.comparator} {m.metric.threshold:g}",
            "judged_threshold": m.metric.judged_threshold,
            "status": m.status,
            "held_minutes": m.held_minutes,
            "time_left_minutes": m.time_left_minutes,
            "current_value": m.current_value,
            "current_sample_size": m.current_sample_size,
            "run_value": m.run_value,
            "run_sample_size": m.run_sample_size,
            "note": m.note,
            "breaches": [b.model_dump(mode="json") for b in m.breaches],
        } for m in evaluation.metrics],
    }


def checklist_status(state: IncidentState) -> list[dict[str, Any]]:
    """The incident type's playbook, phase by phase, each item with who checked it and when."""
    if state.type is None:
        return []
    book = playbook_for(state.type)
    out = []
    for phase in PHASES:
        items = []
        for item in book.phase(phase):
            mark = state.checklist_done.get(item.id)
            items.append({"id": item.id, "text": item.text, "done": mark is not None,
                          "by": mark.by if mark else None, "at": _iso(mark.at) if mark else None,
                          "note": mark.note if mark else ""})
        out.append({"phase": phase, "label": PHASE_LABELS[phase], "items": items})
    return out


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def incident_summary(state: IncidentState, evaluation: SoakEvaluation | None = None,
                     now: datetime | None = None, *, full: bool = False) -> dict[str, Any]:
    """id, title, status, severity, commander, soak state and comms clock; `full` adds the whole record."""
    out: dict[str, Any] = {
        "id": state.id,
        "title": state.title,
        "status": state.status,
        "severity": state.severity,
        "commander": state.commander,
        "type": state.type,
        "service": state.service,
        "version": state.version,
        "signals": list(state.signals),
        "segments": dict(state.segments),
        "opened_at": _iso(state.opened_at),
        "resolved_at": _iso(state.resolved_at),
        "closed_via": state.closed_via,
        "roles": dict(state.roles),
        "soak": soak_state(state, evaluation),
    }
    if now is not None:
        clock = comms_clock(state, now)
        out["next_update_due"] = _iso(clock.due_at)
        out["update_overdue"] = clock.overdue
        gate = close_gate(state, evaluation)
        out["can_close"] = gate.allowed
        out["close_blockers"] = [] if gate.allowed else gate.reasons
    if full:
        out["record"] = state.model_dump(mode="json")
        out["checklist"] = checklist_status(state)
    return out
