"""One part of a page drawn, or a warning in its place when the record behind it cannot be evaluated.

An incident naming a segment or signal the data does not have (written before
references were checked, or by an older version) must not take the whole page
down: the part that needs it says why it is missing, the rest is drawn.
Returns what the drawing function returned, or None.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from dashboard.core.text import md

T = TypeVar("T")


def shown_or_warned(what: str, draw: Callable[..., T], *args, **kwargs) -> T | None:
    try:
        return draw(*args, **kwargs)
    except (ValueError, KeyError, LookupError) as exc:  # Streamlit's rerun/stop are BaseExceptions: they pass
        reason = exc.args[0] if exc.args else type(exc).__name__
        st.warning(f"{md(what)} cannot be shown for this record: {md(reason)}", icon=":material/warning:")
        return None
