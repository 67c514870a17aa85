"""The one data folder every command and the app work on.

Layout (all Parquet files are immutable once written; new data arrives as new
files, renamed into place so a reader never sees half a file):

    requests/*.parquet     request-level telemetry
    releases/*.parquet     release events
    quarantine/*.parquet   rejected rows with file, row number and reason
    schema.json            which columns are segments and artifact versions
    truth.json             the demo's injected incidents (demo data only)
    incidents.sqlite       the incident event store
    slos.toml              SLO declarations
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dashboard.core.telemetry.contract import TelemetrySchema

ENV_VAR = "WARROOM_DATA"
DEFAULT_DIR = "data"


def resolve_data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """`--data DIR`, else `$WARROOM_DATA`, else `data/`."""
    return Path(explicit or os.environ.get(ENV_VAR) or DEFAULT_DIR)


@dataclass(frozen=True)
class DataDir:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @classmethod
    def at(cls, explicit: str | os.PathLike | None = None) -> "DataDir":
        return cls(resolve_data_dir(explicit))

    @property
    def requests(self) -> Path:
        return self.root / "requests"

    @property
    def releases(self) -> Path:
        return self.root / "releases"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def truth(self) -> Path:
        return self.root / "truth.json"

    @property
    def incidents_db(self) -> Path:
        return self.root / "incidents.sqlite"

    @property
    def slos(self) -> Path:
        return self.root / "slos.toml"

    @property
    def schema_file(self) -> Path:
        return self.root / "schema.json"

    def has_requests(self) -> bool:
        return self.requests.is_dir() and any(self.requests.glob("*.parquet"))

    def schema(self) -> TelemetrySchema:
        if self.schema_file.exists():
            return TelemetrySchema.model_validate_json(self.schema_file.read_text())
        return TelemetrySchema()

    def save_schema(self, schema: TelemetrySchema) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.schema_file, json.dumps(schema.model_dump(), indent=2))


def atomic_write_parquet(frame: pl.DataFrame, target: Path, row_group_size: int = 131_072) -> Path:
    """Write next to the target, fsync, then rename: readers see all or nothing."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        frame.write_parquet(tmp, compression="zstd", row_group_size=row_group_size, statistics=True)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def atomic_write_text(target: Path, text: str) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
