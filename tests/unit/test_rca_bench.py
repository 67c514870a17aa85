"""RCA benchmark: scoring, dataset layouts (additive and Squeeze's derived D), CLI, real B0 cases."""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dashboard.cli.bench.rca import register_rca
from dashboard.core.bench.rca import (
    BenchDataError,
    Tally,
    discover_cases,
    load_case,
    parse_root_cause_set,
    run_benchmark,
    score_case,
)
from dashboard.core.bench.rca_realistic import write_dataset as write_realistic
from dashboard.core.bench.rca_synthetic import write_dataset

REPO_ROOT = Path(__file__).resolve().parents[2]
B0 = REPO_ROOT.parent / "shared" / "benchmarks" / "rca-b0"
DIMS = {"x": [f"x{i}" for i in range(1, 5)], "y": [f"y{i}" for i in range(1, 7)], "z": [f"z{i}" for i in range(1, 4)]}


def combo(text: str) -> frozenset:
    return frozenset(tuple(p.split("=")) for p in text.split("&"))


# --- scoring -----------------------------------------------------------------

def test_parse_root_cause_set_reads_combinations_and_drops_duplicates():
    parsed = parse_root_cause_set("a=a1&b=b4;c=c3;c=c3")
    assert parsed == (combo("a=a1&b=b4"), combo("c=c3"))
    assert combo("b=b4&a=a1") == parsed[0]  # order of the pairs does not matter


def test_parse_root_cause_set_names_the_bad_part():
    with pytest.raises(BenchDataError, match=r"info.csv row 3: .*'b4'"):
        parse_root_cause_set("a=a1&b4", where="info.csv row 3")


def test_score_case_counts_exact_matches_only():
    truth = (combo("a=a1"), combo("b=b2&c=c1"))
    # a coarser or finer answer is not a match; duplicates count once
    predicted = [combo("a=a1"), combo("b=b2"), combo("a=a1&c=c1"), combo("a=a1")]
    assert score_case(predicted, truth) == {"tp": 1, "fp": 2, "fn": 1, "hit_at_3": 1, "tolerant_hit_at_3": 1}
    assert score_case([combo("d=d1")] * 1 + [combo("e=e1"), combo("f=f1"), combo("a=a1")], truth)["hit_at_3"] == 0
    assert score_case([], truth) == {"tp": 0, "fp": 0, "fn": 2, "hit_at_3": 0, "tolerant_hit_at_3": 0}


def test_tolerant_hit_accepts_one_step_coarser_or_finer_only():
    truth = (combo("b=b2&c=c1"),)
    assert score_case([combo("b=b2")], truth)["tolerant_hit_at_3"] == 1           # parent
    assert score_case([combo("a=a1&b=b2&c=c1")], truth)["tolerant_hit_at_3"] == 1  # child
    assert score_case([combo("b=b2")], truth)["hit_at_3"] == 0
    assert score_case([combo("c=c2")], truth)["tolerant_hit_at_3"] == 0            # a sibling
    assert score_case([combo("b=b2&c=c1&d=d1&e=e1")], truth)["tolerant_hit_at_3"] == 0  # two steps


def test_tally_computes_f1_over_summed_counts():
    tally = Tally()
    tally.add([combo("a=a1")], (combo("a=a1"),), 0.2)                           # tp 1
    tally.add([combo("a=a1"), combo("b=b1")], (combo("b=b1"), combo("c=c1")), 0.4)  # tp 1 fp 1 fn 1
    summary = tally.summary()
    assert (summary["precision"], summary["recall"]) == (pytest.approx(2 / 3, abs=1e-4),) * 2
    assert summary["f1"] == pytest.approx(2 / 3, abs=1e-4)
    assert summary["hit_at_3"] == 1.0
    assert summary["seconds_per_case"] == pytest.approx(0.3)
    assert summary["cases"] == 2


# --- generated datasets ------------------------------------------------------

def _leaves() -> pl.DataFrame:
    rows = list(itertools.product(*DIMS.values()))
    return pl.DataFrame({d: [r[i] for r in rows] for i, d in enumerate(DIMS)})


def _inside(frame: pl.DataFrame, cause: str) -> np.ndarray:
    mask = np.ones(frame.height, dtype=bool)
    for dim, value in combo(cause):
        mask &= (frame[dim] == value).to_numpy()
    return mask


