"""The telemetry data contract: what a request row and a release event hold.

Column names follow the OpenTelemetry GenAI conventions where one exists
(input/output tokens, model). Segments and artifact versions are configurable
lists: a deployment declares its own in the ingest mapping; these are the
defaults the demo uses.
"""

from __future__ import annotations

import json
from typing import Literal

import polars as pl
from pydantic import BaseModel, Field

from dashboard.core.datadir import DataDir, atomic_write_text

DEFAULT_SEGMENTS: tuple[str, ...] = ("region", "tier", "language", "channel")

# artifact kind -> request column holding the version that served the request
DEFAULT_ARTIFACT_COLUMNS: dict[str, str] = {
    "app": "app_version",
    "model": "model_version",
    "prompt": "prompt_version",
    "index": "index_version",
    "router": "router_policy",
    "policy": "policy_version",
}

ArtifactKind = Literal["model", "prompt", "index", "router", "app", "policy", "threshold", "tool"]
ARTIFACT_KINDS: tuple[str, ...] = ("model", "prompt", "index", "router", "app", "policy", "threshold", "tool")

# Measures every request row carries. Nullable ones may be absent from a source.
REQUEST_MEASURES: dict[str, pl.DataType] = {
    "latency_ms": pl.Float64(),
    "ttft_ms": pl.Float64(),
    "input_tokens": pl.Int64(),
    "output_tokens": pl.Int64(),
    # the part of input_tokens served from a prompt cache (priced apart by [prices] cached_input)
    "cached_input_tokens": pl.Int64(),
    "cost_usd": pl.Float64(),
    "task_success": pl.Boolean(),
    "quality_score": pl.Float64(),
    "user_feedback": pl.Int8(),
    "refused": pl.Boolean(),
    "policy_violation": pl.Boolean(),
    "guardrail_blocked": pl.Boolean(),
    "error_type": pl.String(),
    "tool_calls": pl.Int64(),
    "tool_errors": pl.Int64(),
    "fallback_used": pl.Boolean(),
}

IDENTITY_COLUMNS: dict[str, pl.DataType] = {
    "ts": pl.Datetime("us", "UTC"),
    "request_id": pl.String(),
    "service": pl.String(),
    "user_id": pl.String(),
    # The way back from a war-room number to the trace that produced it (OpenTelemetry ids, hex).
    "trace_id": pl.String(),
    "span_id": pl.String(),
}

# Only the time is required: a missing request_id is derived from the source file and row
# (ingest.validate.derive_request_ids), every measure may be absent.
REQUIRED_COLUMNS: tuple[str, ...] = ("ts",)
NULLABLE_MEASURES: frozenset[str] = frozenset(
    {"ttft_ms", "user_feedback", "error_type", "quality_score", "user_id", "task_success"}
)

RELEASE_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Datetime("us", "UTC"),
    "service": pl.String(),
    "artifact": pl.String(),
    "version": pl.String(),
    "previous_version": pl.String(),
    "rollout_pct": pl.Float64(),
    "author": pl.String(),
    "note": pl.String(),
    # which segment the rollout was limited to, e.g. "region=eu-west"; null = all traffic
    "scope": pl.String(),
    # where the change came from, as CI logged it: the commit id and a link (pipeline, PR, model card)
    "commit": pl.String(),
    "url": pl.String(),
}


class TelemetrySchema(BaseModel):
    """Which columns of the store are segments and which are artifact versions."""

    segments: list[str] = Field(default_factory=lambda: list(DEFAULT_SEGMENTS))
    artifacts: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_ARTIFACT_COLUMNS))

    def request_schema(self) -> dict[str, pl.DataType]:
        schema: dict[str, pl.DataType] = dict(IDENTITY_COLUMNS)
        schema.update({s: pl.String() for s in self.segments})
        schema.update({c: pl.String() for c in self.artifacts.values()})
        schema.update(REQUEST_MEASURES)
        return schema

    def artifact_column(self, kind: str) -> str:
        try:
            return self.artifacts[kind]
        except KeyError:
            raise KeyError(f"unknown artifact kind {kind!r}; known: {sorted(self.artifacts)}") from None

    @property
    def dimension_columns(self) -> list[str]:
        """Every column a request can be grouped or filtered by."""
        return [*self.segments, *self.artifacts.values()]


DEFAULT_SCHEMA = TelemetrySchema()


def read_schema(data: DataDir) -> TelemetrySchema:
    """The data folder's schema.json, or the demo's defaults when the folder has none yet."""
    if data.schema_file.exists():
        return TelemetrySchema.model_validate_json(data.schema_file.read_text())
    return TelemetrySchema()


def write_schema(data: DataDir, schema: TelemetrySchema) -> None:
    data.root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(data.schema_file, json.dumps(schema.model_dump(), indent=2))
