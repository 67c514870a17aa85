"""`warroom receive` as a process: what it acknowledged survives a kill -9; bad settings are one clear line."""

from __future__ import annotations

import signal
import subprocess
import sys

import polars as pl
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from dashboard.cli import main
from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.compact import request_files
from dashboard.core.telemetry.otel_spans import SpanMaker
from tests.fixtures import REPO_ROOT
from tests.fixtures import free_port as _free_port


def start(data, port, *extra):
    proc = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "receive", "--data", str(data),
                             "--port", str(port), *extra], cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    assert "listening on http://127.0.0.1:" in line, line
    return proc, line


@pytest.mark.slow
def test_acknowledged_spans_survive_a_kill_9_and_a_resend_after_restart_is_stored_once(tmp_path):
    data = tmp_path / "data"
    port = _free_port()
    proc, _ = start(data, port, "--flush-every", "0.2")
    maker = SpanMaker()
    for _ in range(30):
        maker.chat()
    spans = maker.take()
    exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces", timeout=30)
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored = pl.concat([pl.read_parquet(f) for f in request_files(DataDir(data).requests)])
    assert stored.height == 30
    assert not list((data / "requests").glob(".*.tmp"))  # nothing half-written left behind
    proc, _ = start(data, port, "--flush-every", "0.2")
    try:
        assert exporter.export(spans) == SpanExportResult.SUCCESS  # resent: already stored
        stored = pl.concat([pl.read_parquet(f) for f in request_files(DataDir(data).requests)])
        assert stored.height == 30 and stored["request_id"].n_unique() == 30
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert "stopped" in proc.stderr.read()


def test_a_token_file_is_required_to_be_long_and_a_busy_port_is_reported(tmp_path, capsys):
    tokens = tmp_path / "tokens"
    tokens.write_text("collector: short\n")
    assert main(["receive", "--data", str(tmp_path / "d"), "--token-file", str(tokens)]) == 2
    assert "at least 16 characters" in capsys.readouterr().err
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["receive", "--data", str(tmp_path / "d"), "--port", str(port)]) == 2
        assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
