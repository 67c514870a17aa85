"""The signal registry: every signal the app, its configs and its commands name, defined once.

A signal declares here, and nowhere else:

- its stable snake_case `name` (URLs, SLO files, the CLI's `--signal`);
- `label` (charts, tables), `phrase` (inside sentences) and `unit` (how `format` writes a value);
- `group`, the Explorer's signal group;
- `kind`, how its value comes from the per-bucket count columns (`COUNTS`):
  `rate` = numerator / denominator counts, `mean` = sum / count, `quantile` = a
  per-bucket value that cannot be pooled, `sum` = a plain count;
- `direction`, the one encoding of which way is bad: `HIGHER_IS_WORSE` (+1),
  `LOWER_IS_WORSE` (-1) or `NEUTRAL` (0); every "is this worse" derives from it;
- `test`, how two groups or two stretches of time are compared: `two_proportion`
  on counts, `welch_log` on the log scale (latency, cost, tokens: a multiplicative
  change becomes a shift), `welch_mean` on plain means (a bounded score);
- `measures`, the request columns (contract.REQUEST_MEASURES) it is computed
  from. A store that lacks any of them (absent, or null in every row) does not have
  the signal: it is not drawn, offered, monitored or reported (`available`);
- `localize`, how segment localization counts it: `counts` (its own numerator and
  denominator per segment), `slow_share` (a sketched measure: the share of requests
  above the baseline's p95, or the baseline's own percentile for a tail) or None;
- `percentile`, for a `quantile` signal: which one it reads (0.5, 0.95, 0.99),
  from the measure's sketch; the verification soak judges "p95 <= L" on it;
- `tail`, for a tail percentile (p95, p99 of latency or of tokens): the
  percentile is tested on itself, as the share of requests above the
  baseline's value, a binomial count. Under no change that share stays 5% (1%);
  a change confined to the slowest (longest) requests moves it while the log
  mean barely moves. Change detection, attribution, segment maps and
  comparisons then treat the signal as a rate (`scale` is "rate", `quantile`
  the percentile as a fraction).

Rates and means are summed counts divided last, so any re-bucketing or cohort
total stays exact. The SQL count columns are generated from `COUNTS` (the
`@counts` marker in queries/*.sql, see `counts_sql`), so every query computes
them the same way, with the same casts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Literal

import polars as pl

Kind = Literal["rate", "mean", "quantile", "sum"]
Test = Literal["two_proportion", "welch_log", "welch_mean"]
Localize = Literal["counts", "slow_share"]

HIGHER_IS_WORSE, LOWER_IS_WORSE, NEUTRAL = 1, -1, 0


@dataclass(frozen=True)
class Count:
    """One per-bucket aggregate over request rows, as SQL, and the request column it reads."""

    name: str
    sql: str
    measure: str | None = None  # None: every request counts


# The count columns every counts frame holds (signal_series, diagnosis_rate_counts,
# reporting_slo_counts, segment_leaves). Sums are cast so every query returns the same types.
COUNTS: tuple[Count, ...] = (
    Count("requests", "count(*)"),
    Count("errors", "count(error_type)", "error_type"),
    Count("refused", "count(*) FILTER (WHERE refused)", "refused"),
    Count("task_success", "count(*) FILTER (WHERE task_success)", "task_success"),
    Count("task_success_n", "count(task_success)", "task_success"),
    Count("quality_sum", "sum(quality_score)::DOUBLE", "quality_score"),
    Count("quality_n", "count(quality_score)", "quality_score"),
    Count("policy_violations", "count(*) FILTER (WHERE policy_violation)", "policy_violation"),
    Count("guardrail_blocks", "count(*) FILTER (WHERE guardrail_blocked)", "guardrail_blocked"),
    Count("tool_calls", "sum(tool_calls)::BIGINT", "tool_calls"),
    Count("tool_errors", "sum(tool_errors)::BIGINT", "tool_errors"),
    Count("fallbacks", "count(*) FILTER (WHERE fallback_used)", "fallback_used"),
    Count("input_tokens", "sum(input_tokens)::BIGINT", "input_tokens"),
    Count("input_tokens_n", "count(input_tokens)", "input_tokens"),
    Count("output_tokens", "sum(output_tokens)::BIGINT", "output_tokens"),
    Count("output_tokens_n", "count(output_tokens)", "output_tokens"),
    Count("cost_usd", "sum(cost_usd)::DOUBLE", "cost_usd"),
    Count("cost_n", "count(cost_usd)", "cost_usd"),
)
COUNT_NAMES: tuple[str, ...] = tuple(c.name for c in COUNTS)


def counts_sql(indent: str = "    ") -> str:
    """The select list of every count column (what `@counts` in a query file expands to)."""
    return (",\n" + indent).join(f"{c.sql} AS {c.name}" for c in COUNTS)


@dataclass(frozen=True)
class Signal:
    name: str
    label: str
    phrase: str  # the signal inside a sentence ("refusal rate changed at 15:02")
    group: str
    kind: Kind
    unit: str  # "%", "ms", "$", "tokens", "req", "score"
    direction: int  # HIGHER_IS_WORSE, LOWER_IS_WORSE or NEUTRAL
    test: Test | None
    measures: tuple[str, ...] = ()  # request columns it needs; the first is the one tested
    numerator: str | None = None  # count column (rate, mean)
    denominator: str | None = None  # count column (rate, mean)
    column: str | None = None  # per-bucket column (quantile, sum)
    log_mean: str | None = None  # per-bucket mean of ln(value), for log-scale tests
    log_var: str | None = None
    var: str | None = None  # per-row variance column, for tests on plain means
    localize: Localize | None = None
    excess_noun: str = ""  # what one event beyond the baseline is called in an impact ("extra refusals")
    incident_type: str = "quality_regression"  # the type an incident opened on this signal gets
    percentile: float | None = None  # the percentile a quantile signal reads (0.5, 0.95, 0.99)
    tail: bool = False  # tested on the percentile itself: the share above the baseline's value

    # -- what derives from the declaration ----------------------------------

    @property
    def scale(self) -> Literal["rate", "log", "mean"]:
        """The scale diagnosis tests on: 'rate' (counts), 'log' (log-scale moments) or 'mean'.

        A tail percentile is a rate: the count of requests slower than the baseline's value.
        """
        if self.tail:
            return "rate"
        scales: dict[str, Literal["rate", "log", "mean"]] = {
            "two_proportion": "rate", "welch_log": "log", "welch_mean": "mean"}
        return scales[self.test or "two_proportion"]

    @property
    def quantile(self) -> float | None:
        """The tail percentile as a fraction (0.95 for a p95 tested as a tail); None for other signals."""
        return self.percentile if self.tail else None

    @property
    def percentile_label(self) -> str:
        """"p95" for a signal reading the 95th percentile; "" for signals that read none."""
        return f"p{round(self.percentile * 100)}" if self.percentile is not None else ""

    # The count and value columns as plain names, for code that has already chosen by kind: a
    # rate or mean always declares both counts, a quantile or sum its column.
    @property
    def numerator_column(self) -> str:
        return self._declared("numerator", self.numerator)

    @property
    def denominator_column(self) -> str:
        return self._declared("denominator", self.denominator)

    @property
    def value_column(self) -> str:
        return self._declared("column", self.column)

    def _declared(self, field: str, value: str | None) -> str:
        if value is None:
            raise ValueError(f"signal {self.name} ({self.kind}) declares no {field}")
        return value

    @property
    def measure(self) -> str | None:
        """The request column a log-scale or mean test reads."""
        return self.measures[0] if self.measures else None

    @property
    def pooled(self) -> bool:
        """Whether a window's value is exact from summed counts (not so for a quantile)."""
        return self.kind in ("rate", "mean")

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns of a counts frame its value is computed from."""
        return tuple(c for c in (self.numerator, self.denominator, self.column) if c)

    @property
    def comparator(self) -> str:
        """How a limit on this signal reads: at most (higher is worse) or at least."""
        return ">=" if self.direction == LOWER_IS_WORSE else "<="

    def is_worse(self, delta: float | None) -> bool:
        """Whether a change of `delta` goes the bad way."""
        return delta is not None and self.direction * delta > 0

    def format(self, value: float | None) -> str:
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return "–"
        if self.unit == "%":
            return f"{value * 100:.1f}%"
        if self.unit == "ms":
            return f"{value:,.0f} ms"
        if self.unit == "$":
            return f"${value:.4f}"
        if self.unit == "score":
            return f"{value:.3f}"
        return f"{value:,.0f}"

    @property
    def exceeds(self) -> str:
        """How a request beyond a limit on this measure is said: "slower than" (a duration) or "above"."""
        return "slower than" if self.unit == "ms" else "above"

    def beyond(self, limit: float) -> str:
        """"slower than 1,500 ms", "above 4,000 tokens": the requests a tail percentile counts."""
        return f"{self.exceeds} {self.format(limit)}{' tokens' if self.unit == 'tokens' else ''}"

    def format_level(self, value: float | None) -> str:
        """A level on the scale diagnosis tests on: a tail percentile's is the share slower than its baseline."""
        if self.tail and value is not None and math.isfinite(value):
            return f"{value * 100:.1f}% of requests over the baseline {self.percentile_label}"
        return self.format(value)

    def format_effect(self, effect: float, effect_label: str) -> str:
        """A change as diagnosis measures it: a ratio as a percentage, a rate in points."""
        if effect_label == "ratio":
            return f"{100 * (effect - 1):+.1f}%"
        if self.scale == "rate":
            return f"{100 * effect:+.1f} pts"
        return f"{effect:+.3g}"


