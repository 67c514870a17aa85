"""The ingest mapping: how a team's own telemetry columns line up with the contract.

A mapping file (TOML or YAML) says which of the user's columns holds each
contract field, which columns are segments and which hold artifact versions,
how timestamps are written, which words mean true/false, and constant
defaults for fields the source does not carry. Everything is optional: with
no mapping, columns are matched by their contract names.

    segments = ["region", "plan"]            # store column names
    [columns]                                # contract/store name = your column
    ts = "timestamp"
    latency_ms = "duration_ms"
    [artifacts]                              # artifact kind = store column
    model = "model_version"
    [timestamp]
    format = "auto"                          # auto | epoch_s | epoch_ms | epoch_us | epoch_ns | strftime
    timezone = "UTC"                         # applied to naive timestamps
    [defaults]
    service = "checkout-bot"
    [releases.columns]
    artifact = "component"
    [releases.kinds]                         # your word -> contract artifact kind
    llm = "model"
    [prices."gpt-4o-mini"]                   # USD per million tokens, for rows without a cost
    input = 0.15
    output = 0.60
    cached_input = 0.075
    [links]                                  # where a request's trace can be opened
    trace = "https://tracing.example.com/trace/{trace_id}"
    [otlp.segments]                          # OTLP input: segment = span/resource attribute
    tier = "app.user.tier"
    [otlp.artifacts]                         # OTLP input: artifact kind = attribute
    prompt = "app.prompt.version"
"""

from __future__ import annotations

import re
import string
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dashboard.core.errors import WarroomError
from dashboard.core.telemetry.contract import (
    ARTIFACT_KINDS,
    IDENTITY_COLUMNS,
    RELEASE_SCHEMA,
    REQUEST_MEASURES,
    TelemetrySchema,
)
from dashboard.core.telemetry.ingest.langfuse.mapping import LangfuseMapping

# Store column names end up in SQL, URLs and the CLI: keep them plain.
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
TIMESTAMP_KEYWORDS = ("auto", "iso", "epoch_s", "epoch_ms", "epoch_us", "epoch_ns")
DEFAULT_TRUE_WORDS = ("true", "1", "yes", "y", "t")
DEFAULT_FALSE_WORDS = ("false", "0", "no", "n", "f")
# A constant default for these would make every row share one identity.
NO_DEFAULT_FIELDS = frozenset({"ts", "request_id"})

Scalar = str | int | float | bool


class _YamlWordsLoader(yaml.SafeLoader):
    """YAML without implicit booleans: `true:`/`yes`/`no` stay words (the booleans table lists words)."""


_YamlWordsLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class MappingError(WarroomError, ValueError):
    """The mapping file itself is wrong (unreadable, unknown key, bad value)."""


class TimestampSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: str = Field("auto", description="auto, iso, epoch_s, epoch_ms, epoch_us, or a strftime pattern")
    timezone: str = Field("UTC", description="zone of naive timestamps (IANA name)")

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value in TIMESTAMP_KEYWORDS or "%" in value:
            return value
        raise ValueError(
            f"{value!r} is neither one of {', '.join(TIMESTAMP_KEYWORDS)} nor a strftime pattern "
            "(e.g. '%d/%m/%Y %H:%M:%S')"
        )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} "
                             "(use an IANA name such as 'UTC' or 'Europe/Paris')") from None
        return value


class BooleanWords(BaseModel):
    model_config = ConfigDict(extra="forbid")

    true: list[str] = Field(default_factory=lambda: list(DEFAULT_TRUE_WORDS))
    false: list[str] = Field(default_factory=lambda: list(DEFAULT_FALSE_WORDS))

    @model_validator(mode="after")
    def _disjoint(self) -> BooleanWords:
        self.true = [w.strip().lower() for w in self.true]
        self.false = [w.strip().lower() for w in self.false]
        both = sorted(set(self.true) & set(self.false))
        if both:
            raise ValueError(f"words listed as both true and false: {both}")
        return self

    def lookup(self) -> dict[str, bool]:
        return {**{w: True for w in self.true}, **{w: False for w in self.false}}


class ReleaseMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    columns: dict[str, str] = Field(default_factory=dict)
    defaults: dict[str, Scalar] = Field(default_factory=dict)
    timestamp: TimestampSpec | None = None
    kinds: dict[str, str] = Field(default_factory=dict, description="your artifact word -> contract kind")

    @model_validator(mode="after")
    def _known_fields(self) -> ReleaseMapping:
        _check_columns("releases.columns", self.columns, set(RELEASE_SCHEMA))
        unknown = sorted(set(self.defaults) - set(RELEASE_SCHEMA))
        if unknown:
            raise ValueError(f"releases.defaults: {unknown} not release fields; known: {sorted(RELEASE_SCHEMA)}")
        if "ts" in self.defaults:
            raise ValueError("releases.defaults: ts cannot have a constant default")
        return self



