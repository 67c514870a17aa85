"""The embedded demo week: the support-bot refusal incident and one of each other kind.

Every number here is a cause, never a result: the rates the app shows are
measured from the generated rows. `truth()` records what was injected so the
detectors can be checked against a known answer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboard.core.demo.scenario import Condition, Deploy, Effect, Scenario

INCIDENT_DAY = datetime(2025, 2, 18, tzinfo=UTC)


def at(day_offset: int, hhmm: str) -> datetime:
    """A time on the incident day (offset 0) or a day before it (negative offset)."""
    h, m = (int(x) for x in hhmm.split(":"))
    return INCIDENT_DAY + timedelta(days=day_offset, hours=h, minutes=m)


# The support-bot incident's clock (DESIGN.md); rollback times are ours to choose.
PROMPT_DEPLOY = at(0, "13:30")
INDEX_DEPLOY = at(0, "13:40")
ALERT = at(0, "14:10")
PROMPT_ROLLBACK = at(0, "14:50")
INDEX_ROLLBACK = at(0, "15:35")
DATA_END = at(0, "16:15")  # 40 minutes into the 60-minute verification soak

INITIAL_VERSIONS = {
    "app": "api-v17",
    "model": "support-3.2",
    "prompt": "prompt-v6",
    "index": "kb-2025-01-25",
    "router": "small-first-then-large",
    "policy": "guard-v12",
}

PAID_ENGLISH = {"tier": "paid", "language": "en"}


def deploys() -> tuple[Deploy, ...]:
    return (
        Deploy(at(-5, "10:00"), "router", "latency-aware-v2", "small-first-then-large", 5,
               scope={"region": ("eu-west",)}, author="mlplatform", note="latency-aware routing, EU pilot"),
        Deploy(at(-5, "11:40"), "router", "small-first-then-large", "latency-aware-v2", 2,
               scope={"region": ("eu-west",)}, author="oncall", note="rollback: p95 regression"),
        Deploy(at(-4, "09:00"), "model", "support-3.3", "support-3.2", 10, author="modelops",
               note="support-3.3 weights"),
        Deploy(at(-4, "12:30"), "model", "support-3.2", "support-3.3", 3, author="oncall",
               note="rollback: cost per request up"),
        Deploy(at(-3, "14:00"), "app", "api-v18", "api-v17", 15, author="backend",
               note="pagination fix in ticket history"),
        Deploy(at(-2, "20:00"), "policy", "guard-v13", "guard-v12", 5, author="trust-safety",
               note="classifier thresholds retuned"),
        Deploy(at(-2, "22:10"), "policy", "guard-v12", "guard-v13", 2, author="oncall",
               note="rollback: policy violations in Spanish"),
        Deploy(at(-1, "03:00"), "index", "kb-2025-02-01", "kb-2025-01-25", 5, author="search-infra",
               note="weekly knowledge-base refresh"),
        Deploy(PROMPT_DEPLOY, "prompt", "prompt-v7", "prompt-v6", 5, author="conversation-design",
               note="stricter answer policy wording"),
        Deploy(INDEX_DEPLOY, "index", "kb-2025-02-15", "kb-2025-02-01", 3, author="search-infra",
               note="knowledge-base refresh"),
        Deploy(PROMPT_ROLLBACK, "prompt", "prompt-v6", "prompt-v7", 3, author="oncall",
               note="rollback: refusals up on English"),
        Deploy(INDEX_ROLLBACK, "index", "kb-2025-02-01", "kb-2025-02-15", 3, author="oncall",
               note="rollback: refusals still above baseline in every language"),
    )


def effects() -> tuple[Effect, ...]:
    return (
        Effect("router latency-aware-v2 sends EU traffic to the large model first",
               Condition(versions={"router": "latency-aware-v2"}), latency_factor=2.2),
        Effect("support-3.3 writes much longer answers",
               Condition(versions={"model": "support-3.3"}), output_tokens_factor=2.3, quality=0.01),
        Effect("order-lookup tool backend times out in us-east",
               Condition(segments={"region": ("us-east",)}, start=at(-3, "16:00"), end=at(-3, "17:30")),
               tool_error=0.35, error=0.01),
        Effect("guard-v13 lets Spanish jailbreaks through",
               Condition(versions={"policy": "guard-v13"}, segments={"language": ("es",)}),
               policy_violation=0.04, guardrail_blocked=-0.006),
        Effect("prompt-v7 wording makes the bot refuse English questions it could answer",
               Condition(versions={"prompt": "prompt-v7"}, segments={"language": ("en",)}),
               refusal=0.11, task_success=-0.11, quality=-0.05),
        Effect("kb-2025-02-15 dropped articles: more refusals in every language",
               Condition(versions={"index": "kb-2025-02-15"}), refusal=0.04, task_success=-0.06, quality=-0.04),
        Effect("answers cached from kb-2025-02-15 still expiring after its rollback",
               Condition(start=INDEX_ROLLBACK), refusal=0.01, task_success=-0.01),
    )


def scenario(days: int = 7, rps: float = 10.0) -> Scenario:
    start = INCIDENT_DAY - timedelta(days=days - 1)
    return Scenario(start=start, end=DATA_END, rps=rps, initial_versions=dict(INITIAL_VERSIONS),
                    deploys=deploys(), effects=effects())


def _release(d: Deploy) -> dict:
    return {"artifact": d.artifact, "version": d.version, "previous_version": d.previous_version,
            "deployed_at": d.ts.isoformat()}


def truth() -> dict:
    """The injected incidents: start, end, cause, segments, the metric each moves."""
    ds = {(d.artifact, d.version, d.ts): d for d in deploys()}
    by = {(a, v): d for (a, v, _), d in ds.items()}
    iso = lambda t: t.isoformat()  # noqa: E731
    return {"incident_day": INCIDENT_DAY.date().isoformat(), "incidents": [
        {
            "id": "latency-eu-router", "type": "latency_spike",
            "title": "p95 latency up in eu-west after a router change",
            "start": iso(at(-5, "10:00")), "end": iso(at(-5, "11:42")), "detected_at": iso(at(-5, "10:14")),
            "metric": "latency_p95_ms", "also_moves": ["latency_p99_ms", "latency_p50_ms"],
            "cause": {"kind": "release", **_release(by[("router", "latency-aware-v2")])},
            "segments": [{"region": "eu-west"}], "severity": "SEV3",
        },
        {
            "id": "cost-model-3.3", "type": "cost_blowup",
            "title": "cost per request up after support-3.3",
            "start": iso(at(-4, "09:00")), "end": iso(at(-4, "12:33")), "detected_at": iso(at(-4, "09:40")),
            "metric": "cost_per_request", "also_moves": ["output_tokens_per_request", "latency_p50_ms"],
            "cause": {"kind": "release", **_release(by[("model", "support-3.3")])},
            "segments": [], "severity": "SEV3",
        },
        {
            "id": "tool-order-lookup", "type": "tool_degradation",
            "title": "order-lookup tool timeouts in us-east",
            "start": iso(at(-3, "16:00")), "end": iso(at(-3, "17:30")), "detected_at": iso(at(-3, "16:09")),
            "metric": "tool_error_rate", "also_moves": ["fallback_rate", "error_rate", "latency_p95_ms"],
            "cause": {"kind": "external", "artifact": "tool", "version": None, "previous_version": None,
                      "note": "order-lookup backend outage in us-east; no release involved"},
            "segments": [{"region": "us-east"}], "severity": "SEV3",
        },
        {
            "id": "safety-guard-v13", "type": "safety_pressure",
            "title": "policy violations up in Spanish after guard-v13",
            "start": iso(at(-2, "20:00")), "end": iso(at(-2, "22:12")), "detected_at": iso(at(-2, "20:25")),
            "metric": "policy_violation_rate", "also_moves": [],
            "cause": {"kind": "release", **_release(by[("policy", "guard-v13")])},
            "segments": [{"language": "es"}], "severity": "SEV2",
        },
        {
            "id": "support-bot-refusals", "type": "quality_regression",
            "title": "Support bot refusing answerable questions; deflection down",
            "start": iso(PROMPT_DEPLOY), "end": None, "detected_at": iso(ALERT),
            "metric": "refusal_rate", "also_moves": ["task_success_rate", "quality_score"],
            "cause": {"kind": "release", **_release(by[("prompt", "prompt-v7")])},
            "contributing": [{"kind": "release", **_release(by[("index", "kb-2025-02-15")])}],
            "segments": [{"language": "en"}], "headline_segment": PAID_ENGLISH, "severity": "SEV2",
            "rollbacks": [
                {"artifact": "prompt", "to_version": "prompt-v6", "at": iso(PROMPT_ROLLBACK)},
                {"artifact": "index", "to_version": "kb-2025-02-01", "at": iso(INDEX_ROLLBACK)},
            ],
            # expected levels on paid English per phase, what the generated rows must show
            "phases": [
                {"label": "baseline", "start": iso(at(0, "09:00")), "end": iso(PROMPT_DEPLOY),
                 "refusal_rate": 0.04, "task_success_rate": 0.42},
                {"label": "prompt-v7 and kb-2025-02-15 live", "start": iso(INDEX_DEPLOY + timedelta(minutes=5)),
                 "end": iso(PROMPT_ROLLBACK), "refusal_rate": 0.19, "task_success_rate": 0.25},
                {"label": "prompt rolled back", "start": iso(PROMPT_ROLLBACK + timedelta(minutes=5)),
                 "end": iso(INDEX_ROLLBACK), "refusal_rate": 0.08, "task_success_rate": 0.36},
                {"label": "index rolled back", "start": iso(INDEX_ROLLBACK + timedelta(minutes=5)),
                 "end": iso(DATA_END), "refusal_rate": 0.05, "task_success_rate": 0.41},
            ],
            "verification": {"soak_minutes": 60, "soak_started_at": iso(INDEX_ROLLBACK),
                             "metrics": [
                                 {"signal": "refusal_rate", "comparator": "<=", "threshold": 0.06,
                                  "filters": PAID_ENGLISH},
                                 {"signal": "task_success_rate", "comparator": ">=", "threshold": 0.40,
                                  "filters": PAID_ENGLISH, "label": "deflection"},
                             ]},
        },
    ]}
