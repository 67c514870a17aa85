"""Hostile text made inert: nothing of it can form a link, an image, markup or an autolink."""

from __future__ import annotations

import re

from dashboard.core.text import md, md_prose, plotly_text

PAYLOAD = ("![i](http://evil.invalid/x.png) [Your session expired](https://evil.invalid/login) <b>b</b> "
           "www.evil.invalid a@evil.invalid :red[red] :material/home:")


def test_md_leaves_no_markdown_construct_and_no_autolinkable_url():
    out = md(PAYLOAD)
    assert not re.search(r"(?<!\\)[\[\]()<>!:]", out.replace("\u200b", ""))  # every special escaped
    assert "http://" not in out and "https://" not in out and "www." not in out and "a@e" not in out
    assert md("line one\nline two") == "line one line two"


def test_md_prose_keeps_emphasis_and_lists_but_no_link_image_html_or_autolink():
    out = md_prose("**bold** and _it_\n- item\n" + PAYLOAD)
    assert out.startswith("**bold** and _it_\n- item\n")
    assert "](" not in out.replace("\\](", "") and "<b>" not in out and "http://" not in out and ":red[" not in out


def test_plotly_labels_are_html_escaped():
    assert plotly_text("<b>v7</b><a href='x'>") == "&lt;b&gt;v7&lt;/b&gt;&lt;a href=&#x27;x&#x27;&gt;"
