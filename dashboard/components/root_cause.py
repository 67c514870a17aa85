"""Drawing the regression finder's answer: the change, the suspects with their evidence, the segments.

Used whole by the root-cause page and as a compact panel on the explorer. The
numbers come from `dashboard.core.diagnosis` through cached calls keyed on the
store's file listing, so a view re-run costs nothing and new telemetry (live
appends, an ingest) invalidates the cache by itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import streamlit as st

from dashboard.components.links import cohort_params, new_incident_params, root_cause_params
from dashboard.components.report.cards import page_link
from dashboard.components.root_cause_figures import regression_figure, regression_window, segment_heatmap
from dashboard.core.diagnosis import data as D
from dashboard.core.diagnosis.investigate import investigate
from dashboard.core.diagnosis.models import Investigation, Suspect, suspect_brief, suspect_numbers
from dashboard.core.diagnosis.segment_map import segment_map, windows_around
from dashboard.core.telemetry import signals as sig
from dashboard.core.telemetry.compare import moved_with
from dashboard.core.telemetry.query import TelemetryStore
from dashboard.core.telemetry.release_timeline import release_timeline
from dashboard.core.text import md

EVIDENCE_MARKS = {1: ":red[**for**]", -1: ":green[**against**]", 0: ":gray[**no information**]"}


def _frozen(filters: dict[str, list[str]]) -> tuple:
    return tuple(sorted((k, tuple(v)) for k, v in filters.items()))


@st.cache_data(show_spinner="Looking for the change and its cause…", max_entries=64)
def cached_investigation(root: str, files: tuple, signal: str, start: datetime, end: datetime, filters: tuple,
                         _store: TelemetryStore) -> Investigation:
    return investigate(_store, signal, start, end, {k: list(v) for k, v in filters})


@st.cache_data(show_spinner=False, max_entries=64)
def cached_segment_map(root: str, files: tuple, signal: str, baseline: tuple, current: tuple, filters: tuple,
                       _store: TelemetryStore) -> pl.DataFrame:
    return segment_map(_store, signal, baseline, current, {k: list(v) for k, v in filters})


@st.cache_data(show_spinner=False, max_entries=64)
def cached_moved_with(root: str, files: tuple, signal: str, at: datetime, filters: tuple,
                      _store: TelemetryStore) -> list[str]:
    return moved_with(_store, signal, at, {k: list(v) for k, v in filters})


def incident_params(store: TelemetryStore, inv: Investigation, source: str) -> dict[str, list[str]]:
    """The war room's 'open an incident' link, with the other signals that got worse at the same time."""
    regressions = [p for p in inv.change_points if p.regression]
    also = (cached_moved_with(str(store.data.root), store.files_version(), inv.signal, regressions[0].ts,
                              _frozen(inv.filters), store) if regressions else [])
    return new_incident_params(inv, source=source, also=also)


def run(store: TelemetryStore, signal: str, start: datetime, end: datetime,
        filters: dict[str, list[str]]) -> Investigation:
    return cached_investigation(str(store.data.root), store.files_version(), signal, start, end, _frozen(filters),
                                store)


def _evidence_mark(score: float) -> str:
    return EVIDENCE_MARKS[0 if abs(score) < 0.05 else (1 if score > 0 else -1)]


def suspect_card(rank: int, suspect: Suspect, view: dict[str, list[str]], key: str) -> None:
    with st.container(border=True, key=f"{key}_suspect_{rank}"):
        head, link = st.columns([4, 1.4], vertical_alignment="center")
        head.markdown(f"**{rank}. {md(suspect.artifact)} {md(suspect.previous_version or '?')} → "
                      f"{md(suspect.version)}** "
                      f"· released {suspect.released_at:%m-%d %H:%M} UTC"
                      + (f" · scope {md(suspect.scope)}" if suspect.scope else "")
                      + " · " + suspect_numbers(suspect.score, suspect.explained_share,
                                                measured=suspect.expected_effect is not None))
        page_link(link, "views/explorer.py", f"Compare {suspect.artifact} versions", ":material/compare_arrows:",
                  cohort_params(view, suspect.artifact))
        for e in suspect.evidence:
            # how the release is known (inferred, logged late) is a note about it, not evidence for or against
            mark = ":orange[**note**]" if e.kind == "release log" else _evidence_mark(e.score)
            st.markdown(f"- {mark} · {md(e.kind)}: {md(e.text)}")


def verdict_block(inv: Investigation) -> None:
    regressions = [p for p in inv.change_points if p.regression]
    (st.error if regressions else st.success)(md(inv.verdict), icon=":material/troubleshoot:" if regressions
                                              else ":material/check_circle:")


def compact_panel(store: TelemetryStore, signal: str, start: datetime, end: datetime,
                  filters: dict[str, list[str]], view: dict[str, list[str]]) -> None:
    """The explorer's panel: the verdict, the change points and the top suspects, with links onward."""
    inv = run(store, signal, start, end, filters)
    verdict_block(inv)
    st.caption(f"Change points found on {inv.bucket_minutes:g}-minute buckets.")
    for p in inv.change_points:
        st.markdown(f"- {'**regression**' if p.regression else 'recovery'} at **{p.ts:%H:%M}**: "
                    f"{p.before_text} → {p.after_text} ({p.effect_text})"
                    + (f" · at the release {md(p.aligned_release)}" if p.aligned_release else ""))
    for rank, suspect in enumerate(inv.suspects[:3], 1):
        st.markdown(f"{rank}. **{md(suspect.artifact)} {md(suspect.version)}** "
                    f"({suspect_brief(suspect.score, suspect.explained_share, suspect.expected_effect is not None)}) — "
                    + (md(suspect.evidence[0].text) if suspect.evidence else ""))
    c1, c2 = st.columns(2)
    page_link(c1, "views/root_cause.py", "Full root-cause analysis", ":material/troubleshoot:",
              root_cause_params(view, signal))
    if any(p.regression for p in inv.change_points):
        page_link(c2, "views/war_room.py", "Open an incident from this", ":material/add_alert:",
                  incident_params(store, inv, source="explorer"))


