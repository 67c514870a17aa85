"""The embedded demo week: `write_demo` writes its telemetry and releases into a data folder.

The demo's parts, one package (the app never imports it; `warroom demo`, the
benchmarks and the test fixtures do):
    scenario.py   what a generated week is made of: traffic, deploys, effects, conditions
    engine.py     requests for a window of a scenario (deterministic per seed)
    week.py       the demo week's scenario: its five incidents and their releases
    __init__.py   write_demo: the week into a folder (Parquet per day, rollups, truth.json)
    incidents.py  the incident record seeded from truth.json (`seed_demo_incidents`)
    live.py       the live simulator (`warroom simulate`): the week's traffic, minute by minute
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from dashboard.core.datadir import DataDir, atomic_write_parquet, atomic_write_text
from dashboard.core.demo import week
from dashboard.core.demo.engine import generate_window, iter_days
from dashboard.core.demo.scenario import Deploy, Scenario
from dashboard.core.telemetry import rollup
from dashboard.core.telemetry.contract import RELEASE_SCHEMA

DEFAULT_SEED = 7


@dataclass
class DemoSummary:
    requests: int
    files: int
    releases: int
    incidents: int
    start: datetime
    end: datetime
    seconds: float


def releases_frame(scenario: Scenario) -> pl.DataFrame:
    rows = [release_row(d, scenario.service) for d in sorted(scenario.deploys, key=lambda d: d.ts)
            if scenario.start <= d.ts < scenario.end]
    return pl.DataFrame(rows, schema=RELEASE_SCHEMA, orient="row") if rows else pl.DataFrame(schema=RELEASE_SCHEMA)


def release_row(d: Deploy, service: str) -> dict:
    return {"ts": d.ts, "service": service, "artifact": d.artifact, "version": d.version,
            "previous_version": d.previous_version, "rollout_pct": 100.0, "author": d.author,
            "note": d.note, "scope": d.scope_label}


def write_scenario(data: DataDir, scenario: Scenario, seed: int, prefix: str = "demo",
                   rollups: bool = True) -> tuple[int, int]:
    """Generate a scenario day by day into the store; returns (requests, files).

    With `rollups`, builds them after (a benchmark times that step on its own)."""
    total = files = 0
    for a, b in iter_days(scenario.start, scenario.end):
        frame = generate_window(scenario, a, b, seed, id_prefix=f"{prefix}{a:%m%d}")
        atomic_write_parquet(frame, data.requests / f"{prefix}-{a:%Y-%m-%d}.parquet")
        total += frame.height
        files += 1
    atomic_write_parquet(releases_frame(scenario), data.releases / f"{prefix}.parquet")
    if rollups:
        rollup.maintain(data)
    return total, files


def write_demo(data: DataDir, seed: int = DEFAULT_SEED, days: int = 7, rps: float = 10.0,
               rollups: bool = True) -> DemoSummary:
    started = time.perf_counter()
    scenario = week.scenario(days=days, rps=rps)
    for stale in [*data.requests.glob("demo-*.parquet"), *data.releases.glob("demo*.parquet")]:
        stale.unlink()
    total, files = write_scenario(data, scenario, seed, rollups=rollups)
    truth = week.truth()
    truth["incidents"] = [i for i in truth["incidents"]
                          if datetime.fromisoformat(i["start"]) >= scenario.start]
    truth["generator"] = {"seed": seed, "days": days, "rps": rps, "start": scenario.start.isoformat(),
                          "end": scenario.end.isoformat(), "requests": total}
    atomic_write_text(data.truth, json.dumps(truth, indent=2))
    return DemoSummary(total, files, releases_frame(scenario).height, len(truth["incidents"]),
                       scenario.start, scenario.end, time.perf_counter() - started)
