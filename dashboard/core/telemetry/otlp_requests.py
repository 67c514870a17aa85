"""OTLP spans to request rows: which span is a request, and where each contract field comes from.

A request is one GenAI inference span: `gen_ai.operation.name` chat,
text_completion, generate_content (or the older `completion`), an
OpenInference `LLM` span, or an OpenLLMetry `llm.request.type` chat/completion.
Every other span is counted as skipped by kind (tool, agent, embeddings,
other: HTTP, database, ...), never quarantined. Tool spans (and sub-agents
called by an agent) roll up into `tool_calls` / `tool_errors` of the request
they belong to in the same trace: the inference span they descend from, else
the latest one that started before them, else the trace's first one.

Attribute names are looked up in order: the current GenAI semantic
conventions, their deprecated predecessors, OpenInference, OpenLLMetry
(traceloop) and Langfuse's OTel keys; span attributes before resource ones.
Values stay text here; validation parses and checks them like any source,
so a malformed attribute quarantines its span with the reason.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import polars as pl

from dashboard.core.telemetry.otlp_decode import any_value, attributes

INFERENCE_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "completion"})
TOOL_OPERATIONS = frozenset({"execute_tool"})
AGENT_OPERATIONS = frozenset({"invoke_agent", "create_agent"})
STATUS_ERROR = 2  # Status.STATUS_CODE_ERROR
CONTENT_FILTER = "content_filter"

# store column -> attribute keys, first present wins
FIELD_KEYS: dict[str, tuple[str, ...]] = {
    "model_version": ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name",
                      "llm.response.model", "llm.request.model"),
    "input_tokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt",
                     "llm.usage.prompt_tokens"),
    "output_tokens": ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
                      "llm.token_count.completion", "llm.usage.completion_tokens"),
    "cached_input_tokens": ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
                            "llm.token_count.prompt_details.cache_read"),
    "cost_usd": ("gen_ai.usage.cost", "llm.cost.total"),
    "user_id": ("user.id", "enduser.id", "langfuse.user.id"),
    "app_version": ("service.version", "langfuse.release"),
    "service": ("service.name",),
}
# segments filled when the store declares them under these names
BUILTIN_SEGMENTS: dict[str, tuple[str, ...]] = {
    "provider": ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"),
    "operation": ("gen_ai.operation.name", "llm.request.type"),
    "environment": ("deployment.environment.name", "deployment.environment", "langfuse.environment"),
}
FINISH_REASON_KEYS = ("gen_ai.response.finish_reasons", "llm.response.finish_reason",
                      "gen_ai.completion.0.finish_reason")
TTFT_SECONDS_KEYS = ("gen_ai.response.time_to_first_chunk", "gen_ai.server.time_to_first_token")
PROMPT_NAME, PROMPT_VERSION = "langfuse.observation.prompt.name", "langfuse.observation.prompt.version"


@dataclass
class Span:
    ordinal: int  # 1-based position among every span of the source
    location: str  # where in the source: "line 3", "message 1"
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    start_ns: int
    end_ns: int
    status_code: int
    attrs: dict
    resource: dict
    exception_type: str | None
    kind: str = ""

    def get(self, *keys: str):
        for key in keys:
            value = self.attrs.get(key)
            if value is None:
                value = self.resource.get(key)
            if value is not None and value != "":
                return value
        return None


def spans_of(exports, location: str) -> list[Span]:
    """Every span of some ExportTraceServiceRequest messages, with its resource's attributes."""
    spans = []
    for message in exports:
        for resource_spans in message.resource_spans:
            resource = attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    exception = next((any_value(kv.value) for event in span.events if event.name == "exception"
                                      for kv in event.attributes if kv.key == "exception.type"), None)
                    spans.append(Span(0, location, span.trace_id.hex(), span.span_id.hex(), span.parent_span_id.hex(),
                                      span.name, span.start_time_unix_nano, span.end_time_unix_nano,
                                      span.status.code, attributes(span.attributes), resource,
                                      str(exception) if exception is not None else None))
    return spans


def classify(span: Span) -> str:
    operation = span.attrs.get("gen_ai.operation.name")
    if operation in INFERENCE_OPERATIONS:
        return "inference"
    if operation in TOOL_OPERATIONS:
        return "tool"
    if operation in AGENT_OPERATIONS:
        return "agent"
    openinference = str(span.attrs.get("openinference.span.kind", "")).upper()
    if openinference == "LLM":
        return "inference"
    if openinference in ("TOOL", "AGENT"):
        return openinference.lower()
    traceloop = str(span.attrs.get("traceloop.span.kind", "")).lower()
    if traceloop in ("tool", "agent"):
        return traceloop
    if span.attrs.get("llm.request.type") in ("chat", "completion"):
        return "inference"
    if operation:
        return str(operation)  # embeddings, retrieval, ...: GenAI work that is not a model call
    return "other"


@dataclass
class SpanRows:
    """The request rows of a source's spans, and how many spans were not requests."""

    frame: pl.DataFrame
    row_numbers: pl.Series
    skipped: int
    skipped_detail: dict[str, int] = field(default_factory=dict)


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return str(value)
    return str(value)


def _milliseconds_from_seconds(value) -> str | None:
    if value is None:
        return None
    try:
        return repr(float(value) * 1000.0)
    except (TypeError, ValueError):
        return str(value)  # validation quarantines it as not a number, showing the value


def _prompt_version(span: Span) -> str | None:
    name, version = span.get(PROMPT_NAME), span.get(PROMPT_VERSION)
    if version is None:
        return None
    # a prompt version is per prompt name: keep both
    return f"{name}:{version}" if name is not None else str(version)


