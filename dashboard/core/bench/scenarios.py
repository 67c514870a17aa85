"""Randomized attribution scenarios: one injected release effect among decoy releases.

Each case is a six-hour window of synthetic traffic (the demo generator's
engine) with one culprit release of a random artifact kind whose effect, on a
random signal and a random slice of traffic, is well above the minimum
detectable effect; two or three decoy releases of other kinds land around it
(some just before, some just after); sometimes the culprit is rolled back,
sometimes its rollout is limited to one region. A tenth of the cases have no
culprit at all (an outside degradation) and must come back with "no release
explains this". `run_cases` measures top-1 attribution accuracy.

    warroom bench scenarios --cases 60 --seed 1
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from dashboard.core.datadir import DataDir
from dashboard.core.demo import write_scenario
from dashboard.core.demo.scenario import Condition, Deploy, Effect, Scenario

DAY = datetime(2025, 3, 4, tzinfo=UTC)
WINDOW_START = DAY + timedelta(hours=10)
WINDOW_END = DAY + timedelta(hours=16)
RPS = 6.0

KINDS = ("app", "model", "prompt", "index", "router", "policy")
INITIAL = {"app": "api-v30", "model": "support-4.0", "prompt": "prompt-v20", "index": "kb-2025-03-01",
           "router": "router-a", "policy": "guard-v40"}
NEXT = {"app": "api-v31", "model": "support-4.1", "prompt": "prompt-v21", "index": "kb-2025-03-04",
        "router": "router-b", "policy": "guard-v41"}

# signal -> (effect field, low, high): sizes in the affected slice
EFFECTS = {
    "refusal_rate": ("refusal", 0.06, 0.14),
    "task_success_rate": ("task_success", -0.18, -0.08),
    "error_rate": ("error", 0.03, 0.08),
    "policy_violation_rate": ("policy_violation", 0.03, 0.08),
    "tool_error_rate": ("tool_error", 0.15, 0.35),
    "latency_p95_ms": ("latency_factor", 1.5, 2.2),
    "output_tokens_per_request": ("output_tokens_factor", 1.6, 2.4),
}
SLICES: list[dict[str, tuple[str, ...]]] = [
    {}, {}, {"language": ("en",)}, {"tier": ("paid",)}, {"region": ("eu-west",)},
    {"region": ("us-east",)}, {"channel": ("web",)}]


@dataclass(frozen=True)
class ScenarioCase:
    seed: int
    scenario: Scenario
    signal: str
    cause: tuple[str, str, str] | None       # (artifact, version, previous_version); None = no release
    change_at: datetime
    affected: dict[str, tuple[str, ...]] = field(default_factory=dict)
    description: str = ""


def random_case(seed: int) -> ScenarioCase:
    rng = np.random.default_rng(seed)
    signal = str(rng.choice(list(EFFECTS)))
    field_name, lo, hi = EFFECTS[signal]
    size = float(rng.uniform(lo, hi))
    affected = dict(SLICES[int(rng.integers(len(SLICES)))])
    change_at = WINDOW_START + timedelta(minutes=int(rng.integers(120, 241)))
    external = rng.random() < 0.1
    kinds = list(rng.permutation(KINDS))
    culprit_kind = kinds.pop()
    deploys: list[Deploy] = []
    scope: dict[str, tuple[str, ...]] = {}
    if not external and rng.random() < 0.25:  # a regional canary: the rollout itself is the slice
        scope = {"region": (str(rng.choice(["eu-west", "us-east", "us-west"])),)}
        affected = dict(scope)
    if external:
        when = Condition(segments=affected, start=change_at)
        cause = None
    else:
        ramp = float(rng.choice([2, 5, 10, 15]))
        deploys.append(Deploy(change_at, culprit_kind, NEXT[culprit_kind], INITIAL[culprit_kind], ramp,
                              scope=scope, note="culprit"))
        when = Condition(versions={culprit_kind: NEXT[culprit_kind]}, segments=affected)
        cause = (culprit_kind, NEXT[culprit_kind], INITIAL[culprit_kind])
        if rng.random() < 0.5:  # rolled back 50-100 min later
            back = change_at + timedelta(minutes=int(rng.integers(50, 101)))
            deploys.append(Deploy(back, culprit_kind, INITIAL[culprit_kind], NEXT[culprit_kind], 2,
                                  scope=scope, note="rollback"))
    # decoys: one shortly before, one shortly after, maybe one far away
    offsets = [-int(rng.integers(8, 40)), int(rng.integers(5, 40))]
    if rng.random() < 0.5:
        offsets.append(int(rng.choice([-1, 1]) * rng.integers(60, 110)))
    for offset in offsets:
        kind = kinds.pop()
        deploys.append(Deploy(change_at + timedelta(minutes=offset), kind, NEXT[kind], INITIAL[kind],
                              float(rng.choice([2, 5, 10])), note="decoy"))
    effect = Effect("injected", when, **{field_name: size})
    scenario = Scenario(start=WINDOW_START, end=WINDOW_END, rps=RPS, initial_versions=dict(INITIAL),
                        deploys=tuple(sorted(deploys, key=lambda d: d.ts)), effects=(effect,))
    where = ", ".join(f"{k}={'|'.join(v)}" for k, v in affected.items()) or "all traffic"
    what = "outside degradation" if external else f"{culprit_kind} {NEXT[culprit_kind]}"
    return ScenarioCase(seed, scenario, signal, cause, change_at, affected,
                        f"{what}: {field_name} {size:+.3g} on {where} at {change_at:%H:%M}")


def write_case(case: ScenarioCase, root: Path) -> DataDir:
    data = DataDir(root)
    write_scenario(data, case.scenario, case.seed, prefix="scenario")
    return data


@dataclass
class CaseResult:
    seed: int
    description: str
    signal: str
    expected: str
    got: str
    correct: bool
    change_error_min: float | None
    seconds: float


def run_case(case: ScenarioCase, root: Path) -> CaseResult:
    from dashboard.core.diagnosis.investigate import investigate
    from dashboard.core.telemetry.query import TelemetryStore

    data = write_case(case, root)
    store = TelemetryStore(data)
    started = time.perf_counter()
    inv = investigate(store, case.signal, WINDOW_START, WINDOW_END, with_segments=False)
    seconds = time.perf_counter() - started
    got = f"{inv.suspects[0].artifact} {inv.suspects[0].version}" if inv.suspects else "no release"
    expected = f"{case.cause[0]} {case.cause[1]}" if case.cause else "no release"
    regressions = [cp for cp in inv.change_points if cp.regression]
    err = min((abs((cp.ts - case.change_at).total_seconds()) / 60 for cp in regressions), default=None)
    return CaseResult(case.seed, case.description, case.signal, expected, got, got == expected, err, seconds)


def run_cases(n: int, seed: int = 1, workdir: Path | None = None) -> dict:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(workdir or tmp)
        for i in range(n):
            results.append(run_case(random_case(seed * 1000 + i), base / f"case-{i:03d}"))
    correct = sum(r.correct for r in results)
    located = [r.change_error_min for r in results if r.change_error_min is not None]
    return {
        "cases": n, "top1_accuracy": correct / n if n else 0.0,
        "change_within_10_min": sum(e <= 10 for e in located) / n if n else 0.0,
        "seconds_per_investigation": float(np.mean([r.seconds for r in results])) if results else 0.0,
        "misses": [r.__dict__ for r in results if not r.correct],
    }
