"""SLO attainment, error budget and burn-rate alerts on hand-made count frames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from dashboard.core.reporting.slo import (
    FAST_BURN,
    SLOW_BURN,
    burn_alerts,
    burn_rate,
    burn_rate_series,
    evaluate_slo,
    slo_events,
)
from dashboard.core.reporting.slo_config import SloDecl

T0 = datetime(2025, 2, 17, 0, 0, tzinfo=UTC)
STEP = timedelta(minutes=5)

REFUSALS = SloDecl(name="refusals", title="", signal="refusal_rate", op="<=", threshold=0.06,
                   method="windows", objective=0.99)
ERRORS = SloDecl(name="errors", title="", signal="error_rate", op="<=", threshold=0.005, method="requests")
DEFLECTION = SloDecl(name="deflection", title="", signal="task_success_rate", op=">=", threshold=0.38,
                     method="windows", objective=0.99)
P95 = SloDecl(name="p95", title="", signal="latency_p95_ms", op="<=", threshold=5000.0,
              method="windows", objective=0.99)


def frame(n: int, requests=100, refused=4, errors=0, success=42, p95=1200.0) -> pl.DataFrame:
    """`n` 5-minute buckets from T0; any argument may be a list of per-bucket values."""
    def col(v):
        return list(v) if isinstance(v, (list, tuple)) else [v] * n
    req = col(requests)
    return pl.DataFrame({
        "bucket": [T0 + i * STEP for i in range(n)],
        "requests": req,
        "refused": col(refused),
        "errors": col(errors),
        "task_success": col(success),
        "task_success_n": req,
        "latency_p95_ms": col(p95),
    })


def now_of(f: pl.DataFrame) -> datetime:
    """Newest telemetry timestamp: partway through the last bucket."""
    return f["bucket"].max() + timedelta(minutes=4, seconds=59)


def test_windows_method_counts_each_judged_window_once():
    f = frame(4, refused=[4, 7, 6, 19])
    ev = slo_events(f, REFUSALS)
    assert ev["good"].to_list() == [1, 0, 1, 0]  # 6% meets "<= 6%"
    assert ev["bad"].to_list() == [0, 1, 0, 1]


def test_windows_with_too_few_requests_are_not_judged():
    f = frame(3, requests=[100, 5, 100], refused=[4, 5, 4])  # 5/5 refused, but only 5 requests
    ev = slo_events(f, REFUSALS)
    assert ev["good"].to_list() == [1, 0, 1]
    assert ev["bad"].to_list() == [0, 0, 0]


def test_higher_is_better_signal_is_bad_below_threshold():
    ev = slo_events(frame(3, success=[42, 25, 38]), DEFLECTION)
    assert ev["bad"].to_list() == [0, 1, 0]


def test_quantile_signal_judged_per_window():
    ev = slo_events(frame(3, p95=[1200.0, 5200.0, None]), P95)
    assert ev["good"].to_list() == [1, 0, 0]
    assert ev["bad"].to_list() == [0, 1, 0]


def test_request_method_counts_requests_as_events():
    ev = slo_events(frame(2, requests=[1000, 1000], errors=[5, 100]), ERRORS)
    assert ev["good"].to_list() == [995, 900]
    assert ev["bad"].to_list() == [5, 100]


def test_request_method_rejects_quantile_signal():
    bad = SloDecl(name="x", title="", signal="latency_p95_ms", op="<=", threshold=0.5, method="requests")
    with pytest.raises(ValueError, match="needs a rate signal"):
        slo_events(frame(2), bad)


def test_one_bad_hour_in_a_day_fires_both_alerts_and_overspends_budget():
    # 288 windows (one day); the last 12 (one hour) have 19% refusals.
    f = frame(288, refused=[4] * 276 + [19] * 12)
    status = evaluate_slo(f, REFUSALS, now_of(f))
    assert (status.good, status.bad) == (276, 12)
    assert status.attainment == pytest.approx(276 / 288)
    # budget = 1% of 288 windows = 2.88 windows; 12 spent
    assert status.budget_remaining == pytest.approx(1 - 12 / 2.88)
    fast, slow = status.alerts
    assert fast.long_burn == pytest.approx(100.0)  # 12/12 bad over 1 h / 1% allowed
    assert fast.short_burn == pytest.approx(100.0)
    assert slow.long_burn == pytest.approx((12 / 72) / 0.01)  # 6 h = 72 windows
    assert slow.short_burn == pytest.approx(100.0)
    assert fast.firing and slow.firing
    assert status.state == "burning"
    assert status.current_value == pytest.approx(0.19)


def test_fast_alert_resets_once_the_short_window_recovers():
    # 11 bad windows then one good: the hour still burns at 91.7x, the last 5 minutes do not.
    f = frame(288, refused=[4] * 276 + [19] * 11 + [4])
    fast, slow = burn_alerts(slo_events(f, REFUSALS), now_of(f), 0.01)
    assert fast.long_burn == pytest.approx(11 / 12 / 0.01)
    assert fast.short_burn == pytest.approx(0.0)
    assert not fast.firing
    # the 30-minute short window still holds 5 bad of 6
    assert slow.short_burn == pytest.approx(5 / 6 / 0.01)
    assert slow.firing


def test_isolated_bad_window_does_not_page():
    f = frame(288, refused=[4] * 284 + [19] + [4] * 3)
    fast, slow = burn_alerts(slo_events(f, REFUSALS), now_of(f), 0.01)
    assert fast.long_burn == pytest.approx(1 / 12 / 0.01)  # 8.3x < 14.4x
    assert not fast.firing and not slow.firing


def test_request_based_burn_rate_is_bad_share_over_allowed_share():
    # 1000 requests per 5 min; 0.5% errors is exactly the budget (burn 1).
    f = frame(288, requests=1000, errors=[5] * 276 + [100] * 12)
    ev = slo_events(f, ERRORS)
    now = now_of(f)
    assert burn_rate(ev, now, timedelta(hours=1), ERRORS.allowed_bad_fraction) == pytest.approx(20.0)
    six_hours = (60 * 5 + 12 * 100) / (72 * 1000)
    assert burn_rate(ev, now, timedelta(hours=6), 0.005) == pytest.approx(six_hours / 0.005)
    status = evaluate_slo(f, ERRORS, now)
    assert status.attainment == pytest.approx(1 - (276 * 5 + 1200) / 288_000)
    assert status.alerts[0].firing  # 20x over both 1 h and 5 min
    # 6 h: (60*5 + 12*100) / 72,000 = 2.08% -> 4.2x, under the slow factor of 6
    assert status.alerts[1].long_burn == pytest.approx(4.1667, rel=1e-3)
    assert not status.alerts[1].firing


def test_burn_at_exactly_the_budget_spends_nothing_extra():
    f = frame(288, requests=1000, errors=5)
    status = evaluate_slo(f, ERRORS, now_of(f))
    assert status.budget_remaining == pytest.approx(0.0)
    assert status.alerts[0].long_burn == pytest.approx(1.0)
    assert not status.firing
    assert status.state == "exhausted"


def test_period_clips_old_data_and_notes_short_history():
    f = frame(288 * 3, refused=[19] * 288 + [4] * 576)  # the bad day is 3 days ago
    status = evaluate_slo(f, REFUSALS, now_of(f), period=timedelta(days=2))
    assert status.bad == 0
    assert status.good == 576
    assert status.budget_remaining == pytest.approx(1.0)
    short = evaluate_slo(f, REFUSALS, now_of(f))  # 28 days asked, 3 available
    assert short.bad == 288
    assert any("3.0 days" in n for n in short.notes)


def test_no_data_state():
    status = evaluate_slo(frame(3), REFUSALS, T0 - timedelta(days=40), period=timedelta(days=1))
    assert status.state == "no data"
    assert status.attainment is None


def test_window_edges_start_at_now_minus_length():
    f = frame(24, refused=[19] * 12 + [4] * 12)
    ev = slo_events(f, REFUSALS)
    # now exactly on a bucket start: the window [now - 1h, now] holds 13 buckets
    now = f["bucket"][12]
    assert burn_rate(ev, now, timedelta(hours=1), 0.01) == pytest.approx(12 / 13 / 0.01)


def test_burn_rate_series_matches_point_burn_rate():
    f = frame(100, refused=[4] * 50 + [19] * 10 + [4] * 40)
    ev = slo_events(f, REFUSALS)
    series = burn_rate_series(ev, FAST_BURN.long, 0.01)
    for i in (55, 59, 65, 80):
        at = f["bucket"][i]
        assert series.filter(pl.col("bucket") == at)["burn_rate"][0] == pytest.approx(
            burn_rate(ev, at, FAST_BURN.long, 0.01))


def test_policies_are_the_workbook_ones():
    assert (FAST_BURN.long, FAST_BURN.short, FAST_BURN.factor) == (timedelta(hours=1), timedelta(minutes=5), 14.4)
    assert (SLOW_BURN.long, SLOW_BURN.short, SLOW_BURN.factor) == (timedelta(hours=6), timedelta(minutes=30), 6.0)