def write_additive_case(folder: Path, ts: int, causes: list[str], seed: int) -> None:
    rng = np.random.default_rng(seed)
    frame = _leaves()
    predict = rng.lognormal(5, 1, frame.height).round(2)
    real = predict * (1 + rng.normal(0, 0.01, frame.height))
    for cause in causes:
        real = np.where(_inside(frame, cause), real * 0.4, real)
    frame.with_columns(pl.Series("real", real), pl.Series("predict", predict)).select(
        "real", "predict", *DIMS).write_csv(folder / f"{ts}.csv")


def write_derived_case(folder: Path, ts: int, causes: list[str], seed: int) -> None:
    """Squeeze D layout: a = failures, b = requests; the cause's failure rate triples."""
    rng = np.random.default_rng(seed)
    frame = _leaves()
    requests = rng.poisson(rng.lognormal(7, 0.7, frame.height)).astype(float)
    rate = 0.03 * rng.lognormal(0, 0.2, frame.height)
    predict_a = requests * rate
    real_b = rng.poisson(requests).astype(float)
    real_rate = rate.copy()
    for cause in causes:
        real_rate = np.where(_inside(frame, cause), rate * 3, real_rate)
    real_a = rng.binomial(real_b.astype(int), real_rate).astype(float)
    for suffix, real, predict in (("a", real_a, predict_a), ("b", real_b, requests)):
        frame.with_columns(pl.Series("real", real), pl.Series("predict", predict)).select(
            "real", "predict", *DIMS).write_csv(folder / f"{ts}.{suffix}.csv")


def write_setting(folder: Path, cases: dict[int, list[str]], writer) -> None:
    folder.mkdir(parents=True)
    lines = ["set,timestamp"]
    for seed, (ts, causes) in enumerate(cases.items()):
        writer(folder, ts, causes, seed)
        lines.append(f"{';'.join(causes)},{ts}")
    (folder / "injection_info.csv").write_text("\n".join(lines) + "\n")


DERIVED_CASES = {1001: ["y=y2"], 1002: ["x=x3&z=z1"], 1003: ["y=y5", "x=x1&z=z3"]}


def test_derived_layout_is_read_as_a_ratio_and_its_causes_found(tmp_path):
    write_setting(tmp_path / "D_ratio", DERIVED_CASES, write_derived_case)
    cases = discover_cases(tmp_path)
    assert [c.case_id for c in cases] == ["1001", "1002", "1003"]
    assert all(c.kind == "ratio" for c in cases)
    frame, dims = load_case(cases[0])
    assert dims == list(DIMS)
    assert {"real_num", "real_den", "predict_num", "predict_den"} <= set(frame.columns)
    assert frame.height == 4 * 6 * 3
    report = run_benchmark(tmp_path).to_json_dict()
    assert report["settings"]["D_ratio"]["cases"] == 3
    assert report["overall"]["f1"] == 1.0


def test_additive_layout_with_two_settings_is_scored_per_setting(tmp_path):
    write_setting(tmp_path / "one", {2001: ["y=y3"], 2002: ["x=x2&y=y1"]}, write_additive_case)
    write_setting(tmp_path / "two", {2003: ["x=x4&y=y6&z=z2", "y=y1"]}, write_additive_case)
    report = run_benchmark(tmp_path).to_json_dict()
    assert set(report["settings"]) == {"one", "two"}
    assert report["overall"]["cases"] == 3
    assert report["overall"]["f1"] == 1.0
    assert report["overall"]["hit_at_3"] == 1.0


def test_missing_case_file_names_the_info_row(tmp_path):
    write_setting(tmp_path / "s", {3001: ["y=y2"]}, write_additive_case)
    (tmp_path / "s" / "3001.csv").unlink()
    with pytest.raises(BenchDataError, match=r"injection_info.csv row 2: no 3001.csv"):
        discover_cases(tmp_path)


def test_bad_measure_names_file_row_and_column(tmp_path):
    write_setting(tmp_path / "s", {3002: ["y=y2"]}, write_additive_case)
    path = tmp_path / "s" / "3002.csv"
    lines = path.read_text().splitlines()
    lines[4] = "oops," + lines[4].split(",", 1)[1]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(BenchDataError, match=r"3002.csv: row 5 column 'real' is 'oops'"):
        run_benchmark(tmp_path)


