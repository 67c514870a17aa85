"""GenAI spans made with the real OpenTelemetry SDK: what an instrumented application sends.

Used by `warroom bench receive` and the receiver's tests: a chat call with
usage (current GenAI attribute names), a tool call under an agent, and an
HTTP span that is not a model call. The SDK and its OTLP/HTTP exporter are
development dependencies (the `dev` extra); the app itself never imports this.
"""

from __future__ import annotations

import random

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

MODELS = ("gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18")
TIERS = ("free", "paid")


class SpanMaker:
    """A tracer whose finished spans are collected, to be exported in batches of one's choosing."""

    def __init__(self, service: str = "support-bot", version: str = "2.4.0", seed: int = 0):
        self.memory = InMemorySpanExporter()
        self.provider = TracerProvider(resource=Resource.create({"service.name": service, "service.version": version}))
        self.provider.add_span_processor(SimpleSpanProcessor(self.memory))
        self.tracer = self.provider.get_tracer("warroom.bench", "1.0")
        self.random = random.Random(seed)

    def chat(self, model: str | None = None, fail: bool = False, content_filter: bool = False,
             tier: str | None = None, with_tool: bool = False, output_tokens: int | None = None) -> None:
        """One agent turn: invoke_agent > chat (> execute_tool), plus an HTTP span under the chat."""
        rnd = self.random
        model = model or rnd.choice(MODELS)
        with self.tracer.start_as_current_span("invoke_agent support", kind=SpanKind.INTERNAL,
                                               attributes={"gen_ai.operation.name": "invoke_agent"}):
            attrs = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                     "gen_ai.request.model": model.rsplit("-", 3)[0], "app.user.tier": tier or rnd.choice(TIERS)}
            with self.tracer.start_as_current_span(f"chat {model}", kind=SpanKind.CLIENT, attributes=attrs) as span:
                with self.tracer.start_as_current_span("POST", kind=SpanKind.CLIENT,
                                                       attributes={"http.request.method": "POST"}):
                    pass
                if fail:
                    span.set_attribute("error.type", "timeout")
                    span.set_status(Status(StatusCode.ERROR, "upstream timed out"))
                else:
                    span.set_attribute("gen_ai.response.model", model)
                    span.set_attribute("gen_ai.usage.input_tokens", rnd.randint(200, 2000))
                    span.set_attribute("gen_ai.usage.output_tokens",
                                       output_tokens if output_tokens is not None else rnd.randint(20, 400))
                    span.set_attribute("gen_ai.response.finish_reasons",
                                       ["content_filter" if content_filter else "stop"])
            if with_tool:
                with self.tracer.start_as_current_span("execute_tool lookup",
                                                       attributes={"gen_ai.operation.name": "execute_tool"}):
                    pass

    def take(self) -> list[ReadableSpan]:
        """The spans finished since the last call."""
        spans = list(self.memory.get_finished_spans())
        self.memory.clear()
        return spans
