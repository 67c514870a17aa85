"""What an ingest says about segments and artifact columns: `--set` constants and missing-column warnings.

`--set workload=code` gives the service, a segment or an artifact-version
column one value for every row of a command; anything else is refused. After
validation, every declared segment or artifact column that no input row fills
(absent, or empty in every row) gets one warning line: such a column slices
nothing, and a comparison by it would be empty.
"""

from __future__ import annotations

from dashboard.core.telemetry.contract import TelemetrySchema
from dashboard.core.telemetry.ingest.validate import FileResult
from dashboard.core.telemetry.mapping import MappingError


def settable_columns(schema: TelemetrySchema) -> list[str]:
    """What `--set name=value` may fix for a whole command: the service, a segment or an artifact version."""
    return ["service", *schema.segments, *schema.artifacts.values()]


def check_constants(constants: dict[str, str], schema: TelemetrySchema) -> None:
    allowed = settable_columns(schema)
    unknown = sorted(set(constants) - set(allowed))
    if unknown:
        raise MappingError(f"--set: {unknown} cannot be set for every row; settable: {allowed} "
                           "(the service, the segments and the artifact version columns)")


def missing_dimension_warnings(results: list[FileResult], schema: TelemetrySchema) -> list[str]:
    """One line per declared segment or artifact column that no input row fills."""
    if not any(r.rows for r in results):
        return []
    warnings = []
    declared = [("segment", s) for s in schema.segments]
    declared += [(f"artifact {kind!r}", column) for kind, column in schema.artifacts.items()]
    for what, column in declared:
        if any(column in r.filled for r in results):
            continue
        sources = sorted({source for r in results if (source := r.sources.get(column))})
        if sources:
            where = ", ".join(repr(s) for s in sources)
            warnings.append(f"{what} column {column!r} (from {where}) is empty in every row of the input: "
                            "it will not slice or compare anything")
        else:
            warnings.append(f"{what} column {column!r} is not in the input: every row is stored with it empty "
                            "(map it in [columns], or [otlp.segments]/[otlp.artifacts] for traces, or give it with "
                            f"--set {column}=VALUE)")
    return warnings
