"""`warroom receive`: OTLP/HTTP as the specification defines it, fed by the real OpenTelemetry SDK exporter."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request

import polars as pl
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace.export import SpanExportResult

from dashboard.core.datadir import DataDir
from dashboard.core.http_service import Token, TokenAuth
from dashboard.core.telemetry.compact import request_files
from dashboard.core.telemetry.mapping import parse_mapping
from dashboard.core.telemetry.otel_spans import SpanMaker
from dashboard.core.telemetry.receiver import TraceReceiver
from tests.fixtures import OTLP_EXPORTS, otlp_json_document

MAPPING = parse_mapping({"otlp": {"segments": {"tier": "app.user.tier"}}})
SECRET = "s3cret-token-for-the-collector"


@pytest.fixture
def receiver(tmp_path):
    data = DataDir(tmp_path / "data")
    made = TraceReceiver(data, MAPPING, flush_every=0.05)
    yield made
    made.close()


def serve(receiver, auth=None, max_body=None):
    server, port = receiver.service(auth, max_body).start_in_thread()
    return server, f"http://127.0.0.1:{port}/v1/traces"


def stored(data: DataDir) -> pl.DataFrame:
    files = request_files(data.requests)
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed") if files else pl.DataFrame()


def post(url, body: bytes, content_type: str, headers: dict | None = None):
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": content_type, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_the_sdk_exporter_is_acknowledged_after_its_spans_are_stored(receiver, compression):
    server, url = serve(receiver)
    maker = SpanMaker()
    maker.chat(model="gpt-4o-2024-08-06", tier="paid", with_tool=True)
    maker.chat(fail=True, tier="free")
    maker.chat(content_filter=True)
    spans = maker.take()
    assert len(spans) == 3 * 3 + 1  # agent, chat, http per turn, plus one tool
    exporter = OTLPSpanExporter(endpoint=url, compression=compression, timeout=10)
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    # acknowledged means durable: the rows are in the store the moment export returns
    rows = stored(receiver.data).sort("ts")
    assert rows.height == 3
    first = rows.row(0, named=True)
    assert (first["service"], first["app_version"], first["tier"]) == ("support-bot", "2.4.0", "paid")
    assert first["model_version"] == "gpt-4o-2024-08-06" and first["input_tokens"] > 0
    assert (first["tool_calls"], first["tool_errors"]) == (1, 0)
    assert len(first["trace_id"]) == 32 and len(first["span_id"]) == 16
    assert rows["error_type"].to_list()[1] == "timeout" and rows["input_tokens"].to_list()[1] is None
    assert rows["guardrail_blocked"].to_list() == [False, None, True]
    assert receiver.stats.skipped == 7 and receiver.stats.stored == 3
    server.shutdown()


def test_a_resent_batch_is_stored_once(receiver):
    server, url = serve(receiver)
    maker = SpanMaker()
    for _ in range(5):
        maker.chat()
    spans = maker.take()
    exporter = OTLPSpanExporter(endpoint=url)
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    assert exporter.export(spans) == SpanExportResult.SUCCESS  # its acknowledgement was lost, say
    rows = stored(receiver.data)
    assert rows.height == 5 and rows["request_id"].n_unique() == 5
    assert receiver.stats.duplicates == 5
    server.shutdown()


def test_json_with_gzip_and_a_partial_success_naming_the_rejected_span(receiver):
    server, url = serve(receiver)
    body = gzip.compress(json.dumps(otlp_json_document(OTLP_EXPORTS[2])).encode())
    status, headers, raw = post(url, body, "application/json", {"Content-Encoding": "gzip"})
    assert status == 200 and headers["Content-Type"] == "application/json"
    answer = json.loads(raw)
    assert answer["partialSuccess"]["rejectedSpans"] == "1"  # int64 as a string, per the JSON encoding
    assert "input_tokens: negative (got '-5')" in answer["partialSuccess"]["errorMessage"]
    assert stored(receiver.data).height == 2
    quarantine = pl.read_parquet(next(receiver.data.quarantine.glob("*.parquet")))
    assert quarantine["span_id"].to_list() == ["c000000000000005"]
    server.shutdown()


def test_protobuf_answer_is_an_export_response(receiver):
    from tests.fixtures import otlp_protobuf_request

    server, url = serve(receiver)
    status, headers, raw = post(url, otlp_protobuf_request([OTLP_EXPORTS[0]]).SerializeToString(),
                                "application/x-protobuf")
    assert status == 200 and headers["Content-Type"] == "application/x-protobuf"
    answer = ExportTraceServiceResponse.FromString(raw)
    assert not answer.HasField("partial_success")
    server.shutdown()


def test_status_codes_follow_the_otlp_http_specification(receiver):
    from google.rpc import status_pb2

    server, url = serve(receiver, max_body=10_000)
    status, _, raw = post(url, b"\x00\x01garbage", "application/x-protobuf")
    assert status == 400 and "not an OTLP protobuf" in status_pb2.Status.FromString(raw).message
    status, _, raw = post(url, b"{not json", "application/json")
    assert status == 400 and "not JSON" in json.loads(raw)["message"]
    status, _, raw = post(url, b'{"resourceLogs": []}', "application/json")
    assert status == 400 and "expected an object with resourceSpans" in json.loads(raw)["message"]
    status, _, raw = post(url, b"x=1", "application/x-www-form-urlencoded")
    assert status == 415 and "application/x-protobuf" in json.loads(raw)["message"]
    status, _, _ = post(url, b"0" * 20_000, "application/json")
    assert status == 413
    status, _, _ = post(url, gzip.compress(b" " * 50_000), "application/json", {"Content-Encoding": "gzip"})
    assert status == 413  # the limit holds after decompression too
    status, _, _ = post(url.replace("/v1/traces", "/v1/logs"), b"{}", "application/json")
    assert status == 404
    assert stored(receiver.data).is_empty()
    server.shutdown()


def test_a_bearer_token_can_be_required(receiver):
    auth = TokenAuth([Token("collector", SECRET, frozenset({"traces"})), Token("ci", "another-long-token-1234",
                                                                            frozenset({"incidents"}))])
    server, url = serve(receiver, auth)
    maker = SpanMaker()
    maker.chat()
    spans = maker.take()
    assert OTLPSpanExporter(endpoint=url, timeout=5).export(spans) == SpanExportResult.FAILURE
    status, headers, _ = post(url, b"{}", "application/json")
    assert status == 401 and headers["WWW-Authenticate"] == "Bearer"
    # a valid token without the traces scope is forbidden
    status, _, _ = post(url, b"{}", "application/json", {"Authorization": "Bearer another-long-token-1234"})
    assert status == 403
    exporter = OTLPSpanExporter(endpoint=url, headers={"Authorization": f"Bearer {SECRET}"})
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    assert stored(receiver.data).height == 1
    server.shutdown()


DEAD_WRITER = """
import sys
from pathlib import Path
from dashboard.core.datadir import temporary_beside
for target in sys.argv[1:]:
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    temporary_beside(Path(target)).write_bytes(b"half a file")
"""


def test_a_restarted_receiver_removes_what_a_killed_one_left_before_any_new_batch(tmp_path):
    import subprocess
    import sys

    data = DataDir(tmp_path / "data")
    # a receiver killed while writing a slice and its rollup: its temporary files name a process now gone
    subprocess.run([sys.executable, "-c", DEAD_WRITER, str(data.requests / "live-20250218T161500000000.parquet"),
                    str(data.root / "rollups" / "minute" / "x.parquet")], check=True)
    assert len([p for p in data.root.rglob(".*") if p.is_file()]) == 2
    restarted = TraceReceiver(data, MAPPING, flush_every=0.05)
    try:
        assert not [p for p in data.root.rglob(".*") if p.is_file()]
    finally:
        restarted.close()
