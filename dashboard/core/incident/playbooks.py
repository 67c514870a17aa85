"""Playbooks: the checklist each incident type brings.

Item ids are stable (`<type>.<phase>.<slug>`) because checking an item is a
recorded event that names the id; renaming an item's text is fine, changing
its id is not.
"""

from __future__ import annotations

from dataclasses import dataclass

PHASES: tuple[str, ...] = ("containment", "diagnosis", "rollback", "forensics")
PHASE_LABELS: dict[str, str] = {
    "containment": "First containment move",
    "diagnosis": "Diagnosis",
    "rollback": "Rollback path",
    "forensics": "Forensics priority",
}


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    phase: str
    text: str


@dataclass(frozen=True)
class Playbook:
    type: str
    title: str
    symptom: str
    items: tuple[ChecklistItem, ...]

    def phase(self, phase: str) -> list[ChecklistItem]:
        return [i for i in self.items if i.phase == phase]

    @property
    def containment(self) -> ChecklistItem:
        return self.phase("containment")[0]


# Diagnosis steps every type shares: "what changed" across every artifact kind.
_COMMON_DIAGNOSIS = (
    ("what-changed", "What changed: list model, prompt, policy, index, router and tool releases in the window"),
    ("canary-vs-baseline", "Compare canary vs baseline cohorts (new vs previous version in the same minutes)"),
)

_SPECS: dict[str, dict] = {
    "quality_regression": {
        "title": "Quality regression",
        "symptom": "success rate down, more rework",
        "containment": [("rollback-lkg", "Roll back to the last-known-good version of the suspect artifact")],
        "diagnosis": [
            ("inspect-retrieval", "Inspect retrieval: index freshness, empty or off-topic contexts"),
            ("inspect-output-validation", "Inspect output validation: refusals, blocked intents, format failures"),
            ("localize-segments", "Localize the segments that explain the drop (tier, language, region, channel)"),
        ],
        "rollback": [
            ("rollback-prompt", "Roll back the prompt to its previous version"),
            ("rollback-index", "Roll back the retrieval index to its previous build"),
            ("rollback-model", "Roll back the model if a weight change is implicated"),
        ],
        "forensics": [
            ("capture-samples", "Capture affected requests with their artifact versions for the regression suite"),
            ("diff-artifacts", "Diff the suspect prompt / index versions"),
        ],
    },
    "latency_spike": {
        "title": "Latency spike",
        "symptom": "p95/p99 rising",
        "containment": [("route-faster", "Route to a faster model or reduce context size")],
        "diagnosis": [
            ("inspect-router", "Inspect the router: share of traffic sent to the large model"),
            ("inspect-tool-chain", "Inspect the tool chain: slow tool calls and retries"),
            ("inspect-context-size", "Check input tokens per request (context growth)"),
        ],
        "rollback": [
            ("rollback-router", "Roll back the router policy"),
            ("rollback-model", "Roll back the model or serving change"),
        ],
        "forensics": [
            ("capture-slow-traces", "Capture the slowest requests with their versions and token counts"),
        ],
    },
    "cost_blowup": {
        "title": "Cost blowup",
        "symptom": "tokens up, cache down",
        "containment": [("tighten-budgets", "Tighten token budgets and increase caching")],
        "diagnosis": [
            ("inspect-tokens", "Compare input and output tokens per request by version"),
            ("inspect-router", "Inspect the router: share of traffic sent to the expensive model"),
            ("inspect-prompt-length", "Check prompt length and retrieved context size"),
        ],
        "rollback": [
            ("rollback-model", "Roll back the model if its answers got longer"),
            ("rollback-prompt", "Roll back the prompt if it grew"),
            ("rollback-router", "Roll back the router policy"),
        ],
        "forensics": [
            ("cost-by-segment", "Attribute the extra spend by segment and version for finance"),
        ],
    },
    "tool_degradation": {
        "title": "Tool degradation",
        "symptom": "timeouts, errors (no release to blame)",
        "containment": [("disable-tool-path", "Disable the failing tool path and fall back")],
        "diagnosis": [
            ("inspect-tool-chain", "Inspect the tool chain: error rate per tool, timeouts, retries"),
            ("check-dependency-status", "Check the status of the external dependency behind the tool"),
            ("inspect-fallbacks", "Check fallback rate and answer quality on the fallback path"),
        ],
        "rollback": [
            ("re-enable-gradually", "Re-enable the tool path gradually once the dependency recovers"),
        ],
        "forensics": [
            ("capture-tool-errors", "Capture failing tool calls with timings for the dependency owner"),
        ],
    },
    "safety_pressure": {
        "title": "Safety pressure",
        "symptom": "policy hits up",
        "containment": [("tighten-guardrails", "Tighten guardrails and add human review")],
        "diagnosis": [
            ("inspect-output-validation", "Inspect output validation: which policies fire, on which intents"),
            ("inspect-inputs", "Look for coordinated or adversarial input patterns"),
            ("localize-segments", "Localize the segments and channels with the policy hits"),
        ],
        "rollback": [
            ("rollback-policy", "Roll back the guardrail policy if a policy release is implicated"),
            ("rollback-prompt", "Roll back the prompt if it weakened instructions"),
        ],
        "forensics": [
            ("preserve-evidence", "Preserve violating outputs and inputs (evidence handling) before retention expires"),
            ("notification-check", "Check whether notification obligations are triggered"),
        ],
    },
}


def _build(incident_type: str, spec: dict) -> Playbook:
    items: list[ChecklistItem] = []
    for phase in PHASES:
        steps = list(spec[phase])
        if phase == "diagnosis":
            steps = [*_COMMON_DIAGNOSIS, *steps]
        items += [ChecklistItem(id=f"{incident_type}.{phase}.{slug}", phase=phase, text=text) for slug, text in steps]
    return Playbook(type=incident_type, title=spec["title"], symptom=spec["symptom"], items=tuple(items))


PLAYBOOKS: dict[str, Playbook] = {t: _build(t, spec) for t, spec in _SPECS.items()}
_ITEMS: dict[str, ChecklistItem] = {i.id: i for pb in PLAYBOOKS.values() for i in pb.items}


def playbook_for(incident_type: str) -> Playbook:
    try:
        return PLAYBOOKS[incident_type]
    except KeyError:
        raise KeyError(f"no playbook for incident type {incident_type!r}; known: {', '.join(PLAYBOOKS)}") from None


def find_item(item_id: str) -> ChecklistItem | None:
    return _ITEMS.get(item_id)
