"""The rollups' sketches answer as the request rows do, within their stated bounds.

Distinct users (an impact's "users affected") from the HyperLogLog registers
(user_sketch.BOUND); the distributions panel's percentiles and histogram from the
quantile sketch (sketch.RELATIVE_ERROR). The reference answers are computed here
with Polars straight from the request files, on random windows and filters.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from dashboard.core.datadir import DataDir
from dashboard.core.reporting.impact_store import distinct_users
from dashboard.core.telemetry import rollup, rollup_verify, sketch, user_sketch
from dashboard.core.telemetry.compact import request_files
from dashboard.core.telemetry.distributions import distribution_measures, histogram
from dashboard.core.telemetry.query import Scope, TelemetryStore
from tests.fixtures import raw_rows


def _span(store: TelemetryStore) -> tuple[datetime, datetime]:
    first, last, _ = store.time_range()
    assert first is not None and last is not None
    return first.astimezone(UTC), last.astimezone(UTC)


def _windows(store: TelemetryStore, rows: pl.DataFrame, seed: int, count: int):
    """Random [a, b) windows (edges anywhere inside a minute, minutes to a day and a half long), half filtered."""
    first, last = _span(store)
    rng = random.Random(seed)
    dims = {d: rows[d].drop_nulls().unique().sort().to_list() for d in ("region", "tier", "language", "channel")}
    for i in range(count):
        length = timedelta(seconds=rng.choice([rng.uniform(60, 900), rng.uniform(3600, 6 * 3600),
                                               rng.uniform(6 * 3600, 36 * 3600)]))
        a = first + timedelta(seconds=rng.uniform(0, max(1.0, (last - first - length).total_seconds())))
        b = a + length
        filters = None
        if i % 2:
            dim = rng.choice(list(dims))
            filters = {dim: rng.sample(dims[dim], k=max(1, len(dims[dim]) // 2))}
        where = (pl.col("ts") >= a) & (pl.col("ts") < b)
        for dim, values in (filters or {}).items():
            where &= pl.col(dim).is_in(values)
        yield a, b, filters, rows.filter(where)


def test_python_twin_of_the_register_sql_agrees():
    ids = [f"u{i}" for i in range(3000)] + ["", "ü-ñ", "a'b"]
    store_regs = user_sketch.registers(ids)
    import duckdb

    con = duckdb.connect()
    for statement in user_sketch.macros_sql():
        con.execute(statement)
    got = dict(con.execute("SELECT hll_register(hll_hash(x)) AS reg, max(hll_rank(hll_hash(x))) FROM "
                           "(SELECT unnest($ids) AS x) GROUP BY reg", {"ids": ids}).fetchall())
    assert got == store_regs
    sql_count = con.execute("SELECT hll_count(rho) FROM (SELECT unnest($r) AS rho)",
                            {"r": list(store_regs.values())}).fetchall()[0][0]
    assert sql_count == pytest.approx(user_sketch.estimate(store_regs), rel=1e-12)


def test_distinct_users_within_the_bound_on_random_windows_and_filters(two_demo_days):
    store = TelemetryStore(two_demo_days, cache=False)
    rows = raw_rows(two_demo_days)
    seen = []
    for a, b, filters, scope in _windows(store, rows, seed=5, count=24):
        want = scope["user_id"].n_unique() - int(scope["user_id"].null_count() > 0)
        got = distinct_users(store, a, b, {k: v for k, v in (filters or {}).items()})
        if want == 0:
            assert got in (None, 0)
            continue
        assert got is not None
        assert abs(got - want) <= max(1.0, user_sketch.BOUND * want), (a, b, filters, got, want)
        seen.append(want)
    assert min(seen) < 200 and max(seen) > 4 * user_sketch.M  # both regimes: few users, and far more than registers


@pytest.mark.slow
def test_verify_covers_the_user_registers(two_demo_days, tmp_path):
    import shutil

    data = DataDir(tmp_path / "data")
    shutil.copytree(two_demo_days.root, data.root)
    assert rollup_verify.verify(data, request_files(data.requests))[1] == []
    path = next((rollup.rollup_root(data) / "hour_users").glob("*.parquet"))
    frame = pl.read_parquet(path)
    frame.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.col("rho") + 1)
                       .otherwise(pl.col("rho")).alias("rho")).write_parquet(path)
    _, differences = rollup_verify.verify(data, request_files(data.requests))
    assert [(d.table, d.detail) for d in differences] == [("hour_users", f"rho: 1 of {frame.height} rows differ")]


def test_percentiles_within_the_sketch_bound_on_random_windows_and_filters(two_demo_days):
    store = TelemetryStore(two_demo_days, cache=False)
    rows = raw_rows(two_demo_days)
    rng = random.Random(8)
    for a, b, filters, scope in _windows(store, rows, seed=9, count=10):
        measure = rng.choice(distribution_measures(store))
        width = rng.choice([timedelta(minutes=1), timedelta(minutes=5), timedelta(hours=1)])
        origin = a.replace(second=0, microsecond=0) if rng.random() < 0.7 else a  # the explorer's, or any
        got = store.run_sql("measure_percentiles", {"bucket_us": int(width.total_seconds() * 1e6), "origin": origin,
                                                    "measure": measure}, Scope.of(a, b, filters)).sort("bucket")
        step = int(width.total_seconds() * 1e6)
        want = (scope.filter(pl.col(measure).is_not_null())
                .with_columns(((pl.col("ts") - origin).dt.total_microseconds() // step).alias("k"))
                .group_by("k").agg(n=pl.len(), **{f"p{int(q * 100)}": pl.col(measure).cast(pl.Float64)
                                                   .quantile(q, interpolation="linear") for q in (0.5, 0.9, 0.99)})
                .sort("k"))
        assert got["n"].to_list() == want["n"].to_list(), (a, b, filters, measure)
        for column in ("p50", "p90", "p99"):
            assert got[column].to_list() == pytest.approx(want[column].to_list(), rel=sketch.RELATIVE_ERROR,
                                                          abs=1e-9), (a, b, filters, measure, column)


def test_histogram_within_the_sketch_bound_on_random_windows_and_filters(two_demo_days):
    """The edges within 1 % of the exact extremes, the total exact, and each bin's cumulative count between
    the requests certainly below its upper edge and those that could be read as below it (within 1 %)."""
    store = TelemetryStore(two_demo_days, cache=False)
    rows = raw_rows(two_demo_days)
    a_err = sketch.RELATIVE_ERROR
    for i, (a, b, filters, scope) in enumerate(_windows(store, rows, seed=13, count=10)):
        measure = distribution_measures(store)[i % len(distribution_measures(store))]
        got = histogram(store, measure, a, b, filters, bins=25)
        x = scope[measure].drop_nulls().cast(pl.Float64)
        if x.is_empty():
            assert got.is_empty()
            continue
        assert int(got["requests"].sum()) == x.len()
        assert got["lo"][0] == pytest.approx(x.min(), rel=a_err, abs=1e-9)
        assert got["hi"][-1] == pytest.approx(x.max(), rel=a_err, abs=1e-9)
        cumulative = 0
        for hi, n in zip(got["hi"], got["requests"], strict=True):
            cumulative += n
            assert int((x < hi / (1 + a_err)).sum()) <= cumulative <= int((x <= hi / (1 - a_err)).sum()), (
                a, b, filters, measure, hi)


def test_the_series_percentiles_read_every_sketch_as_the_sql_quantile_does():
    # random sketches per (bucket, group, measure), some groups null, some measures absent, one
    # sketch of a single request and one of zeros: every column as sketch.quantile (the SQL
    # macro's twin) reads its own sketch, and None where the bucket has no sketch of the measure
    rng = random.Random(5)
    rows, want = [], {}
    for bucket in range(6):
        for grp in (None, "a", "b"):
            for m, measure in enumerate(sketch.SKETCHED, start=1):
                if rng.random() < 0.2:
                    continue
                size = rng.choice([1, 2, 5, 40, 300])
                bins: dict[int, int] = {}
                for _ in range(size):
                    b = sketch.ZERO_BUCKET if measure.endswith("tokens") and rng.random() < 0.1 \
                        else rng.randint(300, 420)
                    bins[b] = bins.get(b, 0) + rng.randint(1, 9)
                rows += [{"measure": m, "bucket": bucket, "grp": grp, "bin": b, "n": n} for b, n in bins.items()]
                want[(bucket, grp, measure)] = bins
    rng.shuffle(rows)
    got = sketch.quantile_columns(pl.DataFrame(rows))
    assert got.height == len({(b, g) for b, g, _ in want})
    for row in got.iter_rows(named=True):
        for column, measure, q in sketch.SERIES_QUANTILES:
            bins = want.get((row["bucket"], row["grp"], measure))
            expected = sketch.quantile(bins, q) if bins else None
            assert row[column] == (pytest.approx(expected, rel=1e-12) if expected is not None else None), column
    assert sketch.quantile_columns(pl.DataFrame(rows).head(0)).is_empty()
