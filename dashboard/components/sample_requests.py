"""Sample requests on a page: a few rows a reader can open one by one, each linking to its trace."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard.core.telemetry.links import LinksError, load_links
from dashboard.core.telemetry.query import TelemetryStore
from dashboard.core.telemetry.samples import version_samples


def folder_links(store: TelemetryStore) -> dict[str, str]:
    """The data folder's link templates; a broken links.toml is said once, and the page goes on without links."""
    try:
        return load_links(store.data)
    except LinksError as exc:
        st.warning(f"Trace links are off: {exc}")
        return {}


def sample_table(rows: pl.DataFrame, key: str) -> None:
    """The rows with their trace link as a link column (the link was rendered and escaped by core)."""
    if rows.is_empty():
        st.caption("No requests to show.")
        return
    shown = rows.drop("trace_id") if "trace_id" in rows.columns and "trace_link" in rows.columns \
        and rows["trace_link"].null_count() < rows.height else rows
    st.dataframe(shown, hide_index=True, width="stretch", key=key,
                 column_config={"trace_link": st.column_config.LinkColumn("trace", display_text="open trace"),
                                "latency_ms": st.column_config.NumberColumn("latency_ms", format="%.0f"),
                                "cost_usd": st.column_config.NumberColumn("cost_usd", format="%.5f")})
    if "trace_link" in rows.columns and rows["trace_link"].null_count() == rows.height:
        st.caption("No trace links: keep trace_id on requests and set a [links] trace template in the ingest "
                   "mapping (docs/BRING_YOUR_OWN_TELEMETRY.md).")


def cohort_samples(store: TelemetryStore, kind: str, versions: list[str], start, end, filters: dict) -> None:
    """A few requests of each version, to open next to the cohort numbers."""
    with st.expander(f"Sample requests of each {kind} version", icon=":material/list:"):
        rows = version_samples(store, store.schema.artifact_column(kind), versions, start, end, filters,
                               links=folder_links(store))
        sample_table(rows, key="cohort_samples")
