"""`warroom release record` and the release timeline: commit and URL kept, inferred and late-logged releases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from dashboard.cli import main as cli_main
from dashboard.core.datadir import DataDir
from dashboard.core.diagnosis.investigate import investigate
from dashboard.core.telemetry.query import TelemetryStore
from dashboard.core.telemetry.release_record import record_release
from dashboard.core.telemetry.release_timeline import marker_text, release_timeline
from tests.fixtures import version_switch_rows, write_request_rows

SWITCH = datetime(2025, 3, 4, 12, 30, tzinfo=UTC)


def test_cli_records_one_event_with_commit_and_url_and_keeps_earlier_ones(tmp_path, capsys):
    data = tmp_path / "data"
    base = ["release", "record", "--data", str(data), "--service", "support-bot", "--artifact", "prompt"]
    assert cli_main([*base, "--version", "v12", "--at", "2025-03-04T10:00:00Z"]) == 0
    assert cli_main([*base, "--version", "v13", "--author", "ci", "--note", "shorter answers",
                     "--scope", "tier=paid", "--commit", "9f1c2e7", "--url", "https://ci.example.com/runs/881",
                     "--at", "2025-03-04T12:38:00Z"]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert printed[1]["previous_version"] == "v12"          # defaulted from the last logged version
    assert len(list((data / "releases").glob("*.parquet"))) == 2
    stored = TelemetryStore(DataDir(data)).releases()
    row = stored.filter(pl.col("version") == "v13").row(0, named=True)
    assert (row["commit"], row["url"], row["scope"], row["author"]) == (
        "9f1c2e7", "https://ci.example.com/runs/881", "tier=paid", "ci")
    assert row["ts"] == datetime(2025, 3, 4, 12, 38, tzinfo=UTC)


@pytest.mark.parametrize("args, message", [
    (["--artifact", "promt", "--version", "v2"], "--artifact: unknown artifact kind"),
    (["--artifact", "prompt", "--version", "v2", "--url", "javascript:alert(1)"], "--url: not an http(s) URL"),
    (["--artifact", "prompt", "--version", "v2", "--at", "yesterday"], "--at: not a timestamp"),
    (["--artifact", "prompt", "--version", "v2", "--scope", "plan=paid"], "--scope: scope must look like"),
    (["--artifact", "prompt", "--version", "v2", "--previous", "v2"], "the same as version"),
])
def test_cli_rejects_a_bad_event_in_one_line_and_writes_nothing(tmp_path, capsys, args, message):
    data = tmp_path / "data"
    assert cli_main(["release", "record", "--data", str(data), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (data / "releases").exists() or not list((data / "releases").glob("*.parquet"))


def test_releases_written_before_commit_and_url_existed_still_read(tmp_path):
    data = DataDir(tmp_path / "data")
    old = pl.DataFrame({"ts": [SWITCH], "service": ["s"], "artifact": ["prompt"], "version": ["v13"],
                        "previous_version": ["v12"]}, schema_overrides={"ts": pl.Datetime("us", "UTC")})
    data.releases.mkdir(parents=True)
    old.write_parquet(data.releases / "old.parquet")
    record_release(data, artifact="prompt", version="v14", commit="abc", at="2025-03-04T13:00:00Z")
    frame = TelemetryStore(data).releases()
    assert frame["commit"].to_list() == [None, "abc"]


def store_with_switch(tmp_path, logged_at: datetime | None, **kw) -> TelemetryStore:
    data = DataDir(tmp_path / "data")
    write_request_rows(data, version_switch_rows(SWITCH, **kw))
    if logged_at is not None:
        record_release(data, artifact="prompt", version="v13", previous="v12", commit="9f1c2e7",
                       url="https://ci.example.com/runs/881", at=logged_at)
    return TelemetryStore(data)


def test_a_release_logged_after_its_version_served_is_flagged_and_timed_by_the_traffic(tmp_path):
    store = store_with_switch(tmp_path, SWITCH + timedelta(minutes=8))
    timeline = release_timeline(store, SWITCH - timedelta(hours=1), SWITCH + timedelta(hours=1))
    row = timeline.row(0, named=True)
    assert timeline.height == 1 and row["origin"] == "logged"
    assert row["flag"] == "served since 12:30, logged 12:38"
    assert row["ts"] == SWITCH and row["logged_at"] == SWITCH + timedelta(minutes=8)
    hover = marker_text(row)
    assert "served since 12:30, logged 12:38" in hover and "commit: 9f1c2e7" in hover
    assert "https://ci.example.com/runs/881" in hover


def test_a_release_logged_on_time_is_not_flagged(tmp_path):
    store = store_with_switch(tmp_path, SWITCH + timedelta(seconds=40))
    row = release_timeline(store, SWITCH - timedelta(hours=1), SWITCH + timedelta(hours=1)).row(0, named=True)
    assert row["flag"] is None and row["ts"] == SWITCH + timedelta(seconds=40)


def test_an_unlogged_version_is_inferred_from_its_first_appearance(tmp_path):
    store = store_with_switch(tmp_path, None)
    timeline = release_timeline(store, SWITCH - timedelta(hours=1), SWITCH + timedelta(hours=1))
    assert timeline.height == 1
    row = timeline.row(0, named=True)
    assert (row["origin"], row["artifact"], row["version"], row["previous_version"]) == (
        "inferred", "prompt", "v13", "v12")
    assert abs(row["ts"] - SWITCH) < timedelta(seconds=10)
    assert "inferred" in marker_text(row)
    # the version live from the start of the data is no release
    assert "v12" not in timeline["version"].to_list()


def test_marker_text_escapes_what_the_release_log_says(tmp_path):
    text = marker_text({"artifact": "prompt", "version": "<b>v1</b>", "previous_version": None,
                        "note": "<img src=x onerror=alert(1)>", "origin": "logged"})
    assert "<img" not in text and "&lt;img" in text and "&lt;b&gt;v1" in text


@pytest.mark.parametrize("logged_at", [None, SWITCH + timedelta(minutes=8)])
def test_investigation_attributes_the_jump_to_the_inferred_or_late_logged_release(tmp_path, logged_at):
    store = store_with_switch(tmp_path, logged_at, output_tokens=(200, 320))
    inv = investigate(store, "output_tokens_per_request", SWITCH - timedelta(hours=1), SWITCH + timedelta(hours=1))
    assert inv.suspects, inv.verdict
    top = inv.suspects[0]
    assert (top.artifact, top.version) == ("prompt", "v13")
    # the change point stays where the traffic changed, not at the logged time
    assert abs(top.released_at - SWITCH) < timedelta(seconds=10)
    assert any(abs(p.ts - SWITCH) <= timedelta(minutes=2) and p.regression for p in inv.change_points)
    log_lines = [e.text for e in top.evidence if e.kind == "release log"]
    expected = "no release was logged" if logged_at is None else "served since 12:30, logged 12:38"
    assert log_lines and expected in log_lines[0]


def test_an_inferred_prompt_version_replaces_a_version_of_the_same_prompt(tmp_path):
    data = DataDir(tmp_path / "data")
    rows = version_switch_rows(SWITCH, old="support-answer:6", new="support-answer:7")
    # another prompt serves more traffic in the same minutes: it is not what v7 replaced
    router = rows.with_columns(pl.lit("intent-router:3").alias("prompt_version"),
                               (pl.col("request_id") + "-r").alias("request_id"))
    write_request_rows(data, pl.concat([rows, router, router.with_columns(pl.col("request_id") + "x")]))
    timeline = release_timeline(TelemetryStore(data), SWITCH - timedelta(hours=1), SWITCH + timedelta(hours=1))
    row = timeline.row(0, named=True)
    assert (row["version"], row["previous_version"], row["origin"]) == (
        "support-answer:7", "support-answer:6", "inferred")
