"""Sample requests link back to their trace: packet rows, cohort samples, the postmortem's reproducer."""

from __future__ import annotations

import json
from datetime import timedelta

import polars as pl

from dashboard.core.datadir import DataDir, atomic_write_parquet
from dashboard.core.incident.events import NewEvent
from dashboard.core.incident.store import IncidentStore
from dashboard.core.reporting.packet import export_packet
from dashboard.core.reporting.postmortem.gather import gather_postmortem
from dashboard.core.reporting.postmortem.render import to_html, to_markdown
from dashboard.core.telemetry.links import render_link, save_links
from dashboard.core.telemetry.query import TelemetryStore
from dashboard.core.telemetry.samples import version_samples, with_trace_links
from tests.unit.test_packet import START, packet_rows

TEMPLATE = "https://cloud.langfuse.com/project/p1/traces/{trace_id}"


def linked_data(tmp_path, template: str | None = TEMPLATE) -> DataDir:
    data = DataDir(tmp_path / "data")
    rows = packet_rows().with_columns(
        pl.format("{}", pl.int_range(0, pl.len()).cast(pl.String).str.zfill(32)).alias("trace_id"))
    # one id that needs escaping in a URL, one request without a trace id
    rows = rows.with_columns(pl.when(pl.col("request_id") == "r0401").then(pl.lit("ab/../c?d=1#e"))
                             .when(pl.col("request_id") == "r0403").then(None)
                             .otherwise(pl.col("trace_id")).alias("trace_id"))
    atomic_write_parquet(rows, data.requests / "part-0.parquet")
    IncidentStore(data.incidents_db).create([NewEvent.make(
        "opened", {"title": "p7 refusals", "window_start": START, "segments": {"language": "en"},
                   "suspects": ["prompt:p7"]}, "ana", START + timedelta(minutes=30))])
    if template:
        save_links(data, {"trace": template})
    return data


def test_links_are_rendered_by_the_app_escaped_and_only_for_web_templates():
    assert render_link(TEMPLATE, {"trace_id": "ab/../c?d=1#e"}) == (
        "https://cloud.langfuse.com/project/p1/traces/ab%2F..%2Fc%3Fd%3D1%23e")
    assert render_link(TEMPLATE, {"trace_id": None}) is None
    assert render_link("javascript:alert('{trace_id}')", {"trace_id": "x"}) is None
    assert render_link("file:///etc/{trace_id}", {"trace_id": "x"}) is None
    rows = with_trace_links(pl.DataFrame({"trace_id": ["1f", None]}), {"trace": "HTTP://t.example/{trace_id}"})
    assert rows["trace_link"].to_list() == ["HTTP://t.example/1f", None]


def test_packet_rows_carry_their_trace_link_and_the_manifest_the_template(tmp_path):
    data = linked_data(tmp_path)
    result = export_packet(data, "INC-1", tmp_path / "out", sample=1000)
    rows = pl.read_parquet(tmp_path / "out" / "requests.parquet")
    assert result.manifest["links"] == {"trace": TEMPLATE}
    by_id = dict(zip(rows["request_id"], rows["trace_link"], strict=True))
    assert by_id["r0401"].endswith("/traces/ab%2F..%2Fc%3Fd%3D1%23e")
    assert by_id["r0403"] is None
    some = rows.filter(pl.col("trace_id").is_not_null() & (pl.col("request_id") != "r0401")).row(0, named=True)
    assert some["trace_link"] == TEMPLATE.format(trace_id=some["trace_id"])
    first = json.loads((tmp_path / "out" / "requests.jsonl").read_text().splitlines()[0])
    assert "trace_link" in first


def test_cohort_samples_show_a_few_requests_of_each_version_with_links(tmp_path):
    data = linked_data(tmp_path)
    store = TelemetryStore(data)
    rows = version_samples(store, "prompt_version", ["p6", "p7"], START, START + timedelta(hours=1),
                           links={"trace": TEMPLATE}, per_version=4)
    assert rows.group_by("version").len().sort("version").rows() == [("p6", 4), ("p7", 4)]
    assert rows.filter(pl.col("trace_id").is_not_null())["trace_link"].str.starts_with(
        "https://cloud.langfuse.com/").all()
    again = version_samples(store, "prompt_version", ["p6", "p7"], START, START + timedelta(hours=1),
                            links={"trace": TEMPLATE}, per_version=4)
    assert again["request_id"].to_list() == rows["request_id"].to_list()


def test_postmortem_reproducer_names_sample_requests_with_their_trace(tmp_path):
    pm = gather_postmortem(linked_data(tmp_path), "INC-1")
    samples = pm.reproducer_samples
    assert {s.affected for s in samples} == {True, False}
    linked = [s for s in samples if s.trace_link]
    assert linked and all(s.trace_link.startswith("https://cloud.langfuse.com/project/p1/traces/") for s in linked)
    assert any("prompt p7" in s.versions for s in samples if s.affected)
    markdown, page = to_markdown(pm), to_html(pm)
    assert f"[open trace](<{linked[0].trace_link}>)" in markdown
    assert f'<a href="{linked[0].trace_link}">open trace</a>' in page


def test_without_a_template_nothing_is_linked(tmp_path):
    pm = gather_postmortem(linked_data(tmp_path, template=None), "INC-1")
    assert pm.reproducer_samples and all(s.trace_link is None for s in pm.reproducer_samples)
