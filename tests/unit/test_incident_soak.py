"""Soak evaluation on made-up per-minute telemetry: pass, breach and reset, too few samples, noise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from dashboard.core.incident.soak import MinuteCount, VerificationMetric, evaluate_metric, evaluate_soak
from dashboard.core.incident.telemetry_adapter import minute_counts
from dashboard.core.incident.verification import propose_verification

START = datetime(2025, 2, 18, 15, 35, tzinfo=UTC)
REFUSAL = VerificationMetric(signal="refusal_rate", segment={"tier": "paid", "language": "en"}, comparator="<=",
                             threshold=0.06, soak_minutes=60, window_minutes=10, min_samples=200)
DEFLECTION = VerificationMetric(signal="task_success_rate", segment={"tier": "paid", "language": "en"},
                                comparator=">=", threshold=0.40, soak_minutes=60, label="deflection")


def minutes(rates: list[float], per_minute: int, seed: int = 7) -> list[MinuteCount]:
    """Binomial draws per minute from START: realistic noise around each minute's true rate."""
    rng = np.random.default_rng(seed)
    return [MinuteCount(START + timedelta(minutes=i), float(rng.binomial(per_minute, r)), float(per_minute))
            for i, r in enumerate(rates)]


def at(minute: float) -> datetime:
    return START + timedelta(minutes=minute)


def test_recovered_metrics_pass_after_the_soak_window():
    counts = {REFUSAL.key: minutes([0.05] * 75, 250), DEFLECTION.key: minutes([0.42] * 75, 250, seed=8)}
    half = evaluate_soak([REFUSAL, DEFLECTION], counts, START, at(30.5))
    assert half.status == "soaking"
    assert half.time_left_minutes == 30 and half.progress == pytest.approx(0.5)
    done = evaluate_soak([REFUSAL, DEFLECTION], counts, START, at(61))
    assert done.status == "passed" and done.passed
    for m in done.metrics:
        assert m.breaches == [] and m.held_minutes == 61 and m.run_sample_size == 61 * 250
        assert m.current_sample_size == 2500  # a full 10-minute window, shown with the result


