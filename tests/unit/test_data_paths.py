"""Data folders and output paths as users name them: glob characters, devices, folders, read-only media."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest

from dashboard.cli import main
from dashboard.core.datadir import DataDir
from dashboard.core.demo import live
from dashboard.core.telemetry.query import TelemetryStore
from tests.fixtures import copy_store, read_only_view

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"


@pytest.fixture(scope="module")
def glob_named_data(one_demo_day, tmp_path_factory) -> DataDir:
    """A day of demo telemetry in a folder whose name DuckDB and Polars would read as a glob."""
    return copy_store(one_demo_day.root, tmp_path_factory.mktemp("paths") / "data[1]*?")


@pytest.mark.slow
def test_a_data_folder_named_with_glob_characters_works_for_every_command(glob_named_data, capsys):
    at = ["--data", str(glob_named_data.root)]
    count = TelemetryStore(glob_named_data, cache=False).time_range()[2]
    assert count > 0

    assert main(["simulate", "--minutes", "12", "--json", *at]) == 0
    added = json.loads(capsys.readouterr().out)["requests"]
    assert main(["compact", "--all", *at]) == 0
    capsys.readouterr()
    assert TelemetryStore(glob_named_data, cache=False).time_range()[2] == count + added
    assert main(["investigate", "--signal", "refusal_rate", "--json", *at]) == 0
    assert json.loads(capsys.readouterr().out)
    assert main(["incident", "list", *at]) == 0
    assert main(["postmortem", "INC-1", "--out", str(glob_named_data.root / "pm.md"), *at]) == 0
    assert (glob_named_data.root / "pm.md").read_text().startswith("#")


def test_ingest_into_a_glob_named_folder_twice_finds_its_own_rows(tmp_path, capsys):
    at = ["--data", str(tmp_path / "team[eu]")]
    ingest = ["ingest", "requests", str(FIXTURES / "sample_requests.csv"), "--mapping", str(FIXTURES / "mapping.toml")]
    assert main([*ingest, *at]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main([*ingest, *at, "--reload"]) == 1  # the same rows again: each a duplicate of a stored request
    again = json.loads(capsys.readouterr().out)
    assert first["accepted"] == 14 and again["accepted"] == 0 and again["quarantined"] == 20
    assert main([*ingest, *at]) == 0  # the load manifest is found in the folder too: the file is skipped
    assert json.loads(capsys.readouterr().out)["already_ingested"][0]["file"].endswith("sample_requests.csv")


def _device_like_dev_full(path: Path) -> Path:
    import stat

    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 7))  # the numbers of /dev/full
    except PermissionError:
        pytest.skip("creating a character device needs root (CAP_MKNOD)")
    return path


def test_postmortem_out_refuses_a_device_a_fifo_and_a_folder_and_leaves_them_as_they_were(demo_data, tmp_path,
                                                                                          capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    folder = tmp_path / "folder"
    folder.mkdir()
    device = _device_like_dev_full(tmp_path / "full")
    for target, kind in ((device, "character device"), (fifo, "FIFO"), (folder, "folder")):
        code = main(["postmortem", "INC-1", "--out", str(target), "--data", str(demo_data.root)])
        err = capsys.readouterr().err
        assert code == 2 and f"{target}: a {kind}, not a regular file" in err, err
    assert stat_kind(device) == "chr" and stat_kind(fifo) == "fifo" and folder.is_dir() and not any(folder.iterdir())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left beside them


def stat_kind(path: Path) -> str:
    import stat

    mode = os.stat(path).st_mode
    return "chr" if stat.S_ISCHR(mode) else "fifo" if stat.S_ISFIFO(mode) else "other"


@pytest.mark.slow
def test_postmortem_out_replaces_a_regular_file_and_writes_a_new_one(demo_data, tmp_path, capsys):
    old = tmp_path / "old.md"
    old.write_text("old")
    for target in (old, tmp_path / "new.md"):
        assert main(["postmortem", "INC-1", "--out", str(target), "--data", str(demo_data.root)]) == 0
        assert target.read_text().startswith("#")
    assert main(["postmortem", "INC-1", "--out", str(tmp_path / "nowhere" / "x.md"),
                 "--data", str(demo_data.root)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_packet_out_refuses_an_existing_folder_unless_forced_and_never_the_data_folder(demo_data, tmp_path, capsys):
    at = ["--data", str(demo_data.root)]
    used = tmp_path / "used"
    used.mkdir()
    (used / "manifest.json").write_text("{\"mine\": true}")
    assert main(["incident", "packet", "INC-1", "--out", str(used), "--sample", "5", *at]) == 2
    assert "not empty; pass --force" in capsys.readouterr().err
    assert (used / "manifest.json").read_text() == "{\"mine\": true}"
    assert main(["incident", "packet", "INC-1", "--out", str(used), "--sample", "5", "--force", *at]) == 0
    capsys.readouterr()
    assert json.loads((used / "manifest.json").read_text())["incident"]["id"] == "INC-1"

    assert main(["incident", "packet", "INC-1", "--out", str(demo_data.root), "--force", *at]) == 2
    assert "this is the data folder" in capsys.readouterr().err
    assert not (demo_data.root / "manifest.json").exists()
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(["incident", "packet", "INC-1", "--out", str(a_file), *at]) == 2
    assert f"{a_file}: a file, not a folder" in capsys.readouterr().err
    assert main(["incident", "packet", "INC-1", "--out", str(tmp_path / "empty-ok"), "--sample", "5", *at]) == 0


@pytest.mark.slow
def test_a_read_only_data_folder_can_be_read_and_refuses_writes_in_one_line(demo_data, tmp_path, capsys):
    copy = tmp_path / "data"
    copy_store(demo_data.root, copy)
    live.append_minutes(DataDir(copy), 3, chunk=timedelta(minutes=1))  # slices for compaction to merge
    with read_only_view(copy, tmp_path / "ro") as ro:
        at = ["--data", str(ro)]
        assert main(["incident", "list", *at]) == 0
        assert "INC-5" in capsys.readouterr().out
        assert main(["incident", "show", "INC-5", *at]) == 0
        assert main(["postmortem", "INC-1", *at]) == 0
        assert main(["investigate", "--signal", "refusal_rate", "--json", *at]) == 0
        capsys.readouterr()
        for write in (["simulate", "--minutes", "1"], ["compact", "--all"],
                      ["incident", "post", "INC-5", "--as", "Lena Vogel", "--audience", "support", "--message", "hi"],
                      ["ingest", "requests", str(FIXTURES / "sample_requests.jsonl")]):
            code = main([*write, *at])
            err = capsys.readouterr().err
            assert code == 2 and err.count("\n") == 1 and str(ro) in err, (write, err)
