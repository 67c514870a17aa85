"""`warroom receive`: an OTLP/HTTP traces endpoint that stores GenAI spans as live telemetry.

POST /v1/traces takes an ExportTraceServiceRequest as `application/x-protobuf`
or `application/json`, gzip'd or not, as the OTLP/HTTP specification defines:
200 with an ExportTraceServiceResponse (its `partial_success` counts the spans
rejected by the contract, with the reasons), 400 with a google.rpc.Status for
an undecodable body, 415 for another content type, 413 over the body limit,
503 when the store cannot be written (the client retries).

A batch is acknowledged only once it is durable. Batches arriving within one
`flush_every` interval are written together (group commit) as one live slice,
atomically (temporary file, fsync, rename) under requests/, then the same
compaction the simulator runs merges finished ten-minute blocks. The app
re-lists files per query, so it sees new requests within seconds; a receiver
killed at any moment loses nothing it acknowledged, and a batch resent after a
lost acknowledgement is stored once (its span ids are already in the store).

Spans become rows exactly as `warroom ingest --format otlp` makes them
(otlp_requests), validated by the same contract; tool spans roll up within a
batch (spans of one trace sent in different batches are not joined).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path

import polars as pl
from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from dashboard.core.datadir import DataDir, atomic_write_parquet
from dashboard.core.http_service import HttpService, Request, Response, Route, TokenAuth
from dashboard.core.telemetry import rollup
from dashboard.core.telemetry.compact import compact_live_files, slice_name
from dashboard.core.telemetry.contract import write_schema
from dashboard.core.telemetry.ingest.commit import settle_pending
from dashboard.core.telemetry.ingest.dedupe import drop_duplicate_requests
from dashboard.core.telemetry.ingest.pipeline import request_spec, target_schema
from dashboard.core.telemetry.ingest.prices import price_results
from dashboard.core.telemetry.ingest.read import SourceFile
from dashboard.core.telemetry.ingest.validate import FileResult, parse_defaults, validate_file
from dashboard.core.telemetry.links import save_links
from dashboard.core.telemetry.mapping import IngestMapping
from dashboard.core.telemetry.otlp_decode import OtlpDecodeError, decode_json_bytes, decode_protobuf
from dashboard.core.telemetry.otlp_requests import request_rows, spans_of
from dashboard.core.telemetry.store_writes import mirror_files

log = logging.getLogger("warroom.receive")

TRACES_PATH = "/v1/traces"
TRACES_SCOPE = "traces"
PROTOBUF, JSON = "application/x-protobuf", "application/json"
DEFAULT_FLUSH_EVERY = 1.0  # seconds a batch may wait to share a slice with others
MAX_REASONS = 5


@dataclass
class _Pending:
    """One POST waiting for its batch to be written."""

    result: FileResult
    rejected: int  # spans the contract refused
    reasons: list[str]
    done: threading.Event = field(default_factory=threading.Event)
    error: Exception | None = None


@dataclass
class ReceiverStats:
    batches: int = 0
    spans: int = 0
    stored: int = 0
    skipped: int = 0
    rejected: int = 0
    duplicates: int = 0
    slices: int = 0
    store_errors: int = 0  # slices the configured ClickHouse store could not take (logged)


class TraceReceiver:
    """Decodes, validates and durably stores OTLP trace batches; one writer thread commits them."""

    def __init__(self, data: DataDir, mapping: IngestMapping | None = None,
                 flush_every: float = DEFAULT_FLUSH_EVERY, compact: bool = True):
        self.data = data
        self.mapping = mapping or IngestMapping()
        # a receiver killed mid-write (restarts are how it recovers) may have left a temporary slice or a
        # half-built rollup: remove and finish them now, not at the next write, which may be a while
        settle_pending(data)
        rollup.maintain(data)
        self.schema, save_schema = target_schema(data, mapping)
        self.mapping.check_fields(self.schema, "mapping")
        if save_schema:
            write_schema(data, self.schema)
        if self.mapping.links:
            save_links(data, self.mapping.links)
        self.spec = request_spec(self.schema, self.mapping)
        self.defaults = parse_defaults(self.spec, "mapping: defaults")
        self.attribute_columns = self.mapping.otlp.columns(self.schema)
        self.store_columns = list(self.schema.request_schema())
        self.flush_every = flush_every
        self.compact = compact
        self.stats = ReceiverStats()
        self._queue: list[_Pending] = []
        self._cond = threading.Condition()
        self._stopping = False
        self._last_slice = datetime.min.replace(tzinfo=UTC)
        self._writer = threading.Thread(target=self._write_loop, name="warroom-receive-writer", daemon=True)
        self._writer.start()

    # -- HTTP ------------------------------------------------------------------

    def route(self) -> Route:
        return Route("POST", TRACES_PATH, self.handle, TRACES_SCOPE)

    def service(self, auth: TokenAuth | None = None, max_body: int | None = None) -> HttpService:
        service = HttpService([self.route()], auth)
        if max_body is not None:
            service.max_body = max_body
        return service

    def handle(self, request: Request) -> Response:
        kind = request.content_type
        if kind not in (PROTOBUF, JSON):
            return _status(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, code_pb2.INVALID_ARGUMENT,
                           f"Content-Type {kind or '(none)'!r} is not supported; send {PROTOBUF} or {JSON}", JSON)
        try:
            message = decode_protobuf_single(request.body) if kind == PROTOBUF else decode_json_bytes(request.body)
        except OtlpDecodeError as exc:
            return _status(HTTPStatus.BAD_REQUEST, code_pb2.INVALID_ARGUMENT, str(exc), kind)
        pending = self._validate(message, request)
        with self._cond:
            if self._stopping:
                return _status(HTTPStatus.SERVICE_UNAVAILABLE, code_pb2.UNAVAILABLE, "the receiver is stopping", kind)
            self._queue.append(pending)
            self._cond.notify_all()
        pending.done.wait()
        if pending.error is not None:
            return _status(HTTPStatus.SERVICE_UNAVAILABLE, code_pb2.UNAVAILABLE,
                           f"could not store the batch ({pending.error}); retry", kind,
                           headers={"Retry-After": "1"})
        return _export_response(pending.rejected, pending.reasons, kind)

    def _validate(self, message, request: Request) -> _Pending:
        received = datetime.now(UTC)
        spans = spans_of([message], f"POST {TRACES_PATH}")
        rows = request_rows(spans, self.attribute_columns, self.store_columns)
        label = f"otlp-http {request.client} {received:%Y-%m-%dT%H:%M:%S.%fZ}"
        source = SourceFile(Path(label), "otlp-http", rows.frame, rows.row_numbers,
                            pl.DataFrame(schema={"row_number": pl.Int64, "line": pl.String}),
                            skipped=rows.skipped, skipped_detail=rows.skipped_detail, contract_named=True)
        result = validate_file(source, self.spec, self.defaults)
        reasons = result.quarantined["reason"].head(MAX_REASONS).to_list() if result.quarantined.height else []
        return _Pending(result, result.quarantined.height, reasons)

    # -- writing -----------------------------------------------------------------

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if not self._queue and self._stopping:
                    return
            if self.flush_every > 0 and not self._stopping:
                time.sleep(self.flush_every)  # let the batches of this interval join the first one
            with self._cond:
                batch, self._queue = self._queue, []
            try:
                self._commit(batch)
            except Exception as exc:  # the batch is not acknowledged; the client retries
                log.exception("could not store %d batch(es)", len(batch))
                for pending in batch:
                    pending.error = exc
            finally:
                for pending in batch:
                    pending.done.set()

    def _commit(self, batch: list[_Pending]) -> None:
        results = [p.result for p in batch]
        results, _ = price_results(results, self.mapping, self.schema)
        before = sum(r.quarantined.height for r in results)
        results = drop_duplicate_requests(results, self.data)
        duplicates = sum(r.quarantined.height for r in results) - before
        accepted = [r.accepted for r in results if r.accepted.height]
        quarantined = [r.quarantined for r in results if r.quarantined.height]
        start = self._next_slice_start()
        written: dict[str, str | None] = {"requests": None, "quarantine": None}
        if quarantined:
            quarantine_file = self.data.quarantine / f"requests-{slice_name(start)}"
            written["quarantine"] = str(quarantine_file)
            atomic_write_parquet(pl.concat(quarantined, how="diagonal_relaxed"), quarantine_file)
        if accepted:
            frame = pl.concat(accepted, how="vertical").sort("ts")
            requests_file = self.data.requests / slice_name(start)
            written["requests"] = str(requests_file)
            atomic_write_parquet(frame, requests_file)
            self.stats.slices += 1
        try:  # the configured ClickHouse store gets the same rows
            mirror_files(self.data, written)
        except Exception:  # the slice is durable in the data folder: acknowledging stops a resend counting it twice
            self.stats.store_errors += 1
            log.exception("the slice %s is in the data folder but not in the ClickHouse store", written["requests"])
        stats = self.stats
        stats.batches += len(batch)
        stats.spans += sum(r.rows for r in results)
        stats.stored += sum(f.height for f in accepted)
        stats.skipped += sum(r.skipped for r in results)
        stats.rejected += sum(p.rejected for p in batch)
        stats.duplicates += duplicates
        if self.compact and accepted:
            try:
                compact_live_files(self.data)  # the simulator's path: finished ten-minute blocks become one file
            except Exception:  # the slice is durable already; the next compaction retries
                log.exception("compaction failed; the slices stay as they are")

    def _next_slice_start(self) -> datetime:
        """The slice's name stamp: now, strictly after the previous one (names must never repeat)."""
        now = datetime.now(UTC)
        self._last_slice = max(now, self._last_slice + timedelta(microseconds=1))
        return self._last_slice

    def close(self) -> None:
        """Write what is queued, then stop the writer."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._writer.join(timeout=30)


def decode_protobuf_single(body: bytes):
    """An OTLP/HTTP protobuf body is exactly one ExportTraceServiceRequest."""
    messages = decode_protobuf(body)
    if len(messages) != 1:
        raise OtlpDecodeError("expected one ExportTraceServiceRequest")
    return messages[0]


def _encode(message, kind: str) -> bytes:
    if kind == PROTOBUF:
        return message.SerializeToString()
    return json_format.MessageToJson(message, indent=None).encode()


def _status(http_status: int, code: int, message: str, kind: str, headers: dict | None = None) -> Response:
    body = _encode(status_pb2.Status(code=code, message=message), kind)
    return Response(int(http_status), body, kind, dict(headers or {}))


def _export_response(rejected: int, reasons: list[str], kind: str) -> Response:
    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.rejected_spans = rejected
        more = f" (and {rejected - len(reasons)} more)" if rejected > len(reasons) else ""
        response.partial_success.error_message = (
            f"{rejected} span(s) rejected by the telemetry contract and kept in quarantine: "
            + "; ".join(reasons) + more)
    return Response(HTTPStatus.OK, _encode(response, kind), kind)


def summary_line(stats: ReceiverStats) -> str:
    return json.dumps(stats.__dict__)
