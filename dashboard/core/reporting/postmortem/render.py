"""Postmortem exports: Markdown, and HTML with its own print-ready CSS (no external files)."""

from __future__ import annotations

import html
import re

from dashboard.core.reporting.impact import Impact
from dashboard.core.reporting.incident_metrics import STAGES, format_duration
from dashboard.core.reporting.postmortem.model import Postmortem
from dashboard.core.telemetry import signals as sig
from dashboard.core.text import md, md_prose

TERMS = ("short", "medium", "long")
STAGE_LABELS = {"detect": "Time to detect", "acknowledge": "Time to acknowledge (incident open)",
                "mitigate": "Time to mitigate", "resolve": "Time to resolve"}


def _cell(text: object) -> str:
    """A table cell of the Markdown export: shown as recorded (a pipe, a link or an image does nothing)."""
    return md(text)


def _seg(segment: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in segment.items()) or "all traffic"


def impact_rows(impact: Impact) -> list[tuple[str, str]]:
    """(figure, value) pairs in reading order: what both exports and the pages show."""
    rows = [("Window", f"{impact.window_start:%Y-%m-%d %H:%M} – {impact.window_end:%H:%M} UTC"),
            ("Scope", _seg(impact.filters)),
            ("Requests affected", f"{impact.requests_affected:,}"
             + (f" ({impact.share_affected:.1%} of all traffic)" if impact.share_affected is not None else ""))]
    if impact.users_affected is not None:
        rows.append(("Users affected", f"{impact.users_affected:,}"))
    if impact.extra_spend_usd is not None:
        word = "Extra spend" if impact.extra_spend_usd >= 0 else "Spend change"
        sign = "-" if impact.extra_spend_usd < 0 else ""
        rows.append((word, f"{sign}${abs(impact.extra_spend_usd):,.2f} vs baseline (total ${impact.cost_usd:,.2f})"))
    for d in impact.deltas:
        if not d.changed:
            continue
        text = (f"{sig.format_value(d.signal, d.baseline)} → {sig.format_value(d.signal, d.worst)} at worst, "
                f"{sig.format_value(d.signal, d.current)} now ({d.trend})")
        if d.excess_events and d.event_label and d.excess_events > 0:
            text += f"; {d.excess_events:,.0f} {d.event_label}"
        rows.append((sig.label(d.signal), text))
    rows.append(("Baseline", impact.baseline_label))
    return rows


def to_markdown(pm: Postmortem) -> str:
    out = [f"# Postmortem {pm.incident_id}: {md(pm.title)}", "",
           f"*Blameless review generated from the incident record and telemetry as of {pm.as_of:%Y-%m-%d %H:%M} "
           f"UTC.* Severity **{pm.severity or '—'}** · status **{pm.status}** · service {md(pm.service or '—')} · "
           f"type {pm.incident_type or '—'} · scope {md(_seg(pm.segment))}", ""]
    summary = pm.section("summary")
    out += [f"## {summary.title}", "", md_prose(summary.text), _edited_md(pm, "summary"), ""]
    out += ["## Impact", ""]
    if pm.impact is not None:
        out += ["| Figure | Value |", "|---|---|"]
        out += [f"| {_cell(k)} | {_cell(v)} |" for k, v in impact_rows(pm.impact)]
    else:
        out.append("No telemetry available to measure impact.")
    out += ["", "## Timeline (UTC)", "", "| Time | Source | Event |", "|---|---|---|"]
    out += [f"| {i.at:%m-%d %H:%M} | {i.source} | {_cell(i.text)} |" for i in pm.timeline]
    if pm.phases and pm.key_signals:
        out += ["", "### Measured on " + _seg(_phase_segment(pm)), "",
                "| Phase | From | To | Requests | " + " | ".join(sig.label(s) for s in pm.key_signals) + " |",
                "|---|---|---|---|" + "---|" * len(pm.key_signals)]
        for p in pm.phases:
            out.append(f"| {_cell(p.label)} | {p.start:%H:%M} | {p.end:%H:%M} | {p.requests:,} | "
                       + " | ".join(sig.format_value(s, p.values.get(s)) for s in pm.key_signals) + " |")
    out += ["", "## Detection gap and response times", "", "| Measure | Duration |", "|---|---|"]
    out += [f"| {STAGE_LABELS[s]} | {format_duration(pm.times.duration(s))} |" for s in STAGES]
    out.append(f"| Alert to incident open | {format_duration(pm.times.detection_gap)} |")
    out.append("")
    for key in ("root_cause", "went_well", "went_badly", "lessons"):
        sec = pm.section(key)
        if sec.text.strip():
            out += [f"## {sec.title}", "", md_prose(sec.text), _edited_md(pm, key), ""]
    out += ["## Action items", "", "| Term | Action | Owner | Due | Status |", "|---|---|---|---|---|"]
    for a in sorted(pm.actions, key=lambda a: (TERMS.index(a.term) if a.term in TERMS else 9, a.suggested)):
        status = "suggested" if a.suggested else ("done " + f"{a.done_at:%Y-%m-%d}" if a.done_at else "open")
        out.append(f"| {a.term} | {_cell(a.title)} | {_cell(a.owner or '—')} | {a.due or '—'} | {status} |")
    out += ["", "## Reproducer", "", pm.reproducer, ""]
    if pm.reproducer_samples:
        out += ["| Request | Time (UTC) | Group | Versions | Trace |", "|---|---|---|---|---|"]
        for r in pm.reproducer_samples:
            # the link was rendered by the app (escaped id, http/https template); angle brackets keep it one token
            trace = f"[open trace](<{r.trace_link}>)" if r.trace_link else "—"
            out.append(f"| {_cell(r.request_id)} | {r.at:%m-%d %H:%M:%S} | "
                       f"{'affected' if r.affected else 'unaffected'} | {_cell(r.versions)} | {trace} |")
        out.append("")
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out))


