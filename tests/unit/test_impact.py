"""Every impact figure on hand-made count frames with answers worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from dashboard.core.reporting.impact import (
    compute_impact,
    hour_before_window,
    previous_day_windows,
    trend,
    worst_trailing,
)
from dashboard.core.telemetry import signals as sig

START = datetime(2025, 2, 18, 13, 30, tzinfo=UTC)
STEP = timedelta(minutes=5)


def buckets(first: datetime, rows: list[dict]) -> pl.DataFrame:
    """One 5-minute bucket per row; 1000 requests each unless given."""
    out = []
    for i, row in enumerate(rows):
        r = {"bucket": first + i * STEP, "requests": 1000, "refused": 40, "task_success": 420,
             "task_success_n": 1000, "errors": 2, "cost_usd": 10.0, "output_tokens": 300_000,
             "latency_p95_ms": 1500.0}
        r.update(row)
        out.append(r)
    return pl.DataFrame(out)


BASELINE = buckets(START - timedelta(hours=1), [{}] * 12)
# 1 h at 19% refusals / 25% deflection and 20% more cost, then the prompt rollback
# (8% / 36%) for 30 min, then the index rollback (5% / 41%) for 30 min.
INCIDENT = buckets(START, [{"refused": 190, "task_success": 250, "cost_usd": 12.0, "output_tokens": 360_000}] * 12
                   + [{"refused": 80, "task_success": 360}] * 6
                   + [{"refused": 50, "task_success": 410}] * 6)
END = START + timedelta(hours=2)
NOW = END - timedelta(seconds=1)


@pytest.fixture(scope="module")
def impact():
    return compute_impact(INCIDENT, BASELINE, start=START, end=END, now=NOW, filters={"tier": "paid"},
                          requests_total=48_000, users_affected=3_210, baseline_label="hour before")


def test_requests_and_share_affected(impact):
    assert impact.requests_affected == 24_000
    assert impact.share_affected == pytest.approx(0.5)
    assert impact.users_affected == 3_210
    assert impact.filters == {"tier": "paid"}


def test_extra_spend_is_cost_minus_requests_at_baseline_cost_per_request(impact):
    # 12 x $12 + 12 x $10 = $264; baseline $0.01/request x 24,000 = $240
    assert impact.cost_usd == pytest.approx(264.0)
    assert impact.extra_spend_usd == pytest.approx(24.0)
    # 12 x 60,000 extra output tokens
    assert impact.extra_output_tokens == pytest.approx(720_000)


def test_refusal_delta_and_extra_refusals(impact):
    d = impact.delta("refusal_rate")
    assert d.baseline == pytest.approx(0.04)
    assert d.during == pytest.approx(3060 / 24_000)
    assert d.worst == pytest.approx(0.19)
    assert d.current == pytest.approx(0.05)
    assert d.excess_events == pytest.approx(3060 - 0.04 * 24_000)  # 2,100 extra refusals
    assert d.degraded
    assert d.event_label == "extra refusals"


def test_deflection_delta_is_tickets_not_deflected(impact):
    d = impact.delta("task_success_rate")
    assert d.baseline == pytest.approx(0.42)
    assert d.worst == pytest.approx(0.25)
    assert d.current == pytest.approx(0.41)
    # tickets = requests x deflection drop = 0.42 x 24,000 - 7,620
    assert d.excess_events == pytest.approx(0.42 * 24_000 - (12 * 250 + 6 * 360 + 6 * 410))
    assert d.degraded


def test_unchanged_signal_has_no_excess(impact):
    d = impact.delta("error_rate")
    assert d.excess_events == pytest.approx(0.0)
    assert not d.changed and not d.degraded


def test_small_move_within_noise_is_not_a_change():
    # 2 -> 3 errors per 1000 on 12,000 vs 24,000 requests: z is about 1.7
    noisy = INCIDENT.with_columns(pl.lit(3).alias("errors"))
    d = compute_impact(noisy, BASELINE, start=START, end=END, now=NOW).delta("error_rate")
    assert d.during == pytest.approx(0.003)
    assert not d.changed
    # a clear move on the same traffic is one
    clear = INCIDENT.with_columns(pl.lit(6).alias("errors"))
    d = compute_impact(clear, BASELINE, start=START, end=END, now=NOW).delta("error_rate")
    assert d.changed and d.degraded


def test_trend_over_last_30_minutes(impact):
    assert impact.delta("refusal_rate").trend == "better"  # 8% -> 5% on 6,000 requests each
    assert impact.delta("task_success_rate").trend == "better"


def test_trend_worse_and_steady():
    rate = sig.get("refusal_rate")
    worse = buckets(START, [{"refused": 40}] * 6 + [{"refused": 100}] * 6)
    assert trend(worse, rate, START + timedelta(minutes=59), higher_is_bad=True) == "worse"
    # 40 -> 41 per 1000 is within noise on 6,000 requests
    steady = buckets(START, [{"refused": 40}] * 6 + [{"refused": 41}] * 6)
    assert trend(steady, rate, START + timedelta(minutes=59), higher_is_bad=True) == "steady"
    # 250 -> 300 successes per 1000: deflection up, which is better
    success = sig.get("task_success_rate")
    up = buckets(START, [{"task_success": 250}] * 6 + [{"task_success": 300}] * 6)
    assert trend(up, success, START + timedelta(minutes=59), higher_is_bad=False) == "better"
    assert trend(up.head(3), success, START + timedelta(minutes=59), higher_is_bad=False) == "unknown"


def test_worst_needs_a_full_trailing_window():
    # one thin bucket with 100% refusals must not set the record
    f = buckets(START, [{"requests": 10, "refused": 10, "task_success_n": 10}] + [{"refused": 60}] * 11)
    # the first full 30 minutes pool it with five normal buckets: (10 + 300) / (10 + 5000)
    assert worst_trailing(f, sig.get("refusal_rate"), True) == pytest.approx(310 / 5010)


def test_quantile_worst_is_worst_bucket():
    f = buckets(START, [{"latency_p95_ms": v} for v in (1500.0, 4800.0, 2000.0)])
    assert worst_trailing(f, sig.get("latency_p95_ms"), True) == 4800.0


def test_window_excludes_buckets_outside_start_end():
    result = compute_impact(INCIDENT, BASELINE, start=START, end=START + timedelta(hours=1), now=NOW)
    assert result.requests_affected == 12_000
    assert result.delta("refusal_rate").during == pytest.approx(0.19)
    assert result.share_affected is None


def test_baseline_windows():
    days = previous_day_windows(START, END, days=3)
    assert days[0] == (START - timedelta(days=1), END - timedelta(days=1))
    assert len(days) == 3
    assert hour_before_window(START) == (START - timedelta(hours=1), START)


def test_empty_baseline_gives_no_deltas_but_counts_requests():
    result = compute_impact(INCIDENT, BASELINE.head(0), start=START, end=END, now=NOW)
    assert result.requests_affected == 24_000
    assert result.extra_spend_usd is None
    assert result.delta("refusal_rate").baseline is None
    assert result.delta("refusal_rate").excess_events is None
