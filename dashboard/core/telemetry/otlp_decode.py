"""Decoding OTLP trace payloads into `ExportTraceServiceRequest` messages.

Three encodings, as the OTLP specification and the Collector's file exporter
write them:

- protobuf: one serialized ExportTraceServiceRequest (an OTLP/HTTP body, a
  `.pb` file), or the file exporter's `format: proto` stream of messages each
  preceded by its length as a 4-byte big-endian integer;
- JSON: one ExportTraceServiceRequest as a JSON document (lowerCamelCase keys,
  int64 as decimal strings, enums as numbers or names);
- JSON Lines: one such document per line (the file exporter's default).

Every payload may be gzip'd. Decoding uses the `opentelemetry-proto` message
classes and protobuf's own JSON parser rather than a hand-written decoder: the
one OTLP-specific twist, ids written as hex instead of protobuf-JSON's base64,
is undone before parsing.
"""

from __future__ import annotations

import base64
import gzip
import json
import struct
import zlib
from collections.abc import Iterator

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from dashboard.core.errors import WarroomError

GZIP_MAGIC = b"\x1f\x8b"
_ID_KEYS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


class OtlpDecodeError(WarroomError, ValueError):
    """The payload is not OTLP trace data; the message says why."""


def gunzip_if_needed(raw: bytes) -> bytes:
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise OtlpDecodeError(f"not a valid gzip stream ({exc})") from None


def decode_protobuf(raw: bytes) -> list[ExportTraceServiceRequest]:
    """One message, or the file exporter's length-prefixed sequence of them."""
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(raw)
        return [request]
    except DecodeError as single_error:
        messages = _length_prefixed(raw)
        if messages is None:
            raise OtlpDecodeError(f"not an OTLP protobuf ExportTraceServiceRequest ({single_error})") from None
        return messages


def _length_prefixed(raw: bytes) -> list[ExportTraceServiceRequest] | None:
    messages, offset = [], 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            return None
        (size,) = struct.unpack_from(">I", raw, offset)
        offset += 4
        if offset + size > len(raw):
            return None
        message = ExportTraceServiceRequest()
        try:
            message.ParseFromString(raw[offset:offset + size])
        except DecodeError:
            return None
        messages.append(message)
        offset += size
    return messages or None


def _hex_ids_to_base64(node):
    """OTLP JSON writes trace and span ids as hex; protobuf's JSON mapping reads bytes as base64."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in _ID_KEYS and isinstance(value, str):
                try:
                    out[key] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
                except ValueError:
                    raise OtlpDecodeError(f"{key} {value[:40]!r} is not a hex id") from None
            else:
                out[key] = _hex_ids_to_base64(value)
        return out
    if isinstance(node, list):
        return [_hex_ids_to_base64(item) for item in node]
    return node


def looks_like_otlp(document: object) -> bool:
    return isinstance(document, dict) and ("resourceSpans" in document or "resource_spans" in document)


def decode_json_document(document: object) -> ExportTraceServiceRequest:
    """One parsed JSON value (a dict with resourceSpans) as a message."""
    if not looks_like_otlp(document):
        kind = type(document).__name__
        keys = sorted(document)[:5] if isinstance(document, dict) else []
        raise OtlpDecodeError(f"not an OTLP traces document (a {kind}{' with keys ' + str(keys) if keys else ''}; "
                              "expected an object with resourceSpans)")
    try:
        return json_format.ParseDict(_hex_ids_to_base64(document), ExportTraceServiceRequest(),
                                     ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise OtlpDecodeError(f"not valid OTLP JSON ({str(exc).splitlines()[0][:200]})") from None


def decode_json_bytes(raw: bytes) -> ExportTraceServiceRequest:
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise OtlpDecodeError(f"not JSON ({exc})") from None
    return decode_json_document(document)


def iter_json_lines(raw: bytes) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line) of every non-blank line."""
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if line.strip():
            yield number, line


def any_value(value: AnyValue):
    """An AnyValue union as a plain Python value (arrays as lists, kvlists as dicts, bytes as hex)."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, which)


def attributes(key_values) -> dict:
    return {kv.key: any_value(kv.value) for kv in key_values}
