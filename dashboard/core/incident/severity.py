"""Severity rubric and a suggestion from measured impact.

The suggestion is a starting point the commander confirms or changes; its
reasoning lines say which measurement drove it. When a measurement sits near
a boundary or is missing, the rubric's rule applies: if unsure, take the
higher severity.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

RUBRIC: dict[str, str] = {
    "SEV1": "Broad user harm or regulatory risk (any safety violation reaching users at scale counts here)",
    "SEV2": "Major degradation with a workaround",
    "SEV3": "Partial degradation or internal-only",
    "SEV4": "Minor anomaly: watch and investigate",
}
RUBRIC_FOOTNOTE = "If unsure, take the higher one."

# Breadth: share of traffic degraded.
BROAD_SHARE = 0.50
SIGNIFICANT_SHARE = 0.10
# Size of the degradation: relative change of the worst signal vs baseline, or absolute points for rates.
MAJOR_RELATIVE, MAJOR_POINTS = 0.50, 0.10
MODERATE_RELATIVE, MODERATE_POINTS = 0.15, 0.03
# safety violations reaching this share of traffic count as "at scale"
SAFETY_AT_SCALE_SHARE = 0.01
# a measurement within this fraction of a boundary is "near" it
NEAR = 0.15


class ImpactMeasure(BaseModel):
    """Measured impact: the caller computes it from telemetry."""

    affected_share: float | None = Field(default=None, ge=0, le=1)  # share of all traffic degraded
    signal: str | None = None  # the worst-hit signal, for the reasoning text
    baseline: float | None = None
    current: float | None = None
    is_rate: bool = True  # baseline/current are rates in 0..1 (points make sense)
    safety_signal: bool = False  # policy violations / unsafe output reaching users
    safety_share: float | None = Field(default=None, ge=0, le=1)  # share of traffic with the safety signal
    regulatory_risk: bool = False
    internal_only: bool = False
    workaround: bool | None = None  # None: unknown


class SeveritySuggestion(BaseModel):
    level: str
    reasons: list[str]


def _bump(level: str) -> str:
    return f"SEV{max(1, int(level[3]) - 1)}"


def _near(value: float, boundary: float) -> bool:
    return boundary > 0 and abs(value - boundary) <= NEAR * boundary


def suggest_severity(impact: ImpactMeasure) -> SeveritySuggestion:
    reasons: list[str] = []
    unsure: list[str] = []

    if impact.regulatory_risk:
        return SeveritySuggestion(level="SEV1", reasons=["regulatory risk → SEV1"])
    if impact.safety_signal:
        share = impact.safety_share if impact.safety_share is not None else impact.affected_share
        if share is None or share >= SAFETY_AT_SCALE_SHARE:
            scope = "of unknown reach" if share is None else f"on {share:.1%} of traffic"
            return SeveritySuggestion(level="SEV1", reasons=[
                f"safety violations reaching users {scope} (at scale: ≥ {SAFETY_AT_SCALE_SHARE:.0%}) → SEV1"])
        reasons.append(f"safety signal on {share:.2%} of traffic (below at-scale {SAFETY_AT_SCALE_SHARE:.0%})")

    # breadth
    share = impact.affected_share
    if share is None:
        breadth = "broad"
        unsure.append("share of traffic affected unknown: assumed broad")
    else:
        breadth = "broad" if share >= BROAD_SHARE else "significant" if share >= SIGNIFICANT_SHARE else "narrow"
        reasons.append(f"{share:.0%} of traffic affected ({breadth})")
        if _near(share, BROAD_SHARE) and breadth != "broad" or _near(share, SIGNIFICANT_SHARE) and breadth == "narrow":
            unsure.append(f"share {share:.0%} is close to the next breadth boundary")

    # size
    size = "major"
    if impact.baseline is None or impact.current is None:
        unsure.append("size of the degradation unknown: assumed major")
    else:
        delta = abs(impact.current - impact.baseline)
        rel = delta / abs(impact.baseline) if impact.baseline else float("inf")
        points = delta if impact.is_rate else None
        major = rel >= MAJOR_RELATIVE or (points is not None and points >= MAJOR_POINTS)
        moderate = rel >= MODERATE_RELATIVE or (points is not None and points >= MODERATE_POINTS)
        size = "major" if major else "moderate" if moderate else "minor"
        name = impact.signal or "key signal"
        if impact.is_rate:
            reasons.append(f"{name} {impact.baseline:.1%} → {impact.current:.1%} "
                           f"({delta * 100:.1f} points, {rel:.0%} relative: {size})")
        else:
            reasons.append(f"{name} {impact.baseline:.4g} → {impact.current:.4g} ({rel:.0%} change: {size})")
        if size != "major" and (_near(rel, MAJOR_RELATIVE) or (points is not None and _near(points, MAJOR_POINTS))):
            unsure.append("size is close to the 'major' boundary")

    if impact.internal_only:
        level = "SEV3" if size == "major" else "SEV4"
        reasons.append("internal-only impact")
    elif size == "major" and breadth == "broad":
        if impact.workaround:
            level = "SEV2"
            reasons.append("major and broad, but a workaround exists")
        else:
            level = "SEV1"
            reasons.append("major degradation across most traffic" +
                           (" with no known workaround" if impact.workaround is False else ""))
    elif size == "major" and breadth == "significant" or size == "moderate" and breadth == "broad":
        level = "SEV2"
        reasons.append("major degradation for a significant share of users")
    elif size == "major" or size == "moderate" and breadth == "significant":
        level = "SEV3"
        reasons.append("partial degradation")
    else:
        level = "SEV4"
        reasons.append("minor anomaly")

    if unsure and level != "SEV1":
        higher = _bump(level)
        reasons += [f"unsure: {u}" for u in unsure]
        reasons.append(f"if unsure, take the higher: {level} → {higher}")
        level = higher
    reasons.append(f"{level}: {RUBRIC[level]}")
    return SeveritySuggestion(level=level, reasons=reasons)
