"""The releases a view draws and an investigation weighs: what was logged, checked against what the requests show.

`release_timeline(store, start, end)` returns the release events in
[start, end) as the release contract columns plus:
- `origin`: "logged" (from the release store) or "inferred" (nobody logged it:
  the version's first appearance in the requests is the release);
- `logged_at`: when the event was logged (null for an inferred one);
- `served_since` and `flag`: a logged release whose version was already
  serving before its logged time ("served since 12:30, logged 12:38"). Its
  `ts` is then the time it started serving, so markers and change points sit
  where the traffic changed, not where CI wrote it down.

A version present from the first minute of the data is no release (it was
live before the data begins), nor is one that served fewer than
INFER_MIN_REQUESTS requests.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from dashboard.core.telemetry.contract import RELEASE_SCHEMA
from dashboard.core.telemetry.query import Scope, TelemetryStore
from dashboard.core.timeutil import utc

INFER_MIN_REQUESTS = 3
DATA_START_GRACE = timedelta(minutes=5)
# a deploy step and its CI log line are rarely in the same second; beyond this the log is late
EARLY_TOLERANCE = timedelta(minutes=2)
LOOKBACK = timedelta(minutes=60)  # how far before a logged release its version is looked for
SERVING_SHARE = 0.01  # a version serving under 1% of its scope's traffic in a minute is not serving yet
PREVIOUS_WINDOW = timedelta(minutes=30)

TIMELINE_SCHEMA: dict[str, pl.DataType] = {
    **RELEASE_SCHEMA,
    "origin": pl.String(),
    "logged_at": pl.Datetime("us", "UTC"),
    "served_since": pl.Datetime("us", "UTC"),
    "flag": pl.String(),
}


def hhmm(ts: datetime) -> str:
    return utc(ts).strftime("%H:%M")


def scope_filters(scope: str | None) -> dict[str, tuple[str, ...]]:
    """"tier=paid&region=eu|us" -> {"tier": ("paid",), "region": ("eu", "us")}."""
    out: dict[str, tuple[str, ...]] = {}
    for part in (scope or "").replace(",", "&").split("&"):
        if "=" in part:
            key, values = part.split("=", 1)
            out[key.strip()] = tuple(v.strip() for v in values.split("|") if v.strip())
    return out


def served_since(store: TelemetryStore, column: str, version: str, logged: datetime,
                 scope: str | None = None) -> datetime | None:
    """Since when `version` had been serving (within the release's scope) when it was logged at `logged`.

    None when it was not serving just before `logged` (the usual case) or had
    served all through the look-back (an old version logged again: nothing to move).
    """
    filters = {k: v for k, v in scope_filters(scope).items() if k in store.schema.dimension_columns}
    frame = store.run_sql("version_mix", {}, Scope.of(logged - LOOKBACK, logged, filters, by=column))
    if frame.is_empty():
        return None
    minutes = (frame.group_by("minute").agg(pl.col("requests").sum().alias("total"),
                                            pl.col("requests").filter(pl.col("grp") == version).sum().alias("mine"))
               .sort("minute"))
    serving = (minutes["mine"] / minutes["total"] >= SERVING_SHARE).to_list()
    stamps = minutes["minute"].to_list()
    if not serving or not serving[-1] or utc(stamps[-1]) < logged - EARLY_TOLERANCE:
        return None
    start = len(serving) - 1
    while start > 0 and serving[start - 1] and utc(stamps[start]) - utc(stamps[start - 1]) <= timedelta(minutes=1):
        start -= 1
    if start == 0 and utc(stamps[0]) <= logged - LOOKBACK + timedelta(minutes=1):
        return None  # serving all through the look-back: not a new version
    since = utc(stamps[start])
    return since if since < logged - EARLY_TOLERANCE else None


def _previous_version(store: TelemetryStore, column: str, version: str, at: datetime) -> str | None:
    frame = store.run_sql("version_mix", {}, Scope.of(at - PREVIOUS_WINDOW, at, by=column))
    frame = frame.filter(pl.col("grp").is_not_null() & (pl.col("grp") != version))
    if ":" in version:
        # "support-answer:7" replaced a version of the same prompt, never another prompt's
        frame = frame.filter(pl.col("grp").str.starts_with(version.rsplit(":", 1)[0] + ":"))
    if frame.is_empty():
        return None
    totals = frame.group_by("grp").agg(pl.col("requests").sum()).sort(["requests", "grp"], descending=[True, False])
    return totals["grp"][0]


def inferred_releases(store: TelemetryStore, start: datetime, end: datetime,
                      logged: pl.DataFrame) -> list[dict]:
    """One release per artifact version first seen in [start, end) that no logged release names.

    A version a logged release names (as its version or the one it replaced) is
    known; the window's versions come from the same cached listing the filters
    use, so a store whose releases are all logged costs no extra scan.
    """
    first, _, _ = store.time_range()
    if first is None:
        return []
    known: dict[str, set[str]] = {}
    for r in logged.select("artifact", "version", "previous_version").iter_rows(named=True):
        known.setdefault(r["artifact"], set()).update(v for v in (r["version"], r["previous_version"]) if v)
    in_window = store.dimension_values(start, end)
    not_before = max(start, utc(first) + DATA_START_GRACE)
    out = []
    for kind, column in store.schema.artifacts.items():
        unknown = sorted(set(in_window.get(column, [])) - known.get(kind, set()))
        if not unknown:
            continue
        seen = store.run_sql("version_first_served", {},
                             Scope.of(utc(first), end, {column: unknown}, by=column))
        for row in seen.iter_rows(named=True):
            at = utc(row["first_ts"])
            if at < not_before or row["requests"] < INFER_MIN_REQUESTS:
                continue
            out.append({"ts": at, "service": None, "artifact": kind, "version": row["version"],
                        "previous_version": _previous_version(store, column, row["version"], at),
                        "rollout_pct": None, "author": None,
                        "note": f"inferred: no release logged; first served {hhmm(at)}", "scope": None,
                        "commit": None, "url": None, "origin": "inferred", "logged_at": None,
                        "served_since": at, "flag": None})
    return out


def release_timeline(store: TelemetryStore, start: datetime, end: datetime) -> pl.DataFrame:
    """Logged releases (moved to when their version really started serving) and inferred ones, oldest first."""
    start, end = utc(start), utc(end)
    # a release logged shortly after the window may have served inside it
    logged = store.releases(start, end + LOOKBACK)
    everything = store.releases()
    rows = []
    for r in logged.iter_rows(named=True):
        column = store.schema.artifacts.get(r["artifact"])
        logged_at = utc(r["ts"])
        since = served_since(store, column, r["version"], logged_at, r["scope"]) if column else None
        row: dict[str, Any] = {**{k: r.get(k) for k in RELEASE_SCHEMA}, "origin": "logged", "logged_at": logged_at,
               "served_since": since, "flag": None}
        if since is not None:
            row["flag"] = f"served since {hhmm(since)}, logged {hhmm(logged_at)}"
            row["ts"] = since
        if start <= utc(row["ts"]) < end:
            rows.append(row)
    rows += inferred_releases(store, start, end, everything)
    if not rows:
        return pl.DataFrame(schema=TIMELINE_SCHEMA)
    return pl.DataFrame(rows, schema=TIMELINE_SCHEMA, orient="row").sort("ts", "artifact")


def marker_text(row: dict) -> str:
    """The hover text of a release marker: what, who, why, where from, and anything off about it.

    Plotly reads a little HTML in hover text: every value from a release log is escaped.
    """
    what = f"{row['artifact']} {row.get('previous_version') or '?'} → {row['version']}"
    parts = [html.escape(what)]
    if row.get("origin") == "inferred":
        parts.append("inferred from the requests (no release logged)")
    if row.get("flag"):
        parts.append(row["flag"])
    for label, key in (("scope", "scope"), ("by", "author"), ("commit", "commit"), ("note", "note"), ("url", "url")):
        value = row.get(key)
        if value and not (key == "note" and row.get("origin") == "inferred"):
            parts.append(f"{label}: {html.escape(str(value))}")
    return "<br>".join(parts)
