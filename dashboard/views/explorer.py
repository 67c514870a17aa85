"""Explorer: every signal on one time axis with release markers; cohorts; before/after."""

import polars as pl
import streamlit as st

from dashboard.components import context, filters, root_cause, sample_requests
from dashboard.components.distributions import distributions_panel
from dashboard.components.links import COHORT_TAB, view_params
from dashboard.components.report import data as report_data
from dashboard.components.report.slos import firing_alerts, slo_status_line
from dashboard.components.signal_stack import build_signal_stack
from dashboard.components.tables import comparison_table
from dashboard.components.url_checks import check_link
from dashboard.core.reporting.slo_config import SloConfigError
from dashboard.core.telemetry import signals as sig
from dashboard.core.telemetry.compare import before_after, cohort_column, cohort_comparison, comparable
from dashboard.core.telemetry.query import choose_bucket
from dashboard.core.telemetry.release_timeline import release_timeline

store = context.store()
now = context.require_data(store)
first = store.time_range()[0] or now  # set once require_data passed

filters.carry_view_state(list(store.schema.segments))  # first: it may rerun the page once on arrival
check_link(store, first, now, numbers={"ba_minutes": (5, 240)}, signals=list(sig.DIAGNOSABLE))
st.title("Explorer")
context.as_of_caption(now)
try:  # SLO state belongs on every view of the signals; the SLO page explains a broken SLO file
    statuses = report_data.slo_statuses(str(store.data.root), store.files_version(), now,
                                        report_data.slo_stamp(store.data), store)
    slo_status_line(statuses)
    firing_alerts(statuses)
except SloConfigError:
    pass

start, end = filters.time_range(now, first, incident_open=context.incident_open(store))
values = store.dimension_values(start, end)
chosen_filters = filters.segment_filters(values, store.schema.segments)
available = store.signals()
names = filters.signal_groups(available)
releases = release_timeline(store, start, end)
kinds = filters.marker_kinds(sorted(set(releases["artifact"].to_list())))

series = store.series(start, end, chosen_filters)
if series.is_empty():
    st.warning("No requests match these filters in this time range. Widen the range or clear a filter.")
    st.stop()

bucket = choose_bucket(start, end)
st.caption(f"{int(series['requests'].sum()):,} requests · {bucket.total_seconds() / 60:g}-minute buckets · "
           f"{releases.height} releases in range")
fig = build_signal_stack(sig.with_signals(series, names), names, releases, kinds, bucket=bucket)
st.plotly_chart(fig, width="stretch", key="signal_stack", config={"displaylogo": False})
filters.absent_caption(available)

view = view_params(st.query_params.get_all, list(store.schema.segments))
cause_tab, cohort_tab, before_after_tab, distribution_tab, release_tab = st.tabs(
    ["Root cause", COHORT_TAB, "Before / after a release", "Distributions", "Releases"], key="tab",
    bind="query-params")

# bound to the URL, the tabs know which one is open: only its work runs (st.tabs would run all)
if cause_tab.open:
    with cause_tab:
        signal = filters.signal_picker("What moved?", store.signals(sig.DIAGNOSABLE))
        root_cause.compact_panel(store, signal, start, end, chosen_filters, view)

if cohort_tab.open:
    with cohort_tab:
        choices = comparable(store)
        kind = st.selectbox("Compare side by side", choices,
                            index=choices.index("prompt") if "prompt" in choices else 0,
                            key="cohort", bind="query-params",
                            format_func=lambda c: f"{c} versions" if c in store.schema.artifacts else f"{c} values")
        st.caption("Scope a comparison with the filters above (e.g. one model family, to compare its snapshots).")
        same_minutes = st.toggle("Only minutes where versions overlapped (canary, ramp, rollback)", value=True,
                                 key="same_minutes", bind="query-params")
        compared = [n for n in names if n != "requests"] or store.signals(sig.DIAGNOSABLE)
        totals, deltas = cohort_comparison(store, kind, start, end, chosen_filters, compared,
                                           same_minutes=same_minutes)
        if totals.height < 2:
            st.info(f"Only one {kind} value served traffic in this range: nothing to compare. "
                    "Widen the time range or clear a filter.")
        else:
            overlap = int(totals["overlap_minutes"][0])
            st.caption(f"{overlap} overlapping minutes compared" if overlap else "Whole range compared "
                       "(the versions never overlapped; differences include time-of-day effects)")
            comparison_table(deltas, group="version")
            column = cohort_column(store, kind)
            by_version = store.series(start, end, chosen_filters, by=column).rename({"grp": column})
            lines = sig.with_signals(by_version, names)
            st.plotly_chart(build_signal_stack(lines, names[:4], releases.filter(pl.col("artifact") == kind), {kind},
                                               cohort_column=column, row_height=110, bucket=bucket),
                            width="stretch", key="cohort_lines")
            sample_requests.cohort_samples(store, kind, totals["version"].to_list(), start, end, chosen_filters)

if before_after_tab.open:
    with before_after_tab:
        if releases.is_empty():
            st.info("No release in this range. Widen the time range to pick one.")
        else:
            labels = [f"{r['ts']:%m-%d %H:%M} · {r['artifact']} {r['previous_version']} → {r['version']}"
                      for r in releases.iter_rows(named=True)]
            picked = st.selectbox("Release", labels, index=len(labels) - 1, key="release", bind="query-params")
            # kept in the URL by hand: a bound number input parses the link itself (1e400 crashed it)
            linked = st.query_params.get("ba_minutes")  # already checked against 5-240 by check_link
            if linked is not None and "ba_minutes_input" not in st.session_state:
                st.session_state["ba_minutes_input"] = int(float(linked))
            minutes = st.number_input("Minutes before and after", 5, 240, 30, step=5, key="ba_minutes_input")
            if str(minutes) != linked:
                st.query_params["ba_minutes"] = str(minutes)
            at = releases["ts"][labels.index(picked)]
            comparison_table(before_after(store, at, int(minutes), chosen_filters, names))

if distribution_tab.open:
    with distribution_tab:
        distributions_panel(store, start, end, chosen_filters, bucket)

if release_tab.open:
    with release_tab:
        st.dataframe(releases.select("ts", "artifact", "version", "previous_version", "origin", "flag", "scope",
                                     "author", "commit", "url", "note"),
                     hide_index=True, width="stretch",
                     column_config={"url": st.column_config.LinkColumn("url"),
                                    "origin": st.column_config.TextColumn(
                                        "origin", help="logged by CI or an ingest, or inferred from the version's "
                                                       "first appearance in the requests")})
