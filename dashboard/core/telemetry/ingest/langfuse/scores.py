"""Langfuse scores joined onto the generations they judge, as contract measures.

`join_scores(score_files, generations, mapping)` returns a `ScoreJoin`: one
row per scored request (request_id plus quality_score / user_feedback /
task_success), the score rows that could not be used (with their reason, for
quarantine) and counts that account for every score row.

- A score names its observation (observation_id) or only its trace. A trace
  score goes to the trace's last generation (the answer the user saw) or,
  with `trace_scores = "all"`, to every generation of the trace. A score on an
  observation that is not a generation here (a span, say) falls back to its trace.
- The mapping names the score for each measure and its scale: a 1–5 judge
  score is rescaled to 0..1, a 0/1 thumbs score maps to -1/+1, a BOOLEAN
  score is true/false. Several scores of one name on one request: the latest wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from dashboard.core.telemetry.ingest.langfuse.export import SCORE_FIELDS, locate
from dashboard.core.telemetry.ingest.langfuse.mapping import LangfuseMapping, ScoreRule
from dashboard.core.telemetry.ingest.parse import parse_timestamp
from dashboard.core.telemetry.ingest.read import SourceFile
from dashboard.core.telemetry.mapping import TimestampSpec

MEASURE_TYPES = {"quality_score": pl.Float64, "user_feedback": pl.Int8, "task_success": pl.Boolean}
TRUE_WORDS = {"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0}


@dataclass
class ScoreJoin:
    measures: pl.DataFrame                   # request_id + one column per mapped measure
    rejected: list[pl.DataFrame] = field(default_factory=list)  # quarantine-shaped score rows
    counts: dict = field(default_factory=dict)


def score_value(rule: ScoreRule, target: str, value: float | None, text: str | None) -> tuple[object, str | None]:
    """The measure's value for one score, or (None, why not)."""
    word = (text or "").strip().lower()
    if rule.values is not None:
        for key in (word, _number_text(value)):
            if key is not None and key in rule.values:
                return _cast(target, rule.values[key]), None
        return None, f"value {text or value!r} is not listed in langfuse.scores.{target}.values"
    if value is None and word in TRUE_WORDS:
        value = TRUE_WORDS[word]
    if value is None:
        return None, (f"score has no numeric value (got {text!r}); "
                      f"list its categories in langfuse.scores.{target}.values")
    low, high = rule.scale or ((0.0, 1.0) if target != "user_feedback" else (0.0, 1.0))
    if not low <= value <= high:
        return None, f"value {value:g} outside the declared scale [{low:g}, {high:g}]"
    unit = (value - low) / (high - low)
    if target == "quality_score":
        return unit, None
    if target == "user_feedback":
        return (1 if unit > 0.5 else -1 if unit < 0.5 else 0), None
    threshold = rule.threshold if rule.threshold is not None else 0.5
    return unit >= threshold, None


def _number_text(value: float | None) -> str | None:
    if value is None:
        return None
    return f"{value:g}"


def _cast(target: str, value: float):
    if target == "task_success":
        return bool(value)
    if target == "user_feedback":
        return int(value)
    return float(value)


def _frame_columns(source: SourceFile) -> dict[str, pl.Series]:
    frame = source.frame
    found = locate(frame.columns, SCORE_FIELDS)

    def col(name: str) -> pl.Series:
        if name not in found:
            return pl.Series(name, [None] * frame.height, dtype=pl.String)
        series = frame[found[name]]
        return series if name == "timestamp" else series.cast(pl.String, strict=False)

    ts = parse_timestamp(col("timestamp"), TimestampSpec()).values if "timestamp" in found else \
        pl.Series([None] * frame.height, dtype=pl.Datetime("us", "UTC"))
    return {"observation_id": col("observation_id"), "trace_id": col("trace_id"), "name": col("name"),
            "value": col("value"), "string_value": col("string_value"), "timestamp": ts,
            "row_number": source.row_numbers}


