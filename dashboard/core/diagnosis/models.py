"""The shapes an investigation returns; they serialize to `warroom investigate --json`."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ChangePointResult(BaseModel):
    ts: datetime
    before: float                   # level before (rate as a fraction, geometric mean for log signals)
    after: float
    before_text: str
    after_text: str
    effect: float                   # rate difference, ratio (log signals) or mean difference
    effect_low: float
    effect_high: float
    effect_kind: str                # "difference" or "ratio"
    effect_text: str
    p_value: float
    regression: bool                # moved in the signal's bad direction
    aligned_release: str | None     # "prompt prompt-v7" when the change sits at that release
    mde: float                      # smallest shift detectable with an hour of current traffic
    minutes_to_detect: float        # traffic time needed to be sure of a shift this size
    detectability: str              # the same, in words
    notes: list[str] = Field(default_factory=list)


class Evidence(BaseModel):
    kind: str                       # timing | cohort | exposure | rollback | release log (how it is known; unscored)
    score: float                    # -1 (rules it out) .. +1 (points at it); 0 = no information
    text: str
    numbers: dict[str, Any] = Field(default_factory=dict)


class Suspect(BaseModel):
    artifact: str
    version: str
    previous_version: str | None
    released_at: datetime
    scope: str | None = None
    score: float                    # 0..1: confidence it caused the regression, weighted by what it explains
    confidence: float
    explained_share: float          # share of the regression this release's own effect accounts for
    expected_effect: float | None   # its effect on the whole filtered traffic (difference, or log ratio)
    evidence: list[Evidence]


class RollbackStep(BaseModel):
    order: int
    artifact: str
    from_version: str
    to_version: str                 # the last-known-good version
    expected_level: float | None
    expected_text: str
    status: str                     # "to do" or "done at HH:MM"
    observed_text: str | None = None


class Investigation(BaseModel):
    signal: str
    signal_label: str
    start: datetime
    end: datetime
    filters: dict[str, list[str]] = Field(default_factory=dict)
    bucket_minutes: float
    baseline_days: int
    change_points: list[ChangePointResult]
    suspects: list[Suspect]                       # best first; empty = no release explains it
    ruled_out: list[Suspect] = Field(default_factory=list)
    verdict: str
    rollback_plan: list[RollbackStep]
    segments: list[dict[str, Any]] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-safe: infinities and NaN (e.g. an effect too small to ever detect) become null."""
        return _finite(self.model_dump(mode="json"))


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def suspect_numbers(score: float, explained_share: float, measured: bool) -> str:
    """What a suspect's two numbers mean, in words a person can act on.

    The score is how strongly the evidence points at the release (0 to 1);
    the explained share is the part of the change its own measured effect
    (same-minute cohort or rollback) accounts for. A suspect whose effect
    could not be measured has no share, not a share of 0%: the text says so
    and says what it was ranked on instead.
    """
    text = f"score {score:.2f} of 1 (how strongly timing, same-minute cohorts, exposure and rollback point at it)"
    if not measured:
        return text + ("; its own effect could not be measured (no same-minute cohort or rollback to measure it), "
                       "so it is ranked on timing and exposure alone")
    if explained_share < 0.005:
        return text + ("; its measured effect accounts for under 1% of the change, so it is ranked on how "
                       "strongly the evidence points at it, not on what it explains")
    return text + f"; its measured effect accounts for {explained_share:.0%} of the change"


def suspect_brief(score: float, explained_share: float, measured: bool) -> str:
    """The same two numbers in a few words, for a verdict or a list line."""
    text = f"score {score:.2f} of 1"
    if not measured:
        return text + ", its own effect not measured"
    if explained_share < 0.005:
        return text + ", its measured effect explains under 1% of the change"
    return text + f", its measured effect explains {explained_share:.0%} of the change"