def test_info_without_set_column_is_rejected(tmp_path):
    (tmp_path / "injection_info.csv").write_text("timestamp\n1\n")
    with pytest.raises(BenchDataError, match=r"missing column\(s\) \['set'\]"):
        discover_cases(tmp_path)


def test_cli_prints_json_and_table(tmp_path, capsys):
    write_setting(tmp_path / "D_ratio", DERIVED_CASES, write_derived_case)
    parser = argparse.ArgumentParser()
    register_rca(parser.add_subparsers())
    args = parser.parse_args(["rca", "--dataset", str(tmp_path), "--json"])
    assert args.func(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"overall", "settings"}
    for scores in [report["overall"], *report["settings"].values()]:
        assert {"f1", "precision", "recall", "hit_at_3", "tolerant_hit_at_3", "seconds_per_case"} <= set(scores)
    args = parser.parse_args(["rca", "--dataset", str(tmp_path)])
    args.func(args)
    table = capsys.readouterr().out
    assert "D_ratio" in table and "overall" in table and "hit@3" in table


def test_cli_reports_a_bad_dataset_as_a_user_error(tmp_path):
    from dashboard.cli import main

    assert main(["bench", "rca", "--dataset", str(tmp_path / "absent")]) == 2


def test_synthetic_rate_dataset_is_readable_and_localized_at_high_traffic(tmp_path):
    settings = write_dataset(tmp_path, seed=3)
    cases = discover_cases(tmp_path)
    assert len(cases) == 10 * len(settings) and all(c.kind == "ratio" for c in cases)
    for setting in ("rate_300rpl_layer1", "rate_300rpl_layer2", "mix_300rpl"):
        assert run_benchmark(tmp_path / setting).to_json_dict()["overall"]["f1"] >= 0.9, setting


# --- the public benchmark ----------------------------------------------------

@pytest.mark.skipif(not B0.is_dir(), reason=f"B0 benchmark not found beside the repo at {B0}")
@pytest.mark.parametrize("setting", ["B_cuboid_layer_1_n_ele_3", "B_cuboid_layer_3_n_ele_2"])
def test_real_b0_setting_scores_well(setting):
    summary = run_benchmark(B0 / setting).to_json_dict()["overall"]
    assert summary["cases"] == 10
    assert summary["f1"] >= 0.9
    assert summary["hit_at_3"] >= 0.9


# --- the production-shaped rate set ------------------------------------------

def test_realistic_dataset_has_null_cases_skewed_leaves_and_scores_them(tmp_path):
    settings = write_realistic(tmp_path, seed=5, cases_per_setting=1)
    cases = discover_cases(tmp_path)
    assert len(cases) == len(settings) and {c.setting for c in cases} == set(settings)
    null = next(c for c in cases if c.setting == "null")
    assert null.truth == ()
    frame, dims = load_case(null)
    assert len(dims) == 5
    # heavy-tailed leaves: the largest tenth of the leaves carries most of the requests
    requests = np.sort(frame["real_den"].to_numpy())[::-1]
    assert requests[: len(requests) // 10].sum() > 0.5 * requests.sum()
    assert (frame["predict_den"] < 1).mean() > 0.3  # many near-empty leaves
    report = run_benchmark(tmp_path).to_json_dict()
    assert report["overall"]["cases"] == len(settings)
    assert "answers_per_case" in report["overall"]


def test_a_null_case_is_a_hit_only_without_answers():
    assert score_case([], ())["hit_at_3"] == 1 and score_case([], ())["fp"] == 0
    assert score_case([combo("a=a1")], ()) == {"tp": 0, "fp": 1, "fn": 0, "hit_at_3": 0, "tolerant_hit_at_3": 0}


def test_hit_at_3_reads_the_alternatives_but_f1_does_not():
    truth = (combo("a=a1&b=b1"),)
    score = score_case([combo("a=a1")], truth, ranked=[combo("a=a1"), combo("a=a1&b=b1")])
    assert (score["tp"], score["fp"], score["hit_at_3"]) == (0, 1, 1)