def _edited_md(pm: Postmortem, key: str) -> str:
    sec = pm.section(key)
    if sec.edited is None:
        return ""
    return f"\n*Edited by {md(sec.edited_by)} on {sec.edited_at:%Y-%m-%d %H:%M} UTC.*"


def _phase_segment(pm: Postmortem) -> dict:
    return pm.impact.filters if pm.impact is not None and not pm.segment else pm.segment


CSS = """
:root { --ink:#1f2430; --muted:#5b6475; --line:#d9dde5; --danger:#b42318; --success:#067647; --accent:#1d4ed8; }
* { box-sizing: border-box; }
body { font: 15px/1.5 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: var(--ink);
       max-width: 980px; margin: 2rem auto; padding: 0 1.5rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem;
       border-bottom: 2px solid var(--line); padding-bottom: .25rem; }
h3 { font-size: 1rem; color: var(--muted); }
.meta { color: var(--muted); margin-bottom: 1.5rem; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: .6rem; background: #eef2ff;
         color: var(--accent); font-weight: 600; font-size: .85rem; margin-right: .3rem; }
table { width: 100%; border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f6f7f9; font-weight: 600; }
td.time { white-space: nowrap; font-variant-numeric: tabular-nums; }
tr.danger td { color: var(--danger); } tr.success td { color: var(--success); } tr.muted td { color: var(--muted); }
.edited { color: var(--muted); font-size: .8rem; font-style: italic; }
.suggested { color: var(--muted); font-style: italic; }
@media print { body { margin: 0; max-width: none; font-size: 11pt; } h2 { break-after: avoid; }
  tr { break-inside: avoid; } a { color: inherit; text-decoration: none; } }
"""


def _md_inline(text: str) -> str:
    """Escape, then the little Markdown the generated prose uses: **bold**, *italic*, `code`."""
    safe = html.escape(text)
    safe = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", safe)
    safe = re.sub(r"(?<!\*)\*(?!\*)(.+?)\*", r"<em>\1</em>", safe)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", safe)


