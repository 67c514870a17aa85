import polars as pl
import pytest

from dashboard.core.telemetry import signals as sig

ISSUE_NAMES = ["requests", "error_rate", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
               "input_tokens_per_request", "output_tokens_per_request", "cost_per_request", "task_success_rate",
               "quality_score", "refusal_rate", "policy_violation_rate", "tool_error_rate", "fallback_rate"]


def test_stable_names():
    assert [s.name for s in sig.SIGNALS] == ISSUE_NAMES
    assert all(name == name.lower() and " " not in name for name in ISSUE_NAMES)


def test_rates_are_summed_counts_divided_last():
    counts = pl.DataFrame({"requests": [100, 0, 300], "refused": [10, 0, 3], "task_success": [40, 0, 150],
                           "task_success_n": [100, 0, 300]})
    out = sig.with_signals(counts, ["refusal_rate", "task_success_rate"])
    assert out["refusal_rate"].to_list() == [0.10, None, 0.01]
    total = counts.sum()
    assert sig.with_signals(total, ["refusal_rate"])["refusal_rate"][0] == pytest.approx(13 / 400)


def test_unknown_signal_names_the_known_ones():
    with pytest.raises(KeyError, match="refusal_rate"):
        sig.get("refusals")


def test_counts_of_refuses_quantiles():
    with pytest.raises(ValueError):
        sig.counts_of(sig.get("latency_p95_ms"), pl.DataFrame())