# the three latency percentiles share every field but their names, column and tail
_latency = partial(Signal, group="latency", kind="quantile", unit="ms", direction=HIGHER_IS_WORSE, test="welch_log",
                   measures=("latency_ms",), log_mean="log_latency_mean", log_var="log_latency_var",
                   localize="slow_share", incident_type="latency_spike")


def _token_tail(name: str, label: str, phrase: str, measures: tuple[str, ...], **fields) -> Signal:
    """A token-count tail percentile: its column is named after the signal, read from the measure's sketch."""
    return Signal(name, label, phrase, "tokens", "quantile", "tokens", HIGHER_IS_WORSE, "welch_log", measures,
                  column=name, localize="slow_share", incident_type="cost_blowup", tail=True, **fields)


SIGNALS: tuple[Signal, ...] = (
    Signal("requests", "Requests", "requests", "traffic", "sum", "req", NEUTRAL, None, column="requests"),
    # a store where no request ever carries an error type cannot tell "no errors" from "errors not recorded"
    Signal("error_rate", "Error rate", "error rate", "reliability", "rate", "%", HIGHER_IS_WORSE, "two_proportion",
           ("error_type",), numerator="errors", denominator="requests", localize="counts", excess_noun="extra errors",
           incident_type="tool_degradation"),
    _latency("latency_p50_ms", "Latency p50", "latency (geometric mean)", column="latency_p50_ms", percentile=0.5),
    # tested on the percentile itself (the share slower than the baseline's p95/p99), not on the log mean
    _latency("latency_p95_ms", "Latency p95", "latency p95", column="latency_p95_ms", percentile=0.95, tail=True),
    _latency("latency_p99_ms", "Latency p99", "latency p99", column="latency_p99_ms", percentile=0.99, tail=True),
    Signal("ttft_ms", "Time to first token p50", "time to first token", "latency", "quantile", "ms",
           HIGHER_IS_WORSE, "welch_log", ("ttft_ms",), column="ttft_p50_ms", log_mean="log_ttft_mean",
           log_var="log_ttft_var", incident_type="latency_spike", percentile=0.5),
    Signal("input_tokens_per_request", "Input tokens / request", "input tokens per request", "cost", "mean",
           "tokens", HIGHER_IS_WORSE, "welch_log", ("input_tokens",), "input_tokens", "input_tokens_n",
           log_mean="log_input_tokens_mean", log_var="log_input_tokens_var", incident_type="cost_blowup"),
    Signal("output_tokens_per_request", "Output tokens / request", "output tokens per request", "cost", "mean",
           "tokens", HIGHER_IS_WORSE, "welch_log", ("output_tokens",), "output_tokens", "output_tokens_n",
           log_mean="log_output_tokens_mean", log_var="log_output_tokens_var", localize="counts",
           incident_type="cost_blowup"),
    Signal("cost_per_request", "Cost / request", "cost per request (geometric mean)", "cost", "mean", "$",
           HIGHER_IS_WORSE, "welch_log", ("cost_usd",), "cost_usd", "cost_n",
           log_mean="log_cost_mean", log_var="log_cost_var", localize="counts", incident_type="cost_blowup"),
    Signal("task_success_rate", "Task success (deflection)", "task success rate", "quality", "rate", "%",
           LOWER_IS_WORSE, "two_proportion", ("task_success",), "task_success", "task_success_n",
           localize="counts", excess_noun="tickets not deflected"),
    Signal("quality_score", "Quality score", "quality score", "quality", "mean", "score", LOWER_IS_WORSE,
           "welch_mean", ("quality_score",), "quality_sum", "quality_n", var="quality_var"),
    Signal("refusal_rate", "Refusal rate", "refusal rate", "safety", "rate", "%", HIGHER_IS_WORSE,
           "two_proportion", ("refused",), "refused", "requests", localize="counts",
           excess_noun="extra refusals"),
    Signal("policy_violation_rate", "Policy violations", "policy violation rate", "safety", "rate", "%",
           HIGHER_IS_WORSE, "two_proportion", ("policy_violation",), "policy_violations", "requests",
           localize="counts", excess_noun="extra policy violations", incident_type="safety_pressure"),
    Signal("guardrail_block_rate", "Guardrail blocks", "guardrail block rate", "safety", "rate", "%",
           HIGHER_IS_WORSE, "two_proportion", ("guardrail_blocked",), "guardrail_blocks", "requests",
           incident_type="safety_pressure"),
    Signal("tool_error_rate", "Tool errors / call", "tool error rate", "reliability", "rate", "%",
           HIGHER_IS_WORSE, "two_proportion", ("tool_errors", "tool_calls"), "tool_errors", "tool_calls",
           localize="counts", incident_type="tool_degradation"),
    Signal("fallback_rate", "Fallback rate", "fallback rate", "reliability", "rate", "%", HIGHER_IS_WORSE,
           "two_proportion", ("fallback_used",), "fallbacks", "requests", localize="counts",
           excess_noun="extra fallbacks", incident_type="tool_degradation"),
    # the longest prompts and answers: a change in the tail of token counts (a model that rambles on some
    # requests, a retrieval step that stuffs some prompts) that the per-request mean dilutes
    _token_tail("input_tokens_p95", "Input tokens p95", "input tokens p95", ("input_tokens",),
                log_mean="log_input_tokens_mean", log_var="log_input_tokens_var", percentile=0.95),
    _token_tail("input_tokens_p99", "Input tokens p99", "input tokens p99", ("input_tokens",),
                log_mean="log_input_tokens_mean", log_var="log_input_tokens_var", percentile=0.99),
    _token_tail("output_tokens_p95", "Output tokens p95", "output tokens p95", ("output_tokens",),
                log_mean="log_output_tokens_mean", log_var="log_output_tokens_var", percentile=0.95),
    _token_tail("output_tokens_p99", "Output tokens p99", "output tokens p99", ("output_tokens",),
                log_mean="log_output_tokens_mean", log_var="log_output_tokens_var", percentile=0.99),
)