def test_a_real_relapse_breaks_the_soak_and_restarts_the_clock():
    rates = [0.05] * 30 + [0.12] * 5 + [0.05] * 60
    counts = {REFUSAL.key: minutes(rates, 250)}
    during = evaluate_soak([REFUSAL], counts, START, at(35))
    assert during.status == "broken"
    assert during.metrics[0].note.startswith("over the threshold now")
    later = evaluate_soak([REFUSAL], counts, START, at(60))
    metric = later.metrics[0]
    assert later.status == "soaking"  # recovered, but the clock restarted
    assert len(metric.breaches) == 1
    breach = metric.breaches[0]
    assert at(30) < breach.first_at <= at(36)
    assert breach.worst_value > 0.06 and breach.excess == pytest.approx(breach.worst_value - 0.06)
    assert breach.sample_size >= 200
    # the rolling window has to clear the bad minutes (10 of them at most) before the run restarts
    assert at(35) <= metric.held_since <= at(45)
    assert metric.time_left_minutes == 60 - int((at(60) - metric.held_since).total_seconds() // 60)
    resume = metric.held_since
    assert evaluate_soak([REFUSAL], counts, START, resume + timedelta(minutes=59)).status == "soaking"
    assert evaluate_soak([REFUSAL], counts, START, resume + timedelta(minutes=60, seconds=1)).status == "passed"


def test_one_noisy_minute_does_not_reset_the_clock():
    rates = [0.05] * 70
    counts = minutes(rates, 250)
    spike = counts[20]
    counts[20] = MinuteCount(spike.minute, 25.0, 250.0)  # 10 % for a single minute
    result = evaluate_metric(REFUSAL, counts, START, at(61))
    assert result.status == "passed" and result.breaches == []


def test_too_few_samples_never_pass_and_never_break():
    thin = {REFUSAL.key: minutes([0.30] * 90, 10)}  # awful rate, but 100 requests per window
    result = evaluate_soak([REFUSAL], thin, START, at(90))
    metric = result.metrics[0]
    assert result.status == "soaking"
    assert metric.breaches == [] and metric.current_value is None
    assert metric.held_minutes < 60 and metric.thin_windows > 0
    assert "only 100 samples (needs 200)" in metric.note


def test_pass_needs_the_pooled_run_to_meet_the_threshold():
    # always just inside the noise band above 6 %: no single window is a breach, pooled it is 6.4 %
    metric = REFUSAL.model_copy(update={"noise_z": 3.0})
    result = evaluate_metric(metric, minutes([0.064] * 70, 250), START, at(61))
    assert result.breaches == []
    assert result.status == "soaking" and "not a pass" in result.note
    strict = REFUSAL.model_copy(update={"noise_z": 0.0})
    assert evaluate_metric(strict, minutes([0.064] * 70, 250), START, at(61)).breaches


def test_not_started_and_partial_minutes():
    assert evaluate_soak([REFUSAL], {}, None, at(10)).status == "not_started"
    assert evaluate_soak([REFUSAL], {}, at(20), at(10)).status == "not_started"
    # the soak started mid-minute: that minute mixes pre-fix traffic and is not judged
    counts = [MinuteCount(START, 200.0, 250.0)] + minutes([0.05] * 70, 250)[1:]
    result = evaluate_metric(REFUSAL, counts, START + timedelta(seconds=30), at(62))
    assert result.breaches == [] and result.status == "passed"


def test_missing_counts_for_a_metric_is_an_error():
    with pytest.raises(KeyError, match="refusal_rate"):
        evaluate_soak([REFUSAL], {}, START, at(10))


def test_adapter_turns_a_series_frame_into_minute_counts():
    frame = pl.DataFrame({
        "bucket": [START, at(1)], "requests": [250, 240], "refused": [12, None],
        "task_success": [100, 99], "task_success_n": [240, 230],
    })
    assert minute_counts(frame, "refusal_rate") == [(START, 12.0, 250.0), (at(1), 0.0, 240.0)]
    assert minute_counts(frame, "task_success_rate")[1] == (at(1), 99.0, 230.0)
    with pytest.raises(ValueError, match="cannot be verified"):
        minute_counts(frame, "latency_p95_ms")
    with pytest.raises(ValueError, match="lacks column"):
        minute_counts(frame, "error_rate")


def test_default_verification_for_the_demo_incident():
    proposed = propose_verification("refusal_rate", {"refusal_rate": 0.0398, "task_success_rate": 0.4229},
                                    {"tier": "paid", "language": "en"})
    assert [(m.signal, m.comparator, m.threshold, m.soak_minutes) for m in proposed] == [
        ("refusal_rate", "<=", 0.06, 60), ("task_success_rate", ">=", 0.40, 60)]
    latency = propose_verification("latency_p95_ms", {"latency_p95_ms": 800.0, "policy_violation_rate": 0.003,
                                                      "task_success_rate": 0.42})
    assert [(m.signal, m.threshold) for m in latency] == [
        ("latency_p95_ms", 880.0), ("policy_violation_rate", 0.005), ("task_success_rate", 0.40)]


def test_latency_percentile_is_judged_on_the_share_of_slow_requests():
    p95 = VerificationMetric(signal="latency_p95_ms", comparator="<=", threshold=900, soak_minutes=30)
    assert p95.quantile == 0.95 and p95.judged_threshold == pytest.approx(0.05)
    fast = [MinuteCount(at(i), 8.0, 300.0) for i in range(40)]  # 2.7 % slower than 900 ms: p95 under 900
    assert evaluate_metric(p95, fast, START, at(31)).status == "passed"
    slow = fast[:10] + [MinuteCount(at(10 + i), 45.0, 300.0) for i in range(10)]  # 15 % slower: p95 over
    result = evaluate_metric(p95, slow, START, at(20))
    assert result.status == "broken"
    assert result.breaches[0].threshold == pytest.approx(0.05)
    assert "of requests slower than 900 ms" in result.note
