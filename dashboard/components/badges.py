"""The colours of the app's badges: one per severity and per incident status, on every page.

A SEV3 on the summary card, the war room and the postmortem is the same colour,
and no status shares a severity's colour on the war room's badge row.
"""

from __future__ import annotations

from typing import Literal

# the colours Streamlit's badge (`st.badge`, `:color-badge[...]`) accepts
BadgeColor = Literal["red", "orange", "yellow", "blue", "green", "violet", "gray", "grey", "primary"]

SEVERITY_COLORS: dict[str, BadgeColor] = {"SEV1": "red", "SEV2": "orange", "SEV3": "yellow", "SEV4": "gray"}
STATUS_COLORS: dict[str, BadgeColor] = {"investigating": "red", "identified": "orange", "mitigating": "orange",
                                        "monitoring": "blue", "resolved": "green", "postmortem": "violet"}


def severity_color(severity: str | None) -> BadgeColor:
    return SEVERITY_COLORS.get(severity or "", "gray")


def status_color(status: str | None) -> BadgeColor:
    return STATUS_COLORS.get(status or "", "gray")