def full_analysis(store: TelemetryStore, signal: str, start: datetime, end: datetime,
                  filters: dict[str, list[str]], view: dict[str, list[str]]) -> None:
    inv = run(store, signal, start, end, filters)
    verdict_block(inv)
    if any(p.regression for p in inv.change_points):
        page_link(st, "views/war_room.py", "Open an incident from this finding", ":material/add_alert:",
                  incident_params(store, inv, source="root-cause"))

    # drawn on the buckets the change points were found on, so a step sits where the chart shows it
    bucket = timedelta(minutes=inv.bucket_minutes)
    series = sig.with_signals(store.series(start, end, filters, bucket=bucket), [signal])
    st.caption(f"{inv.bucket_minutes:g}-minute buckets, the ones the change points were found on.")
    releases = release_timeline(store, start, end)
    st.plotly_chart(regression_figure(series, signal, releases, inv.change_points, end, bucket), width="stretch",
                    key="rc_regression", config={"displaylogo": False})
    if inv.change_points:
        st.dataframe(pl.DataFrame([{
            "at (UTC)": f"{p.ts:%m-%d %H:%M}", "direction": "regression" if p.regression else "recovery",
            "before": p.before_text, "after": p.after_text, "effect [95% interval]": p.effect_text,
            "p": f"{p.p_value:.1g}", "at a release": p.aligned_release or "—", "detectability": p.detectability,
        } for p in inv.change_points]), hide_index=True, width="stretch", key="rc_points")

    st.subheader("Suspects")
    if not inv.suspects and any(p.regression for p in inv.change_points):
        st.info("No release explains this change: look at what has no version (an upstream tool, a provider, "
                "traffic mix). " + " ".join(inv.notes))
    elif not inv.suspects:
        st.caption("No change to explain, so no release is a suspect. " + " ".join(inv.notes))
    for rank, suspect in enumerate(inv.suspects, 1):
        suspect_card(rank, suspect, view, key="rc")
    if inv.ruled_out:
        with st.expander(f"Ruled out ({len(inv.ruled_out)} releases in the window)"):
            for suspect in inv.ruled_out:
                reasons = "; ".join(md(e.text) for e in suspect.evidence if e.score < 0) or "no evidence for it"
                st.markdown(f"- **{md(suspect.artifact)} {md(suspect.version)}** "
                            f"({suspect.released_at:%H:%M}): {reasons}")

    if inv.rollback_plan:
        st.subheader("Rollback plan")
        st.dataframe(pl.DataFrame([{
            "step": s.order, "roll back": f"{s.artifact}: {s.from_version} → {s.to_version}",
            "expected": s.expected_text, "status": s.status, "observed": s.observed_text or "—",
        } for s in inv.rollback_plan]), hide_index=True, width="stretch", key="rc_rollback")

    segments_section(store, inv, end, filters)


def segments_section(store: TelemetryStore, inv: Investigation, end: datetime,
                     filters: dict[str, list[str]]) -> None:
    st.subheader("Where it happened")
    window = regression_window(inv.change_points, end)
    if window is None:
        st.caption("No regression in this window, so nothing to localize.")
        return
    if inv.segments:
        spec = sig.get(inv.signal)
        if spec.localize == "slow_share":
            st.caption(f"{spec.label} is localized on counts: the share of requests {spec.exceeds} the "
                       f"{spec.percentile_label if spec.tail else 'p95'} of the hour before the change.")
        st.dataframe(pl.DataFrame([{
            "segment": s["label"], "share of the change": f"{s['share_of_change']:.0%}",
            "before": _level(inv.signal, s["expected"]), "after": _level(inv.signal, s["real"]),
            # a combination's surprise is measured beyond the shift all traffic shared, so "(all)" has none
            "surprise (z)": "shared by all" if not s["combination"] else f"{s['surprise']:.1f}",
            "requests": f"{int(s['support_volume']):,}",
        } for s in inv.segments]), hide_index=True, width="stretch", key="rc_segments")
        baseline = tuple(datetime.fromisoformat(t) for t in inv.segments[0]["baseline_window"])
        current = tuple(datetime.fromisoformat(t) for t in inv.segments[0]["current_window"])
    else:
        for note in inv.notes:
            st.caption(note)
        baseline, current = windows_around(window[0], end)
    heat = cached_segment_map(str(store.data.root), store.files_version(), inv.signal, baseline, current,
                              _frozen(filters), store)
    st.caption(f"Every segment value, {baseline[0]:%H:%M}–{baseline[1]:%H:%M} against "
               f"{current[0]:%H:%M}–{current[1]:%H:%M} UTC. Red = worse, blue = better; the colour is how "
               "surprising the shift is (z, capped at 10), the text is the change.")
    if heat.is_empty():
        st.info("Too little traffic on one side of the change to compare segments.")
        return
    st.plotly_chart(segment_heatmap(heat, D.signal_spec(inv.signal).direction), width="stretch",
                    key="rc_heatmap", config={"displaylogo": False})


def _level(signal: str, value: float | None) -> str:
    """Localization works on counts: rates as rates, latency as the share slower than the baseline's p95."""
    if value is None:
        return "–"
    spec = D.signal_spec(signal)
    if spec.scale == "rate" or spec.localize == "slow_share":
        return f"{value:.1%}"
    return sig.get(signal).format(value)
