"""Side-by-side comparisons the explorer offers: cohorts by version, before/after a release.

Each comparison is between two rows of counts (a cohort's totals, a window's
totals), tested the way its signal is built: rates with a two-proportion test,
latency and cost on the log scale (Welch), plain means with a Welch z.
Latency percentiles are tested on the percentile itself: the share of
requests slower than the baseline side's p95 (p99) is a binomial count, and
under no change it is the same 5% (1%) on both sides (`quantile_test`).
A cohort comparison is stratified by whatever else differs between the
versions' traffic (`compare_strata`): rates are tested within those strata
(Cochran-Mantel-Haenszel), other signals say what they are not adjusted for.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta

import polars as pl
from scipy import stats as sps

from dashboard.core.stats import SCREENING_ALPHA, two_proportion_test, welch_log_test
from dashboard.core.telemetry import signals as sig
from dashboard.core.telemetry import sketch
from dashboard.core.telemetry.compare_strata import confounders, stratified_rate_test
from dashboard.core.telemetry.query import Scope, TelemetryStore, bucket_params

NOISE_ALPHA = SCREENING_ALPHA  # many signals are compared at once (core/stats.py says why 0.01)


@dataclass(frozen=True)
class Comparison:
    signal: str
    label: str
    baseline: float | None
    value: float | None
    delta: float | None
    relative: float | None
    n_baseline: int
    n_value: int
    p_value: float | None
    beyond_noise: bool
    worse: bool
    test: str
    adjusted_for: str = ""  # columns whose mix differed between the cohorts (stratified on, for rates)

    def to_json_dict(self) -> dict:
        return asdict(self)


def compare(signal: sig.Signal, base: dict, other: dict) -> Comparison:
    """Compare `other` against `base`, two dicts of counts as the series query returns them.

    A side without samples of the signal (no denominator, a column null in every
    row) has no value and no test: the comparison says so rather than failing.
    """
    a = sig.value_of(signal, base)
    b = sig.value_of(signal, other)
    n_a, n_b = _size(signal, base), _size(signal, other)
    p, test, tested_sign = _p_value(signal, base, other, n_a, n_b) if a is not None and b is not None \
        else (None, "no data on one side", None)
    delta = None if a is None or b is None else b - a
    relative = None if delta is None or not a else delta / a
    # a quantile is judged by the log-scale mean: only claim a change both agree on
    agrees = tested_sign is None or delta is None or tested_sign * delta > 0
    beyond = p is not None and p < NOISE_ALPHA and agrees
    worse = bool(beyond and signal.is_worse(delta))
    return Comparison(signal.name, signal.label, a, b, delta, relative, n_a, n_b, p, beyond, worse, test)


def _size(signal: sig.Signal, row: dict) -> int:
    return int(row.get(signal.denominator or "requests") or 0)


def _finite(*values) -> bool:
    return all(v is not None and math.isfinite(float(v)) for v in values)


def _p_value(signal: sig.Signal, a: dict, b: dict, n_a: int, n_b: int) -> tuple[float | None, str, int | None]:
    """(p-value, test name, sign of the tested difference when it is not the signal's own)."""
    try:
        if signal.test == "two_proportion" and n_a > 0 and n_b > 0:
            rates = two_proportion_test(a[signal.numerator] or 0, n_a, b[signal.numerator] or 0, n_b)
            return rates.p_value, rates.test, None
        if signal.test == "welch_log" and n_a > 1 and n_b > 1 and _finite(
                a.get(signal.log_mean), a.get(signal.log_var), b.get(signal.log_mean), b.get(signal.log_var)):
            r = welch_log_test(n_a, a[signal.log_mean], a[signal.log_var], n_b, b[signal.log_mean], b[signal.log_var])
            return r.p_value, r.test, (1 if r.ratio > 1 else -1)
        if signal.test == "welch_mean" and n_a > 1 and n_b > 1 and _finite(a.get(signal.var), b.get(signal.var)):
            se = math.sqrt(a[signal.var] / n_a + b[signal.var] / n_b)
            if se > 0:
                mean_a, mean_b = sig.value_of(signal, a), sig.value_of(signal, b)
                if mean_a is not None and mean_b is not None:  # both have samples: _finite checked the variances
                    z = (mean_b - mean_a) / se
                    return float(2 * sps.norm.sf(abs(z))), "Welch z on means", None
    except (ValueError, ZeroDivisionError):
        pass
    return None, "not testable (too few samples)", None


def comparisons_frame(rows: list[Comparison]) -> pl.DataFrame:
    return pl.DataFrame([r.to_json_dict() for r in rows]) if rows else pl.DataFrame()


def cohort_column(store: TelemetryStore, what: str) -> str:
    """The request column a cohort comparison groups by: an artifact kind's version column, or a segment."""
    if what in store.schema.artifacts:
        return store.schema.artifact_column(what)
    if what in store.schema.segments or what == "service":
        return what
    raise KeyError(f"nothing to compare by {what!r}; artifacts: {sorted(store.schema.artifacts)}, "
                   f"segments: {store.schema.segments}")


def comparable(store: TelemetryStore) -> list[str]:
    """What cohorts can be formed by: every artifact kind, then every segment and the service."""
    return [*store.schema.artifacts, *store.schema.segments, "service"]


def overlap_minutes(store: TelemetryStore, kind: str, start: datetime, end: datetime,
                    filters: dict | None = None, min_share: float = 0.05) -> tuple[datetime, ...]:
    """Minutes in which at least two versions each served `min_share` of the traffic.

    Comparing versions only inside these minutes (a canary, a ramp, a rollback)
    cancels time-of-day and everything else that changed at the same time.
    """
    column = cohort_column(store, kind)
    per_minute = store.run_sql("version_mix", {}, Scope.of(start, end, filters, by=column))
    if per_minute.is_empty():
        return ()
    shares = per_minute.with_columns(
        (pl.col("requests") / pl.col("requests").sum().over("minute")).alias("share"))
    mixed = (shares.filter(pl.col("share") >= min_share).group_by("minute").agg(pl.len().alias("versions"))
             .filter(pl.col("versions") >= 2).sort("minute"))
    return tuple(mixed["minute"].to_list())


def cohort_comparison(store: TelemetryStore, kind: str, start: datetime, end: datetime,
                      filters: dict | None = None, names: list[str] | None = None,
                      baseline: str | None = None, same_minutes: bool = True) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each version of an artifact kind (or each value of a segment) against a baseline one.

    With `same_minutes`, only the minutes where versions overlapped count (when
    there are any); otherwise the whole window. Returns (totals per version with
    sample sizes, comparisons per version and signal). The baseline defaults to the
    previous version of the first release of this kind in the window.
    """
    column = cohort_column(store, kind)
    minutes = overlap_minutes(store, kind, start, end, filters) if same_minutes else ()
    totals = (store.window_totals([("window", start, end)], filters, by=column, minutes=minutes)
              .with_columns(pl.lit(len(minutes)).alias("overlap_minutes"))
              .sort("requests", descending=True))
    versions = [v for v in totals[column].to_list() if v is not None]
    if not versions:
        return totals, pl.DataFrame()
    base_version = (baseline if baseline is not None and baseline in versions
                    else default_baseline(store, kind, start, end, versions))
    rows = {r[column]: r for r in totals.iter_rows(named=True)}
    # a signal the store has no values of is not compared (it would read as 0 where it is unknown)
    have = set(store.signals())
    chosen = [sig.get(n) for n in (names or sig.DIAGNOSABLE) if sig.get(n).test is not None and n in have]
    others = [c for c in store.schema.dimension_columns if c != column and c not in (filters or {})]
    leaves = store.segment_leaves([("window", start, end)], [column, *others], filters, minutes=minutes)
    bins = tail_bins(store, chosen, Scope.of(start, end, filters, by=column, minutes=minutes))
    out = []
    for v in versions:
        if v == base_version:
            continue
        mixed = confounders(leaves, column, others, [base_version, v])
        out += [{"version": v, **_unconfounded(
            quantile_test(s, compare(s, rows[base_version], rows[v]), rows[base_version], bins, base_version, v),
            s, leaves, column, mixed, base_version, v).to_json_dict()} for s in chosen]
    return totals.with_columns(pl.col(column).alias("version")), pl.DataFrame(out) if out else pl.DataFrame()


def tail_bins(store: TelemetryStore, signals: list[sig.Signal], scope: Scope) -> pl.DataFrame:
    """The merged sketch bins of every side of a comparison at once (`grp`: the cohort or the
    window; queries/signal_quantile_bins.sql over the whole scope), each with the value it
    reports; an empty frame when none of `signals` is a tail.

    One scan of the sketch cells serves every side and measure: a cohort comparison asked
    one query per version, side and measure before (12 on a day of three prompt versions).
    """
    if not any(s.tail and s.measure is not None for s in signals):
        return pl.DataFrame()
    whole = bucket_params(scope.end - scope.start, scope.start, whole_window=True)
    bins = store.run_sql("signal_quantile_bins", whole, scope)
    return bins.with_columns(value=pl.Series(sketch.bin_values(bins["bin"].to_numpy()), dtype=pl.Float64))


def tail_counts(bins: pl.DataFrame, group: str, measure: str, threshold: float) -> tuple[int, int]:
    """(requests whose `measure` is above `threshold`, requests with the measure) in one group of
    `tail_bins`: a request is judged by its sketch bin's value, as incident_slow_share does, in the
    arithmetic the threshold (a series percentile: sketch.quantile_columns) was read with."""
    if bins.is_empty():
        return 0, 0
    rows = bins.filter((pl.col("grp") == group) & (pl.col("measure") == sketch.SKETCHED.index(measure) + 1))
    return int(rows.filter(pl.col("value") > threshold)["n"].sum()), int(rows["n"].sum())


def quantile_test(signal: sig.Signal, result: Comparison, base_row: dict, bins: pl.DataFrame,
                  base_group: str, other_group: str) -> Comparison:
    """A tail percentile (latency, tokens) tested on itself: the share above the baseline's value, both sides.

    The log-mean test answers "did typical latency move"; a p95 alert asks
    whether the slow tail grew, which a change confined to the tail (a
    timeout path, a cold cache for some requests) moves without moving the
    mean. Requests slower than the baseline's p95 are counted on both sides
    (the counts the soak also pools) and compared as rates; `bins` holds both
    sides' sketches (`tail_bins`), `base_group` and `other_group` name them.
    """
    label = signal.percentile_label
    threshold = base_row.get(signal.column or signal.name)
    if not signal.tail or signal.measure is None or threshold is None or not math.isfinite(float(threshold)):
        return result
    counts = [tail_counts(bins, group, signal.measure, float(threshold)) for group in (base_group, other_group)]
    (x_a, n_a), (x_b, n_b) = counts
    if n_a <= 0 or n_b <= 0:
        return result
    r = two_proportion_test(x_a, n_a, x_b, n_b)
    beyond = r.p_value < NOISE_ALPHA
    text = (f"share {signal.exceeds} the baseline {label} ({signal.format(float(threshold))}): {x_a / n_a:.1%} → "
            f"{x_b / n_b:.1%} "
            f"({r.test})")
    return replace(result, p_value=r.p_value, beyond_noise=beyond,
                   worse=bool(beyond and signal.is_worse(x_b / n_b - x_a / n_a)), test=text)


def _unconfounded(result: Comparison, signal: sig.Signal, leaves: pl.DataFrame, column: str,
                  mixed: list[str], baseline: str, version: str) -> Comparison:
    """The comparison within the strata of `mixed`, or what it is not adjusted for."""
    if not mixed or result.p_value is None:
        return result
    adjusted = ", ".join(mixed)
    if signal.test != "two_proportion":
        return replace(result, adjusted_for=adjusted,
                       test=f"{result.test}; not adjusted for {adjusted}, whose mix differs between the versions")
    strat = stratified_rate_test(leaves, column, mixed, baseline, version, signal.numerator_column,
                                 signal.denominator or "requests")
    beyond = strat.p_value is not None and strat.p_value < NOISE_ALPHA and strat.sign != 0
    # the direction is the stratified one: within each stratum, did the version do worse?
    worse = bool(beyond and signal.is_worse(float(strat.sign)))
    return replace(result, p_value=strat.p_value, beyond_noise=beyond, worse=worse, test=strat.test,
                   adjusted_for=adjusted)


def default_baseline(store: TelemetryStore, kind: str, start: datetime, end: datetime, versions: list[str]) -> str:
    if kind not in store.schema.artifacts:  # a segment: the value with the most traffic
        return versions[0]
    rel = store.releases(start, end).filter(pl.col("artifact") == kind)
    if rel.height:
        previous = rel.row(0, named=True)["previous_version"]
        if previous in versions:
            return previous
    return versions[0]


def before_after(store: TelemetryStore, at: datetime, minutes: int = 30, filters: dict | None = None,
                 names: list[str] | None = None) -> pl.DataFrame:
    """Every signal in the `minutes` before and after `at` (e.g. a release)."""
    span = timedelta(minutes=minutes)
    windows = [("before", at - span, at), ("after", at, at + span)]
    totals = store.window_totals(windows, filters)
    rows = {r["grp"]: r for r in totals.iter_rows(named=True)}
    if "before" not in rows or "after" not in rows:
        return pl.DataFrame()
    have = set(store.signals())
    chosen = [sig.get(n) for n in (names or [s.name for s in sig.SIGNALS]) if n in have]
    bins = tail_bins(store, chosen, Scope.of(at - span, at + span, filters, windows=windows))
    return comparisons_frame([quantile_test(s, compare(s, rows["before"], rows["after"]), rows["before"], bins,
                                            "before", "after") for s in chosen])


def moved_with(store: TelemetryStore, signal: str, at: datetime, filters: dict | None = None,
               minutes: int = 30) -> list[str]:
    """Other signals that got worse beyond noise across `at` (the hour around a regression), largest change first.

    An incident opened on refusals should also be verified on what users felt
    with them (deflection, quality): these are proposed alongside.
    """
    frame = before_after(store, at, minutes, filters)
    if frame.is_empty():
        return []
    moved = frame.filter(pl.col("worse") & pl.col("beyond_noise") & (pl.col("signal") != signal)
                         & (pl.col("signal") != "requests"))
    # all of them are beyond noise; "worst" is the largest relative change
    return moved.sort(pl.col("relative").abs(), descending=True, nulls_last=True)["signal"].to_list()