class ModelPrice(BaseModel):
    """What one model's tokens cost, in USD per million tokens."""

    model_config = ConfigDict(extra="forbid")

    input: float = Field(ge=0, description="USD per million input tokens")
    output: float = Field(ge=0, description="USD per million output tokens")
    cached_input: float | None = Field(None, ge=0, description="USD per million input tokens read from a cache")


def template_fields(template: str) -> list[str]:
    """The {names} a link template fills in; a malformed template raises ValueError."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]



class OtlpMapping(BaseModel):
    """Which span or resource attributes of OTLP input are segments and artifact versions."""

    model_config = ConfigDict(extra="forbid")

    segments: dict[str, str] = Field(default_factory=dict, description="store segment = attribute key")
    artifacts: dict[str, str] = Field(default_factory=dict, description="artifact kind = attribute key")

    def check(self, schema: TelemetrySchema) -> None:
        unknown = sorted(set(self.segments) - set(schema.segments))
        if unknown:
            raise ValueError(f"otlp.segments: {unknown} not segments of the store ({list(schema.segments)}); "
                             "declare them in segments")
        unknown = sorted(set(self.artifacts) - set(schema.artifacts))
        if unknown:
            raise ValueError(f"otlp.artifacts: {unknown} not artifact kinds of the store ({sorted(schema.artifacts)}); "
                             "declare them in [artifacts]")

    def columns(self, schema: TelemetrySchema) -> dict[str, str]:
        """store column -> attribute key, segments and artifact versions together."""
        return {**self.segments, **{schema.artifacts[kind]: key for kind, key in self.artifacts.items()}}


class IngestMapping(BaseModel):
    """A validated mapping file."""

    model_config = ConfigDict(extra="forbid")

    segments: list[str] | None = None
    artifacts: dict[str, str] | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    defaults: dict[str, Scalar] = Field(default_factory=dict)
    timestamp: TimestampSpec = Field(default_factory=TimestampSpec)
    booleans: BooleanWords = Field(default_factory=BooleanWords)
    releases: ReleaseMapping = Field(default_factory=ReleaseMapping)
    langfuse: LangfuseMapping = Field(default_factory=LangfuseMapping)
    prices: dict[str, ModelPrice] = Field(default_factory=dict, description="model version -> token prices")
    links: dict[str, str] = Field(default_factory=dict, description="link name -> URL template, e.g. trace")
    otlp: OtlpMapping = Field(default_factory=OtlpMapping)

    @field_validator("links")
    @classmethod
    def _link_templates(cls, value: dict[str, str]) -> dict[str, str]:
        for name, template in value.items():
            _check_store_name("link name", name)
            try:
                fields = template_fields(template)
            except ValueError as exc:
                raise ValueError(f"link {name!r}: not a template ({exc})") from None
            if not fields:
                raise ValueError(f"link {name!r}: the template names no column, e.g. {{trace_id}}")
            if any(not f or not _NAME.match(f) for f in fields):
                raise ValueError(f"link {name!r}: placeholders must be plain column names like {{trace_id}}")
        return value

    @field_validator("segments")
    @classmethod
    def _segment_names(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return value
        for name in value:
            _check_store_name("segment", name)
        duplicates = sorted({n for n in value if value.count(n) > 1})
        if duplicates:
            raise ValueError(f"segments listed twice: {duplicates}")
        return value

    @field_validator("artifacts")
    @classmethod
    def _artifact_names(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return value
        for kind, column in value.items():
            _check_store_name("artifact kind", kind)
            _check_store_name("artifact column", column)
        shared = sorted({c for c in value.values() if list(value.values()).count(c) > 1})
        if shared:
            raise ValueError(f"several artifact kinds use the same column: {shared}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> IngestMapping:
        contract = set(IDENTITY_COLUMNS) | set(REQUEST_MEASURES)
        segments = set(self.segments or ())
        artifact_columns = set((self.artifacts or {}).values())
        for name in sorted(segments & contract):
            raise ValueError(f"segment {name!r} is already a contract column; pick another name")
        for name in sorted(artifact_columns & contract):
            raise ValueError(f"artifact column {name!r} is already a contract column; pick another name")
        for name in sorted(segments & artifact_columns):
            raise ValueError(f"{name!r} is declared both as a segment and as an artifact column")
        _check_columns("columns", self.columns, None)
        if self.segments is not None and self.artifacts is not None:
            # Fully declared: every field name can be checked now; otherwise the
            # data folder's schema completes it and check_fields runs at ingest.
            self._check_field_names(self.telemetry_schema(TelemetrySchema()))
        fixed = sorted(set(self.defaults) & NO_DEFAULT_FIELDS)
        if fixed:
            raise ValueError(f"defaults: {fixed} cannot have a constant default (every row needs its own)")
        if self.artifacts is not None:
            self._check_kinds(self.telemetry_schema(TelemetrySchema()))
        return self

    def _check_kinds(self, schema: TelemetrySchema) -> None:
        kinds = set(ARTIFACT_KINDS) | set(schema.artifacts)
        unknown_kinds = sorted(set(self.releases.kinds.values()) - kinds)
        if unknown_kinds:
            raise ValueError(f"releases.kinds: {unknown_kinds} not artifact kinds; known: {sorted(kinds)}")

    def _check_field_names(self, schema: TelemetrySchema) -> None:
        targets = set(schema.request_schema())
        _check_columns("columns", self.columns, targets)
        unknown = sorted(set(self.defaults) - targets)
        if unknown:
            raise ValueError(f"defaults: {unknown} not request columns; known: {sorted(targets)}")
        for name, template in self.links.items():
            unknown = sorted(set(template_fields(template)) - targets)
            if unknown:
                raise ValueError(f"links.{name}: {unknown} not request columns; known: {sorted(targets)}")
        self.otlp.check(schema)
        if self.prices and "model" not in schema.artifacts:
            raise ValueError("prices: the store declares no model artifact column to look prices up by "
                             "(declare [artifacts] model = \"...\")")

    def check_fields(self, schema: TelemetrySchema, origin: str = "mapping") -> None:
        """Every [columns]/[defaults] key must be a column of the store schema the ingest writes."""
        try:
            self._check_field_names(schema)
            self._check_kinds(schema)
        except ValueError as exc:
            raise MappingError(f"{origin}: {exc}") from None

    @property
    def declares_schema(self) -> bool:
        return self.segments is not None or self.artifacts is not None

    def telemetry_schema(self, stored: TelemetrySchema) -> TelemetrySchema:
        """The store schema this mapping asks for; undeclared parts come from `stored`."""
        return TelemetrySchema(
            segments=list(self.segments) if self.segments is not None else list(stored.segments),
            artifacts=dict(self.artifacts) if self.artifacts is not None else dict(stored.artifacts),
        )

    def release_timestamp(self) -> TimestampSpec:
        return self.releases.timestamp or self.timestamp


def _check_store_name(what: str, name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"{what} {name!r} must be lower_snake_case (letters, digits, underscores)")


def _check_columns(where: str, columns: dict[str, str], targets: set[str] | None) -> None:
    unknown = sorted(set(columns) - targets) if targets is not None else []
    if unknown:
        raise ValueError(
            f"{where}: {unknown} not known fields (keys are contract/store names, values your column names); "
            f"known: {sorted(targets or ())}"
        )
    empty = sorted(k for k, v in columns.items() if not v.strip())
    if empty:
        raise ValueError(f"{where}: empty source column name for {empty}")
    sources = list(columns.values())
    reused = sorted({s for s in sources if sources.count(s) > 1})
    if reused:
        raise ValueError(f"{where}: your column(s) {reused} mapped onto several fields")


def parse_mapping(data: Any, origin: str = "mapping") -> IngestMapping:
    """Validate already-loaded mapping data, turning pydantic errors into one readable message."""
    if not isinstance(data, dict):
        raise MappingError(f"{origin}: expected a table of settings at the top level, got {type(data).__name__}")
    try:
        return IngestMapping.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown setting (check the spelling; see docs/INGEST.md)"
            problems.append(f"{where}: {message}" if where else message)
        raise MappingError(f"{origin}: " + "; ".join(problems)) from None


def load_mapping(path: str | Path) -> IngestMapping:
    """Read a .toml, .yaml or .yml mapping file."""
    path = Path(path)
    if not path.is_file():
        raise MappingError(f"{path}: mapping file not found")
    suffix = path.suffix.lower()
    text = path.read_text(encoding="utf-8")
    try:
        if suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            data = yaml.load(text, Loader=_YamlWordsLoader) or {}
        else:
            raise MappingError(f"{path}: mapping must be a .toml, .yaml or .yml file")
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{path}: not valid TOML: {exc}") from None
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML: {exc}") from None
    return parse_mapping(data, str(path))
