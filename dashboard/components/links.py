"""Links between views, as query parameters: a finding on one page opens the next page on the same view.

Pure (no Streamlit) so the URL contracts are unit-tested. The shared view state is
the time range (`range`, `range_from`, `range_to`) and the segment filters
(`f_<segment>`, repeated for several values); the war room's "new incident"
contract is documented in `incident/new.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from dashboard.core.diagnosis.models import Investigation
from dashboard.core.timeutil import utc

VIEW_KEYS = ("range", "range_from", "range_to")
COHORT_TAB = "Cohorts by version"  # the explorer's tab label, which its bound tabs keep in the URL


def view_params(get_all: Callable[[str], list[str]], segments: list[str]) -> dict[str, list[str]]:
    """The time range and segment filters of the current URL (`get_all` is st.query_params.get_all)."""
    out: dict[str, list[str]] = {}
    for key in (*VIEW_KEYS, *(f"f_{s}" for s in segments)):
        values = get_all(key)
        if values:
            out[key] = list(values)
    return out


def cohort_params(view: dict[str, list[str]], artifact: str) -> dict[str, list[str]]:
    """The explorer's cohort comparison of one artifact kind, on the same view, its tab open."""
    return {**view, "cohort": [artifact], "tab": [COHORT_TAB]}


def root_cause_params(view: dict[str, list[str]], signal: str) -> dict[str, list[str]]:
    return {**view, "signal": [signal]}


def _iso(ts: datetime) -> str:
    return utc(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_incident_params(inv: Investigation, source: str, also: list[str] | None = None) -> dict[str, list[str]]:
    """Open an incident prefilled from an investigation: signal, segments, regression start, suspects."""
    params: dict[str, list[str]] = {"new": ["1"], "signal": [inv.signal], "source": [source]}
    params.update({f"f_{k}": list(v) for k, v in sorted(inv.filters.items()) if v})
    regressions = [p for p in inv.change_points if p.regression]
    if regressions:
        params["start"] = [_iso(regressions[0].ts)]
    if inv.suspects:
        params["suspect"] = [f"{s.artifact}:{s.version}" for s in inv.suspects]
    if also:
        params["also"] = list(also)
    return params
