"""The one place test data is built: unit, SQL, app and browser tests share it.

`demo_week` is the embedded demo exactly as `make run` would generate it
(default seed, days and traffic), so what the tests check is what a user sees.
"""

from __future__ import annotations

import json
from pathlib import Path

from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.demo import DEFAULT_SEED, write_demo

REPO_ROOT = Path(__file__).resolve().parents[1]


def build_demo_week(root: Path, seed: int = DEFAULT_SEED, days: int = 7, rps: float = 10.0,
                    with_incidents: bool = True) -> DataDir:
    data = DataDir(root)
    write_demo(data, seed=seed, days=days, rps=rps)
    if with_incidents:
        from dashboard.cli.demo import seed_incidents

        seed_incidents(data)
    return data


def truth(data: DataDir) -> dict:
    return json.loads(data.truth.read_text())


def incident_truth(data: DataDir, incident_id: str) -> dict:
    return next(i for i in truth(data)["incidents"] if i["id"] == incident_id)
