"""Root-cause localization benchmark in the layout of the Squeeze datasets.

A dataset folder holds settings (sub-folders with an `injection_info.csv`,
or the folder itself when it has one). Each `injection_info.csv` row is one
case: `timestamp` names the case file(s) and `set` the true root causes
(`;` between combinations, `&` between `dim=value` pairs; empty for a null
case, where nothing changed but noise and the right answer is none). A case is either
- additive: `{timestamp}.csv[.gz]` with `real,predict,<dims>`, or
- derived (Squeeze's D layout): `{timestamp}.a.csv[.gz]` (numerator) and
  `{timestamp}.b.csv[.gz]` (denominator), each `real,predict,<dims>`; the
  metric is a/b and is localized as a ratio.

Scoring follows the public papers: exact match (same dimensions, same values),
F1 over TP/FP/FN summed across cases; beside it hit@3, the share of cases
with a true combination among the top three answers, and a tolerant hit@3
that also accepts a parent or child of a true combination. hit@3 reads the
ranked list with the alternatives `localize(..., alternatives=True)` adds
after the answers (the parent or child a person would look at next); F1,
precision and recall read the answers alone. On null cases hit@3 counts a
case with no answer as a hit, and `answers_per_case` (the mean number of
reported combinations) is the false-answer rate.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import polars as pl

from dashboard.core.diagnosis.localize import localize
from dashboard.core.errors import WarroomError

Combination = frozenset  # of (dim, value) pairs
MEASURES = ("real", "predict")


class BenchDataError(WarroomError, ValueError):
    """The dataset folder does not follow the layout; the message names file and row."""


@dataclass(frozen=True)
class BenchCase:
    setting: str
    case_id: str
    truth: tuple[Combination, ...]
    files: tuple[Path, ...]  # one file (additive) or numerator, denominator (ratio)

    @property
    def kind(self) -> Literal["additive", "ratio"]:
        return "additive" if len(self.files) == 1 else "ratio"


@dataclass
class Tally:
    cases: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    hits_at_3: int = 0
    tolerant_hits_at_3: int = 0
    answers: int = 0
    seconds: float = 0.0

    def add(self, predicted: list[Combination], truth: tuple[Combination, ...], seconds: float,
            ranked: list[Combination] | None = None) -> None:
        score = score_case(predicted, truth, ranked)
        self.cases += 1
        self.answers += len(set(predicted))
        self.tp += score["tp"]
        self.fp += score["fp"]
        self.fn += score["fn"]
        self.hits_at_3 += score["hit_at_3"]
        self.tolerant_hits_at_3 += score["tolerant_hit_at_3"]
        self.seconds += seconds

    def summary(self) -> dict:
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {
            "f1": round(f1, 4), "precision": round(precision, 4), "recall": round(recall, 4),
            "hit_at_3": round(self.hits_at_3 / self.cases, 4) if self.cases else 0.0,
            "tolerant_hit_at_3": round(self.tolerant_hits_at_3 / self.cases, 4) if self.cases else 0.0,
            "answers_per_case": round(self.answers / self.cases, 4) if self.cases else 0.0,
            "seconds_per_case": round(self.seconds / self.cases, 4) if self.cases else 0.0,
            "cases": self.cases,
        }


@dataclass
class BenchReport:
    overall: Tally = field(default_factory=Tally)
    settings: dict[str, Tally] = field(default_factory=dict)

    def to_json_dict(self) -> dict:
        return {"overall": self.overall.summary(),
                "settings": {name: t.summary() for name, t in sorted(self.settings.items())}}


def parse_root_cause_set(text: str, *, where: str = "", allow_empty: bool = False) -> tuple[Combination, ...]:
    """`a=a1&b=b4;c=c3` -> (frozenset({('a','a1'),('b','b4')}), frozenset({('c','c3')})).

    Duplicated combinations count once: the truth is a set. An empty text is
    a null case (no root cause) when `allow_empty`, an error otherwise.
    """
    combos: list[Combination] = []
    for element in str(text).split(";"):
        element = element.strip()
        if not element:
            continue
        pairs = []
        for pair in element.split("&"):
            dim, sep, value = pair.strip().partition("=")
            if not sep or not dim or not value:
                raise BenchDataError(f"{where}: root cause {element!r} has a part {pair!r} that is not dim=value")
            pairs.append((dim.strip(), value.strip()))
        combo = frozenset(pairs)
        if combo not in combos:
            combos.append(combo)
    if not combos and not allow_empty:
        raise BenchDataError(f"{where}: empty root-cause set")
    return tuple(combos)


def score_case(predicted: list[Combination], truth: tuple[Combination, ...],
               ranked: list[Combination] | None = None) -> dict:
    """Exact-match TP/FP/FN of one case, and whether the top 3 hold a true combination.

    `ranked` (default: `predicted`) is the list hit@3 reads: the answers, then
    the alternatives. `tolerant_hit_at_3` also accepts a top-3 answer one step
    coarser or finer than a true combination (a parent or child:
    `language=en` for `language=en&tier=paid`), which still sends a person to
    the right place. A null case (empty truth) is a hit when nothing is answered.
    """
    unique_predicted = list(dict.fromkeys(predicted))
    top = list(dict.fromkeys(predicted if ranked is None else ranked))[:3]
    truth_set = set(truth)
    tp = sum(1 for c in unique_predicted if c in truth_set)
    if not truth_set:
        quiet = int(not unique_predicted)
        return {"tp": 0, "fp": len(unique_predicted), "fn": 0, "hit_at_3": quiet, "tolerant_hit_at_3": quiet}

    def near(answer: Combination, true: Combination) -> bool:
        return answer == true or ((answer < true or true < answer) and abs(len(answer) - len(true)) == 1)

    return {"tp": tp, "fp": len(unique_predicted) - tp, "fn": len(truth_set) - tp,
            "hit_at_3": int(any(c in truth_set for c in top)),
            "tolerant_hit_at_3": int(any(near(c, t) for c in top for t in truth_set))}


def discover_cases(dataset: Path) -> list[BenchCase]:
    dataset = Path(dataset)
    if not dataset.is_dir():
        raise BenchDataError(f"{dataset}: not a folder")
    setting_dirs = [dataset] if (dataset / "injection_info.csv").is_file() else sorted(
        p for p in dataset.iterdir() if (p / "injection_info.csv").is_file())
    if not setting_dirs:
        raise BenchDataError(f"{dataset}: no injection_info.csv in it or in its sub-folders")
    cases: list[BenchCase] = []
    for setting_dir in setting_dirs:
        cases.extend(_setting_cases(setting_dir))
    return cases


def _setting_cases(setting_dir: Path) -> list[BenchCase]:
    info = setting_dir / "injection_info.csv"
    cases = []
    with info.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"set", "timestamp"} - set(reader.fieldnames or [])
        if missing:
            raise BenchDataError(f"{info}: missing column(s) {sorted(missing)}")
        for line, row in enumerate(reader, start=2):
            case_id = (row["timestamp"] or "").strip()
            where = f"{info} row {line}"
            if not case_id:
                raise BenchDataError(f"{where}: empty timestamp")
            cases.append(BenchCase(setting_dir.name, case_id,
                                   parse_root_cause_set(row["set"] or "", where=where, allow_empty=True),
                                   _case_files(setting_dir, case_id, where)))
    return cases


def _case_files(setting_dir: Path, case_id: str, where: str) -> tuple[Path, ...]:
    def first(*names: str) -> Path | None:
        return next((setting_dir / n for n in names if (setting_dir / n).is_file()), None)

    single = first(f"{case_id}.csv.gz", f"{case_id}.csv")
    if single:
        return (single,)
    numerator = first(f"{case_id}.a.csv.gz", f"{case_id}.a.csv")
    denominator = first(f"{case_id}.b.csv.gz", f"{case_id}.b.csv")
    if numerator and denominator:
        return (numerator, denominator)
    raise BenchDataError(f"{where}: no {case_id}.csv[.gz] nor {case_id}.a.csv + {case_id}.b.csv in {setting_dir}")


def load_case(case: BenchCase) -> tuple[pl.DataFrame, list[str]]:
    """The case as a localize() frame and its dimension names."""
    if case.kind == "additive":
        frame = _read_leaves(case.files[0])
        return frame, [c for c in frame.columns if c not in MEASURES]
    numerator, denominator = (_read_leaves(p) for p in case.files)
    dims = [c for c in numerator.columns if c not in MEASURES]
    if sorted(dims) != sorted(c for c in denominator.columns if c not in MEASURES):
        raise BenchDataError(f"{case.files[0]} and {case.files[1]}: dimension columns differ")
    frame = (numerator.rename({"real": "real_num", "predict": "predict_num"})
             .join(denominator.rename({"real": "real_den", "predict": "predict_den"}),
                   on=dims, how="full", coalesce=True, nulls_equal=True)
             .with_columns(pl.col("real_num", "predict_num", "real_den", "predict_den").fill_null(0.0)))
    return frame, dims


def _read_leaves(path: Path) -> pl.DataFrame:
    try:
        frame = pl.read_csv(path, infer_schema_length=0)  # all strings; measures cast below
    except Exception as exc:  # polars raises several types for unreadable CSV
        raise BenchDataError(f"{path}: cannot read as CSV ({exc})") from exc
    missing = [c for c in MEASURES if c not in frame.columns]
    if missing:
        raise BenchDataError(f"{path}: missing column(s) {missing}; has {frame.columns}")
    for col in MEASURES:
        values = frame[col].cast(pl.Float64, strict=False)
        bad = values.is_null() | (values < 0) | values.is_nan()
        if bad.any():
            row = bad.arg_max() or 0  # bad.any(): arg_max finds the first
            raise BenchDataError(f"{path}: row {row + 2} column {col!r} is {frame[col][row]!r}, "
                                 "not a non-negative number")
        frame = frame.with_columns(values.alias(col))
    return frame


def run_benchmark(dataset: Path, *, progress: Callable[[BenchCase, dict], None] | None = None,
                  **localize_options) -> BenchReport:
    """Localize every case and tally exact-match scores per setting and overall.

    Seconds per case time the localization alone (reading the CSV is not the
    method's cost), as the published figures do.
    """
    report = BenchReport()
    for case in discover_cases(dataset):
        frame, dims = load_case(case)
        started = time.perf_counter()
        causes = localize(frame, dims, kind=case.kind, alternatives=True, **localize_options)
        seconds = time.perf_counter() - started
        ranked = [frozenset(c.combination.items()) for c in causes]
        predicted = [frozenset(c.combination.items()) for c in causes if not c.alternative]
        report.overall.add(predicted, case.truth, seconds, ranked)
        report.settings.setdefault(case.setting, Tally()).add(predicted, case.truth, seconds, ranked)
        if progress:
            progress(case, score_case(predicted, case.truth, ranked))
    return report
