"""What every page needs: the data folder, the store over it, the data's clock.

The data folder comes from `streamlit run dashboard/app.py -- --data DIR`, else
$WARROOM_DATA, else data/. The store is one process-wide resource (DuckDB over
Parquet, or the ClickHouse store the folder's warroom.toml names in `[store]`);
sessions share it.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from functools import cache

import streamlit as st

from dashboard.core.datadir import DataDir
from dashboard.core.telemetry.clickhouse_store import open_store
from dashboard.core.telemetry.query import TelemetryStore


@cache
def _data_flag() -> str | None:
    """`--data DIR` of the command line, read once per process (the arguments do not change)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--data", default=None)
    known, _ = parser.parse_known_args(sys.argv[1:])
    return known.data


def data_dir() -> DataDir:
    # the environment is read on each call: $WARROOM_DATA may be set after the first page ran
    return DataDir.at(_data_flag())


@st.cache_resource(show_spinner=False)
def _store(root: str) -> TelemetryStore:
    return open_store(DataDir(root))  # DuckDB, or the ClickHouse store the folder's [store] names


def store() -> TelemetryStore:
    return _store(str(data_dir().root.resolve()))


def data_now(s: TelemetryStore) -> datetime | None:
    """'Now' follows the data's clock: the newest telemetry timestamp."""
    return s.now()


def require_data(s: TelemetryStore) -> datetime:
    """Stop the page with instructions when there is no telemetry yet."""
    now = data_now(s)
    if now is None:
        st.info(
            f"No telemetry in `{s.data.root}` yet.\n\n"
            "- Generate the demo week: `warroom demo --data " + str(s.data.root) + "` (or `make run`).\n"
            "- Or load your own: `warroom ingest requests FILE... --data " + str(s.data.root)
            + " --mapping mapping.toml` (see docs/INGEST.md)."
        )
        st.stop()
    return now


def incident_open(s: TelemetryStore) -> bool:
    """Whether the incident record holds an open incident (the time presets name the day after it)."""
    from dashboard.core.incident.service import Incidents

    if not s.data.incidents_db.exists():
        return False
    return any(state.is_open for state in Incidents.for_data_dir(s.data).list())


def as_of_caption(now: datetime) -> None:
    st.caption(f"As of {now:%Y-%m-%d %H:%M} UTC (newest telemetry)")

