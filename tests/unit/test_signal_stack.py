from datetime import UTC, datetime, timedelta

import polars as pl

from dashboard.components.signal_stack import build_signal_stack
from dashboard.core.telemetry.contract import RELEASE_SCHEMA

T0 = datetime(2025, 2, 18, 13, tzinfo=UTC)


def _series(n=30):
    return pl.DataFrame({"bucket": [T0 + timedelta(minutes=i) for i in range(n)],
                         "refusal_rate": [0.04] * n, "latency_p95_ms": [4000.0] * n, "cost_per_request": [0.007] * n})


def _releases():
    return pl.DataFrame([
        {"ts": T0 + timedelta(minutes=5), "service": "bot", "artifact": "prompt", "version": "prompt-v7",
         "previous_version": "prompt-v6", "rollout_pct": 100.0, "author": "a", "note": "", "scope": None},
        {"ts": T0 + timedelta(minutes=9), "service": "bot", "artifact": "index", "version": "kb-2",
         "previous_version": "kb-1", "rollout_pct": 100.0, "author": "a", "note": "", "scope": None},
    ], schema=RELEASE_SCHEMA)


def test_one_shared_x_axis_stacked_domains_and_unified_hover():
    names = ["refusal_rate", "latency_p95_ms", "cost_per_request"]
    fig = build_signal_stack(_series(), names, _releases())
    assert len(fig.data) == 3
    assert {t.xaxis or "x" for t in fig.data} == {"x"}  # no trace on a second x axis
    assert "xaxis2" not in fig.layout.to_plotly_json()
    assert [t.yaxis for t in fig.data] == ["y", "y2", "y3"]
    domains = [fig.layout[f"yaxis{'' if i == 0 else i + 1}"].domain for i in range(3)]
    assert all(lo < hi for lo, hi in domains)
    assert all(domains[i][0] > domains[i + 1][1] for i in range(2))  # stacked, not overlapping
    assert fig.layout.hovermode == "x unified"
    assert fig.layout.xaxis.anchor == "y3"  # time ticks under the bottom panel


def test_every_release_is_one_marker_over_the_whole_figure():
    fig = build_signal_stack(_series(), ["refusal_rate"], _releases())
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert len(lines) == 2
    assert all(s.yref == "paper" and s.y0 == 0 and s.y1 == 1 for s in lines)
    assert lines[0].line.color != lines[1].line.color  # coloured by artifact kind
    assert {a.text for a in fig.layout.annotations} == {"prompt: prompt-v7", "index: kb-2"}


def test_marker_kinds_can_be_switched_off():
    fig = build_signal_stack(_series(), ["refusal_rate"], _releases(), marker_kinds={"index"})
    assert [a.text for a in fig.layout.annotations] == ["index: kb-2"]


def test_cohort_lines_one_trace_per_version():
    s = pl.concat([_series().with_columns(pl.lit(v).alias("prompt_version")) for v in ("prompt-v6", "prompt-v7")])
    fig = build_signal_stack(s, ["refusal_rate"], None, cohort_column="prompt_version")
    assert [t.name for t in fig.data] == ["prompt-v6", "prompt-v7"]


def test_a_version_that_did_not_serve_a_bucket_leaves_a_gap_in_its_line():
    from datetime import datetime, timedelta

    import polars as pl

    from dashboard.components.signal_stack import build_signal_stack

    t0 = datetime(2025, 2, 18, 13, 0, tzinfo=UTC)
    buckets = [t0 + timedelta(minutes=m) for m in range(4)]
    frame = pl.DataFrame({"bucket": buckets + buckets[1:3],
                          "prompt_version": ["v6"] * 4 + ["v7"] * 2,
                          "refusal_rate": [0.04, None, None, 0.05, 0.19, 0.18]})
    # v6 served only the first and last bucket: its rows for the middle ones are missing, not null
    frame = frame.filter(~((pl.col("prompt_version") == "v6") & pl.col("refusal_rate").is_null()))
    fig = build_signal_stack(frame, ["refusal_rate"], cohort_column="prompt_version")
    v6 = next(t for t in fig.data if t.name == "v6")
    # a gap is NaN in the float array the figure sends (Plotly draws no point and breaks the line)
    assert [None if y != y else float(y) for y in v6.y] == [0.04, None, None, 0.05] and v6.connectgaps is False
