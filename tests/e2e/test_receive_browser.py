"""Live spans in the browser: the OpenTelemetry SDK exports to `warroom receive`, the Explorer shows them."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from dashboard.core.telemetry.otel_spans import SpanMaker
from tests.e2e.conftest import _free_port, screenshot, start_app, wait_for_app
from tests.fixtures import REPO_ROOT

pytestmark = pytest.mark.e2e
FLUSH_EVERY = 1.0


def start_receiver(data, port):
    proc = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "receive", "--data", str(data), "--port",
                             str(port), "--flush-every", str(FLUSH_EVERY)], cwd=REPO_ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # the receiver says where it listens once bound
    line = proc.stderr.readline()
    assert "listening on" in line, line
    return proc


def requests_caption(page) -> int:
    text = page.get_by_text(re.compile(r"[\d,]+ requests · ")).first.inner_text(timeout=60_000)
    return int(text.split(" requests")[0].replace(",", ""))


def test_spans_sent_with_the_sdk_appear_on_the_explorer(page, tmp_path):
    data = tmp_path / "data"
    port = _free_port()
    receiver = start_receiver(data, port)
    exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces", compression=Compression.Gzip)
    maker = SpanMaker(service="support-bot")
    try:
        for i in range(40):
            maker.chat(fail=i % 10 == 0)
        assert exporter.export(maker.take()) == SpanExportResult.SUCCESS
        app, url = start_app(data)
        try:
            page.goto(f"{url}/explorer")
            wait_for_app(page)
            assert requests_caption(page) == 40
            # more arrive while the app is open: a reload within the group-commit interval shows them
            for _ in range(25):
                maker.chat()
            sent = time.monotonic()
            assert exporter.export(maker.take()) == SpanExportResult.SUCCESS
            page.reload()
            wait_for_app(page)
            assert requests_caption(page) == 65
            assert time.monotonic() - sent < 60
            assert page.locator('[data-testid="stException"]').count() == 0
            screenshot(page, "explorer-live-otlp")
        finally:
            app.terminate()
            try:
                app.wait(timeout=30)
            except subprocess.TimeoutExpired:
                app.kill()
    finally:
        receiver.terminate()
        receiver.wait(timeout=30)