BY_NAME: dict[str, Signal] = {s.name: s for s in SIGNALS}
GROUP_ORDER = ("quality", "safety", "latency", "cost", "tokens", "reliability", "traffic")
GROUPS: dict[str, list[str]] = {g: [s.name for s in SIGNALS if s.group == g] for g in GROUP_ORDER}
# the signals a regression can be looked for on (traffic volume has no bad direction)
DIAGNOSABLE: tuple[str, ...] = tuple(s.name for s in SIGNALS if s.test is not None)


def get(name: str) -> Signal:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown signal {name!r}; known: {', '.join(BY_NAME)}") from None


def is_known(name: str) -> bool:
    return name in BY_NAME


def label(name: str) -> str:
    """A signal's display label (a name the registry does not know is shown as given)."""
    return BY_NAME[name].label if name in BY_NAME else name


def format_value(name: str, value: float | None) -> str:
    if name in BY_NAME:
        return BY_NAME[name].format(value)
    return "–" if value is None else f"{value:.3g}"


def available(present_measures: Iterable[str], names: Iterable[str] | None = None) -> list[str]:
    """The signals (of `names`, default all, in registry order) whose every measure the store has."""
    have = set(present_measures)
    wanted = set(names) if names is not None else None
    return [s.name for s in SIGNALS if (wanted is None or s.name in wanted) and set(s.measures) <= have]


