"""Reading a user's telemetry file (Parquet, CSV, JSONL; CSV/JSONL may be gzip'd).

The format comes from the extension. A file that cannot be read at all raises
UnreadableFile naming the file and the problem; a JSONL line that is not a
JSON object is kept aside (with its line number) so the rest of the file can
still be ingested and the line quarantined; broken lines are found by
halving the failing stretch, not by parsing line after line in Python.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import polars as pl

from dashboard.core.errors import WarroomError

FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_WHITESPACE = np.array([9, 10, 11, 12, 13, 32], dtype=np.uint8)


class UnreadableFile(WarroomError):
    """The whole file is unusable; the message names the file and the reason."""

    def __init__(self, path: Path | str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


@dataclass
class SourceFile:
    path: Path
    format: str
    frame: pl.DataFrame  # the file's own columns, untouched
    row_numbers: pl.Series  # 1-based row (CSV, header excluded; Parquet) or line (JSONL) of each frame row
    bad_lines: pl.DataFrame  # JSONL lines that are not JSON objects: row_number, line
    # rows a reader recognised as not requests at all (e.g. OTLP spans that are not model calls),
    # counted and reported, neither accepted nor quarantined
    skipped: int = 0
    skipped_detail: dict[str, int] = field(default_factory=dict)
    contract_named: bool = False  # columns already carry store names (OTLP): the mapping's [columns] do not apply

    @property
    def rows(self) -> int:
        return self.frame.height + self.bad_lines.height

    @cached_property
    def content_digest(self) -> str:
        """A hash of the file's bytes: with a row number, the id of a request that has none of its own."""
        return file_digest(self.path)


def file_digest(path: Path | str) -> str:
    """The first 16 hex digits of the SHA-256 of a file's bytes: its identity in the load manifest.

    Hashed once per file version: ingest asks before reading (the manifest) and again for ids it derives.
    """
    st = os.stat(path)
    return _digest_of(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=256)
