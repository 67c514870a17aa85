"""Data folders and output paths as users name them: glob characters, devices, folders, read-only media."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashboard.cli import main
from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.query import TelemetryStore
from tests.fixtures import build_demo_week

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"


@pytest.fixture(scope="module")
def glob_named_data(tmp_path_factory) -> DataDir:
    """A day of demo telemetry in a folder whose name DuckDB and Polars would read as a glob."""
    return build_demo_week(tmp_path_factory.mktemp("paths") / "data[1]*?", days=1)


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
    assert main([*ingest, *at]) == 1  # the same rows again: every one is a duplicate of a stored request
    again = json.loads(capsys.readouterr().out)
    assert first["accepted"] == 14 and again["accepted"] == 0 and again["quarantined"] == 20
