"""Default verification metrics proposed from an incident.

Three kinds of condition: the key metric (the one that alerted), a safety
metric and a business metric, each on the incident's segment, with
thresholds a little on the forgiving side of the pre-incident baseline: the
fix has to bring the numbers back near normal, not beat normal.
"""

from __future__ import annotations

from collections.abc import Mapping

from dashboard.core.incident.soak import VerificationMetric
from dashboard.core.telemetry import signals as sig

SAFETY_SIGNALS = tuple(s.name for s in sig.SIGNALS if s.group == "safety")
BUSINESS_SIGNAL = "task_success_rate"
SAFETY_DEFAULT = "policy_violation_rate"

RATE_TOLERANCE_POINTS = 0.02  # at most 2 percentage points past the baseline
RATE_TOLERANCE_MIN = 0.002
RELATIVE_TOLERANCE = 0.10  # non-rate signals: 10 % past the baseline


def comparator_for(signal: str) -> str:
    spec = sig.get(signal)
    if spec.direction == sig.NEUTRAL:
        raise KeyError(f"{signal} has no bad direction; it cannot be verified")
    return spec.comparator


def threshold_from_baseline(signal: str, baseline: float) -> float:
    spec = sig.get(signal)
    up = spec.direction == sig.HIGHER_IS_WORSE
    if spec.kind == "rate":
        tol = min(RATE_TOLERANCE_POINTS, max(0.5 * baseline if up else 0.5 * (1 - baseline), RATE_TOLERANCE_MIN))
        value = baseline + tol if up else baseline - tol
        # whole percentage points read better and a baseline measured as 3.98 % should give 6 %, not 5.98 %
        return round(min(1.0, max(0.0, value)), 2 if tol >= 0.01 else 4)
    value = baseline * (1 + RELATIVE_TOLERANCE) if up else baseline * (1 - RELATIVE_TOLERANCE)
    return float(f"{value:.4g}")


def propose_verification(key_signal: str, baselines: Mapping[str, float], segment: Mapping[str, str] | None = None,
                         soak_minutes: int = 60, window_minutes: int = 10,
                         min_samples: int = 200) -> list[VerificationMetric]:
    """Key metric, then a safety and a business metric where the key is not already one.

    `baselines` maps signal name -> pre-incident value on the segment; a signal
    without a baseline is left out (nothing to anchor its threshold on).
    """
    chosen = [key_signal]
    if key_signal not in SAFETY_SIGNALS:
        chosen.append(SAFETY_DEFAULT)
    if key_signal != BUSINESS_SIGNAL:
        chosen.append(BUSINESS_SIGNAL)
    if key_signal not in baselines:
        raise KeyError(f"no baseline for the key signal {key_signal!r}")
    return [
        VerificationMetric(signal=s, segment=dict(segment or {}), comparator=comparator_for(s),
                           threshold=threshold_from_baseline(s, baselines[s]), soak_minutes=soak_minutes,
                           window_minutes=window_minutes, min_samples=min_samples, label=sig.get(s).phrase)
        for s in chosen if s in baselines
    ]
