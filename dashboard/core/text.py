"""Text written by people or taken from telemetry and URLs, made inert wherever it is shown.

Titles, names, comms, notes, versions, segment values and URL parameters are
data, not markup. Streamlit renders Markdown (links, images that the browser
fetches, `:red[...]` directives, `:material/...:` icons) in most of its
elements, Plotly renders a subset of HTML (`<b>`, `<a href>`) in labels, and a
Markdown export is rendered again by whoever opens it. So:

- `md(text)`: for a value inside Markdown the app writes: every character
  Markdown could act on is backslash-escaped, and URLs are broken so no
  autolink forms. Shown exactly as typed.
- `md_prose(text)`: for prose a person wrote as Markdown (postmortem sections):
  emphasis, lists and headings stay; links, images, raw HTML and autolinks
  become plain text.
- `plotly_text(text)`: for Plotly labels, hover text and annotations: HTML-escaped.
"""

from __future__ import annotations

import html
import re

_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=\"'@])")
_LINK_STARTERS = re.compile(r"([\[\]<>!\\`@])")
_BARE_URL = re.compile(r"(?i)\b(https?|ftp|mailto|javascript|data):")
_WWW = re.compile(r"(?i)\bwww\.")


ZWSP = "\u200b"  # invisible: splits what GFM would autolink (a backslash escape does not stop it)


def _no_autolinks(text: str) -> str:
    text = _BARE_URL.sub(lambda m: f"{m.group(1)}:{ZWSP}", text)
    text = _WWW.sub(lambda m: m.group(0)[:3] + ZWSP + ".", text)
    return text.replace("@", "@" + ZWSP)


def md(value: object) -> str:
    """`value` as text inside Markdown: rendered exactly as typed, nothing fetched, nothing linked."""
    text = "" if value is None else str(value)
    text = _no_autolinks(text.replace("\r", " ").replace("\n", " "))
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)


def md_prose(value: object) -> str:
    """Prose a person wrote as Markdown, kept as such but inert: no link, image, HTML or autolink."""
    text = "" if value is None else str(value)
    text = _LINK_STARTERS.sub(r"\\\1", _no_autolinks(text))
    return re.sub(r":(?=[A-Za-z0-9_/-]+(?:\[|:))", r"\\:", text)  # :red[...] and :material/x: directives


def plotly_text(value: object) -> str:
    """`value` for a Plotly label, hover text or annotation (which render <b>, <a href>, <br>)."""
    return html.escape("" if value is None else str(value), quote=True)
