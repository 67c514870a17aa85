"""Time `investigate` on every incident of a data folder's truth.json, with the query cache off.

    warroom bench investigate --data data

Prints per incident: seconds (best and worst of --repeats cold runs), the top
suspect, whether it is the true cause, and the first regression's distance
from the true start.
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import datetime, timedelta

from dashboard.core.datadir import DataDir
from dashboard.core.diagnosis.investigate import investigate
from dashboard.core.telemetry.query import TelemetryStore


def incident_window(store: TelemetryStore, incident: dict) -> tuple[datetime, datetime]:
    """Three hours before the incident to an hour after it ends (or to the newest data)."""
    start = datetime.fromisoformat(incident["start"])
    newest = store.now()
    if newest is None:
        raise ValueError(f"no requests in {store.data.root} to investigate")
    data_end = newest + timedelta(microseconds=1)
    end = datetime.fromisoformat(incident["end"]) + timedelta(hours=1) if incident.get("end") else data_end
    return start - timedelta(hours=3), min(end, data_end)


def run(data: DataDir, repeats: int = 3) -> dict:
    incidents = json.loads(data.truth.read_text())["incidents"]
    rows = []
    for incident in incidents:
        times = []
        for _ in range(repeats):
            store = TelemetryStore(data, cache=False)
            a, b = incident_window(store, incident)
            started = time.perf_counter()
            inv = investigate(store, incident["metric"], a, b)
            times.append(time.perf_counter() - started)
        cause = incident["cause"]
        expected = "no release" if cause["kind"] == "external" else f"{cause['artifact']} {cause['version']}"
        got = f"{inv.suspects[0].artifact} {inv.suspects[0].version}" if inv.suspects else "no release"
        regressions = [cp for cp in inv.change_points if cp.regression]
        true_start = datetime.fromisoformat(incident["start"])
        offset = (regressions[0].ts - true_start).total_seconds() / 60 if regressions else None
        rows.append({"incident": incident["id"], "signal": incident["metric"], "seconds_best": round(min(times), 3),
                     "seconds_worst": round(max(times), 3), "top_suspect": got, "correct": got == expected,
                     "change_offset_min": offset,
                     "segments_top3": [s["label"] for s in inv.segments[:3]]})
    return {"incidents": rows,
            "median_seconds": round(statistics.median(r["seconds_best"] for r in rows), 3) if rows else None,
            "max_seconds": round(max(r["seconds_worst"] for r in rows), 3) if rows else None}
