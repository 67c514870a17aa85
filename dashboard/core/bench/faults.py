"""`warroom bench faults`: kill -9 writers at random moments, fill a disk, mount a folder read-only; count losses.

Each try copies a prepared data folder, starts one real writer as its own
process (`warroom ingest`, `warroom compact --all`, `warroom simulate --live`,
`warroom receive` under OTLP load, or a loop of incident notes through the core
API), kills it with SIGKILL after a random delay within the time the write
takes, then checks what a user would:

- ingest: rerun the same ingest; every good row is stored exactly once and
  every bad input is quarantined exactly once (duplicates of a committed
  ingest are named as such, not counted as bad inputs);
- compaction: the row count is unchanged, before and after a second compaction;
- live writing: every request file reads, the count matches the files, and the
  simulator continues (`simulate --minutes 1` is not refused);
- the receiver: two SDK senders export spans to it; it is restarted on the
  same port after the kill and every span whose export was acknowledged is
  stored exactly once (`warroom bench receive`'s check, in a short run);
- incident writes: every note the writer saw acknowledged is stored, the hash
  chain is intact;
- every kind: no temporary or pending file is left once the next write ran.

Full disk (a 1 MB tmpfs) and read-only folder (a read-only bind mount) need
CAP_SYS_ADMIN; without it they are reported as skipped. Returns a dict of figures.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import polars as pl

from dashboard.core.datadir import DataDir

KINDS = ("ingest", "compaction", "live", "receiver", "incident")
RECEIVER_SECONDS = 8.0  # each receiver try: senders export this long, the kill falls inside it
DUPLICATE = "already in the store"
CLI = [sys.executable, "-m", "dashboard.cli"]
NOTE_WRITER = """
import sys
from dashboard.core.datadir import DataDir
from dashboard.core.incident.service import Incidents
incidents = Incidents.for_data_dir(DataDir(sys.argv[1]))
for k in range(int(sys.argv[2])):
    incidents.add_note(sys.argv[3], None, "Tom Okafor", f"fault note {k}")
    print(k, flush=True)