def join_scores(score_files: list[SourceFile], generations: pl.DataFrame, mapping: LangfuseMapping) -> ScoreJoin:
    """`generations`: request_id, trace_id, ts of every generation read (accepted or not)."""
    by_name = {rule.name: (target, rule) for target, rule in mapping.scores.items()}
    gen_ids = set(generations["request_id"].drop_nulls().to_list())
    trace_gens: dict[str, list[tuple]] = {}
    for rid, tid, ts in generations.select("request_id", "trace_id", "ts").iter_rows():
        if rid is not None and tid is not None:
            trace_gens.setdefault(tid, []).append((ts, rid))
    last_of_trace = {tid: max(items, key=lambda x: (x[0] is not None, x[0] or 0, x[1]))[1]
                     for tid, items in trace_gens.items()}
    counts = {"rows": 0, "joined": 0, "not_mapped": 0, "unmatched": 0, "rejected": 0}
    by_measure: dict[str, int] = {}  # joined scores per target measure
    picked: dict[tuple[str, str], tuple] = {}  # (request_id, target) -> (timestamp, order, value)
    rejected: list[pl.DataFrame] = []
    order = 0
    for source in score_files:
        cols = _frame_columns(source)
        counts["rows"] += source.rows
        reasons: list[tuple[int, str, str]] = []  # (row index, field, reason)
        for i in range(source.frame.height):
            name = cols["name"][i]
            if name not in by_name:
                counts["not_mapped"] += 1
                continue
            target, rule = by_name[name]
            raw_value, text = cols["value"][i], cols["string_value"][i]
            try:
                number = float(raw_value) if raw_value not in (None, "") else None
            except ValueError:
                number, text = None, text or raw_value
            value, problem = score_value(rule, target, number, text)
            if problem:
                reasons.append((i, target, f"{target} (score {name!r}): {problem}"))
                continue
            obs, trace = cols["observation_id"][i], cols["trace_id"][i]
            if obs and obs in gen_ids:
                targets = [obs]
            elif trace in trace_gens:
                targets = [rid for _, rid in trace_gens[trace]] if mapping.trace_scores == "all" \
                    else [last_of_trace[trace]]
            else:
                counts["unmatched"] += 1
                continue
            counts["joined"] += 1
            by_measure[target] = by_measure.get(target, 0) + 1
            ts = cols["timestamp"][i]
            order += 1
            for rid in targets:
                key = (rid, target)
                rank = (ts is not None, ts, order)
                if key not in picked or rank > picked[key][0]:
                    picked[key] = (rank, value)
        counts["rejected"] += len(reasons)
        if reasons:
            rejected.append(_quarantine(source, reasons))
        counts["rejected"] += source.bad_lines.height
        if source.bad_lines.height:
            rejected.append(pl.DataFrame({
                "source_file": [str(source.path)] * source.bad_lines.height,
                "row_number": source.bad_lines["row_number"],
                "field": ["(line)"] * source.bad_lines.height,
                "reason": ["line is not a JSON object"] * source.bad_lines.height,
                "original_line": source.bad_lines["line"],
            }))
    measures = _measures_frame(picked, list(mapping.scores))
    return ScoreJoin(measures, rejected, {**counts, "by_measure": by_measure})


def _measures_frame(picked: dict, targets: list[str]) -> pl.DataFrame:
    ids = sorted({rid for rid, _ in picked})
    data: dict[str, pl.Series] = {"request_id": pl.Series(ids, dtype=pl.String)}
    for target in targets:
        data[target] = pl.Series([picked[(rid, target)][1] if (rid, target) in picked else None for rid in ids],
                                 dtype=MEASURE_TYPES[target])
    return pl.DataFrame(data)


def _quarantine(source: SourceFile, reasons: list[tuple[int, str, str]]) -> pl.DataFrame:
    rows = [i for i, _, _ in reasons]
    original = source.frame[rows].select(pl.all().cast(pl.String, strict=False))
    original = original.rename({c: f"original_{c}" for c in original.columns
                                if c in ("source_file", "row_number", "field", "reason")})
    meta = pl.DataFrame({
        "source_file": [str(source.path)] * len(rows),
        "row_number": source.row_numbers.gather(rows),
        "field": [f for _, f, _ in reasons],
        "reason": [r for _, _, r in reasons],
    }, schema_overrides={"row_number": pl.Int64})
    return pl.concat([meta, original], how="horizontal")
