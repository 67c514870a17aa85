"""Top-1 attribution accuracy on randomized generator scenarios.

The suite runs the first cases of the seed-1 set (each generates and rolls up its own
store: about 3.5 s a case); `warroom bench scenarios --cases 50 --seed 1` runs the whole
set and docs/BENCHMARKS.md reports it, beside an unseen set.
"""

from __future__ import annotations

import pytest

from dashboard.core.bench.scenarios import EFFECTS, KINDS, WINDOW_END, WINDOW_START, random_case, run_cases

CASES = 50  # the generated set checked for variety (no data is written)
SUITE_CASES = 12  # the cases investigated here: every kind of culprit and one without


def test_random_cases_are_varied_and_well_formed():
    cases = [random_case(1000 + i) for i in range(CASES)]
    kinds = {c.cause[0] for c in cases if c.cause}
    signals = {c.signal for c in cases}
    assert kinds == set(KINDS)
    assert len(signals) >= 5 and signals <= set(EFFECTS)
    assert any(c.cause is None for c in cases), "some cases must have no release behind them"
    assert any(c.affected for c in cases) and any(not c.affected for c in cases)
    for c in cases:
        assert WINDOW_START < c.change_at < WINDOW_END
        decoys = [d for d in c.scenario.deploys if d.note == "decoy"]
        assert len(decoys) >= 2
        assert any(d.ts < c.change_at for d in decoys) and any(d.ts > c.change_at for d in decoys)
        if c.cause:
            culprit = [d for d in c.scenario.deploys if d.note == "culprit"]
            assert [(d.artifact, d.version, d.previous_version) for d in culprit] == [c.cause]
            assert culprit[0].ts == c.change_at
    assert random_case(7).description == random_case(7).description  # deterministic per seed


@pytest.mark.slow
def test_top1_attribution_accuracy_on_randomized_scenarios(tmp_path):
    investigated = [random_case(1000 + i) for i in range(SUITE_CASES)]
    assert {c.cause[0] for c in investigated if c.cause} == set(KINDS)
    assert any(c.cause is None for c in investigated)
    report = run_cases(SUITE_CASES, seed=1, workdir=tmp_path)
    misses = "\n".join(f"{m['description']}: got {m['got']}" for m in report["misses"])
    assert report["top1_accuracy"] >= 0.9, misses
    assert report["change_within_10_min"] >= 0.9
