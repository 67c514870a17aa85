"""The postmortem's generated prose: every sentence is built from measured or recorded facts."""

from __future__ import annotations

from datetime import timedelta

from dashboard.core.incident.state import IncidentState
from dashboard.core.reporting.impact import Impact
from dashboard.core.reporting.incident_metrics import IncidentTimes, format_duration
from dashboard.core.reporting.postmortem.model import ActionLine, CauseFinding, FinderResult, Phase
from dashboard.core.telemetry import signals as sig

CODE_KINDS = ("app", "model")
SLOW_DETECTION = timedelta(minutes=15)
SLOW_OPEN = timedelta(minutes=10)
FULL_RECOVERY = 0.8  # share of the excess removed for "full recovery"
PARTIAL_RECOVERY = 0.2


def release_text(rel: dict) -> str:
    scope = f" (limited to {rel['scope']})" if rel.get("scope") else ""
    who = f" by {rel['author']}" if rel.get("author") else ""
    inferred = rel.get("origin") == "inferred"
    note = f": “{rel['note']}”" if rel.get("note") and not inferred else ""
    # where it came from (commit, pipeline link) and how it is known (inferred, logged late)
    source = [f"commit {rel['commit']}" if rel.get("commit") else "", rel.get("url") or "",
              "inferred from the requests, no release logged" if inferred else "", rel.get("flag") or ""]
    tail = "".join(f" [{part}]" for part in source if part)
    if rel["rollback"]:
        return (f"{rel['artifact'].capitalize()} rolled back {rel.get('previous_version') or '?'} → {rel['version']}"
                f"{who}{scope}{tail}")
    prev = f" (was {rel['previous_version']})" if rel.get("previous_version") else ""
    return f"{rel['artifact'].capitalize()} {rel['version']} deployed{prev}{who}{scope}{note}{tail}"


def recovery_label(base: float | None, peak: float | None, after: float | None) -> str | None:
    """'full recovery' / 'partial recovery' / 'no recovery' by the share of the excess removed."""
    if base is None or peak is None or after is None or peak == base:
        return None
    share = (peak - after) / (peak - base)
    if share >= FULL_RECOVERY:
        return "full recovery"
    if share >= PARTIAL_RECOVERY:
        return "partial recovery"
    return "no recovery"


def measured_after(phase: Phase | None, key_signals: list[str], recovery: str | None = None) -> str:
    if phase is None or not key_signals:
        return ""
    values = " / ".join(sig.format_value(s, phase.values.get(s)) for s in key_signals)
    names = " / ".join(sig.label(s).lower() for s in key_signals)
    lead = f"{recovery}: " if recovery else "then "
    return (f" — {lead}{names} {values} ({phase.start:%H:%M}–{phase.end:%H:%M}, "
            f"{phase.requests:,} requests)")


def _seg(segment: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in segment.items()) or "all traffic"


def _impact_sentence(impact: Impact | None) -> str:
    if impact is None:
        return ""
    parts = [f"{impact.requests_affected:,} requests"]
    if impact.share_affected is not None:
        parts[0] += f" ({impact.share_affected:.0%} of all traffic)"
    if impact.users_affected is not None:
        parts.append(f"{impact.users_affected:,} users")
    text = " and ".join(parts) + " were affected"
    extras = [f"about {d.excess_events:,.0f} {d.event_label}" for d in impact.deltas
              if d.degraded and d.excess_events and d.event_label and d.excess_events > 0]
    if extras:
        text += "; " + " and ".join(extras)
    return text + "."


def _moves(impact: Impact | None) -> str:
    if impact is None:
        return ""
    moved = [f"{sig.label(d.signal).lower()} went from {sig.format_value(d.signal, d.baseline)} to "
             f"{sig.format_value(d.signal, d.worst)} at worst" for d in impact.deltas if d.degraded]
    return ("; ".join(moved) + ".") if moved else ""


def _rollbacks(releases: list[dict]) -> list[dict]:
    return [r for r in releases if r["rollback"]]


