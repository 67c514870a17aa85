"""The signal registry is the one definition of every signal; the rest derives from it."""

import ast
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from dashboard.core.telemetry import signals as sig
from dashboard.core.telemetry.contract import REQUEST_MEASURES
from dashboard.core.telemetry.query import QUERIES_DIR, load_sql

ISSUE_NAMES = ["requests", "error_rate", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "ttft_ms",
               "input_tokens_per_request", "output_tokens_per_request", "cost_per_request", "task_success_rate",
               "quality_score", "refusal_rate", "policy_violation_rate", "guardrail_block_rate", "tool_error_rate",
               "fallback_rate", "input_tokens_p95", "input_tokens_p99", "output_tokens_p95", "output_tokens_p99"]
ROOT = Path(__file__).resolve().parents[2]
# data about the demo's story or synthetic benchmark scenarios, keyed by signal, not definitions of signals
NOT_DEFINITIONS = {"dashboard/core/demo/week.py", "dashboard/core/bench/scenarios.py"}


def test_stable_names():
    assert [s.name for s in sig.SIGNALS] == ISSUE_NAMES
    assert all(name == name.lower() and " " not in name for name in ISSUE_NAMES)


def test_every_signal_declares_what_the_rest_derives_from():
    counts = set(sig.COUNT_NAMES)
    for s in sig.SIGNALS:
        assert s.direction in (sig.HIGHER_IS_WORSE, sig.LOWER_IS_WORSE, sig.NEUTRAL), s.name
        assert (s.test is None) == (s.direction == sig.NEUTRAL), s.name
        assert s.group in sig.GROUP_ORDER and s.label and s.phrase, s.name
        if s.pooled:
            assert {s.numerator, s.denominator} <= counts, s.name
        if s.test == "welch_log":
            assert s.log_mean and s.log_var, s.name
        if s.localize == "counts":
            assert s.pooled, s.name
        for measure in s.measures:
            assert measure in {c.measure for c in sig.COUNTS} | {"latency_ms", "ttft_ms"}, (s.name, measure)
    # the Explorer's groups hold every signal, guardrail blocks and time to first token included
    assert sorted(n for names in sig.GROUPS.values() for n in names) == sorted(ISSUE_NAMES)


def test_rates_are_summed_counts_divided_last():
    counts = pl.DataFrame({"requests": [100, 0, 300], "refused": [10, 0, 3], "task_success": [40, 0, 150],
                           "task_success_n": [100, 0, 300]})
    out = sig.with_signals(counts, ["refusal_rate", "task_success_rate"])
    assert out["refusal_rate"].to_list() == [0.10, None, 0.01]
    total = counts.sum()
    assert sig.with_signals(total, ["refusal_rate"])["refusal_rate"][0] == pytest.approx(13 / 400)


def test_task_success_is_out_of_the_requests_that_report_it():
    # 100 requests, only 40 carry a task outcome: the rate is 30/40, in the chart and in localization alike
    s = sig.get("task_success_rate")
    assert s.denominator == "task_success_n" and s.localize == "counts"
    assert sig.value_of(s, {"requests": 100, "task_success": 30, "task_success_n": 40}) == pytest.approx(0.75)


def test_a_value_without_samples_is_none_not_zero():
    assert sig.value_of(sig.get("cost_per_request"), {"requests": 10, "cost_usd": None, "cost_n": 0}) is None
    assert sig.value_of(sig.get("latency_p95_ms"), {"latency_p95_ms": None}) is None
    assert sig.get("cost_per_request").format(None) == "–"


def test_unknown_signal_names_the_known_ones():
    with pytest.raises(KeyError, match="refusal_rate"):
        sig.get("refusals")


def test_available_needs_every_measure():
    assert sig.available(["refused"], ["refusal_rate", "tool_error_rate", "error_rate"]) == ["refusal_rate"]
    assert "tool_error_rate" in sig.available(["tool_calls", "tool_errors"])


@pytest.mark.parametrize("name", ["signal_series", "diagnosis_rate_counts", "reporting_slo_counts", "segment_leaves"])
def test_count_columns_come_from_the_registry(name):
    """No query spells a count column by hand: each expands the registry's `@counts` (over request
    rows) or `@cell_counts` (the same counts summed over rollup cells, generated from the registry)."""
    from dashboard.core.telemetry.rollup import merged_counts_sql

    raw = (QUERIES_DIR / f"{name}.sql").read_text()
    assert "@counts" in raw or "@cell_counts" in raw
    for count in sig.COUNTS:
        assert f" AS {count.name}\n" not in raw and f" AS {count.name}," not in raw, (name, count.name)
    assert sig.counts_sql() in load_sql(name).text or merged_counts_sql() in load_sql(name).text


def test_series_has_every_column_a_signal_reads(tmp_path):
    from tests.fixtures import tiny_store

    store, t0 = tiny_store(tmp_path)
    frame = store.series(t0, t0 + timedelta(minutes=5), bucket=timedelta(minutes=1))
    for s in sig.SIGNALS:
        for column in (*s.columns, s.log_mean, s.log_var, s.var):
            assert column is None or column in frame.columns, (s.name, column)


def _definitions_outside(path: Path) -> list[str]:
    """Dict literals keyed by two or more signal names, and Signal(...) constructions."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Dict):
            # ttft_ms and quality_score are request columns too: a dict of columns is not one of signals
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant) and k.value in sig.BY_NAME
                    and k.value not in REQUEST_MEASURES]
            if len(keys) >= 2:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} maps {keys}")
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
                "Signal", "SignalSpec", "SignalMath"):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} builds a signal")
    return found


def test_no_signal_is_defined_outside_the_registry():
    found = []
    for path in sorted((ROOT / "dashboard").rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        if rel == "dashboard/core/telemetry/signals.py" or rel in NOT_DEFINITIONS:
            continue
        found += _definitions_outside(path)
    assert not found, "signals defined outside dashboard/core/telemetry/signals.py:\n" + "\n".join(found)


def test_a_tail_percentile_is_tested_as_the_share_slower_than_its_baseline():
    # declared once (tail="p95"); the rate scale, the fraction and the level's words derive from it
    p95, p99, p50 = sig.get("latency_p95_ms"), sig.get("latency_p99_ms"), sig.get("latency_p50_ms")
    assert (p95.scale, p95.quantile, p99.quantile) == ("rate", 0.95, 0.99)
    assert p50.scale == "log" and p50.quantile is None  # the typical latency stays on the log mean
    assert p95.format_level(0.052) == "5.2% of requests over the baseline p95"
    assert p50.format_level(812.0) == p50.format(812.0) == "812 ms"
