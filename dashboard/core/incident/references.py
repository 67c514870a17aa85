"""What an incident names must exist: signals in the registry, segment columns and values in the telemetry.

Checked when an incident is opened or its verification defined (CLI and app),
so a typo is refused with the known names instead of becoming a record that no
page can evaluate. Raises ReferenceError; returns nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta

from dashboard.core.errors import WarroomError
from dashboard.core.telemetry import signals as sig


class ReferenceError(WarroomError, ValueError):
    """A name the incident gives is unknown; the message lists the known ones."""


def _closest(name: str, known: Iterable[str]) -> str:
    import difflib

    match = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def check_signals(names: Iterable[str]) -> None:
    for name in names:
        if not sig.is_known(name):
            raise ReferenceError(f"unknown signal {name!r}{_closest(name, sig.BY_NAME)}; "
                                 f"known: {', '.join(sig.BY_NAME)}")


def check_segments(segments: dict[str, str], store) -> None:
    """Each segment column is a dimension of the store and each value occurs in its telemetry.

    Without telemetry (`store` None, or no requests) nothing can be checked:
    the incident may be opened before its data arrives.
    """
    if not segments or store is None:
        return
    known = list(store.schema.dimension_columns)
    for column in segments:
        if column not in known:
            raise ReferenceError(f"unknown segment {column!r}{_closest(column, known)}; "
                                 f"segments of this data: {', '.join(known)}")
    problems = unknown_values({c: [v] for c, v in segments.items()}, store)
    if problems:
        raise ReferenceError(problems[0])


def unknown_values(filters: Mapping[str, Sequence[str]], store) -> list[str]:
    """One message per filter value no request of the store has (a typo matches nothing, silently)."""
    first, last, count = store.time_range()
    if not count or not filters:
        return []
    seen = store.dimension_values(first, last + timedelta(seconds=1))
    out = []
    for column, wanted in filters.items():
        values = [str(v) for v in seen.get(column, []) if v is not None]
        for value in wanted:
            if value not in values:
                shown = ", ".join(sorted(values)[:20]) + (" …" if len(values) > 20 else "")
                out.append(f"segment {column}={value!r}: no request has that value{_closest(value, values)}; "
                           f"values of {column}: {shown}")
    return out
