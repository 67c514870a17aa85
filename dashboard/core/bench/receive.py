"""`warroom bench receive`: a bounded load test of `warroom receive` on loopback, with a kill -9 in the middle.

Several sender processes make GenAI spans with the OpenTelemetry SDK and
export them with its OTLP/HTTP exporter (protobuf, gzip) at a fixed total
rate to a `warroom receive` subprocess bound to 127.0.0.1. Part way through,
the receiver is killed with SIGKILL and started again on the same port; the
exporter retries what was not acknowledged. At the end every model-call span
whose export was acknowledged must be in the store exactly once.

Reported: spans sent and acknowledged, requests stored, acknowledged requests
missing (must be 0) and stored twice (must be 0), the export round-trip
(median, p95, max: includes the group-commit interval), the achieved rate,
and the receiver's slice and compaction files.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.compact import request_files

SPANS_PER_TURN = 3  # invoke_agent, chat, HTTP: one of the three is a request
TICK = 0.25  # seconds between a sender's exports (longer when an export takes longer)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_receiver(data: Path, port: int, flush_every: float) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "dashboard.cli", "receive", "--data", str(data), "--port", str(port),
         "--flush-every", str(flush_every)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            if process.poll() is not None:
                told = process.stderr.read() if process.stderr else ""
                raise RuntimeError(f"warroom receive exited: {told}") from None
            time.sleep(0.1)
    raise RuntimeError("warroom receive did not start within 60 s")


def _sender(index: int, url: str, spans_per_second: float, seconds: float, out: str, ready, go) -> None:
    """One instrumented application: spans at a steady rate, exported every TICK seconds."""
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    from dashboard.core.telemetry.otel_spans import SpanMaker

    maker = SpanMaker(service=f"sender-{index}", seed=index)
    exporter = OTLPSpanExporter(endpoint=url, compression=Compression.Gzip, timeout=60)
    turns_per_second = spans_per_second / SPANS_PER_TURN
    made = 0
    ready.release()
    go.wait()  # every sender starts together, once all have imported the SDK
    began = time.monotonic()
    log: dict[str, Any] = {"sent": 0, "acked_spans": 0, "acked_requests": [], "unacked_requests": [],
                           "round_trips": []}
    tick = 0
    while time.monotonic() - began < seconds:
        # what the rate owes by now: a slow acknowledgement makes the next batch larger, as an SDK's queue would
        due = int(turns_per_second * (time.monotonic() - began)) - made
        for _ in range(due):
            maker.chat(with_tool=False)
        made += max(due, 0)
        spans = maker.take()
        if not spans:
            time.sleep(TICK)
            continue
        requests = [f"{s.context.trace_id:032x}-{s.context.span_id:016x}" for s in spans
                    if (s.attributes or {}).get("gen_ai.operation.name") == "chat"]
        sent_at = time.monotonic()
        result = exporter.export(spans)
        log["round_trips"].append(time.monotonic() - sent_at)
        log["sent"] += len(spans)
        if result == SpanExportResult.SUCCESS:
            log["acked_spans"] += len(spans)
            log["acked_requests"].extend(requests)
        else:
            log["unacked_requests"].extend(requests)
        tick += 1
        pause = began + tick * TICK - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    exporter.shutdown()
    Path(out).write_text(json.dumps(log))


def receive_benchmark(rate: float = 2000.0, seconds: float = 60.0, senders: int = 4, kill_at: float | None = 20.0,
                      down_for: float = 1.0, flush_every: float = 1.0, scratch: Path | None = None) -> dict:
    """Run the load test; `kill_at` seconds in (None: never) the receiver is SIGKILLed and restarted."""
    own = scratch is None
    root = Path(tempfile.mkdtemp(prefix="warroom-bench-receive-")) if scratch is None else scratch
    data_path = root / "data"
    port = _free_port()
    url = f"http://127.0.0.1:{port}/v1/traces"
    receiver = _start_receiver(data_path, port, flush_every)
    context = mp.get_context("spawn")
    logs = [root / f"sender-{i}.json" for i in range(senders)]
    ready, go = context.Semaphore(0), context.Event()
    processes = [context.Process(target=_sender, args=(i, url, rate / senders, seconds, str(logs[i]), ready, go))
                 for i in range(senders)]
    for p in processes:
        p.start()
    for _ in processes:
        ready.acquire()
    go.set()
    began = time.monotonic()
    kills, restart_s = 0, 0.0
    if kill_at is not None and kill_at < seconds:
        time.sleep(max(0.0, kill_at - (time.monotonic() - began)))
        os.kill(receiver.pid, signal.SIGKILL)
        receiver.wait()
        kills = 1
        time.sleep(down_for)
        restarting = time.monotonic()
        receiver = _start_receiver(data_path, port, flush_every)
        restart_s = time.monotonic() - restarting
    for p in processes:
        p.join()
    elapsed = time.monotonic() - began
    receiver.send_signal(signal.SIGTERM)
    receiver.wait(timeout=60)

    sent = acked_spans = 0
    acked: list[str] = []
    unacked: list[str] = []
    round_trips: list[float] = []
    for path in logs:
        log = json.loads(path.read_text())
        sent += log["sent"]
        acked_spans += log["acked_spans"]
        acked += log["acked_requests"]
        unacked += log["unacked_requests"]
        round_trips += log["round_trips"]
    data = DataDir(data_path)
    files = request_files(data.requests)
    stored = (pl.concat([pl.read_parquet(f, columns=["request_id"]) for f in files]) if files
              else pl.DataFrame({"request_id": pl.Series([], dtype=pl.String)}))
    counts = stored.group_by("request_id").len()
    acked_frame = pl.DataFrame({"request_id": acked})
    missing = acked_frame.join(counts, on="request_id", how="anti").height
    twice = counts.filter(pl.col("len") > 1).height
    round_trips.sort()
    result = {
        "command": f"warroom bench receive --rate {rate:g} --seconds {seconds:g} --senders {senders} "
                   f"--kill-at {kill_at if kill_at is not None else 'none'} --flush-every {flush_every:g}",
        "senders": senders,
        "target_spans_per_second": rate,
        "seconds": round(elapsed, 1),
        "spans_sent": sent,
        "spans_acknowledged": acked_spans,
        "achieved_spans_per_second": round(acked_spans / elapsed, 1),
        "requests_acknowledged": len(acked),
        "requests_not_acknowledged": len(unacked),
        "requests_stored": stored.height,
        "acknowledged_missing": missing,
        "stored_more_than_once": twice,
        "receiver_killed": kills,
        "receiver_restart_s": round(restart_s, 1) if kills else None,
        "export_round_trip_s": {
            "median": round(statistics.median(round_trips), 3) if round_trips else None,
            "p95": round(round_trips[max(0, -(-95 * len(round_trips) // 100) - 1)], 3) if round_trips else None,
            "max": round(round_trips[-1], 3) if round_trips else None,
        },
        "request_files": len(files),
        "compacted_files": sum(1 for f in files if f.name.startswith("compacted-")),
    }
    if own:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    return result

