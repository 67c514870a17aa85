"""Ingest under bad inputs and a hostile environment: one line naming the file, exit 2, nothing left behind."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from dashboard.cli import main
from dashboard.core.bench.ingest import synthetic_requests
from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.ingest.pipeline import ingest_requests
from tests.fixtures import small_disk

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"
TS = pa.array([dt.datetime(2025, 2, 18, 13, 0, tzinfo=dt.UTC)] * 2, pa.timestamp("us", "UTC"))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_binary_column_that_is_not_utf8_is_one_line_naming_file_column_and_row(tmp_path, capsys):
    source = tmp_path / "export.parquet"
    pq.write_table(pa.table({"ts": TS, "request_id": pa.array([b"r-1", b"\xff\xfe"], pa.binary()),
                             "latency_ms": [1.0, 2.0]}), source)
    code, _, err = run(capsys, "ingest", "requests", str(source), "--data", str(tmp_path / "data"))
    assert code == 2 and err.count("\n") == 1
    assert f"{source}: column 'request_id' row 2: bytes that are not UTF-8 text" in err
    assert files_under(tmp_path / "data") == []


def test_valid_utf8_binary_columns_are_read_as_text(tmp_path):
    source = tmp_path / "export.parquet"
    pq.write_table(pa.table({"ts": TS, "request_id": pa.array([b"r-1", "ré-2".encode()], pa.binary()),
                             "latency_ms": [1.0, 2.0]}), source)
    summary = ingest_requests([source], DataDir(tmp_path / "data"))
    assert summary.accepted == 2
    assert pl.read_parquet(summary.written)["request_id"].to_list() == ["r-1", "ré-2"]


def test_a_duration_column_for_latency_is_one_line_saying_what_to_do(tmp_path, capsys):
    source = tmp_path / "export.parquet"
    pq.write_table(pa.table({"ts": TS, "request_id": ["a", "b"],
                             "latency_ms": pa.array([1000, 2000], pa.duration("ms"))}), source)
    code, _, err = run(capsys, "ingest", "requests", str(source), "--data", str(tmp_path / "data"))
    assert code == 2 and err.count("\n") == 1
    assert f"{source}: column 'latency_ms' holds durations" in err and "milliseconds" in err


def test_blank_and_five_megabyte_request_ids_are_quarantined_with_the_reason(tmp_path):
    source = tmp_path / "ids.jsonl"
    rows = [("   ", 5), ("x" * 5_000_000, 5), ("ok-1", 5), ("\t", 7)]
    source.write_text("".join(json.dumps({"ts": f"2025-02-18T13:00:0{i}Z", "request_id": rid, "latency_ms": ms}) + "\n"
                              for i, (rid, ms) in enumerate(rows)))
    summary = ingest_requests([source], DataDir(tmp_path / "data"))
    assert (summary.accepted, summary.quarantined) == (1, 3)
    reasons = pl.read_parquet(summary.quarantine_path).sort("row_number")
    assert reasons["row_number"].to_list() == [1, 2, 4]
    assert reasons["reason"].to_list() == ["request_id: blank (only whitespace)",
                                           f"request_id: longer than 256 characters (got '{'x' * 80}…')",
                                           "request_id: blank (only whitespace)"]


def test_a_full_disk_is_one_line_naming_the_file_exit_2_and_leaves_nothing(tmp_path, capsys):
    source = tmp_path / "big.parquet"
    synthetic_requests(60_000, seed=3).write_parquet(source)  # about 3 MB compressed; the disk holds 1 MB
    with small_disk(tmp_path / "disk", "1m") as disk:
        code, _, err = run(capsys, "ingest", "requests", str(source), "--data", str(disk / "data"))
        assert code == 2 and err.count("\n") == 1, err
        assert "No space left on device" in err and str(disk / "data") in err and "nothing was written" in err
        assert files_under(disk / "data") == []


KILLED_WRITER = """
import shutil
import sys
from pathlib import Path
from dashboard.core.datadir import DataDir, temporary_beside
from dashboard.core.telemetry.ingest.commit import pending_quarantine
data = DataDir(Path(sys.argv[1]))
name = Path(sys.argv[4]).name  # the reference ingest's files, byte for byte (footers included)
(data.quarantine).mkdir(parents=True)
(data.requests).mkdir(parents=True)
# killed after the quarantine, before its accepted rows were renamed into place:
shutil.copyfile(sys.argv[2], pending_quarantine(data.quarantine / f"requests-{name}"))
temporary_beside(data.requests / name).write_bytes(b"half a parquet file")
if sys.argv[3] == "committed":  # ... or killed just after the accepted rows' rename
    shutil.copyfile(sys.argv[4], data.requests / name)
