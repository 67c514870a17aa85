"""The root-cause view's pure parts: links between pages and the figures (no browser needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from dashboard.components.links import cohort_params, new_incident_params, root_cause_params, view_params
from dashboard.components.root_cause_figures import regression_figure, regression_window, segment_heatmap
from dashboard.core.diagnosis.models import ChangePointResult, Investigation, Suspect

T0 = datetime(2025, 2, 18, 13, 30, tzinfo=UTC)


def point(minutes: int, regression: bool, before: str = "4.0%", after: str = "19.0%") -> ChangePointResult:
    return ChangePointResult(ts=T0 + timedelta(minutes=minutes), before=0.04, after=0.19, before_text=before,
                             after_text=after, effect=0.15, effect_low=0.14, effect_high=0.16,
                             effect_kind="difference", effect_text="+15 pts", p_value=0.0, regression=regression,
                             aligned_release=None, mde=0.006, minutes_to_detect=1.0, detectability="")


def suspect(artifact: str, version: str) -> Suspect:
    return Suspect(artifact=artifact, version=version, previous_version="old", released_at=T0, score=0.8,
                   confidence=0.8, explained_share=0.9, expected_effect=0.1, evidence=[])


def investigation(points, suspects) -> Investigation:
    return Investigation(signal="refusal_rate", signal_label="refusal rate", start=T0 - timedelta(hours=3),
                         end=T0 + timedelta(hours=3), filters={"tier": ["paid"], "language": ["en"]},
                         bucket_minutes=1, baseline_days=3, change_points=points, suspects=suspects, verdict="",
                         rollback_plan=[])


def test_view_params_carry_range_and_every_filter_value():
    url = {"range": ["Custom"], "range_from": ["2025-02-18 10:00"], "f_language": ["en", "de"], "cohort": ["x"]}
    view = view_params(lambda k: url.get(k, []), ["tier", "language"])
    assert view == {"range": ["Custom"], "range_from": ["2025-02-18 10:00"], "f_language": ["en", "de"]}
    assert cohort_params(view, "prompt")["cohort"] == ["prompt"]
    assert root_cause_params(view, "task_success_rate")["signal"] == ["task_success_rate"]
    assert cohort_params(view, "prompt")["f_language"] == ["en", "de"]


def test_new_incident_link_is_prefilled_from_the_investigation():
    inv = investigation([point(0, True), point(80, False)], [suspect("prompt", "prompt-v7"),
                                                            suspect("index", "kb-2025-02-15")])
    params = new_incident_params(inv, source="explorer")
    assert params["new"] == ["1"] and params["signal"] == ["refusal_rate"]
    assert params["f_tier"] == ["paid"] and params["f_language"] == ["en"]
    assert params["start"] == ["2025-02-18T13:30:00Z"]
    assert params["suspect"] == ["prompt:prompt-v7", "index:kb-2025-02-15"]
    bare = new_incident_params(investigation([], []), source="root-cause")
    assert "start" not in bare and "suspect" not in bare


def test_regression_is_shaded_from_first_bad_step_to_the_recovery():
    end = T0 + timedelta(hours=3)
    assert regression_window([point(0, True), point(10, True), point(80, False)], end) == (
        T0, T0 + timedelta(minutes=80))
    assert regression_window([point(0, True)], end) == (T0, end)
    assert regression_window([point(5, False)], end) is None
    series = pl.DataFrame({"bucket": [T0 + timedelta(minutes=m) for m in range(0, 120, 10)],
                           "refusal_rate": [0.04] * 12})
    releases = pl.DataFrame({"ts": [T0], "artifact": ["prompt"], "version": ["prompt-v7"]})
    fig = regression_figure(series, "refusal_rate", releases, [point(0, True), point(80, False, "19%", "5%")], end)
    names = [s.name for s in fig.layout.shapes]
    assert "release:prompt-v7" in names and "change:13:30" in names and "change:14:50" in names
    labels = [a.text for a in fig.layout.annotations]
    assert "13:30 4.0% → 19.0%" in labels and "14:50 19% → 5%" in labels
    assert any(s.type == "rect" for s in fig.layout.shapes)


def test_heatmap_colours_the_bad_direction_red_and_writes_the_change():
    frame = pl.DataFrame({"dimension": ["language", "language", "region"], "value": ["en", "de", "eu"],
                          "change": [0.15, -0.01, 0.05], "z": [40.0, -1.0, 4.0],
                          "change_text": ["+15.0 pts", "-1.0 pts", "+5.0 pts"], "baseline_n": [100, 100, 100],
                          "current_n": [100, 100, 100]})
    up_is_bad = segment_heatmap(frame, direction=1).data[0]
    assert list(up_is_bad.y) == ["language", "region"]
    assert list(up_is_bad.z[0]) == [10.0, -1.0] and list(up_is_bad.z[1]) == [4.0, None]  # capped at 10; padded
    assert up_is_bad.text[0][0] == "en<br>+15.0 pts"
    down_is_bad = segment_heatmap(frame, direction=-1).data[0]
    assert list(down_is_bad.z[0]) == [-10.0, 1.0]
