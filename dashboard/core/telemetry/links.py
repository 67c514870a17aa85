"""Links from a request back to where its trace lives (Langfuse, Jaeger, Tempo, a vendor UI).

A data folder's `links.toml` holds URL templates, one per link name:

    [links]
    trace = "https://cloud.langfuse.com/project/p1/traces/{trace_id}"

An ingest mapping's `[links]` table is saved there (and may be edited by
hand). `row_link` renders one template for one request row: every {column}
is filled from the row, URL-quoted; a row missing any of them has no link.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from urllib.parse import quote

from dashboard.core.datadir import DataDir, atomic_write_text
from dashboard.core.errors import WarroomError
from dashboard.core.telemetry.mapping import template_fields

TRACE = "trace"
WEB_LINK = re.compile(r"^https?://", re.IGNORECASE)


class LinksError(WarroomError, ValueError):
    """links.toml cannot be read."""


def load_links(data: DataDir) -> dict[str, str]:
    """The folder's link templates (empty when it has none)."""
    if not data.links_file.exists():
        return {}
    try:
        parsed = tomllib.loads(data.links_file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise LinksError(f"{data.links_file}: not valid TOML: {exc}") from None
    links = parsed.get("links", {})
    if not isinstance(links, dict) or not all(isinstance(v, str) for v in links.values()):
        raise LinksError(f"{data.links_file}: expected a [links] table of name = \"URL template\"")
    return dict(links)


def save_links(data: DataDir, links: Mapping[str, str]) -> None:
    """Add or replace templates by name, keeping the others."""
    merged = {**load_links(data), **links}
    # JSON string escapes are valid TOML basic strings
    body = "".join(f"{name} = {json.dumps(template)}\n" for name, template in sorted(merged.items()))
    atomic_write_text(data.links_file, "# Link templates: {column} is filled from the request row.\n[links]\n" + body)


def render_link(template: str, row: Mapping[str, object]) -> str | None:
    """The template filled from `row`, or None when a placeholder's value is missing.

    Only web links: a template that is not http(s) (javascript:, file:, data:) renders nothing,
    whoever edited links.toml.
    """
    if not WEB_LINK.match(template):
        return None
    values = {}
    for name in template_fields(template):
        value = row.get(name)
        if value is None or value == "":
            return None
        values[name] = quote(str(value), safe="")
    return template.format(**values)


def row_link(row: Mapping[str, object], links: Mapping[str, str], name: str = TRACE) -> str | None:
    """The `name` link (default: the trace) of one request row, if the folder defines one."""
    template = links.get(name)
    return render_link(template, row) if template else None
