"""Cohort and before/after comparisons on the demo week, where the answer is known."""

from __future__ import annotations

from datetime import UTC, timedelta

import polars as pl
import pytest

from dashboard.core.demo import week
from dashboard.core.telemetry import signals as sig
from dashboard.core.telemetry.compare import before_after, cohort_comparison, compare, overlap_minutes
from dashboard.core.telemetry.query import TelemetryStore

PAID_EN = {"tier": ["paid"], "language": ["en"]}
DAY = (week.INCIDENT_DAY, week.DATA_END)


@pytest.fixture(scope="module")
def store(demo_data):
    return TelemetryStore(demo_data)


def _row(frame: pl.DataFrame, signal: str, version: str | None = None) -> dict:
    f = frame.filter(pl.col("signal") == signal)
    if version:
        f = f.filter(pl.col("version") == version)
    return f.row(0, named=True)


def test_prompt_v7_refuses_more_than_v6_in_the_same_minutes(store):
    totals, deltas = cohort_comparison(store, "prompt", *DAY, PAID_EN)
    assert set(totals["version"]) == {"prompt-v6", "prompt-v7"}
    # the 5-minute rollout and 3-minute rollback are the only mixed minutes
    assert 5 <= totals["overlap_minutes"][0] <= 10
    refusal = _row(deltas, "refusal_rate", "prompt-v7")
    assert refusal["baseline"] == pytest.approx(0.04, abs=0.025)  # v6 side: baseline (+ index effect)
    assert refusal["delta"] == pytest.approx(0.11, abs=0.04)  # the prompt's own +11 points
    assert refusal["beyond_noise"] and refusal["worse"]
    success = _row(deltas, "task_success_rate", "prompt-v7")
    assert success["delta"] < 0 and success["worse"]


def test_overlap_minutes_are_the_ramps(store):
    minutes = overlap_minutes(store, "prompt", *DAY, PAID_EN)
    deploy_ramp = [m for m in minutes if week.PROMPT_DEPLOY <= m < week.PROMPT_DEPLOY + timedelta(minutes=6)]
    rollback_ramp = [m for m in minutes if week.PROMPT_ROLLBACK <= m < week.PROMPT_ROLLBACK + timedelta(minutes=4)]
    assert len(deploy_ramp) + len(rollback_ramp) == len(minutes)


def test_before_after_the_prompt_deploy_flags_refusals_not_errors(store):
    frame = before_after(store, week.PROMPT_DEPLOY, 30, PAID_EN)
    assert _row(frame, "refusal_rate")["worse"]
    assert not _row(frame, "error_rate")["beyond_noise"]
    assert not _row(frame, "tool_error_rate")["beyond_noise"]


def test_a_harmless_release_shows_nothing_beyond_noise_on_rates(store):
    app_release = week.at(-3, "14:00")  # api-v18: a pagination fix
    frame = before_after(store, app_release, 30)
    rates = frame.filter(pl.col("signal").is_in(["refusal_rate", "task_success_rate", "error_rate"]))
    assert not rates["beyond_noise"].any()


def test_compare_direction_and_tests_on_hand_made_counts():
    refusal = sig.get("refusal_rate")
    base = {"refused": 40, "requests": 1000}
    worse = compare(refusal, base, {"refused": 190, "requests": 1000})
    assert worse.beyond_noise and worse.worse and worse.delta == pytest.approx(0.15)
    same = compare(refusal, base, {"refused": 42, "requests": 1000})
    assert not same.beyond_noise and not same.worse
    success = sig.get("task_success_rate")
    better = compare(success, {"task_success": 250, "task_success_n": 1000},
                     {"task_success": 420, "task_success_n": 1000})
    assert better.beyond_noise and not better.worse
    empty = compare(refusal, {"refused": 0, "requests": 0}, {"refused": 1, "requests": 10})
    assert empty.p_value is None and not empty.beyond_noise


def test_signals_that_moved_with_a_regression_are_named_worst_first(store):
    from datetime import datetime

    from dashboard.core.telemetry.compare import moved_with

    at = datetime(2025, 2, 18, 13, 30, tzinfo=UTC)
    moved = moved_with(store, "refusal_rate", at, {"tier": ["paid"], "language": ["en"]})
    assert moved[:2] == ["task_success_rate", "quality_score"]  # deflection fell by more than quality
    assert "refusal_rate" not in moved and "requests" not in moved
    assert not any(name.startswith("latency") for name in moved)  # latency barely moved on the incident day
    # the tool outage: errors and fallbacks went up with tool errors; nothing about quality of answers
    tool = moved_with(store, "tool_error_rate", datetime(2025, 2, 15, 16, 0, tzinfo=UTC))
    assert {"error_rate", "fallback_rate"} <= set(tool) and "refusal_rate" not in tool
