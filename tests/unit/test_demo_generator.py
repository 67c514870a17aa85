"""The demo week: the design's numbers come out of the generated files, not a table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import polars as pl
import pytest

from dashboard.core.demo import week
from dashboard.core.demo.engine import generate_window
from dashboard.core.demo.scenario import Condition, Deploy, Effect, Scenario
from dashboard.core.telemetry.contract import TelemetrySchema
from tests.fixtures import incident_truth, truth


def _rates(data, start, end, where: str) -> tuple[int, float, float]:
    con = duckdb.connect()
    n, refusal, deflection = con.execute(
        f"SELECT count(*), avg(refused::INT), avg(task_success::INT) FROM read_parquet('{data.requests}/*.parquet')"
        f" WHERE ts >= $a AND ts < $b AND {where}", {"a": start, "b": end}).fetchone()
    return n, refusal, deflection


def test_support_bot_phases_on_paid_english_match_the_design(demo_data):
    inc = incident_truth(demo_data, "support-bot-refusals")
    expected = [(0.04, 0.42), (0.19, 0.25), (0.08, 0.36), (0.05, 0.41)]
    assert [(p["refusal_rate"], p["task_success_rate"]) for p in inc["phases"]] == expected
    for phase in inc["phases"]:
        n, refusal, deflection = _rates(demo_data, datetime.fromisoformat(phase["start"]),
                                        datetime.fromisoformat(phase["end"]), "tier = 'paid' AND language = 'en'")
        assert n > 3000, phase["label"]
        assert refusal == pytest.approx(phase["refusal_rate"], abs=0.01), phase["label"]
        assert deflection == pytest.approx(phase["task_success_rate"], abs=0.01), phase["label"]


def test_prompt_hits_english_only_and_index_every_language(demo_data):
    # between the index deploy and the prompt rollback both bad versions are live
    a, b = week.INDEX_DEPLOY + timedelta(minutes=5), week.PROMPT_ROLLBACK
    _, en, _ = _rates(demo_data, a, b, "language = 'en' AND tier = 'paid'")
    _, other, _ = _rates(demo_data, a, b, "language <> 'en' AND tier = 'paid'")
    assert en == pytest.approx(0.19, abs=0.01)
    assert other == pytest.approx(0.08, abs=0.01)  # base 4% + the index's 4 points, no prompt effect


def test_latency_barely_moves_during_the_refusal_incident(demo_data):
    con = duckdb.connect()
    q = (f"SELECT quantile_cont(latency_ms, 0.95) FROM read_parquet('{demo_data.requests}/*.parquet') "
         "WHERE ts >= $a AND ts < $b")
    before = con.execute(q, {"a": week.at(0, "12:30"), "b": week.PROMPT_DEPLOY}).fetchone()[0]
    during = con.execute(q, {"a": week.at(0, "13:50"), "b": week.PROMPT_ROLLBACK}).fetchone()[0]
    assert abs(during / before - 1) < 0.10


def test_every_other_incident_moves_its_metric_in_its_segment(demo_data):
    con = duckdb.connect()
    src = f"read_parquet('{demo_data.requests}/*.parquet')"
    metric_sql = {
        "latency_p95_ms": "quantile_cont(latency_ms, 0.95)",
        "cost_per_request": "avg(cost_usd)",
        "tool_error_rate": "sum(tool_errors) / sum(tool_calls)",
        "policy_violation_rate": "avg(policy_violation::INT)",
    }
    for inc in truth(demo_data)["incidents"]:
        if inc["metric"] not in metric_sql:
            continue
        where = " AND ".join(f"{k} = '{v}'" for seg in inc["segments"] for k, v in seg.items()) or "TRUE"
        start = datetime.fromisoformat(inc["start"])
        q = f"SELECT {metric_sql[inc['metric']]} FROM {src} WHERE ts >= $a AND ts < $b AND {where}"
        day_before = start - timedelta(days=1)
        base = con.execute(q, {"a": day_before, "b": day_before + timedelta(minutes=60)}).fetchone()[0]
        hit = con.execute(q, {"a": start + timedelta(minutes=15), "b": start + timedelta(minutes=75)}).fetchone()[0]
        assert hit > base * 1.5, (inc["id"], base, hit)


def test_default_week_volume_and_daily_cycle(demo_data):
    gen = truth(demo_data)["generator"]
    assert gen["requests"] >= 3_000_000
    con = duckdb.connect()
    by_hour = dict(con.execute(
        f"SELECT hour(ts), count(*) FROM read_parquet('{demo_data.requests}/*.parquet') "
        "WHERE ts < '2025-02-15' GROUP BY 1").fetchall())
    assert by_hour[15] > 2 * by_hour[3]  # afternoon peak, night trough


def test_files_follow_the_contract_schema(demo_data):
    expected = TelemetrySchema().request_schema()
    for path in demo_data.requests.glob("*.parquet"):
        assert dict(pl.read_parquet_schema(path)) == expected, path.name


def test_release_log_lists_every_deploy_with_scope(demo_data):
    releases = pl.read_parquet(demo_data.releases / "demo.parquet")
    assert releases.height == len(week.deploys())
    router = releases.filter(pl.col("artifact") == "router").row(0, named=True)
    assert router["scope"] == "region=eu-west"
    assert releases.filter(pl.col("version") == "prompt-v7")["ts"][0] == week.PROMPT_DEPLOY


def _tiny(effect_refusal: float = 0.0) -> Scenario:
    t0 = datetime(2025, 3, 3, 12, tzinfo=UTC)
    return Scenario(start=t0, end=t0 + timedelta(hours=1), rps=20, initial_versions={"prompt": "p1"},
                    deploys=(Deploy(t0 + timedelta(minutes=30), "prompt", "p2", "p1", 10),),
                    effects=(Effect("p2 refuses", Condition(versions={"prompt": "p2"}), refusal=effect_refusal),))


def test_generation_is_deterministic_per_seed():
    s = _tiny()
    a = generate_window(s, s.start, s.end, seed=1)
    assert a.equals(generate_window(s, s.start, s.end, seed=1))
    assert not a.equals(generate_window(s, s.start, s.end, seed=2))


def test_rollout_ramps_and_effects_follow_the_version():
    s = _tiny(effect_refusal=0.5)
    rows = generate_window(s, s.start, s.end, seed=3)
    before = rows.filter(pl.col("ts") < s.start + timedelta(minutes=30))
    assert set(before["prompt_version"]) == {"p1"}
    ramp = rows.filter(pl.col("ts").is_between(s.start + timedelta(minutes=34), s.start + timedelta(minutes=36),
                                               closed="left"))
    share = (ramp["prompt_version"] == "p2").mean()
    assert 0.3 < share < 0.7  # halfway through a 10-minute ramp
    by_version = rows.group_by("prompt_version").agg(pl.col("refused").mean()).sort("prompt_version")
    p1, p2 = by_version["refused"].to_list()
    assert p2 - p1 == pytest.approx(0.5, abs=0.05)