def _md_block(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if lines and all(ln.lstrip().startswith("- ") for ln in lines):
        return "<ul>" + "".join(f"<li>{_md_inline(ln.lstrip()[2:])}</li>" for ln in lines) + "</ul>"
    return "".join(f"<p>{_md_inline(p)}</p>" for p in text.split("\n\n") if p.strip())


def _table(headers: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _td(text: object, cls: str = "") -> str:
    return f'<td class="{cls}">{html.escape(str(text))}</td>' if cls else f"<td>{html.escape(str(text))}</td>"


def to_html(pm: Postmortem) -> str:
    e = html.escape
    parts = [f"<h1>Postmortem {e(pm.incident_id)}: {e(pm.title)}</h1>",
             f'<div class="meta"><span class="badge">{e(pm.severity or "—")}</span>'
             f'<span class="badge">{e(pm.status)}</span> service {e(pm.service or "—")} · type '
             f'{e(pm.incident_type or "—")} · scope {e(_seg(pm.segment))} · blameless review generated from the '
             f'record and telemetry as of {pm.as_of:%Y-%m-%d %H:%M} UTC</div>']
    parts += [_section_html(pm, "summary")]
    parts.append("<h2>Impact</h2>")
    if pm.impact is not None:
        parts.append(_table(["Figure", "Value"], [[_td(k), _td(v)] for k, v in impact_rows(pm.impact)]))
    else:
        parts.append("<p>No telemetry available to measure impact.</p>")
    parts.append("<h2>Timeline (UTC)</h2>")
    parts.append(_table(["Time", "Source", "Event"],
                        [[_td(f"{i.at:%m-%d %H:%M}", "time"), _td(i.source), _td(i.text)] for i in pm.timeline],
                        [i.tone if i.tone != "normal" else "" for i in pm.timeline]))
    if pm.phases and pm.key_signals:
        parts.append(f"<h3>Measured on {e(_seg(_phase_segment(pm)))}</h3>")
        parts.append(_table(["Phase", "From", "To", "Requests", *[sig.label(s) for s in pm.key_signals]],
                            [[_td(p.label), _td(f"{p.start:%H:%M}", "time"), _td(f"{p.end:%H:%M}", "time"),
                              _td(f"{p.requests:,}"),
                              *[_td(sig.format_value(s, p.values.get(s))) for s in pm.key_signals]]
                             for p in pm.phases]))
    parts.append("<h2>Detection gap and response times</h2>")
    rows = [[_td(STAGE_LABELS[s]), _td(format_duration(pm.times.duration(s)))] for s in STAGES]
    rows.append([_td("Alert to incident open"), _td(format_duration(pm.times.detection_gap))])
    parts.append(_table(["Measure", "Duration"], rows))
    for key in ("root_cause", "went_well", "went_badly", "lessons"):
        if pm.section(key).text.strip():
            parts.append(_section_html(pm, key))
    parts.append("<h2>Action items</h2>")
    actions = sorted(pm.actions, key=lambda a: (TERMS.index(a.term) if a.term in TERMS else 9, a.suggested))
    parts.append(_table(["Term", "Action", "Owner", "Due", "Status"],
                        [[_td(a.term), _td(a.title), _td(a.owner or "—"), _td(a.due or "—"),
                          _td("suggested" if a.suggested else (f"done {a.done_at:%Y-%m-%d}" if a.done_at else "open"))]
                         for a in actions], ["suggested" if a.suggested else "" for a in actions]))
    parts.append(f"<h2>Reproducer</h2>{_md_block(pm.reproducer)}")
    if pm.reproducer_samples:
        parts.append(_table(["Request", "Time (UTC)", "Group", "Versions", "Trace"], [
            [_td(r.request_id), _td(f"{r.at:%m-%d %H:%M:%S}"), _td("affected" if r.affected else "unaffected"),
             _td(r.versions),
             f'<td><a href="{e(r.trace_link)}">open trace</a></td>' if r.trace_link else _td("—")]
            for r in pm.reproducer_samples]))
    title = e(f"Postmortem {pm.incident_id}: {pm.title}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>'
            f'<body>{"".join(parts)}</body></html>\n')


def _section_html(pm: Postmortem, key: str) -> str:
    sec = pm.section(key)
    edited = (f'<div class="edited">Edited by {html.escape(sec.edited_by or "")} on '
              f'{sec.edited_at:%Y-%m-%d %H:%M} UTC</div>' if sec.edited is not None else "")
    return f"<h2>{html.escape(sec.title)}</h2>{_md_block(sec.text)}{edited}"