def _digest_of(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def detect_format(path: Path) -> tuple[str, bool]:
    """(format, gzip'd) from the file name, e.g. events.csv.gz -> ("csv", True)."""
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == ".gz"
    if compressed:
        suffixes = suffixes[:-1]
    fmt = FORMATS.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        known = ", ".join(sorted(FORMATS))
        raise UnreadableFile(path, f"unknown file type; expected one of {known} (CSV/JSONL may end in .gz)")
    if compressed and fmt == "parquet":
        raise UnreadableFile(path, "Parquet files are compressed internally; do not gzip them")
    return fmt, compressed


def file_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise UnreadableFile(path, "file not found")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(path, f"cannot be read ({exc.strerror or exc})") from None


def read_bytes(path: Path, compressed: bool) -> bytes:
    """The file's bytes, gunzipped when `compressed`; a broken gzip file is one clear line."""
    raw = path.read_bytes()
    if not compressed:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        raise UnreadableFile(path, f"not a valid gzip file ({exc})") from None


def read_source(path: str | Path) -> SourceFile:
    path = Path(path)
    fmt, compressed = detect_format(path)
    if not path.is_file():
        raise UnreadableFile(path, "file not found")
    if fmt == "parquet":
        return _read_parquet(path)
    if fmt in ("csv", "tsv") and not compressed:
        # Polars maps a plain file itself: no copy of a large export in Python memory.
        return _read_csv(path, path, "," if fmt == "csv" else "\t", fmt)
    raw = read_bytes(path, compressed)
    if fmt in ("csv", "tsv"):
        return _read_csv(path, io.BytesIO(raw), "," if fmt == "csv" else "\t", fmt)
    return _read_jsonl(path, raw)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _empty_bad_lines() -> pl.DataFrame:
    return pl.DataFrame(schema={"row_number": pl.Int64, "line": pl.String})


def _read_parquet(path: Path) -> SourceFile:
    try:
        frame = pl.read_parquet(path, glob=False)
    except Exception as exc:  # polars raises several error types for a bad file
        raise UnreadableFile(path, f"not a readable Parquet file ({_first_line(exc)})") from None
    frame = _text_from_binary(path, frame)
    _refuse_unusable_types(path, frame)
    numbers = pl.int_range(1, frame.height + 1, dtype=pl.Int64, eager=True)
    return SourceFile(path, "parquet", frame, numbers, _empty_bad_lines())


def _text_from_binary(path: Path, frame: pl.DataFrame) -> pl.DataFrame:
    """Parquet BYTE_ARRAY columns without a UTF-8 annotation arrive as Binary: text only if it decodes."""
    binary = [c for c, t in frame.schema.items() if t == pl.Binary]
    for column in binary:
        try:
            decoded = frame[column].cast(pl.String)
        except pl.exceptions.ComputeError:  # find the rows only when some are broken
            broken = [i + 1 for i, v in enumerate(frame[column].to_list()) if v is not None and not _is_utf8(v)]
            raise UnreadableFile(path, f"column {column!r} row {broken[0]}: bytes that are not UTF-8 text "
                                       f"({len(broken)} row(s)); write it as a UTF-8 string column") from None
        frame = frame.with_columns(decoded.alias(column))
    return frame


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


UNUSABLE_TYPES = {pl.Duration: "durations", pl.Time: "times of day", pl.Object: "Python objects"}


def _refuse_unusable_types(path: Path, frame: pl.DataFrame) -> None:
    """Columns of a type no contract field takes (numbers, text, booleans, timestamps): say which, once."""
    for column, dtype in frame.schema.items():
        for kind, words in UNUSABLE_TYPES.items():
            if isinstance(dtype, kind) or dtype == kind:
                raise UnreadableFile(path, f"column {column!r} holds {words} ({dtype}); the contract takes numbers, "
                                           "text, booleans and timestamps: convert it (a latency as milliseconds) "
                                           "or leave it out of the file")


def _is_blank(source: Path | io.BytesIO) -> bool:
    """Nothing but whitespace is empty input, not a broken CSV (a large file never is)."""
    limit = 65_536
    if isinstance(source, Path):
        return source.stat().st_size <= limit and not source.read_bytes().strip()
    return source.getbuffer().nbytes <= limit and not source.getvalue().strip()


def _read_csv(path: Path, source: Path | io.BytesIO, separator: str, fmt: str) -> SourceFile:
    if _is_blank(source):
        return SourceFile(path, fmt, pl.DataFrame(), pl.Series([], dtype=pl.Int64), _empty_bad_lines())
    try:
        # Every value stays text: parsing happens in validation, where a bad
        # value quarantines one row instead of failing the file.
        frame = pl.read_csv(source, separator=separator, infer_schema=False)
    except Exception as exc:
        hint = ""
        if "ragged" in str(exc) or "more fields" in str(exc):
            hint = "; some rows have more fields than the header"
        raise UnreadableFile(path, f"not a readable {fmt.upper()} file ({_first_line(exc)}{hint})") from None
    duplicated = [c for c in frame.columns if "_duplicated_" in c]
    if duplicated:
        raise UnreadableFile(path, f"the header repeats column names ({', '.join(duplicated)})")
    numbers = pl.int_range(1, frame.height + 1, dtype=pl.Int64, eager=True)
    return SourceFile(path, fmt, frame, numbers, _empty_bad_lines())


def _line_spans(raw: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start, end and 1-based number of every non-blank line (JSONL readers skip blank ones)."""
    data = np.frombuffer(raw, dtype=np.uint8)
    newlines = np.flatnonzero(data == 10)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [data.size]))
    visible = np.concatenate(([0], np.cumsum(~np.isin(data, _WHITESPACE), dtype=np.int64)))
    non_blank = (visible[ends] - visible[starts]) > 0
    return starts[non_blank], ends[non_blank], np.flatnonzero(non_blank) + 1


def _read_jsonl(path: Path, raw: bytes) -> SourceFile:
    starts, ends, line_numbers = _line_spans(raw)
    if line_numbers.size == 0:
        return SourceFile(path, "jsonl", pl.DataFrame(), pl.Series([], dtype=pl.Int64), _empty_bad_lines())
    pieces: list[tuple[pl.DataFrame, np.ndarray]] = []
    bad: list[int] = []  # indices into the line spans

    def read_span(lo: int, hi: int) -> None:
        """Read lines lo..hi-1 in one go; if that fails, halve until the broken lines are isolated."""
        try:
            frame = pl.read_ndjson(io.BytesIO(raw[starts[lo]:ends[hi - 1]]), infer_schema_length=None)
            if frame.height == hi - lo:
                pieces.append((frame, line_numbers[lo:hi]))
                return
        except Exception:  # polars reports a broken line with several error types
            pass
        if hi - lo == 1:
            bad.append(lo)
            return
        middle = (lo + hi) // 2
        read_span(lo, middle)
        read_span(middle, hi)

    read_span(0, line_numbers.size)
    if not pieces:
        first = raw[starts[bad[0]]:ends[bad[0]]].decode("utf-8", errors="replace").strip()
        raise UnreadableFile(path, "not a JSONL file: no line is a JSON object "
                                   f"(line {line_numbers[bad[0]]}: {first[:60]!r})")
    if len(pieces) == 1:
        frame = pieces[0][0]
    else:
        # pieces may disagree on a nested column's shape (an object here, a list or text there): as JSON text they agree
        frame = pl.concat([_flatten_nested(p[0]) for p in pieces], how="diagonal_relaxed")
    numbers = pl.Series(np.concatenate([p[1] for p in pieces]), dtype=pl.Int64)
    bad_lines = pl.DataFrame({
        "row_number": pl.Series([int(line_numbers[i]) for i in bad], dtype=pl.Int64),
        "line": pl.Series([raw[starts[i]:ends[i]].decode("utf-8", errors="replace").strip() for i in bad],
                          dtype=pl.String),
    })
    return SourceFile(path, "jsonl", _flatten_nested(frame), numbers, bad_lines)


def _flatten_nested(frame: pl.DataFrame) -> pl.DataFrame:
    """Nested JSON values become their JSON text, so every column can be shown as a string."""
    nested = [name for name, dtype in frame.schema.items() if dtype.is_nested()]
    if not nested:
        return frame
    return frame.with_columns(
        pl.when(pl.col(name).is_not_null())
        .then(pl.struct(pl.col(name)).struct.json_encode().str.slice(len(json.dumps(name)) + 2).str.head(-1))
        .alias(name)
        for name in nested
    )
