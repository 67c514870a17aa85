"""What a synthetic world is made of: traffic mix, deploys, and injected effects.

A `Scenario` is pure data. `engine.generate_window` turns any time window of it
into request rows, deterministically, so the demo week, the randomized
attribution scenarios and the live simulator all share one engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dashboard.core.telemetry.contract import DEFAULT_ARTIFACT_COLUMNS

# Segment mixes: value -> share of traffic. Shares of one segment sum to 1.
DEFAULT_MIX: dict[str, dict[str, float]] = {
    "region": {"us-east": 0.35, "us-west": 0.20, "eu-west": 0.30, "ap-south": 0.15},
    "tier": {"free": 0.40, "paid": 0.45, "enterprise": 0.15},
    "language": {"en": 0.60, "es": 0.13, "de": 0.10, "fr": 0.10, "ja": 0.07},
    "channel": {"web": 0.45, "mobile": 0.30, "api": 0.15, "email": 0.10},
}

# Per-tier base rates: paid is the demo's headline cohort (4% refusals, 42% deflection).
BASE_REFUSAL = {"free": 0.045, "paid": 0.040, "enterprise": 0.030}
BASE_DEFLECTION = {"free": 0.38, "paid": 0.42, "enterprise": 0.47}

# USD per token by model version: input, output.
MODEL_PRICES: dict[str, tuple[float, float]] = {
    "support-3.1": (3e-6, 15e-6),
    "support-3.2": (3e-6, 15e-6),
    "support-3.3": (3e-6, 15e-6),
}
DEFAULT_PRICE = (3e-6, 15e-6)


@dataclass(frozen=True)
class Condition:
    """Which requests an effect touches: all of versions, segments and time must match."""

    versions: dict[str, str] = field(default_factory=dict)  # artifact kind -> version
    segments: dict[str, tuple[str, ...]] = field(default_factory=dict)  # column -> values
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class Effect:
    """A change in behaviour for the requests matching `when`.

    Probabilities are additive (percentage points as fractions), sizes multiplicative.
    """

    name: str
    when: Condition
    refusal: float = 0.0
    task_success: float = 0.0
    quality: float = 0.0
    policy_violation: float = 0.0
    guardrail_blocked: float = 0.0
    error: float = 0.0
    tool_error: float = 0.0
    latency_factor: float = 1.0
    input_tokens_factor: float = 1.0
    output_tokens_factor: float = 1.0


@dataclass(frozen=True)
class Deploy:
    """A release: traffic moves from the previous version to `version` over `ramp_minutes`."""

    ts: datetime
    artifact: str
    version: str
    previous_version: str
    ramp_minutes: float = 5.0
    scope: dict[str, tuple[str, ...]] = field(default_factory=dict)  # limited rollout
    author: str = "release-bot"
    note: str = ""

    @property
    def scope_label(self) -> str | None:
        if not self.scope:
            return None
        return "&".join(f"{k}={'|'.join(v)}" for k, v in sorted(self.scope.items()))


@dataclass(frozen=True)
class Scenario:
    start: datetime
    end: datetime
    rps: float
    initial_versions: dict[str, str]
    deploys: tuple[Deploy, ...] = ()
    effects: tuple[Effect, ...] = ()
    service: str = "support-bot"
    mix: dict[str, dict[str, float]] = field(default_factory=lambda: DEFAULT_MIX)
    peak_hour_utc: float = 15.0
    daily_amplitude: float = 0.5  # traffic swings +/- this share around the mean
    weekend_factor: float = 0.75
    user_pool: int = 250_000

    def versions_of(self, kind: str) -> list[str]:
        """Every version of an artifact kind, in order of first appearance."""
        seen = [self.initial_versions[kind]]
        for d in sorted(self.deploys, key=lambda d: d.ts):
            if d.artifact == kind:
                for v in (d.previous_version, d.version):
                    if v not in seen:
                        seen.append(v)
        return seen


# artifact kind -> request column: the demo writes the contract's default schema
ARTIFACT_COLUMNS = DEFAULT_ARTIFACT_COLUMNS
