"""The postmortem entry points the CLI and the pages call."""

from __future__ import annotations

from datetime import datetime

from dashboard.core.datadir import DataDir
from dashboard.core.reporting.postmortem.edits import Edit, EditError, PostmortemEdits, StaleEditError
from dashboard.core.reporting.postmortem.gather import PostmortemError, gather_postmortem
from dashboard.core.reporting.postmortem.model import EDITABLE_SECTIONS, Postmortem
from dashboard.core.reporting.postmortem.render import to_html, to_markdown

FORMATS = {"md": to_markdown, "html": to_html}


def get_postmortem(data: DataDir, incident_id: str, store=None) -> Postmortem:
    """Generate the postmortem (with the team's latest edits). `store`: a TelemetryStore to reuse."""
    return gather_postmortem(data, incident_id, store)


def render_postmortem(data: DataDir, incident_id: str, fmt: str = "md", store=None) -> str:
    if fmt not in FORMATS:
        raise PostmortemError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return FORMATS[fmt](get_postmortem(data, incident_id, store))


def save_section(data: DataDir, incident_id: str, section: str, text: str, author: str, expected_seq: int,
                 at: datetime | None = None) -> Edit:
    """Save the team's version of an editable section (see EDITABLE_SECTIONS)."""
    return PostmortemEdits(data.incidents_db).save(incident_id, section, text, author, expected_seq, at)


def section_history(data: DataDir, incident_id: str, section: str) -> list[Edit]:
    return PostmortemEdits(data.incidents_db).history(incident_id, section)


__all__ = ["get_postmortem", "render_postmortem", "save_section", "section_history", "PostmortemError",
           "EditError", "StaleEditError", "EDITABLE_SECTIONS", "FORMATS"]