def expression(signal: Signal) -> pl.Expr:
    """The signal's value from one row of counts (a bucket, a cohort or a window)."""
    if signal.pooled:
        den = pl.col(signal.denominator_column).cast(pl.Float64)
        return pl.when(den > 0).then(pl.col(signal.numerator_column).cast(pl.Float64) / den).otherwise(None)
    return pl.col(signal.value_column).cast(pl.Float64)


def with_signals(counts: pl.DataFrame, names: list[str] | None = None) -> pl.DataFrame:
    """Add one column per signal (named by the signal) to a frame of counts."""
    chosen = [get(n) for n in names] if names else list(SIGNALS)
    # a sum signal is already a column of the counts frame under its own name
    return counts.with_columns([expression(s).alias(s.name) for s in chosen if s.name != s.column])


def value_of(signal: Signal, row: dict) -> float | None:
    """The signal's value from one dict of counts; None when it has no samples (or its column is null)."""
    if signal.pooled:
        den = row.get(signal.denominator) or 0
        num = row.get(signal.numerator)
        return None if den <= 0 or num is None else float(num) / float(den)
    v = row.get(signal.column)
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def pooled_value(signal: Signal, frame: pl.DataFrame) -> float | None:
    """The signal over all rows of `frame` taken together (rates and means only)."""
    if not signal.pooled:
        raise ValueError(f"{signal.name} is a {signal.kind}; it cannot be pooled from buckets")
    if frame.is_empty():
        return None
    den = float(frame[signal.denominator_column].sum() or 0)
    if den <= 0:
        return None
    return float(frame[signal.numerator_column].sum() or 0) / den

