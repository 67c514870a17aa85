"""View-state widgets shared by pages; each is bound to the URL so a link reproduces the view."""

from __future__ import annotations

from datetime import datetime, timedelta

import streamlit as st

from dashboard.core.telemetry import signals as sig
from dashboard.core.telemetry.contract import ARTIFACT_KINDS

RANGE_PRESETS = ("Incident day", "Last 6 h", "Last 24 h", "Whole store", "Custom")


def carry_view_state(segments: list[str]) -> None:
    """On arriving from another page, keep the view (time range, segment filters) the link carried.

    The widgets are bound to the URL, but a link between pages (st.page_link) loses
    the parameters named like bound widgets of the page it leaves (`f_<segment>`,
    `range`): that page unbinds them as it goes. Their last values are still in
    the session, so they are handed to this page's widgets before they are drawn,
    and written back into the URL on an immediate rerun (in the arrival run the old
    page's bindings still own them), so the address bar names the view again.
    """
    for key, value in st.session_state.pop("_url_pending", {}).items():
        st.query_params[key] = value
    if not st.session_state.get("_arrived", True):
        return
    carried: dict[str, list[str] | str | datetime] = {}
    for seg in segments:
        value = link_values(f"f_{seg}")
        if value:
            carried[f"f_{seg}"] = value
    preset = next(iter(link_values("range")), None)
    if preset in RANGE_PRESETS:
        carried["range"] = preset
    for key in ("range_from", "range_to"):
        moment = _moment(next(iter(link_values(key)), None))
        if moment is not None:
            carried[key] = moment
    for key, value in carried.items():
        st.session_state[key] = value
    missing = {k: (f"{v:%Y-%m-%dT%H:%M}" if isinstance(v, datetime) else v)
               for k, v in carried.items() if k not in st.query_params}
    if missing:
        st.session_state["_url_pending"] = missing
        st.session_state["_arrived"] = False
        st.rerun()


def _moment(text: str | None) -> datetime | None:
    """A custom range end from a link (2025-02-18T11:00) or a widget's value, as the naive UTC the widget holds."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return None


def signal_picker(label: str, options: list[str], default: str = "refusal_rate",
                  key: str = "signal_pick") -> str:
    """A signal, kept in the URL as `signal=<stable name>`.

    Not a bound widget on purpose: a bound selectbox writes its display label into
    the URL (not the snake_case name), and a link to a page with a bound widget of
    the same name loses the parameter. The URL is read on arrival and written on change.
    """
    wanted = st.query_params.get("signal")
    if wanted and sig.is_known(wanted) and wanted not in options:
        # asked for by name (a link, a bookmark) on a store without it: say so, never "no regression"
        st.warning(f"{sig.get(wanted).label} ({wanted}) is not in this data: no request carries "
                   f"{', '.join(sig.get(wanted).measures) or 'it'}. Showing another signal instead.",
                   icon=":material/block:")
    if not options:
        st.info("This data has no signal to look at here.")
        st.stop()
    held = st.session_state.get(key)
    if wanted in options and (st.session_state.get("_arrived", True) or held not in options):
        held = wanted  # arriving: the link decides
    elif held not in options:
        held = default if default in options else options[0]
    # assigned on every run: a same-named widget of the page left behind does not hand its value over
    st.session_state[key] = held
    picked = st.selectbox(label, options, key=key, format_func=lambda name: f"{sig.get(name).label} ({name})")
    if st.query_params.get("signal") != picked:
        st.query_params["signal"] = picked
    return picked


def link_values(key: str) -> list[str]:
    """A parameter of the link that opened this page, even one the page left behind dropped.

    A link between pages (st.page_link) loses the parameters named like bound widgets
    of the page it leaves (`f_<segment>`, `range`); those widgets' values are still in
    the session on arrival, and they are what the link carried.
    """
    values = st.query_params.get_all(key)
    if values or not st.session_state.get("_arrived"):
        return values
    held = st.session_state.get(key)
    if held is None:
        return []
    return [str(v) for v in held] if isinstance(held, (list, tuple)) else [str(held)]


def time_range(now: datetime, first: datetime, key: str = "range",
               incident_open: bool = False) -> tuple[datetime, datetime]:
    """A preset range ending at the data's 'now', or a custom one.

    The first preset is the day of the data's clock; it reads "Incident day" only
    while an incident is open (the value in the URL stays the same either way).
    """
    day = "Incident day" if incident_open else "Latest day"
    preset = st.segmented_control("Time range", RANGE_PRESETS, default="Incident day", key=key,
                                  bind="query-params",
                                  format_func=lambda p: day if p == "Incident day" else p) or "Incident day"
    end = now + timedelta(seconds=1)
    if preset == "Incident day":
        return now.replace(hour=0, minute=0, second=0, microsecond=0), end
    if preset == "Last 6 h":
        return now - timedelta(hours=6), end
    if preset == "Last 24 h":
        return now - timedelta(hours=24), end
    if preset == "Whole store":
        return first.replace(second=0, microsecond=0), end
    c1, c2 = st.columns(2)
    naive_now = now.replace(tzinfo=None, second=0, microsecond=0)
    start = c1.datetime_input("From (UTC)", naive_now - timedelta(hours=4), key=f"{key}_from",
                              bind="query-params", step=timedelta(minutes=5))
    stop = c2.datetime_input("To (UTC)", naive_now, key=f"{key}_to", bind="query-params", step=timedelta(minutes=5))
    start = (start or naive_now - timedelta(hours=4)).replace(tzinfo=now.tzinfo)
    stop = (stop or naive_now).replace(tzinfo=now.tzinfo)
    if stop <= start:
        st.warning("The end of the range is before its start; showing the four hours before it instead.")
        start = stop - timedelta(hours=4)
    return start, stop


def segment_filters(values: dict[str, list[str]], segments: list[str]) -> dict[str, list[str]]:
    """One multiselect per segment; an empty one means 'all'."""
    chosen: dict[str, list[str]] = {}
    cols = st.columns(len(segments)) if segments else []
    for col, seg in zip(cols, segments, strict=True):
        options = sorted(values.get(seg, []))
        picked = col.multiselect(seg.replace("_", " ").title(), options, key=f"f_{seg}", bind="query-params",
                                 placeholder="all")
        if picked:
            chosen[seg] = picked
    return chosen


def signal_groups(available: list[str], key: str = "groups") -> list[str]:
    """The signal groups to draw; only groups (and signals) the store has data for are offered."""
    offered = [g for g in sig.GROUP_ORDER if any(n in available for n in sig.GROUPS[g])]
    default = [g for g in ("quality", "safety", "latency", "cost") if g in offered] or offered[:1]
    groups = st.pills("Signals", offered, selection_mode="multi", default=default, key=key, bind="query-params")
    names = [n for g in sig.GROUP_ORDER if g in (groups or []) for n in sig.GROUPS[g] if n in available]
    return names or [n for g in default for n in sig.GROUPS[g] if n in available] or ["requests"]


def absent_caption(available: list[str]) -> None:
    """Which signals this data does not have (so a missing line is not read as a flat, healthy one)."""
    absent = [s.label for s in sig.SIGNALS if s.name not in available]
    if absent:
        st.caption(f"Not in this data (no values in the store, so not drawn or offered): {', '.join(absent)}.")


def marker_kinds(present: list[str], key: str = "markers") -> set[str]:
    kinds = [k for k in ARTIFACT_KINDS if k in present]
    if not kinds:  # a store without releases: no label over an empty row of choices
        return set()
    picked = st.pills("Release markers", kinds, selection_mode="multi", default=kinds, key=key,
                      bind="query-params")
    return set(picked or [])
