"""The executive impact summary: open incidents first, in big plain numbers.

Pure helpers (`headline_figures`, `what_users_see`, `executive_update`,
`slo_offers`) plus `open_incident_cards`, which reads the incident store and
measures each open incident's impact on the telemetry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dashboard.core.incident.comms import CommsClock, SignalFact, comms_clock, facts_from_state, render_update
from dashboard.core.incident.state import IncidentState
from dashboard.core.reporting.impact import Impact
from dashboard.core.reporting.slo import SloStatus
from dashboard.core.telemetry import signals as sig
from dashboard.core.timeutil import utc


@dataclass(frozen=True)
class Figure:
    label: str
    value: str  # the big number
    detail: str = ""  # one short line under it
    trend: str | None = None  # "better" | "worse" | "steady" | "unknown"
    bad: bool = False  # draw it in the warning colour


@dataclass(frozen=True)
class IncidentCard:
    state: IncidentState
    as_of: datetime
    clock: CommsClock
    users_see: str
    impact: Impact | None
    figures: tuple[Figure, ...]
    problem: str | None = None  # why its impact could not be measured (a record naming what the data lacks)

    @property
    def age(self) -> timedelta:
        return self.as_of - (self.state.window_start or self.state.opened_at)


def headline_figures(impact: Impact) -> list[Figure]:
    """Requests and users affected, money, then each degraded quality/safety signal."""
    share = f"{impact.share_affected:.0%} of all traffic" if impact.share_affected is not None else ""
    out = [Figure("Requests affected", f"{impact.requests_affected:,}", share, bad=impact.requests_affected > 0)]
    if impact.users_affected is not None:
        out.append(Figure("Users affected", f"{impact.users_affected:,}",
                          "distinct users in scope" + (f", ±{impact.users_bound:.0%}" if impact.users_bound else "")))
    if impact.extra_spend_usd is not None:
        extra = impact.extra_spend_usd
        out.append(Figure("Extra spend" if extra >= 0 else "Spend change",
                          f"{'-' if extra < 0 else '+'}${abs(extra):,.2f}",
                          f"vs {impact.baseline_label}", bad=extra > 0 and impact.cost_usd > 0
                          and extra / impact.cost_usd > 0.05))
    for d in impact.deltas:
        if not d.degraded:
            continue
        value = f"{sig.format_value(d.signal, d.baseline)} → {sig.format_value(d.signal, d.worst)}"
        detail = f"now {sig.format_value(d.signal, d.current)}"
        if d.excess_events and d.event_label and d.excess_events > 0:
            detail += f" · {d.excess_events:,.0f} {d.event_label}"
        out.append(Figure(sig.label(d.signal), value, detail, d.trend, bad=True))
    return out


def what_users_see(state: IncidentState) -> str:
    """First sentence of the latest update (executives' first), else the incident title."""
    updates = sorted(state.updates, key=lambda u: (u.at, u.audience == "executives"))
    for_execs = [u for u in updates if u.audience == "executives"]
    latest = (for_execs or updates)[-1] if updates else None
    if latest is None:
        return state.title
    text = latest.message.strip().split("\n")[0]
    end = text.find(". ")
    return text[: end + 1] if end > 0 else text


def signal_facts(impact: Impact) -> list[SignalFact]:
    facts = []
    for d in impact.deltas:
        if d.degraded and d.current is not None and d.baseline is not None and sig.BY_NAME[d.signal].kind == "rate":
            facts.append(SignalFact(signal=d.signal, label=sig.label(d.signal).lower(), current=d.current,
                                    baseline=d.baseline, unit="%"))
    return facts


def executive_update(card: IncidentCard) -> str:
    """The executive update in Markdown, with the measured figures filled in."""
    impact = card.impact
    facts = facts_from_state(card.state, card.as_of, signals=signal_facts(impact) if impact else [],
                             affected_share=impact.share_affected if impact else None,
                             what_users_see=card.users_see)
    return render_update(facts, "executives")


def slo_offers(statuses: list[SloStatus], open_states: list[IncidentState]) -> list[SloStatus]:
    """Burning SLOs that no open incident covers (by signal): the summary offers to open one."""
    covered = {s for st in open_states if st.is_open for s in st.signals}
    covered |= {m.signal for st in open_states if st.is_open for m in st.verification}
    return [s for s in statuses if s.firing and s.slo.signal not in covered]


def open_incident_cards(data, store=None, now: datetime | None = None) -> list[IncidentCard]:
    """Every open incident with its measured impact, most severe first, then oldest."""
    from dashboard.core.incident.service import Incidents
    from dashboard.core.incident.store_config import has_incident_store
    from dashboard.core.reporting.impact_store import incident_impact

    if not has_incident_store(data):
        return []
    states = [s for s in Incidents.for_data_dir(data).list() if s.is_open]
    if store is None and data.has_requests():
        from dashboard.core.telemetry.clickhouse_store import open_store

        store = open_store(data)
    data_now = store.now() if store is not None else None
    as_of = utc(now or data_now or max((s.last_event_at for s in states), default=datetime.now().astimezone()))
    cards = []
    for state in states:
        impact, problem = None, None
        try:
            impact = incident_impact(store, state, now=as_of) if data_now is not None else None
        except (ValueError, KeyError) as exc:  # one record the data cannot answer must not hide the others
            problem = f"its impact cannot be measured: {exc.args[0] if exc.args else exc}"
        cards.append(IncidentCard(state, as_of, comms_clock(state, as_of), what_users_see(state), impact,
                                  tuple(headline_figures(impact)) if impact else (), problem))
    return sorted(cards, key=lambda c: (c.state.severity or "SEV9", c.state.opened_at))
