"""OpenTelemetry GenAI traces for tests, in the encodings the readers take.

Written from the OTLP specification (JSON encoding: lowerCamelCase keys, hex ids,
int64 as decimal strings, AnyValue unions) and the GenAI semantic conventions,
plus the OpenInference, OpenLLMetry and Langfuse attribute names: the committed
fixture (`write_otlp_fixtures`) and a generated model change (`otlp_model_change_jsonl`).

Shared by every test layer through tests.fixtures.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def otlp_model_change_jsonl(path: Path, switch_at: datetime, hours: float = 2.0, per_minute: int = 20,
                            old_model: str = "gpt-4o-2024-05-13", new_model: str = "gpt-4o-2024-08-06",
                            output_tokens: tuple[int, int] = (150, 260), seed: int = 11) -> Path:
    """OTLP JSON Lines as the Collector's file exporter writes them: a chat span per request (GenAI
    conventions; int64 as decimal strings, hex ids), an HTTP child span each, 40 spans a line; the model
    changes at `switch_at` and its output tokens jump. Failed calls (1 in 50) carry no usage."""
    import random
    from datetime import timedelta

    rnd = random.Random(seed)
    start = switch_at - timedelta(hours=hours / 2)
    count = int(hours * 60 * per_minute)
    stamps = sorted(start + timedelta(seconds=rnd.uniform(0, hours * 3600)) for _ in range(count))

    def attr(key, value):
        if isinstance(value, bool):
            return {"key": key, "value": {"boolValue": value}}
        if isinstance(value, int):
            return {"key": key, "value": {"intValue": str(value)}}
        if isinstance(value, list):
            return {"key": key, "value": {"arrayValue": {"values": [{"stringValue": v} for v in value]}}}
        return {"key": key, "value": {"stringValue": value}}

    def nanos(ts):
        return str(int(ts.timestamp() * 1_000_000) * 1000)

    spans = []
    for ts in stamps:
        after = ts >= switch_at
        model = new_model if after else old_model
        trace_id, span_id = f"{rnd.getrandbits(128):032x}", f"{rnd.getrandbits(64):016x}"
        duration = timedelta(milliseconds=rnd.uniform(600, 2400))
        failed = rnd.random() < 0.02
        attributes = [attr("gen_ai.operation.name", "chat"), attr("gen_ai.provider.name", "openai"),
                      attr("gen_ai.request.model", "gpt-4o")]
        if failed:
            attributes.append(attr("error.type", "timeout"))
        else:
            level = output_tokens[1] if after else output_tokens[0]
            attributes += [attr("gen_ai.response.model", model),
                           attr("gen_ai.usage.input_tokens", rnd.randint(500, 900)),
                           attr("gen_ai.usage.output_tokens", max(1, int(rnd.gauss(level, level * 0.15)))),
                           attr("gen_ai.response.finish_reasons", ["stop"])]
        spans.append({"traceId": trace_id, "spanId": span_id, "name": "chat gpt-4o", "kind": 3,
                      "startTimeUnixNano": nanos(ts), "endTimeUnixNano": nanos(ts + duration),
                      "attributes": attributes, "status": {"code": 2, "message": "timed out"} if failed else {}})
        spans.append({"traceId": trace_id, "spanId": f"{rnd.getrandbits(64):016x}", "parentSpanId": span_id,
                      "name": "POST", "kind": 3, "startTimeUnixNano": nanos(ts + timedelta(milliseconds=5)),
                      "endTimeUnixNano": nanos(ts + duration - timedelta(milliseconds=5)),
                      "attributes": [attr("http.request.method", "POST"), attr("http.response.status_code", 200)],
                      "status": {}})
    resource = {"attributes": [attr("service.name", "support-bot"), attr("service.version", "2.4.0")]}
    lines = []
    for i in range(0, len(spans), 40):
        lines.append(json.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [
            {"scope": {"name": "opentelemetry.instrumentation.openai", "version": "0.48.0"},
             "spans": spans[i:i + 40]}]}]}))
    path.write_text("\n".join(lines) + "\n")
    return path


# -- OpenTelemetry GenAI traces ------------------------------------------------
# Written from the OTLP specification (JSON encoding: lowerCamelCase keys, hex ids,
# int64 as decimal strings, AnyValue unions) and the GenAI semantic conventions,
# plus the OpenInference, OpenLLMetry and Langfuse attribute names. One neutral
# description, two independent encoders: hand-written OTLP JSON, and protobuf
# messages built with opentelemetry-proto's own classes.

OTLP_FIXTURES = REPO_ROOT / "tests" / "fixtures" / "otlp"
T0 = 1_739_889_000_000_000_000  # 2025-02-18T14:30:00Z in nanoseconds
MS = 1_000_000


def _span(trace: str, span: str, name: str, start_ms: int, end_ms: int, attrs: dict, parent: str = "",
          kind: int = 3, status: tuple[int, str] = (0, ""), exception: str | None = None) -> dict:
    return {"trace": trace, "span": span, "parent": parent, "name": name, "kind": kind,
            "start": T0 + start_ms * MS, "end": T0 + end_ms * MS if end_ms is not None else 0,
            "status": status, "attrs": attrs, "exception": exception}


TRACE_AGENT = "5b8efff798038103d269b633813fc60c"
TRACE_SEARCH = "0af7651916cd43dd8448eb211c80319c"
TRACE_MIXED = "4bf92f3577b34da6a3ce929d0e0e4736"

# Each element is one line of the file exporter's output: a list of (resource attributes, spans).
OTLP_EXPORTS: list[list[tuple[dict, list[dict]]]] = [
    [({"service.name": "support-bot", "service.version": "2.4.0", "deployment.environment.name": "prod"}, [
        _span(TRACE_AGENT, "a000000000000001", "invoke_agent support_agent", 0, 4200,
              {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support_agent"}, kind=1),
        _span(TRACE_AGENT, "a000000000000002", "chat gpt-4o", 10, 1210, {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens": 812, "gen_ai.usage.output_tokens": 64,
            "gen_ai.usage.cache_read.input_tokens": 512,
            "gen_ai.response.finish_reasons": ["tool_calls"], "gen_ai.response.time_to_first_chunk": 0.21,
            "app.user.tier": "paid", "app.prompt.version": "support-v7", "user.id": "u-17"},
              parent="a000000000000001"),
        _span(TRACE_AGENT, "a000000000000003", "execute_tool get_order", 1220, 1400,
              {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_order"}, parent="a000000000000001",
              kind=1),
        _span(TRACE_AGENT, "a000000000000004", "GET", 1230, 1390,
              {"http.request.method": "GET", "url.full": "https://orders.internal/v1/orders/17",
               "http.response.status_code": 200}, parent="a000000000000003"),
        _span(TRACE_AGENT, "a000000000000005", "execute_tool issue_refund", 1410, 1900,
              {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "issue_refund",
               "error.type": "PermissionDenied"}, parent="a000000000000001", kind=1,
              status=(2, "refund not allowed for this order")),
    ]),
     ({"service.name": "support-bot", "service.version": "2.4.0", "deployment.environment.name": "prod"}, [
        _span(TRACE_AGENT, "a000000000000006", "chat gpt-4o", 1910, 4100, {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.usage.input_tokens": 1020, "gen_ai.usage.output_tokens": 140,
            "gen_ai.response.finish_reasons": ["stop"], "app.user.tier": "paid",
            "app.prompt.version": "support-v7"}, parent="a000000000000001"),
    ])],
    [({"service.name": "search-api", "service.version": "1.9.1"}, [
        _span(TRACE_SEARCH, "b000000000000001", "GET /search", 0, 900,
              {"http.request.method": "GET", "http.route": "/search", "http.response.status_code": 200}, kind=2),
        # deprecated names: gen_ai.system, prompt/completion tokens; a failed call carries no usage
        _span(TRACE_SEARCH, "b000000000000002", "text_completion claude-3-haiku", 20, 340, {
            "gen_ai.operation.name": "text_completion", "gen_ai.system": "anthropic",
            "gen_ai.request.model": "claude-3-haiku-20240307", "error.type": "429",
            "app.user.tier": "free"}, parent="b000000000000001", status=(2, "429 Too Many Requests")),
        _span(TRACE_SEARCH, "b000000000000003", "text_completion claude-3-haiku", 350, 880, {
            "gen_ai.operation.name": "text_completion", "gen_ai.system": "anthropic",
            "gen_ai.request.model": "claude-3-haiku-20240307", "gen_ai.response.model": "claude-3-haiku-20240307",
            "gen_ai.usage.prompt_tokens": 230, "gen_ai.usage.completion_tokens": 0,
            "gen_ai.response.finish_reasons": ["content_filter"], "app.user.tier": "free"},
              parent="b000000000000001"),
        _span(TRACE_SEARCH, "b000000000000004", "embeddings text-embedding-3-small", 5, 15, {
            "gen_ai.operation.name": "embeddings", "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "text-embedding-3-small", "gen_ai.usage.input_tokens": 12},
              parent="b000000000000001"),
        # a status-only failure: no error.type, an exception event says what went wrong
        _span(TRACE_SEARCH, "b000000000000005", "chat gemini-1.5-flash", 100, 200, {
            "gen_ai.operation.name": "generate_content", "gen_ai.provider.name": "gcp.gemini",
            "gen_ai.request.model": "gemini-1.5-flash"}, parent="b000000000000001", status=(2, "deadline exceeded"),
              exception="google.api_core.exceptions.DeadlineExceeded"),
    ])],
    [({"service.name": "rag-app", "service.version": "0.3.0", "telemetry.sdk.language": "python"}, [
        # OpenInference (Arize Phoenix) names
        _span(TRACE_MIXED, "c000000000000001", "ChatCompletion", 0, 1500, {
            "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini", "llm.provider": "openai",
            "llm.token_count.prompt": 400, "llm.token_count.completion": 90, "app.user.tier": "paid"}),
        _span(TRACE_MIXED, "c000000000000002", "retrieve", 1500, 1600, {"openinference.span.kind": "RETRIEVER"},
              parent="c000000000000001"),
        # OpenLLMetry (traceloop) names with Langfuse's keys
        _span(TRACE_MIXED, "c000000000000003", "openai.chat", 1600, 2600, {
            "llm.request.type": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.prompt_tokens": 380, "gen_ai.usage.completion_tokens": 75,
            "traceloop.workflow.name": "answer", "langfuse.release": "rag-2025.02.18",
            "langfuse.observation.prompt.name": "answer", "langfuse.observation.prompt.version": 4,
            "langfuse.user.id": "u-99"}),
        _span(TRACE_MIXED, "c000000000000004", "tool.lookup", 2600, 2700, {"traceloop.span.kind": "tool"},
              parent="c000000000000003"),
        # broken: a negative token count is quarantined with the reason, not dropped
        _span(TRACE_MIXED, "c000000000000005", "chat gpt-4o-mini", 2700, 2900, {
            "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": -5, "gen_ai.usage.output_tokens": 3}),
    ])],
]
# what the fixture holds: 16 spans; 8 model calls (7 accepted, 1 quarantined), 8 other spans
OTLP_FIXTURE_COUNTS = {"spans": 16, "accepted": 7, "quarantined": 1, "skipped": 8}


def _json_value(value) -> dict:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}  # int64 as a decimal string, as the OTLP JSON encoding requires
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [_json_value(v) for v in value]}}
    return {"stringValue": str(value)}


def _json_attributes(attrs: dict) -> list[dict]:
    return [{"key": k, "value": _json_value(v)} for k, v in attrs.items()]


def otlp_json_document(export: list[tuple[dict, list[dict]]]) -> dict:
    """One ExportTraceServiceRequest in the OTLP JSON encoding, written by hand from the specification."""
    resource_spans = []
    for resource, spans in export:
        encoded = []
        for s in spans:
            span = {"traceId": s["trace"], "spanId": s["span"], "name": s["name"], "kind": s["kind"],
                    "startTimeUnixNano": str(s["start"]), "endTimeUnixNano": str(s["end"]),
                    "attributes": _json_attributes(s["attrs"]), "status": {}}
            if s["parent"]:
                span["parentSpanId"] = s["parent"]
            if s["status"][0]:
                span["status"] = {"code": s["status"][0], "message": s["status"][1]}
            if s["exception"]:
                span["events"] = [{"timeUnixNano": str(s["end"]), "name": "exception",
                                   "attributes": _json_attributes({"exception.type": s["exception"]})}]
            encoded.append(span)
        resource_spans.append({"resource": {"attributes": _json_attributes(resource)},
                               "scopeSpans": [{"scope": {"name": "fixture", "version": "1.0"}, "spans": encoded}]})
    return {"resourceSpans": resource_spans}


def otlp_json_lines() -> str:
    return "".join(json.dumps(otlp_json_document(export), separators=(",", ":")) + "\n" for export in OTLP_EXPORTS)


def otlp_protobuf_request(exports=None):
    """All of OTLP_EXPORTS as one ExportTraceServiceRequest, built with opentelemetry-proto's classes."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    def any_value(value) -> AnyValue:
        if isinstance(value, bool):
            return AnyValue(bool_value=value)
        if isinstance(value, int):
            return AnyValue(int_value=value)
        if isinstance(value, float):
            return AnyValue(double_value=value)
        if isinstance(value, list):
            out = AnyValue()
            out.array_value.values.extend(any_value(v) for v in value)
            return out
        return AnyValue(string_value=str(value))

    def key_values(attrs: dict) -> list[KeyValue]:
        return [KeyValue(key=k, value=any_value(v)) for k, v in attrs.items()]

    request = ExportTraceServiceRequest()
    for export in exports if exports is not None else OTLP_EXPORTS:
        for resource, spans in export:
            resource_spans = request.resource_spans.add()
            resource_spans.resource.attributes.extend(key_values(resource))
            scope_spans = resource_spans.scope_spans.add()
            scope_spans.scope.name = "fixture"
            for s in spans:
                span = scope_spans.spans.add()
                span.trace_id = bytes.fromhex(s["trace"])
                span.span_id = bytes.fromhex(s["span"])
                if s["parent"]:
                    span.parent_span_id = bytes.fromhex(s["parent"])
                span.name, span.kind = s["name"], s["kind"]
                span.start_time_unix_nano, span.end_time_unix_nano = s["start"], s["end"]
                span.attributes.extend(key_values(s["attrs"]))
                if s["status"][0]:
                    span.status.code, span.status.message = s["status"]
                if s["exception"]:
                    event = span.events.add()
                    event.name, event.time_unix_nano = "exception", s["end"]
                    event.attributes.extend(key_values({"exception.type": s["exception"]}))
    return request


def write_otlp_fixtures(folder: Path) -> dict[str, Path]:
    """The fixture in every encoding: JSON Lines (plain and gzip'd), one JSON document, protobuf."""
    import gzip

    folder.mkdir(parents=True, exist_ok=True)
    lines = otlp_json_lines()
    paths = {"jsonl": folder / "genai_traces.jsonl", "jsonl.gz": folder / "genai_traces.jsonl.gz",
             "json": folder / "genai_traces.json", "pb": folder / "genai_traces.pb"}
    paths["jsonl"].write_text(lines)
    paths["jsonl.gz"].write_bytes(gzip.compress(lines.encode()))
    merged = {"resourceSpans": [rs for export in OTLP_EXPORTS for rs in otlp_json_document(export)["resourceSpans"]]}
    paths["json"].write_text(json.dumps(merged, indent=1))
    paths["pb"].write_bytes(otlp_protobuf_request().SerializeToString())
    return paths


if __name__ == "__main__":  # python -m tests.fixtures_otlp: rewrite the committed OTLP fixture
    write_otlp_fixtures(OTLP_FIXTURES)
