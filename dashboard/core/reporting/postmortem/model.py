"""What a postmortem holds. Plain data: built by the package front (postmortem/__init__.py), rendered by render.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from dashboard.core.reporting.impact import Impact
from dashboard.core.reporting.incident_metrics import IncidentTimes

# Sections the team may rewrite; the generated text stays available beside the edit.
EDITABLE_SECTIONS: dict[str, str] = {
    "summary": "Summary",
    "root_cause": "Root cause and contributing artifacts",
    "went_well": "What went well",
    "went_badly": "What did not go well",
    "lessons": "Lessons and notes",
}


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str  # release, rollback, regression, detection, record kinds (opened, severity_set...), soak, now
    text: str
    source: str  # "releases", "telemetry" or "record"
    tone: str = "normal"  # "danger", "success", "muted"


@dataclass(frozen=True)
class Phase:
    """The key signals measured on the incident's segment between two changes."""

    label: str
    start: datetime
    end: datetime
    requests: int
    values: dict[str, float | None]  # signal -> value
    release: dict | None = None  # the release that opened this phase (None for the baseline)


@dataclass(frozen=True)
class CauseFinding:
    artifact: str
    version: str
    previous_version: str | None
    deployed_at: datetime | None
    role: str  # "root cause" | "contributing" | "suspect"
    evidence: str
    recovered_share: float | None = None  # share of the key signal's excess its rollback removed


@dataclass(frozen=True)
class FinderSuspect:
    artifact: str
    version: str
    score: float  # 0..1, the regression finder's confidence weighted by what it explains
    explained_share: float
    evidence: tuple[str, ...] = ()
    measured: bool = True  # its own effect was measured (cohort or rollback); else explained_share means nothing


@dataclass(frozen=True)
class FinderResult:
    """What the regression finder concluded on the key signal, before any rollback."""

    signal: str
    start: datetime
    end: datetime
    verdict: str
    suspects: tuple[FinderSuspect, ...] = ()
    error: str | None = None  # set when the finder could not run; shown, never hidden


@dataclass(frozen=True)
class ActionLine:
    action_id: str | None  # None for a suggestion not yet adopted
    title: str
    term: str
    owner: str | None
    due: date | None
    done_at: datetime | None
    suggested: bool = False


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    generated: str  # Markdown
    edited: str | None = None
    edited_by: str | None = None
    edited_at: datetime | None = None

    @property
    def text(self) -> str:
        return self.edited if self.edited is not None else self.generated


@dataclass(frozen=True)
class SampleRequest:
    """One request of the reproducer sample, for a reader to open in its trace."""

    request_id: str
    at: datetime
    affected: bool
    versions: str               # the artifact versions that served it, e.g. "prompt prompt-v7, index kb-2025-02-15"
    trace_link: str | None      # rendered by the app from the folder's [links] trace template


@dataclass(frozen=True)
class Postmortem:
    incident_id: str
    title: str
    service: str | None
    severity: str | None
    status: str
    incident_type: str | None
    segment: dict[str, str]
    as_of: datetime  # the data's clock when generated
    times: IncidentTimes
    impact: Impact | None
    key_signals: tuple[str, ...]
    phases: tuple[Phase, ...]
    timeline: tuple[TimelineItem, ...]
    causes: tuple[CauseFinding, ...]
    actions: tuple[ActionLine, ...]
    sections: dict[str, Section] = field(default_factory=dict)
    reproducer: str = ""
    finder: FinderResult | None = None
    reproducer_samples: tuple[SampleRequest, ...] = ()

    def section(self, key: str) -> Section:
        return self.sections[key]