"""


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*") if p.is_file() and (p.name.endswith(".tmp") or p.name.endswith(".pending"))]


def _rows(data: DataDir) -> int:
    from dashboard.core.telemetry.query import TelemetryStore

    return TelemetryStore(data, cache=False).time_range()[2]


def _killed(cmd: list[str], delay: float, **kwargs) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, **kwargs)
    time.sleep(delay)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return proc


def _timed(cmd: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - began


class FaultBench:
    def __init__(self, work: Path, rng: random.Random, ingest_rows: int):
        from dashboard.core.bench.ingest import synthetic_requests
        from dashboard.core.demo import live, write_demo

        self.work, self.rng = work, rng
        self.count = 0
        self.ingest_kills_after_commit = 0
        self.demo = DataDir(work / "demo")
        write_demo(self.demo, days=1)
        from dashboard.core.demo.incidents import seed_demo_incidents

        seed_demo_incidents(self.demo)
        from dashboard.core.incident.service import Incidents

        self.incident_id = Incidents.for_data_dir(self.demo).open("Tom Okafor", "Fault bench").id
        self.sliced = DataDir(work / "sliced")
        shutil.copytree(self.demo.root, self.sliced.root)
        live.append_minutes(self.sliced, 40, chunk=timedelta(minutes=1))
        self.source = work / "export.parquet"
        synthetic_requests(ingest_rows, seed=7).write_parquet(self.source)
        reference = DataDir(work / "reference")
        self.ingest_seconds = _timed([*CLI, "ingest", "requests", str(self.source), "--data", str(reference.root)])
        self.good = _rows(reference)
        self.bad = sum(pl.read_parquet(p).height for p in reference.quarantine.glob("*.parquet"))
        self.compact_seconds = self._time_on_copy(self.sliced, ["compact", "--all"])
        # a process's start (imports) before it writes anything: kills are spread after it
        self.startup_seconds = _timed([*CLI, "incident", "list", "--data", str(self.demo.root)])

    def _copy(self, base: DataDir) -> DataDir:
        self.count += 1
        target = DataDir(self.work / f"try-{self.count}")
        shutil.copytree(base.root, target.root)
        return target

    def _time_on_copy(self, base: DataDir, argv: list[str]) -> float:
        data = self._copy(base)
        try:
            return _timed([*CLI, *argv, "--data", str(data.root)])
        finally:
            shutil.rmtree(data.root)

    # -- one try per kind: (survived, rows or events lost, leftovers, note) ----------

    def ingest(self) -> tuple[bool, int, int, str]:
        data = DataDir(self.work / f"try-{self.count + 1}")
        self.count += 1
        cmd = [*CLI, "ingest", "requests", str(self.source), "--data", str(data.root)]
        _killed(cmd, self.rng.uniform(0, self.ingest_seconds * 1.1))
        # the accepted rows' rename is the commit: a kill after it leaves a rerun nothing to add
        after = data.requests.is_dir() and any(data.requests.glob("ingest-*.parquet"))
        self.ingest_kills_after_commit += int(after)
        rerun = subprocess.run(cmd, capture_output=True, text=True)
        if rerun.returncode not in (0, 1):
            return False, self.good + self.bad, len(_leftovers(data.root)), f"rerun failed: {rerun.stderr[-200:]}"
        stored = _rows(data)
        parts = [pl.read_parquet(p) for p in data.quarantine.glob("*.parquet")]
        quarantine = (pl.concat(parts, how="diagonal_relaxed") if parts
                      else pl.DataFrame({"reason": []}, schema={"reason": pl.String}))
        bad_inputs = quarantine.filter(~pl.col("reason").str.contains(DUPLICATE)).height
        lost = max(0, self.good - stored) + max(0, self.bad - bad_inputs)
        ok = stored == self.good and bad_inputs == self.bad
        return ok, lost, len(_leftovers(data.root)), (f"killed {'after' if after else 'before'} its commit; stored "
                                                      f"{stored}/{self.good}, bad inputs {bad_inputs}/{self.bad}")

    def compaction(self) -> tuple[bool, int, int, str]:
        data = self._copy(self.sliced)
        before = _rows(data)
        cmd = [*CLI, "compact", "--all", "--data", str(data.root)]
        _killed(cmd, self.rng.uniform(0, self.compact_seconds * 1.1))
        during = _rows(data)
        subprocess.run(cmd, capture_output=True, check=True)
        after = _rows(data)
        return during == after == before, abs(before - after) + abs(before - during), len(_leftovers(data.root)), \
            f"rows {before} / {during} / {after}"

    def live(self) -> tuple[bool, int, int, str]:
        data = self._copy(self.demo)
        before = _rows(data)
        cmd = [*CLI, "simulate", "--live", "--speed", "600", "--flush-every", "0.2", "--duration", "30",
               "--data", str(data.root)]
        _killed(cmd, self.startup_seconds + self.rng.uniform(0.5, 6.0))
        files = [p for p in data.requests.glob("*.parquet")]
        readable = sum(pl.read_parquet(p, glob=False).height for p in files)
        visible = _rows(data)
        more = subprocess.run([*CLI, "simulate", "--minutes", "1", "--json", "--data", str(data.root)],
                              capture_output=True, text=True)
        import json

        added = json.loads(more.stdout)["requests"] if more.returncode == 0 else 0
        note = "" if more.returncode == 0 else f"; {more.stderr.strip()[-160:]}"
        ok = more.returncode == 0 and readable == visible and _rows(data) == visible + added and visible >= before
        return ok, abs(readable - visible), len(_leftovers(data.root)), f"{visible - before} rows kept, " \
            f"continued: {more.returncode == 0}{note}"

    def receiver(self) -> tuple[bool, int, int, str]:
        from dashboard.core.bench.receive import receive_benchmark

        self.count += 1
        scratch = self.work / f"try-{self.count}"
        scratch.mkdir()
        result = receive_benchmark(rate=600, seconds=RECEIVER_SECONDS, senders=2, down_for=0.5, flush_every=0.5,
                                   kill_at=self.rng.uniform(0.5, RECEIVER_SECONDS - 1.0), scratch=scratch)
        missing, twice = result["acknowledged_missing"], result["stored_more_than_once"]
        ok = missing == 0 and twice == 0 and result["requests_acknowledged"] > 0
        return ok, missing + twice, len(_leftovers(scratch / "data")), \
            f"{result['requests_acknowledged']} acknowledged, {result['requests_stored']} stored, " \
            f"{missing} missing, {twice} stored twice"

    def incident(self) -> tuple[bool, int, int, str]:
        from dashboard.core.incident.service import Incidents

        data = self._copy(self.demo)
        incidents = Incidents.for_data_dir(data)
        before = len(incidents.get(self.incident_id).notes)
        proc = _killed([sys.executable, "-c", NOTE_WRITER, str(data.root), "400", self.incident_id],
                       self.startup_seconds + self.rng.uniform(0, 2.0))
        acknowledged = len((proc.stdout.read() if proc.stdout else "").split())
        state = incidents.get(self.incident_id)
        stored = len(state.notes) - before
        intact = incidents.audit(self.incident_id).intact
        lost = max(0, acknowledged - stored)
        return intact and lost == 0, lost, len(_leftovers(data.root)), \
            f"{acknowledged} acknowledged, {stored} stored, chain intact: {intact}"

    def full_disk(self) -> tuple[bool | None, int, int, str]:
        mount = self.work / "disk"
        mount.mkdir()
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
        if mounted.returncode:
            return None, 0, 0, "skipped: mounting a tmpfs needs CAP_SYS_ADMIN"
        try:
            done = subprocess.run([*CLI, "ingest", "requests", str(self.source), "--data", str(mount / "data")],
                                  capture_output=True, text=True)
            left = [p for p in mount.rglob("*") if p.is_file()]
            one_line = done.stderr.count("\n") == 1 and "No space left on device" in done.stderr
            return done.returncode == 2 and one_line and not left, 0, len(left), done.stderr.strip()[:160]
        finally:
            subprocess.run(["umount", str(mount)], capture_output=True)

    def read_only(self) -> tuple[bool | None, int, int, str]:
        mount = self.work / "ro"
        mount.mkdir()
        if subprocess.run(["mount", "--bind", str(self.demo.root), str(mount)], capture_output=True).returncode:
            return None, 0, 0, "skipped: a bind mount needs CAP_SYS_ADMIN"
        try:
            subprocess.run(["mount", "-o", "remount,bind,ro", str(mount)], capture_output=True, check=True)
            at = ["--data", str(mount)]
            reads = [subprocess.run([*CLI, *argv, *at], capture_output=True).returncode
                     for argv in (["incident", "list"], ["postmortem", "INC-1"],
                                  ["investigate", "--signal", "refusal_rate"])]
            write = subprocess.run([*CLI, "simulate", "--minutes", "1", *at], capture_output=True, text=True)
            ok = reads == [0, 0, 0] and write.returncode == 2 and write.stderr.count("\n") == 1
            return ok, 0, 0, f"reads exit {reads}, a write exits {write.returncode}: {write.stderr.strip()[:120]}"
        finally:
            subprocess.run(["umount", str(mount)], capture_output=True)


def run_fault_bench(tries: int = 20, seed: int = 1, ingest_rows: int = 300_000,
                    progress: Callable[[str], None] | None = None) -> dict:
    """`tries` kill -9 tries spread over the writer kinds, then one full disk and one read-only folder."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="warroom-faults-") as tmp:
        bench = FaultBench(Path(tmp), rng, ingest_rows)
        figures: dict[str, dict] = {k: {"tries": 0, "survived": 0, "lost": 0, "leftovers": 0, "notes": []}
                                    for k in (*KINDS, "full_disk", "read_only")}
        plan = [KINDS[i % len(KINDS)] for i in range(tries)]
        rng.shuffle(plan)
        for kind in [*plan, "full_disk", "read_only"]:
            ok, lost, left, note = getattr(bench, kind)()
            row = figures[kind]
            if ok is None:
                row["skipped"] = note
                continue
            row["tries"] += 1
            row["survived"] += int(ok and left == 0)
            row["lost"] += lost
            row["leftovers"] += left
            if not ok or left:
                row["notes"].append(note)
            if progress:
                progress(f"{kind}: {'ok' if ok and not left else 'FAILED'} ({note})")
        figures["ingest"]["killed_after_commit"] = bench.ingest_kills_after_commit
        totals = {"tries": sum(r["tries"] for r in figures.values()),
                  "survived": sum(r["survived"] for r in figures.values()),
                  "rows_lost": sum(figures[k]["lost"] for k in ("ingest", "compaction", "live", "receiver")),
                  "events_lost": figures["incident"]["lost"],
                  "leftovers": sum(r["leftovers"] for r in figures.values())}
        return {"seed": seed, "ingest_rows": ingest_rows, "ingest_seconds": round(bench.ingest_seconds, 2),
                "compact_seconds": round(bench.compact_seconds, 2),
                "startup_seconds": round(bench.startup_seconds, 2), "kinds": figures, "total": totals}
