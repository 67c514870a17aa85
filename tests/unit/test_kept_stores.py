"""The test stores kept between runs (tests/conftest.py): reused only while every file is as built."""

from __future__ import annotations

import os

from tests.conftest import kept_across_runs


def _counting_build():
    calls = []

    def build(folder):
        calls.append(folder)
        (folder / "data").mkdir()
        (folder / "data" / "requests.parquet").write_bytes(b"rows")
        (folder / "data" / "incidents.sqlite").write_bytes(b"events")

    return build, calls


def test_a_kept_store_is_built_once_and_reused(tmp_path):
    build, calls = _counting_build()
    first = kept_across_runs(tmp_path, "demo", build)
    again = kept_across_runs(tmp_path, "demo", build)
    assert first == again and len(calls) == 1
    assert (again / "data" / "requests.parquet").read_bytes() == b"rows"


def test_a_changed_added_or_removed_file_builds_it_again(tmp_path):
    build, calls = _counting_build()
    folder = kept_across_runs(tmp_path, "demo", build)
    for change in (lambda: (folder / "data" / "incidents.sqlite").write_bytes(b"events and more"),
                   lambda: (folder / "data" / "incidents.sqlite-wal").write_bytes(b""),
                   lambda: (folder / "data" / "requests.parquet").unlink()):
        change()
        kept_across_runs(tmp_path, "demo", build)
    assert len(calls) == 4
    assert sorted(p.name for p in (folder / "data").iterdir()) == ["incidents.sqlite", "requests.parquet"]


def test_a_write_of_the_same_size_is_noticed_by_its_time(tmp_path):
    build, calls = _counting_build()
    path = kept_across_runs(tmp_path, "demo", build) / "data" / "requests.parquet"
    stat = path.stat()
    path.write_bytes(b"ROWS")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    kept_across_runs(tmp_path, "demo", build)
    assert len(calls) == 2


def test_a_half_built_store_or_another_codes_store_is_replaced(tmp_path):
    stale = tmp_path / "demo-0123456789abcdef"
    stale.mkdir()
    (tmp_path / "demo-0123456789abcdef.files.json").write_text("{}")

    def broken(folder):
        (folder / "partial").write_text("cut short")
        raise KeyboardInterrupt

    try:
        kept_across_runs(tmp_path, "demo", broken)
    except KeyboardInterrupt:
        pass
    build, calls = _counting_build()
    folder = kept_across_runs(tmp_path, "demo", build)
    assert len(calls) == 1 and not (folder / "partial").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("demo-")) == [
        folder.name, f"{folder.name}.files.json"]
