"""The parameters of the link that opened a page, checked before any widget reads them.

A bound widget trusts the URL: `ba_minutes=1e400` reached a number input as
infinity and crashed the page; a custom range in the year 9999, an unknown
preset, signal or filter value was dropped or used silently. Each parameter is
checked against its bounds here; one that fails is removed from the link (the
widget then shows its default) and named in one line, as ignored.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import streamlit as st

from dashboard.components.filters import RANGE_PRESETS
from dashboard.core.incident.references import unknown_values
from dashboard.core.text import md

SPAN_SLACK = timedelta(days=31)  # a custom range may reach this far beyond the data


def _drop(key: str, ignored: list[str], why: str) -> None:
    shown = ", ".join(st.query_params.get_all(key))
    ignored.append(f"{key}={shown} ({why})")
    del st.query_params[key]
    st.session_state.pop(key, None)


def check_link(store, first: datetime, now: datetime, numbers: dict[str, tuple[float, float]] | None = None,
               signals: list[str] | None = None) -> None:
    """Remove and name the link parameters outside their bounds: numbers, range, signal, filter values."""
    ignored: list[str] = []
    for key, (lo, hi) in (numbers or {}).items():
        raw = st.query_params.get(key)
        if raw is None:
            continue
        try:
            value = float(raw)
        except ValueError:
            _drop(key, ignored, "not a number")
            continue
        if not math.isfinite(value) or not lo <= value <= hi:
            _drop(key, ignored, f"outside {lo:g}-{hi:g}")
    preset = st.query_params.get("range")
    if preset is not None and preset not in RANGE_PRESETS:
        _drop("range", ignored, f"not one of {', '.join(RANGE_PRESETS)}")
    earliest = first.replace(tzinfo=None) - SPAN_SLACK
    latest = now.replace(tzinfo=None) + SPAN_SLACK
    for key in ("range_from", "range_to"):
        raw = st.query_params.get(key)
        if raw is None:
            continue
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00")).replace(tzinfo=None)
        except ValueError:
            _drop(key, ignored, "not a time such as 2025-02-18T11:00")
            continue
        if not earliest <= moment <= latest:
            _drop(key, ignored, f"outside the data, {earliest:%Y-%m-%d} to {latest:%Y-%m-%d}")
    signal = st.query_params.get("signal")
    if signals is not None and signal is not None and signal not in signals:
        _drop("signal", ignored, "no such signal")
    wanted = {seg: st.query_params.get_all(f"f_{seg}") for seg in store.schema.segments
              if st.query_params.get_all(f"f_{seg}")}
    for problem, (seg, values) in _unknown_filter_values(store, wanted):
        known = [v for v in values if v not in problem]
        ignored.append(f"f_{seg}={', '.join(problem)} (no request has that value)")
        st.query_params[f"f_{seg}"] = known
        if f"f_{seg}" in st.session_state:
            st.session_state[f"f_{seg}"] = [v for v in st.session_state[f"f_{seg}"] if v in known]
    if ignored:
        st.warning("Ignored from the link: " + "; ".join(md(i) for i in ignored), icon=":material/link_off:")


def _unknown_filter_values(store, wanted: dict[str, list[str]]):
    for seg, values in wanted.items():
        bad = [v for v in values if unknown_values({seg: [v]}, store)]
        if bad:
            yield bad, (seg, values)
