"""Turning a user's raw column into a contract-typed column, one whole column at a time.

Every parser takes a Series as read (native Parquet/JSON types or CSV text)
and returns the typed values plus a mask of rows whose value was present but
could not be understood. No per-row Python: masks and values are Polars
operations over the whole column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

import polars as pl

from dashboard.core.telemetry.mapping import TimestampSpec

UTC_US = pl.Datetime("us", "UTC")
# Earliest and latest timestamps we believe: outside them, the epoch unit or
# the format was almost certainly misread.
PLAUSIBLE_FROM = datetime(1990, 1, 1, tzinfo=UTC)
PLAUSIBLE_TO = datetime(2100, 1, 1, tzinfo=UTC)

# Tried in order of how well they fit a sample of the column (see _order_by_fit).
AWARE_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M%#z",
)
NAIVE_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S%.f",
    "%Y-%m-%d",
)
# Some warehouses export "2025-02-18 13:30:00 UTC": read the zone word as an offset.
_ZONE_WORD = r"\s*(?:UTC|GMT)$"
_EPOCH_TEXT = r"^-?\d+(\.\d+)?$"
_EPOCH_FACTOR = {"epoch_s": 1_000_000, "epoch_ms": 1_000, "epoch_us": 1, "epoch_ns": 0.001}


@dataclass
class Parsed:
    values: pl.Series
    problems: list[tuple[pl.Series, str]] = field(default_factory=list)  # (row mask, what is wrong)


def _eval(series: pl.Series, expr: pl.Expr) -> pl.Series:
    return pl.DataFrame({"v": series}).select(expr.alias(series.name)).to_series()


def _blank_to_null(text: pl.Series) -> pl.Series:
    return _eval(text, pl.when(pl.col("v").str.strip_chars() != "").then(pl.col("v")))


def _is_text(dtype: pl.DataType) -> bool:
    return dtype == pl.String or dtype == pl.Categorical or dtype == pl.Enum


def unreadable_mask(raw: pl.Series, values: pl.Series) -> pl.Series:
    """Present in the source, yet no value came out."""
    present = raw.is_not_null()
    if _is_text(raw.dtype):
        present = present & (raw.cast(pl.String).str.strip_chars() != "")
    return present & values.is_null()


# -- numbers -----------------------------------------------------------------

def parse_float(raw: pl.Series) -> Parsed:
    dtype = raw.dtype
    if dtype.is_numeric():
        values = raw.cast(pl.Float64)
        problems: list[tuple[pl.Series, str]] = []
    else:
        text = raw.cast(pl.String) if _is_text(dtype) else None
        if text is None:
            values = pl.Series(raw.name, [None] * raw.len(), dtype=pl.Float64)
        else:
            values = _eval(text, pl.col("v").str.strip_chars().cast(pl.Float64, strict=False))
        problems = [(unreadable_mask(raw, values), "not a number")]
    non_finite = (values.is_nan() | values.is_infinite()).fill_null(False)
    if non_finite.any():
        problems.append((non_finite, "not a finite number"))
        values = _eval(values, pl.when(~(pl.col("v").is_nan() | pl.col("v").is_infinite())).then(pl.col("v")))
    return Parsed(values, problems)


def parse_int(raw: pl.Series, dtype: pl.DataType = pl.Int64()) -> Parsed:
    if raw.dtype.is_integer():
        values = raw.cast(dtype, strict=False)
        return Parsed(values, [(raw.is_not_null() & values.is_null(), "out of range")])
    parsed = parse_float(raw)
    floats = parsed.values
    fractional = (floats != floats.floor()).fill_null(False)
    values = _eval(floats, pl.when(pl.col("v") == pl.col("v").floor()).then(pl.col("v")).cast(dtype, strict=False))
    overflow = floats.is_not_null() & ~fractional & values.is_null()
    return Parsed(values, [*parsed.problems, (fractional, "not a whole number"), (overflow, "out of range")])


# -- booleans ----------------------------------------------------------------

def parse_bool(raw: pl.Series, words: dict[str, bool]) -> Parsed:
    dtype = raw.dtype
    if dtype == pl.Boolean:
        return Parsed(raw, [])
    if dtype.is_numeric():
        values = _eval(raw, pl.when(pl.col("v") == 1).then(True).when(pl.col("v") == 0).then(False))
    elif _is_text(dtype):
        values = _eval(
            raw.cast(pl.String),
            pl.col("v").str.strip_chars().str.to_lowercase()
            .replace_strict(words, default=None, return_dtype=pl.Boolean),
        )
    else:
        values = pl.Series(raw.name, [None] * raw.len(), dtype=pl.Boolean)
    trues = ", ".join(w for w, v in words.items() if v)
    falses = ", ".join(w for w, v in words.items() if not v)
    return Parsed(values, [(unreadable_mask(raw, values), f"not a boolean (true: {trues}; false: {falses})")])


# -- text ----------------------------------------------------------------------

def parse_string(raw: pl.Series) -> Parsed:
    if raw.dtype == pl.String:
        # Parquet text is used as is; only an empty string counts as missing
        # (checked first: rewriting a column that has none would copy every string).
        empty = raw.str.len_bytes() == 0
        if not empty.any():
            return Parsed(raw, [])
        return Parsed(_eval(raw, pl.when(pl.col("v").str.len_bytes() > 0).then(pl.col("v"))), [])
    if _is_text(raw.dtype):
        return parse_string(raw.cast(pl.String))
    if raw.dtype == pl.Boolean or raw.dtype.is_numeric() or raw.dtype.is_temporal():
        return Parsed(raw.cast(pl.String), [])
    values = raw.cast(pl.String, strict=False)
    return Parsed(values, [(raw.is_not_null() & values.is_null(), "not text")])


# -- timestamps -------------------------------------------------------------

def _localize(naive: pl.Series, zone: str) -> pl.Series:
    return (naive.dt.cast_time_unit("us")
            .dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
            .dt.convert_time_zone("UTC"))


def _from_epoch(numbers: pl.Series, fmt: str) -> pl.Series:
    """Epoch numbers to UTC; 'auto' picks seconds, milliseconds, microseconds or nanoseconds by magnitude.

    Whole numbers are converted in integer arithmetic: a nanosecond epoch (1.7e18)
    has more digits than a float holds, and OTLP times are exactly that.
    """
    if numbers.dtype.is_integer():
        return _eval(numbers, pl.from_epoch(_integer_micros(pl.col("v").cast(pl.Int64), fmt), time_unit="us")
                     .dt.replace_time_zone("UTC"))
    x = pl.col("v").cast(pl.Float64)
    if fmt in _EPOCH_FACTOR:
        micros = x * _EPOCH_FACTOR[fmt]
    else:
        size = x.abs()
        micros = (pl.when(size < 1e11).then(x * 1e6).when(size < 1e14).then(x * 1e3)
                  .when(size < 1e17).then(x).otherwise(x / 1e3))
    expr = pl.when(micros.is_finite() & (micros.abs() < 9e18)).then(micros.round(0).cast(pl.Int64))
    return _eval(numbers, pl.from_epoch(expr, time_unit="us").dt.replace_time_zone("UTC"))


def _integer_micros(x: pl.Expr, fmt: str) -> pl.Expr:
    size = x.abs()
    by_unit = {  # unit -> (microseconds of it, beyond this many it would overflow)
        "epoch_s": x * 1_000_000, "epoch_ms": x * 1_000, "epoch_us": x, "epoch_ns": x // 1_000,
    }
    if fmt in by_unit:
        limit = {"epoch_s": 9e12, "epoch_ms": 9e15}.get(fmt)
        return by_unit[fmt] if limit is None else pl.when(size < limit).then(by_unit[fmt])
    return (pl.when(size < 100_000_000_000).then(by_unit["epoch_s"])
            .when(size < 100_000_000_000_000).then(by_unit["epoch_ms"])
            .when(size < 100_000_000_000_000_000).then(by_unit["epoch_us"])
            .otherwise(by_unit["epoch_ns"]))


def _parse_with(text: pl.Series, fmt: str, zone: str) -> pl.Series:
    if fmt.startswith("epoch") or fmt == "auto-epoch":
        unit = "auto" if fmt == "auto-epoch" else fmt
        digits, number = pl.col("v").str.contains(r"^-?\d+$"), pl.col("v").str.contains(_EPOCH_TEXT)
        whole = _eval(text, pl.when(digits).then(pl.col("v").cast(pl.Int64, strict=False)))
        numeric = _eval(text, pl.when(number).then(pl.col("v").cast(pl.Float64, strict=False)))
        return _from_epoch(whole, unit).fill_null(_from_epoch(numeric, unit))
    parsed = _eval(text, pl.col("v").str.to_datetime(fmt, time_unit="us", strict=False, exact=True))
    if cast(pl.Datetime, parsed.dtype).time_zone is None:  # to_datetime gives a Datetime
        return _localize(parsed, zone)
    return parsed.dt.convert_time_zone("UTC")


def _candidate_formats(spec: TimestampSpec) -> list[str]:
    if spec.format in _EPOCH_FACTOR:
        return [spec.format]
    if "%" in spec.format:
        return [spec.format]
    formats = [*AWARE_FORMATS, *NAIVE_FORMATS]
    return formats + ["auto-epoch"] if spec.format == "auto" else formats


def _order_by_fit(text: pl.Series, formats: list[str], zone: str) -> list[str]:
    """Most rows share one format: try the one that fits a sample best first."""
    sample = text.drop_nulls().head(256)
    if sample.len() == 0 or len(formats) == 1:
        return formats
    fits = {fmt: _parse_with(sample, fmt, zone).is_not_null().sum() for fmt in formats}
    return sorted(formats, key=lambda fmt: -fits[fmt])


def parse_timestamp(raw: pl.Series, spec: TimestampSpec) -> Parsed:
    dtype = raw.dtype
    zone = spec.timezone
    if isinstance(dtype, pl.Datetime):
        values = (_localize(raw, zone) if dtype.time_zone is None
                  else raw.dt.convert_time_zone("UTC").dt.cast_time_unit("us"))
    elif dtype == pl.Date:
        values = _localize(raw.cast(pl.Datetime("us")), zone)
    elif dtype.is_numeric():
        values = _from_epoch(raw, spec.format if spec.format in _EPOCH_FACTOR else "auto")
    elif _is_text(dtype):
        text = _blank_to_null(raw.cast(pl.String).str.strip_chars())
        if "%" not in spec.format and (text.str.ends_with("UTC") | text.str.ends_with("GMT")).any():
            text = text.str.replace(_ZONE_WORD, "+00:00")
        values = _parse_text(text, spec)
    else:
        values = pl.Series(raw.name, [None] * raw.len(), dtype=UTC_US)
    values = values.cast(UTC_US).alias(raw.name)
    problems = [(unreadable_mask(raw, values), _unparseable_message(spec))]
    implausible = ((values < PLAUSIBLE_FROM) | (values >= PLAUSIBLE_TO)).fill_null(False)
    if implausible.any():
        problems.append((implausible, "implausible timestamp (outside 1990-2100: check the epoch unit or format)"))
        values = (pl.DataFrame({"v": values, "bad": implausible})
                  .select(pl.when(~pl.col("bad")).then(pl.col("v")).alias(raw.name)).to_series())
    return Parsed(values, problems)


def _unparseable_message(spec: TimestampSpec) -> str:
    if spec.format in ("auto", "iso"):
        return ("not a timestamp (expected ISO 8601 such as 2025-02-18T13:30:00Z, "
                "or epoch seconds/milli-/micro-/nanoseconds)")
    return f"not a timestamp in format {spec.format!r}"


def _parse_text(text: pl.Series, spec: TimestampSpec) -> pl.Series:
    formats = _order_by_fit(text, _candidate_formats(spec), spec.timezone)
    # The best-fitting format reads the whole column; the others only the rows still unread.
    result = _parse_with(text, formats[0], spec.timezone).cast(UTC_US)
    pending = text.is_not_null() & result.is_null()
    for fmt in formats[1:]:
        if not pending.any():
            break
        rows = pending.arg_true()
        parsed = _parse_with(text.gather(rows), fmt, spec.timezone)
        hit = parsed.is_not_null()
        if hit.any():
            result = result.scatter(rows.filter(hit), parsed.filter(hit))
            pending = pending.scatter(rows.filter(hit), False)
    return result
