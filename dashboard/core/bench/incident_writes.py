"""Benchmark of the incident store and the soak: `warroom bench incident`.

Measures what a war room under load does: several processes posting comms to
one incident at once (appends: never refused, so every refusal is counted as a
failure), reading the state back, listing many incidents, and judging a soak
over a day of per-minute counts. `store_url` runs the appends on PostgreSQL.
"""

from __future__ import annotations

import multiprocessing as mp
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dashboard.core.incident.events import NewEvent
from dashboard.core.incident.service import Incidents
from dashboard.core.incident.soak import MinuteCount, VerificationMetric, evaluate_soak
from dashboard.core.incident.store import EventStore, IncidentStore

T0 = datetime(2025, 2, 18, tzinfo=UTC)


def _writer(store, worker: int, events: int, start_at: float, out) -> None:
    incidents = Incidents(store)
    while time.time() < start_at:  # start together so the writes really contend
        time.sleep(0.001)
    refused = 0
    for k in range(events):
        try:
            incidents.post_update("INC-1", 1, f"w{worker}", "support", f"{worker}-{k}", at=T0)
        except Exception:  # noqa: BLE001 - counted: an append must never be refused
            refused += 1
    out.put(refused)


def bench_concurrent_appends(folder: Path, processes: int, events_each: int, store_url: str | None = None) -> dict:
    if store_url:
        from dashboard.core.incident.store_postgres import PostgresIncidentStore

        store: EventStore = PostgresIncidentStore(store_url)
    else:
        store = IncidentStore(folder / "concurrent.sqlite")
    Incidents(store).open("bench", "contended incident", at=T0)
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    start_at = time.time() + 0.5
    procs = [ctx.Process(target=_writer, args=(store, w, events_each, start_at, out)) for w in range(processes)]
    for p in procs:
        p.start()
    refused = sum(out.get(timeout=600) for _ in procs)
    for p in procs:
        p.join()
    seconds = time.time() - start_at
    total = store.version("INC-1") - 1
    return {"backend": "postgresql" if store_url else "sqlite", "processes": processes, "posts": total,
            "expected": processes * events_each, "refused": refused, "chain_intact": store.audit("INC-1").intact,
            "seconds": round(seconds, 3), "posts_per_second": round(total / seconds, 1)}


def bench_reads(folder: Path, incidents_count: int, events_each: int, store_url: str | None = None) -> dict:
    """One incident read (what each war-room render does, median of 21) and the list of all, on a store
    holding `incidents_count` incidents of `events_each` events (on PostgreSQL: added to what is there)."""
    if store_url:
        from dashboard.core.incident.store_postgres import PostgresIncidentStore

        incidents = Incidents(PostgresIncidentStore(store_url))
    else:
        incidents = Incidents(folder / "reads.sqlite")
    for i in range(incidents_count):
        state = incidents.open("bench", f"incident {i}", at=T0)
        notes = [NewEvent.make("note", {"text": f"n{k}"}, "bench", T0) for k in range(events_each - 1)]
        incidents.store.append(state.id, 1, notes)
    last = incidents.store.incident_ids()[-1]
    timings = []
    for _ in range(21):
        t = time.perf_counter()
        one = incidents.get(last)
        timings.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    states = incidents.list()
    list_ms = (time.perf_counter() - t) * 1000
    return {"backend": "postgresql" if store_url else "sqlite", "incidents": len(states),
            "events_per_incident": one.version, "get_ms": round(statistics.median(timings), 2),
            "list_ms": round(list_ms, 1)}


def bench_soak(minutes: int) -> dict:
    metrics = [VerificationMetric(signal="refusal_rate", comparator="<=", threshold=0.06, soak_minutes=60),
               VerificationMetric(signal="task_success_rate", comparator=">=", threshold=0.40, soak_minutes=60)]
    counts = {metrics[0].key: [MinuteCount(T0 + timedelta(minutes=i), 12.0, 250.0) for i in range(minutes)],
              metrics[1].key: [MinuteCount(T0 + timedelta(minutes=i), 105.0, 250.0) for i in range(minutes)]}
    t = time.perf_counter()
    result = evaluate_soak(metrics, counts, T0, T0 + timedelta(minutes=minutes))
    return {"minutes": minutes, "metrics": len(metrics), "status": result.status,
            "ms": round((time.perf_counter() - t) * 1000, 2)}


def run_bench(processes: int = 4, events_each: int = 250, incidents_count: int = 200,
              events_per_incident: int = 40, soak_minutes: int = 1440, store_url: str | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        return {
            "concurrent_appends": bench_concurrent_appends(folder, processes, events_each, store_url),
            "reads": bench_reads(folder, incidents_count, events_per_incident, store_url),
            "soak": bench_soak(soak_minutes),
        }