def _finish_blocked(span: Span) -> str | None:
    reasons = span.get(*FINISH_REASON_KEYS)
    if reasons is None:
        return None
    listed = reasons if isinstance(reasons, list) else [reasons]
    return "true" if CONTENT_FILTER in {str(r).lower() for r in listed} else "false"


def _error_type(span: Span) -> str | None:
    declared = span.get("error.type")
    if declared is not None:
        return str(declared)
    if span.status_code == STATUS_ERROR:
        return span.exception_type or "error"
    return None


def _tool_rollup(spans: list[Span]) -> dict[str, tuple[int, int]]:
    """span id of an inference span -> (tool calls, failed tool calls), for traces that show tools or agents."""
    by_trace: dict[str, list[Span]] = {}
    for span in spans:
        by_trace.setdefault(span.trace_id, []).append(span)
    counts: dict[str, tuple[int, int]] = {}
    for trace in by_trace.values():
        inference = sorted((s for s in trace if s.kind == "inference"), key=lambda s: s.start_ns)
        if not inference or not any(s.kind in ("tool", "agent") for s in trace):
            continue
        by_id = {s.span_id: s for s in trace}
        tally = {s.span_id: [0, 0] for s in inference}
        starts = [s.start_ns for s in inference]
        for span in trace:
            parent = by_id.get(span.parent_id)
            is_call = span.kind == "tool" or (span.kind == "agent" and parent is not None and parent.kind == "agent")
            if not is_call:
                continue
            owner = _ancestor_inference(span, by_id)
            if owner is None:
                at = bisect.bisect_right(starts, span.start_ns) - 1
                owner = inference[max(at, 0)]
            tally[owner.span_id][0] += 1
            if span.status_code == STATUS_ERROR or span.attrs.get("error.type") is not None:
                tally[owner.span_id][1] += 1
        counts.update({span_id: (c, e) for span_id, (c, e) in tally.items()})
    return counts


def _ancestor_inference(span: Span, by_id: dict[str, Span]) -> Span | None:
    seen = set()
    current = by_id.get(span.parent_id)
    while current is not None and current.span_id not in seen:
        if current.kind == "inference":
            return current
        seen.add(current.span_id)
        current = by_id.get(current.parent_id)
    return None


def request_rows(spans: list[Span], attribute_columns: dict[str, str], store_columns: list[str]) -> SpanRows:
    """Rows with store column names for the inference spans.

    `attribute_columns`: store column -> attribute key, from the mapping's [otlp]
    tables (they win over the built-in conventions); `store_columns` limits the
    built-in fields and segments to those the store has.
    """
    skipped: dict[str, int] = {}
    for ordinal, span in enumerate(spans, start=1):
        span.ordinal = ordinal
        span.kind = classify(span)
        if span.kind != "inference":
            skipped[span.kind] = skipped.get(span.kind, 0) + 1
    requests = [s for s in spans if s.kind == "inference"]
    tools = _tool_rollup(spans)
    lookups = {**{name: keys for name, keys in BUILTIN_SEGMENTS.items() if name in store_columns},
               **{name: keys for name, keys in FIELD_KEYS.items() if name in store_columns}}
    lookups.update({column: (key,) for column, key in attribute_columns.items()})
    text_columns: dict[str, list] = {name: [] for name in lookups}
    extra: dict[str, list] = {"error_type": [], "guardrail_blocked": [], "ttft_ms": [], "prompt_version": []}
    for span in requests:
        for name, keys in lookups.items():
            text_columns[name].append(_text(span.get(*keys)))
        extra["error_type"].append(_error_type(span))
        extra["guardrail_blocked"].append(_finish_blocked(span))
        extra["ttft_ms"].append(_milliseconds_from_seconds(span.get(*TTFT_SECONDS_KEYS)))
        extra["prompt_version"].append(_prompt_version(span))
    if "prompt_version" in text_columns:  # the mapping's attribute first, Langfuse's prompt where it is absent
        mapped = text_columns.pop("prompt_version")
        extra["prompt_version"] = [m if m is not None else lf
                                   for m, lf in zip(mapped, extra["prompt_version"], strict=True)]
    elif "prompt_version" not in store_columns:
        extra.pop("prompt_version")
    starts = pl.Series([s.start_ns for s in requests], dtype=pl.Int64)
    ends = pl.Series([s.end_ns for s in requests], dtype=pl.Int64)
    latency = pl.DataFrame({"s": starts, "e": ends}).select(
        pl.when(pl.col("e") > 0).then((pl.col("e") - pl.col("s")) / 1e6)).to_series()
    frame = pl.DataFrame({
        "ts": pl.from_epoch(starts // 1000, time_unit="us").dt.replace_time_zone("UTC"),
        "request_id": [f"{s.trace_id}-{s.span_id}" if s.span_id else None for s in requests],
        "trace_id": [s.trace_id or None for s in requests],
        "span_id": [s.span_id or None for s in requests],
        "latency_ms": latency,
        **{name: pl.Series(values, dtype=pl.String) for name, values in text_columns.items()},
        **{name: pl.Series(values, dtype=pl.String) for name, values in extra.items()},
        "tool_calls": pl.Series([tools[s.span_id][0] if s.span_id in tools else None for s in requests],
                                dtype=pl.Int64),
        "tool_errors": pl.Series([tools[s.span_id][1] if s.span_id in tools else None for s in requests],
                                 dtype=pl.Int64),
        # where the span is, for people reading the quarantine (not stored)
        "span_name": pl.Series([s.name for s in requests], dtype=pl.String),
        "location": pl.Series([s.location for s in requests], dtype=pl.String),
    }, schema_overrides={"request_id": pl.String, "trace_id": pl.String, "span_id": pl.String})
    numbers = pl.Series([s.ordinal for s in requests], dtype=pl.Int64)
    return SpanRows(frame, numbers, len(spans) - len(requests), skipped)
