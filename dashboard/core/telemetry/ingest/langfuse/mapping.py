"""The `[langfuse]` section of an ingest mapping: which Langfuse scores feed which contract measure.

Langfuse keeps evaluations as separate score records (an LLM judge's 1–5, a
user's thumbs, a boolean "resolved"), each named by the team. The war room has
three quality measures with fixed scales; this section says which score is
which and how its scale maps, so no one writes the join by hand:

    [langfuse.scores.quality_score]      # 0..1
    name = "helpfulness"
    scale = [1, 5]                       # 1 -> 0.0, 5 -> 1.0
    [langfuse.scores.user_feedback]      # -1 / 0 / +1
    name = "user-thumbs"
    values = { "1" = 1, "0" = -1 }       # or scale = [0, 1]: below the middle -1, above +1
    [langfuse.scores.task_success]       # true / false
    name = "resolved"                    # BOOLEAN scores need nothing else
    [langfuse]
    trace_scores = "last"                # a trace-level score goes to the trace's last generation ("all": every one)
    [langfuse.metadata]                  # store column = key in the observation's metadata
    tier = "user_tier"
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCORE_TARGETS = ("quality_score", "user_feedback", "task_success")
_STORE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class ScoreRule(BaseModel):
    """One Langfuse score name feeding one contract measure."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="the score's name in Langfuse")
    scale: tuple[float, float] | None = Field(None, description="[low, high] of the score's numeric range")
    values: dict[str, float] | None = Field(None, description="score value or category -> measure value")
    threshold: float | None = Field(None, description="task_success: rescaled value at or above this is true")

    @field_validator("name")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("score name is empty")
        return value.strip()

    @field_validator("scale")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not value[0] < value[1]:
            raise ValueError(f"scale {list(value)} must be [low, high] with low < high")
        return value

    @field_validator("values")
    @classmethod
    def _value_keys(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is None:
            return value
        return {str(k).strip().lower(): v for k, v in value.items()}


class LangfuseMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scores: dict[str, ScoreRule] = Field(default_factory=dict)
    trace_scores: Literal["last", "all"] = "last"
    metadata: dict[str, str] = Field(default_factory=dict, description="store column -> metadata key")

    @model_validator(mode="after")
    def _known_targets(self) -> LangfuseMapping:
        unknown = sorted(set(self.scores) - set(SCORE_TARGETS))
        if unknown:
            raise ValueError(f"langfuse.scores: {unknown} are not score measures; known: {list(SCORE_TARGETS)}")
        names = [rule.name for rule in self.scores.values()]
        shared = sorted({n for n in names if names.count(n) > 1})
        if shared:
            raise ValueError(f"langfuse.scores: score {shared} feeds several measures")
        for target, rule in self.scores.items():
            if target == "user_feedback" and rule.values and not set(rule.values.values()) <= {-1, 0, 1}:
                raise ValueError("langfuse.scores.user_feedback.values: values must be -1, 0 or 1")
            if target == "quality_score" and rule.values and not all(0 <= v <= 1 for v in rule.values.values()):
                raise ValueError("langfuse.scores.quality_score.values: values must be within 0..1")
            if rule.threshold is not None and target != "task_success":
                raise ValueError(f"langfuse.scores.{target}: threshold only applies to task_success")
        for column in self.metadata:
            if not _STORE_NAME.match(column):
                raise ValueError(f"langfuse.metadata: store column {column!r} must be lower_snake_case")
        return self