def generated_sections(state: IncidentState, times: IncidentTimes, impact: Impact | None, phases: list[Phase],
                       causes: list[CauseFinding], releases: list[dict], key_signals: list[str],
                       finder: FinderResult | None = None) -> dict[str, str]:
    start = times.regression_start
    code_change = any(r["artifact"] in CODE_KINDS and not r["rollback"] for r in releases)
    roots = [c for c in causes if c.role == "root cause"]
    contributing = [c for c in causes if c.role == "contributing"]

    where = ", ".join(x for x in (state.service, _seg(state.segments)) if x)
    summary = [f"On {start:%Y-%m-%d} from {start:%H:%M} UTC ({where}): {state.title.rstrip('.')}."
               ] if start else [state.title]
    if _moves(impact):
        summary.append(_moves(impact).capitalize())
    if _impact_sentence(impact):
        summary.append(_impact_sentence(impact))
    if roots or contributing:
        names = [f"{c.artifact} {c.version}" for c in roots + contributing]
        summary.append(f"Cause: {' and '.join(names)}" + ("" if code_change else "; no code or model deploy "
                                                          "was involved") + ".")
    rb = _rollbacks(releases)
    if rb:
        summary.append("Mitigated by rolling back " + ", then ".join(
            f"the {r['artifact']} to {r['version']} at {r['ts']:%H:%M}" for r in rb) + ".")
    summary.append(f"Status: {state.status}" + (f", resolved at {times.resolved_at:%H:%M} UTC" if times.resolved_at
                                                else "") + ".")

    root = []
    for c in causes:
        when = f", deployed {c.deployed_at:%Y-%m-%d %H:%M} UTC" if c.deployed_at else ""
        prev = f" (replacing {c.previous_version})" if c.previous_version else ""
        root.append(f"- **{c.role.capitalize()}: {c.artifact} {c.version}**{prev}{when}. Evidence: {c.evidence}.")
    if not root:
        root.append("- No suspect recorded; see the regression finder in the explorer.")
    if finder is not None and finder.error:
        root.append(f"- The regression finder could not run on {finder.signal}: {finder.error}")
    elif finder is not None:
        root.append(f"- Regression finder on {sig.label(finder.signal).lower()}, "
                    f"{finder.start:%H:%M}–{finder.end:%H:%M} UTC (before any rollback): {finder.verdict}.")
    if len(roots + contributing) > 1:
        root.append("- Two artifacts, not one: rolling back the first left the signal above baseline until the "
                    "second was rolled back too.")

    well, badly = [], []
    if rb and phases and key_signals:
        last = phases[-1].values.get(key_signals[0])
        base = phases[0].values.get(key_signals[0])
        if last is not None and base is not None:
            well.append(f"Rollbacks brought {sig.label(key_signals[0]).lower()} back to "
                        f"{sig.format_value(key_signals[0], last)} "
                        f"(baseline {sig.format_value(key_signals[0], base)})"
                        + ("" if code_change else " without any code change") + ".")
        first_rb = rb[0]["ts"]
        well.append(f"First containment (rollback of the {rb[0]['artifact']}) "
                    f"{format_duration(first_rb - times.acknowledged_at)} after the incident was opened.")
    if state.updates:
        audiences = sorted({u.audience for u in state.updates})
        well.append(f"{len(state.updates)} updates posted ({', '.join(audiences)}).")
    if state.verification:
        well.append("Closing is gated on evidence: " + "; ".join(m.describe() for m in state.verification) + ".")
    ttd = times.duration("detect")
    if ttd is not None and ttd <= SLOW_DETECTION:
        well.append(f"Detected {format_duration(ttd)} after the regression started.")
    if ttd is not None and ttd > SLOW_DETECTION:
        badly.append(f"Detection took {format_duration(ttd)}: the regression started at {start:%H:%M} and the alert "
                     f"fired at {times.detected_at:%H:%M}.")
    gap = times.detection_gap
    if gap is not None and gap > SLOW_OPEN:
        badly.append(f"The incident was opened {format_duration(gap)} after the alert.")
    if len(rb) > 1:
        badly.append(f"The first rollback recovered only part of the damage; the second suspect was rolled back "
                     f"{format_duration(rb[1]['ts'] - rb[0]['ts'])} later.")
    if state.soak.breaches:
        b = state.soak.breaches[0]
        badly.append(f"The verification soak broke {len(state.soak.breaches)} time(s) (first: {b.metric} at "
                     f"{b.observed:.3g} vs {b.threshold:g}, n={b.sample_size}) and restarted.")
    if state.override is not None:
        badly.append(f"Closed by override, not on evidence: {state.override.reason}")
    lessons = []
    if not code_change and (roots or contributing):
        lessons.append("Rollback is wider than code: the artifacts at fault were "
                       + " and ".join(sorted({c.artifact for c in roots + contributing}))
                       + " releases; every artifact kind needs the same canary and rollback path as code.")
    return {
        "summary": " ".join(summary),
        "root_cause": "\n".join(root),
        "went_well": "\n".join(f"- {w}" for w in well) or "- (nothing recorded yet)",
        "went_badly": "\n".join(f"- {b}" for b in badly) or "- (nothing recorded yet)",
        "lessons": "\n".join(f"- {x}" for x in lessons),
    }


def actions_from_state(state: IncidentState, causes: list[CauseFinding], releases: list[dict]) -> list[ActionLine]:
    """Recorded action items, then suggestions (flagged) for terms that have none yet."""
    recorded = [ActionLine(a.action_id, a.title, a.term, a.owner, a.due, a.done_at) for a in state.actions]
    have_terms = {a.term for a in recorded}
    suggestions = [ActionLine(None, f"Add the reproducer packet (warroom incident packet {state.id}) to the "
                                    "regression suite", "short", None, None, None, True)]
    kinds = sorted({c.artifact for c in causes if c.role in ("root cause", "contributing")})
    if state.signals:
        suggestions.append(ActionLine(None, f"Alert on {state.signals[0]} per segment "
                                            f"({_seg(state.segments)}) with multi-window burn rates",
                                      "medium", None, None, None, True))
    if kinds:
        suggestions.append(ActionLine(None, f"Canary every {' and '.join(kinds)} release with a same-minute "
                                            "cohort comparison before full rollout", "long", None, None, None, True))
    return recorded + [s for s in suggestions if s.term not in have_terms]
