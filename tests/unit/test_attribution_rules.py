"""Attribution evidence and ranking on hand-made series (no store involved)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from dashboard.core.diagnosis.attribute import Reader, attribute, find_rollback, rollback_plan
from dashboard.core.diagnosis.data import signal_spec
from dashboard.core.diagnosis.detect import BucketSeries, ReleaseMark, find_change_points
from dashboard.core.diagnosis.evidence import Regression, Release, exposure_evidence, timing_evidence

T0 = datetime(2025, 2, 18, 10, 0, tzinfo=UTC)
N = 360
REFUSAL = signal_spec("refusal_rate")


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def grid() -> np.ndarray:
    return np.datetime64("2025-02-18T10:00", "us") + np.arange(N).astype("timedelta64[m]")


class World:
    """Per-minute traffic split between versions of two artifacts, each with its own refusal effect."""

    def __init__(self, seed=0, prompt_effect=0.10, index_effect=0.0, outside=None):
        rng = np.random.default_rng(seed)
        self.minute = np.arange(N)
        self.trials = rng.poisson(600, N).astype(float)
        # prompt v7 ramps 200..205, rolled back at 280; index kb2 ramps 210..213
        self.prompt_new = np.clip((self.minute - 200) / 5, 0, 1) * (self.minute < 280)
        self.index_new = np.clip((self.minute - 210) / 3, 0, 1)
        self.effects = {"prompt": prompt_effect, "index": index_effect}
        base = np.full(N, 0.04) + (outside if outside is not None else 0.0)
        # split each minute's requests into the four version combinations
        self.cells = {}
        for p_new in (0, 1):
            for i_new in (0, 1):
                share = (self.prompt_new if p_new else 1 - self.prompt_new) * \
                        (self.index_new if i_new else 1 - self.index_new)
                n = rng.binomial(self.trials.astype(int), np.clip(share, 0, 1)).astype(float)
                rate = base + p_new * prompt_effect + i_new * index_effect
                self.cells[(p_new, i_new)] = (n, rng.binomial(n.astype(int), rate).astype(float))

    def series(self, pick=lambda p, i: True) -> BucketSeries:
        n = sum(c[0] for k, c in self.cells.items() if pick(*k))
        x = sum(c[1] for k, c in self.cells.items() if pick(*k))
        return BucketSeries("rate", grid(), n, x)

    def reader(self) -> Reader:
        def cohorts(column, a, b, filters):
            if column == "prompt_version":
                return {"v7": self.series(lambda p, i: p == 1), "v6": self.series(lambda p, i: p == 0)}
            return {"kb2": self.series(lambda p, i: i == 1), "kb1": self.series(lambda p, i: i == 0)}

        return Reader(cohorts, lambda *a: {("language", "en"): 1.0, ("language", "de"): 1.0},
                      lambda *a: {}, {"prompt": "prompt_version", "index": "index_version"})


RELEASES = [
    Release(at(200), "prompt", "v7", "v6"),
    Release(at(210), "index", "kb2", "kb1"),
    Release(at(280), "prompt", "v6", "v7"),
]


def run(world: World):
    s = world.series()
    marks = [ReleaseMark(np.datetime64(r.ts.replace(tzinfo=None), "us"), r.label) for r in RELEASES]
    points = find_change_points(s, marks, direction=1)
    return s, points, attribute(REFUSAL, s, points, RELEASES, world.reader())


def test_single_cause_is_ranked_first_and_the_innocent_release_is_cleared():
    _, _, (suspects, cleared, verdict, _) = run(World(prompt_effect=0.10, index_effect=0.0))
    assert [(s.artifact, s.version) for s in suspects] == [("prompt", "v7")]
    assert ("index", "kb2") in [(s.artifact, s.version) for s in cleared]
    cohort = next(e for e in suspects[0].evidence if e.kind == "cohort")
    assert cohort.score > 0 and "+10" in cohort.text or "+9" in cohort.text or "+11" in cohort.text
    rollback = next(e for e in suspects[0].evidence if e.kind == "rollback")
    assert rollback.score > 0.5 and "recovered" in rollback.text
    assert verdict.startswith("prompt v7")


def test_two_causes_rank_by_what_each_explains():
    s, points, (suspects, _, _, reg) = run(World(prompt_effect=0.10, index_effect=0.04, seed=1))
    assert [(x.artifact, x.version) for x in suspects] == [("prompt", "v7"), ("index", "kb2")]
    assert suspects[0].explained_share > suspects[1].explained_share
    plan = rollback_plan(REFUSAL, suspects, RELEASES, reg)
    assert [(p.artifact, p.to_version) for p in plan] == [("prompt", "v6"), ("index", "kb1")]
    assert plan[0].status.startswith("done at 14:40") and plan[1].status == "to do"
    assert plan[0].expected_level > plan[1].expected_level


def test_outside_degradation_blames_no_release():
    outside = np.where(np.arange(N) >= 240, 0.08, 0.0)  # 14:00, half an hour after the index release
    _, points, (suspects, cleared, verdict, _) = run(World(prompt_effect=0.0, index_effect=0.0, outside=outside))
    assert [p.index for p in points if p.regression] == [240]
    assert suspects == []
    assert verdict.startswith("No release explains this")


def test_release_after_the_change_began_is_not_blamed():
    p = np.full(N, 0.04)
    p[150:] = 0.10
    rng = np.random.default_rng(3)
    n = rng.poisson(600, N).astype(float)
    s = BucketSeries("rate", grid(), n, rng.binomial(n.astype(int), p).astype(float))
    points = find_change_points(s, direction=1)
    reg = Regression(REFUSAL, [cp for cp in points if cp.regression], 0.06, 0.04, 0.10)
    late = Release(at(170), "app", "v2", "v1")
    ev = timing_evidence(late, reg, points, 1.0)
    assert ev.score == -1.0 and "already moved at 12:30" in ev.text


def test_exposure_supports_a_scoped_release_and_clears_a_mismatched_one():
    reg = Regression(REFUSAL, [], 0.02, 0.04, 0.06)
    scoped = Release(at(100), "router", "r2", "r1", scope="region=eu-west")
    shares = {("region", "eu-west"): 1.0, ("region", "us-east"): 0.0, ("region", "ap-south"): 0.0}
    inside_only = {("region", "eu-west"): (0.06, 12.0), ("region", "us-east"): (0.001, 0.4),
                   ("region", "ap-south"): (-0.002, -0.5)}
    ev = exposure_evidence(scoped, reg, shares, inside_only)
    assert ev.score == 1.0 and "region=eu-west" in ev.text
    everywhere = {k: (0.06, 12.0) for k in inside_only}
    assert exposure_evidence(scoped, reg, shares, everywhere).score == -1.0
    assert scoped.scope_filters() == {"region": ("eu-west",)}


def test_find_rollback_pairs_the_return_to_the_previous_version():
    assert find_rollback(RELEASES[0], RELEASES) == RELEASES[2]
    assert find_rollback(RELEASES[1], RELEASES) is None


def test_investigation_json_has_no_nan_or_infinity():
    import json

    from dashboard.core.diagnosis.models import ChangePointResult, Investigation

    cp = ChangePointResult(ts=T0, before=float("nan"), after=0.1, before_text="n/a", after_text="10.0%",
                           effect=0.1, effect_low=0.05, effect_high=0.15, effect_kind="difference",
                           effect_text="+10 pts", p_value=1e-9, regression=True, aligned_release=None,
                           mde=float("inf"), minutes_to_detect=-1.0, detectability="")
    inv = Investigation(signal="refusal_rate", signal_label="refusal rate", start=T0, end=at(60),
                        bucket_minutes=1.0, baseline_days=0, change_points=[cp], suspects=[], verdict="",
                        rollback_plan=[])
    doc = inv.to_json_dict()
    assert doc["change_points"][0]["before"] is None and doc["change_points"][0]["mde"] is None
    json.loads(json.dumps(doc, allow_nan=False))


def test_returning_to_the_starting_level_is_not_a_regression_to_explain():
    # the rate improved at 12:00 and came back at 14:00 when that change was rolled back
    p = np.full(N, 0.06)
    p[120:240] = 0.03
    rng = np.random.default_rng(4)
    n = rng.poisson(600, N).astype(float)
    s = BucketSeries("rate", grid(), n, rng.binomial(n.astype(int), p).astype(float))
    points = find_change_points(s, direction=1)
    assert [cp.regression for cp in points] == [False, True]
    suspects, cleared, verdict, reg = attribute(REFUSAL, s, points, [Release(at(240), "prompt", "v1", "v2")],
                                                World().reader())
    assert reg is None and suspects == [] and "back to where the window started" in verdict


def test_suspect_numbers_say_what_they_mean_and_an_unmeasured_effect_is_not_zero():
    from dashboard.core.diagnosis.models import suspect_numbers

    measured = suspect_numbers(0.62, 0.8, measured=True)
    assert "score 0.62 of 1" in measured and "accounts for 80% of the change" in measured
    unmeasured = suspect_numbers(0.35, 0.0, measured=False)
    assert "0%" not in unmeasured and "could not be measured" in unmeasured and "timing" in unmeasured
    # a measured effect too small to explain anything says why the release still ranks
    tiny = suspect_numbers(0.35, 0.001, measured=True)
    assert "0%" not in tiny and "under 1%" in tiny and "ranked on how strongly the evidence points" in tiny


def test_short_suspect_numbers_name_what_they_are():
    from dashboard.core.diagnosis.models import suspect_brief

    assert suspect_brief(0.62, 0.8, measured=True) == "score 0.62 of 1, its measured effect explains 80% of the change"
    assert suspect_brief(0.35, 0.0, measured=False) == "score 0.35 of 1, its own effect not measured"
    assert "0%" not in suspect_brief(0.35, 0.0, measured=True)
