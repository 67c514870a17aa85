"""Readable tables of comparisons: values in their units, the change, the verdict."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard.core.telemetry import signals as sig


def verdict(row: dict) -> str:
    if row.get("p_value") is None:
        return "cannot separate" if "cannot separate" in (row.get("test") or "") else "not testable"
    if not row["beyond_noise"]:
        return "within noise"
    return "worse" if row["worse"] else "better"


def format_comparisons(frame: pl.DataFrame, group: str | None = None) -> pl.DataFrame:
    """Strings for display; the frame itself keeps the numbers for tests and exports."""
    rows = []
    for r in frame.iter_rows(named=True):
        s = sig.get(r["signal"])
        change = "–"
        if r["delta"] is not None:
            change = (f"{r['delta'] * 100:+.1f} pts" if s.unit == "%" else
                      f"{r['relative'] * 100:+.1f}%" if r["relative"] is not None else f"{r['delta']:+.3g}")
        rows.append({
            **({group: r[group]} if group else {}),
            "signal": s.label,
            "baseline": s.format(r["baseline"]),
            "value": s.format(r["value"]),
            "change": change,
            "verdict": verdict(r),
            "n (baseline / value)": f"{r['n_baseline']:,} / {r['n_value']:,}",
            "p": "–" if r["p_value"] is None else f"{r['p_value']:.1g}",
            "test": r.get("test") or "",
        })
    return pl.DataFrame(rows)


def comparison_table(frame: pl.DataFrame, group: str | None = None) -> None:
    if frame.is_empty():
        st.info("Nothing to compare in this window.")
        return
    shown = format_comparisons(frame, group)
    colours = {"worse": "background-color: #fee2e2", "better": "background-color: #dcfce7"}
    st.dataframe(shown.to_pandas().style.map(lambda v: colours.get(v, ""), subset=["verdict"]),
                 hide_index=True, width="stretch")
    st.caption("Beyond noise: p < 0.01 (rates: two-proportion test; latency and cost: Welch t on the log scale; "
               "means: Welch z). Baseline is the older version or the window before.")
    if "adjusted_for" in frame.columns and frame["adjusted_for"].fill_null("").str.len_chars().max():
        mixed = sorted({a for a in frame["adjusted_for"].fill_null("").to_list() if a})
        st.caption(f"The versions served a different mix of {'; '.join(mixed)}: rates are compared within each "
                   "combination of those (Cochran–Mantel–Haenszel), so a version is not blamed for the traffic "
                   "it got; the other signals are not adjusted (their test says so). 'Cannot separate': no "
                   "combination was served by both versions.")
