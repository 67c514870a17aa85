"""Duplicate requests in an ingest: a request id already stored, or seen earlier in the same ingest.

Re-running an export (or two overlapping exports) would otherwise count the
same requests twice and double every rate's denominator. The first copy wins:
an id already in the store keeps the stored row; within one ingest the first
file and row keep theirs. Later copies go to quarantine with where the first
one is, so nothing is lost and accepted + quarantined still equals the input.

Stored ids are looked up only within the batch's own time range (a re-sent
request has its original timestamp), which keeps the check cheap on a large
store: row groups outside the range are skipped by their statistics.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import cast

import numpy as np
import polars as pl

from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.ingest.validate import FileResult, as_text

FIELD = "request_id"
NO_REASONS = pl.DataFrame(schema={"file": pl.Int32, "pos": pl.Int64, "reason": pl.String})


def drop_duplicate_requests(results: list[FileResult], data_dir: DataDir) -> list[FileResult]:
    """The same results with duplicate rows moved from `accepted` to `quarantined`."""
    if not any(r.accepted.height for r in results):
        return results
    ids = pl.concat([pl.DataFrame({
        "request_id": r.accepted["request_id"],
        "file": pl.Series([i] * r.accepted.height, dtype=pl.Int32),
        "pos": pl.int_range(r.accepted.height, dtype=pl.Int64, eager=True),
        "row_number": r.accepted_rows,
    }) for i, r in enumerate(results) if r.accepted.height], how="vertical")
    reasons = pl.concat([_already_stored(ids, results, data_dir), _repeated_in_batch(ids, results)],
                        how="vertical").unique(["file", "pos"], keep="first", maintain_order=True)
    if reasons.is_empty():
        return results
    out = []
    for i, result in enumerate(results):
        mine = reasons.filter(pl.col("file") == i)
        out.append(_move_to_quarantine(result, mine) if mine.height else result)
    return out


def _already_stored(ids: pl.DataFrame, results: list[FileResult], data_dir: DataDir) -> pl.DataFrame:
    if not data_dir.has_requests():
        return NO_REASONS
    from dashboard.core.telemetry.query import TelemetryStore  # noqa: PLC0415 (query imports the contract)

    first, last = (min(cast(datetime, r.accepted["ts"].min()) for r in results if r.accepted.height),
                   max(cast(datetime, r.accepted["ts"].max()) for r in results if r.accepted.height))
    stored = TelemetryStore(data_dir, cache=False).run_sql(
        "ingest_stored_request_ids", {"first_ts": first, "last_ts": last})
    if stored.is_empty():
        return NO_REASONS
    return (ids.join(stored.unique(), on="request_id", how="semi")
            .select("file", "pos", pl.lit("request_id: already in the store (an earlier ingest or the demo); "
                                          "the stored row is kept").alias("reason")))


def _repeated_in_batch(ids: pl.DataFrame, results: list[FileResult]) -> pl.DataFrame:
    repeated = ids.filter(~pl.col("request_id").is_first_distinct())
    if repeated.is_empty():
        return NO_REASONS
    firsts = (ids.filter(pl.col("request_id").is_first_distinct())
              .join(repeated.select("request_id").unique(), on="request_id", how="semi")
              .select("request_id", pl.col("file").alias("first_file"), pl.col("row_number").alias("first_row")))
    names = pl.DataFrame({"first_file": pl.Series(range(len(results)), dtype=pl.Int32),
                          "first_path": [r.path for r in results]})
    return (repeated.join(firsts, on="request_id", how="left").join(names, on="first_file", how="left")
            .select("file", "pos", pl.format("request_id: repeats {} row {}, which is kept",
                                             "first_path", "first_row").alias("reason")))


def _move_to_quarantine(result: FileResult, duplicates: pl.DataFrame) -> FileResult:
    positions = duplicates["pos"]
    mask = np.zeros(result.accepted.height, dtype=bool)
    mask[positions.to_numpy()] = True
    is_duplicate = pl.Series(mask)
    rows = result.accepted_rows
    ordered = duplicates.sort("pos")
    meta = pl.DataFrame({
        "source_file": [result.path] * ordered.height,
        "row_number": rows.gather(ordered["pos"]),
        "field": [FIELD] * ordered.height,
        "reason": ordered["reason"],
    })
    quarantined_rows = pl.concat([meta, as_text(result.accepted[ordered["pos"]])], how="horizontal")
    return replace(
        result,
        accepted=result.accepted.filter(~is_duplicate),
        accepted_rows=rows.filter(~is_duplicate),
        quarantined=pl.concat([result.quarantined, quarantined_rows], how="diagonal_relaxed")
        if result.quarantined.height else quarantined_rows,
    )
