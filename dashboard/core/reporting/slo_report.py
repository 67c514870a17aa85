"""SLO statuses as plain rows and text: what the CLI prints and pages display."""

from __future__ import annotations

from datetime import datetime

from dashboard.core.reporting.slo import SloStatus
from dashboard.core.telemetry import signals as sig


def format_value(signal: str, value: float | None) -> str:
    return sig.format_value(signal, value)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"


def _burn(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}x"


def slo_rows(statuses: list[SloStatus]) -> list[dict]:
    """One JSON-ready dict per SLO."""
    rows = []
    for s in statuses:
        rows.append({
            "name": s.slo.name,
            "title": s.slo.title,
            "objective": s.slo.describe(),
            "method": s.slo.method,
            "state": s.state,
            "current": s.current_value,
            "attainment": s.attainment,
            "target": s.slo.target,
            "budget_remaining": s.budget_remaining,
            "good_events": s.good,
            "bad_events": s.bad,
            "period_start": s.period_start.isoformat() if s.period_start else None,
            "period_end": s.period_end.isoformat() if s.period_end else None,
            "alerts": [{"name": a.policy.name, "long_window_min": a.policy.long.total_seconds() / 60,
                        "short_window_min": a.policy.short.total_seconds() / 60, "factor": a.policy.factor,
                        "long_burn": a.long_burn, "short_burn": a.short_burn, "firing": a.firing}
                       for a in s.alerts],
            "notes": list(s.notes),
        })
    return rows


def slo_table(statuses: list[SloStatus], as_of: datetime | None) -> str:
    """A fixed-width table with one line per SLO and a line per firing alert."""
    header = f"{'SLO':<18} {'state':<9} {'now':>10} {'attained':>9} {'target':>8} {'budget left':>11} " \
             f"{'burn 1h/5m':>12} {'burn 6h/30m':>12}"
    lines = [f"SLOs as of {as_of:%Y-%m-%d %H:%M} UTC" if as_of else "SLOs", header, "-" * len(header)]
    for s in statuses:
        fast = s.alerts[0] if s.alerts else None
        slow = s.alerts[1] if len(s.alerts) > 1 else None
        lines.append(
            f"{s.slo.name:<18} {s.state:<9} {format_value(s.slo.signal, s.current_value):>10} "
            f"{_pct(s.attainment):>9} {_pct(s.slo.target):>8} {_pct(s.budget_remaining):>11} "
            f"{(_burn(fast.long_burn) + '/' + _burn(fast.short_burn)) if fast else '—':>12} "
            f"{(_burn(slow.long_burn) + '/' + _burn(slow.short_burn)) if slow else '—':>12}")
    for s in statuses:
        for alert in s.firing:
            lines.append(f"ALERT {s.slo.name}: {alert.policy.name} — burning {alert.long_burn:.1f}x over "
                         f"{alert.policy.long.total_seconds() / 3600:g} h and {alert.short_burn:.1f}x over "
                         f"{alert.policy.short.total_seconds() / 60:g} min (threshold {alert.policy.factor:g}x)")
        for note in s.notes:
            lines.append(f"note {s.slo.name}: {note}")
    return "\n".join(lines) + "\n"
