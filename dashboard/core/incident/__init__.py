"""The incident itself: record, rules, soak, comms and playbooks (pure Python, no UI).

Read bottom-up:
    events.py            event kinds and their validated payloads
    store.py             append-only SQLite event log, optimistic concurrency on the version
    state.py             IncidentState folded from the events (pure)
    lifecycle.py         which changes a state accepts; the soak-gated close
    service.py           Incidents: the commands pages and the CLI call
    soak.py              VerificationMetric and evaluate_soak on per-minute counts (pure)
    verification.py      default verification metrics from baselines
    severity.py          rubric and suggest_severity from measured impact
    playbooks.py         checklist per incident type, stable item ids
    comms.py             update template per audience, cadence and overdue
    telemetry_adapter.py per-minute counts, baselines and the data's clock from the TelemetryStore
    drafting.py          incident drafts and comms facts measured on telemetry
    summary.py           the JSON view the CLI prints
"""
