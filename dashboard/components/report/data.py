"""Cached reads for the reporting pages: measured once per telemetry files version and incident-record version.

Measuring impact and evaluating SLOs scans days of telemetry; a page rerun (a
click, a widget change) must not redo it. The app's one caching rule: a cached
read of telemetry is keyed on `TelemetryStore.files_version()` (names, sizes
and mtimes of the Parquet files), never on the data's clock alone - an ingest
of late rows changes the files but not the newest timestamp. What else the
read depends on is in the key too: the "now" it measures at, a fingerprint of
the incident record, the slos.toml and edit stamps.
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from dashboard.core.datadir import DataDir
from dashboard.core.incident.service import Incidents
from dashboard.core.incident.state import IncidentState
from dashboard.core.incident.store_config import has_incident_store
from dashboard.core.reporting.incident_metrics import HistorySummary, summarize_history
from dashboard.core.reporting.postmortem.edits import PostmortemEdits
from dashboard.core.reporting.postmortem.model import Postmortem
from dashboard.core.reporting.postmortem.service import get_postmortem
from dashboard.core.reporting.slo import SloStatus
from dashboard.core.reporting.slo_config import slo_file_for
from dashboard.core.reporting.slo_store import evaluate_slos, load_slos
from dashboard.core.reporting.summary import IncidentCard, open_incident_cards
from dashboard.core.telemetry.query import TelemetryStore


def incidents(data: DataDir) -> list[IncidentState]:
    """Every incident in the record, open ones first, then newest first."""
    if not has_incident_store(data):
        return []
    states = Incidents.for_data_dir(data).list()
    return sorted(states, key=lambda s: (not s.is_open, -s.opened_at.timestamp()))


def broken_chains(data: DataDir) -> list:
    """The incidents whose log fails its hash-chain check (not cached: an edit outside the app changes no version)."""
    if not has_incident_store(data):
        return []
    return [report for report in Incidents.for_data_dir(data).audit_all() if not report.intact]


def fingerprint(states: list[IncidentState]) -> tuple:
    return tuple((s.id, s.version) for s in states)


@st.cache_data(show_spinner="Measuring the impact of open incidents…", max_entries=8)
def cards(root: str, files: tuple, now: datetime, record: tuple, _store: TelemetryStore) -> list[IncidentCard]:
    return open_incident_cards(DataDir(root), _store, now)


@st.cache_data(show_spinner="Evaluating SLOs…", max_entries=8)
def slo_statuses(root: str, files: tuple, now: datetime, slo_file_stamp: float | None,
                 _store: TelemetryStore) -> list[SloStatus]:
    return evaluate_slos(_store, load_slos(DataDir(root)), now)


def slo_stamp(data: DataDir) -> float | None:
    """The data folder's slos.toml modification time, so an edited file is re-read."""
    path = slo_file_for(data)
    return path.stat().st_mtime if path.exists() else None


@st.cache_data(show_spinner=False, max_entries=8)
def history(root: str, record: tuple) -> HistorySummary:
    return summarize_history(Incidents.for_data_dir(DataDir(root)).list())


def edits_stamp(data: DataDir, incident_id: str) -> tuple:
    latest = PostmortemEdits(data.incidents_db).latest(incident_id)
    return tuple(sorted((k, e.seq) for k, e in latest.items()))


@st.cache_data(show_spinner="Writing the postmortem from the record and the telemetry…", max_entries=16)
def postmortem(root: str, files: tuple, incident_id: str, version: int, edits: tuple, now: datetime | None,
               _store: TelemetryStore) -> Postmortem:
    return get_postmortem(DataDir(root), incident_id, _store)