"""


def _killed_ingest(tmp_path: Path, reference, stage: str) -> DataDir:
    """The files an ingest killed at `stage` leaves, written by a process that is gone by now."""
    data = DataDir(tmp_path / "data")
    subprocess.run([sys.executable, "-c", KILLED_WRITER, str(data.root), reference.quarantine_path, stage,
                    reference.written], check=True)
    return data  # the writer is gone: its pid is dead


def test_a_killed_ingest_leaves_nothing_that_doubles_the_quarantine_on_rerun(tmp_path):
    first = ingest_requests([FIXTURES / "sample_requests.jsonl"], DataDir(tmp_path / "reference"))
    data = _killed_ingest(tmp_path, first, "before-commit")
    again = ingest_requests([FIXTURES / "sample_requests.jsonl"], data)
    assert (again.accepted, again.quarantined) == (first.accepted, first.quarantined)
    assert [p.name for p in data.quarantine.iterdir()] == [Path(again.quarantine_path).name]
    assert not [p for p in data.root.rglob(".*")]  # no hidden file left
    assert pl.read_parquet(again.quarantine_path).height == first.quarantined


def test_a_quarantine_of_an_ingest_killed_after_its_commit_is_completed(tmp_path):
    first = ingest_requests([FIXTURES / "sample_requests.jsonl"], DataDir(tmp_path / "reference"))
    data = _killed_ingest(tmp_path, first, "committed")
    other = tmp_path / "other.jsonl"
    other.write_text((FIXTURES / "sample_requests.jsonl").read_text().replace('"j-', '"k-'))
    ingest_requests([other], data)
    names = sorted(p.name for p in data.quarantine.iterdir())
    assert f"requests-{Path(first.written).name}" in names and len(names) == 2
    assert not [p for p in data.root.rglob(".*")]


def test_rerunning_an_ingest_killed_after_its_commit_stores_and_quarantines_nothing_twice(tmp_path):
    source = FIXTURES / "sample_requests.jsonl"
    first = ingest_requests([source], DataDir(tmp_path / "reference"))
    data = _killed_ingest(tmp_path, first, "committed")
    again = ingest_requests([source], data)  # what a user does after the kill
    assert (again.accepted, again.quarantined) == (0, 0)
    assert [skip["file"] for skip in again.already_ingested] == [str(source)]
    assert again.already_ingested[0]["stored_in"] == Path(first.written).name
    quarantined = pl.concat([pl.read_parquet(p) for p in data.quarantine.glob("*.parquet")])
    assert quarantined.height == first.quarantined  # each bad input once, no good row as a duplicate
    assert len(pl.read_parquet(data.requests / "*.parquet")) == first.accepted
    assert not [p for p in data.root.rglob(".*")]


DEAD_ROLLUP_WRITER = """
import sys
from pathlib import Path
from dashboard.core.datadir import temporary_beside
temporary_beside(Path(sys.argv[1])).write_bytes(b"half a rollup file")
"""


def test_an_ingest_killed_while_building_its_rollups_is_finished_by_the_rerun(tmp_path):
    from dashboard.core.telemetry.rollup_verify import verify

    data = DataDir(tmp_path / "data")
    ingest_requests([FIXTURES / "sample_requests.jsonl"], data)
    minute = data.root / "rollups" / "minute"
    built = sorted(minute.glob("*.parquet"))
    assert built
    # killed after the commit, while writing the minute rollup: the file is missing, its temporary one stays
    subprocess.run([sys.executable, "-c", DEAD_ROLLUP_WRITER, str(built[0])], check=True)
    built[0].unlink()
    again = ingest_requests([FIXTURES / "sample_requests.jsonl"], data)  # the same file: nothing accepted
    assert again.accepted == 0
    assert not [p for p in data.root.rglob(".*")]  # the dead writer's temporary file is gone
    assert built[0].exists()
    checked, differences = verify(data, sorted(data.requests.glob("*.parquet")))
    assert checked and differences == []
