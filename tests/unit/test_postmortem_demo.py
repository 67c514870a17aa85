"""The demo incident's generated postmortem against the timeline DESIGN.md promises.

Every recovery number is measured from the generated telemetry on paid English;
the bands allow for sampling noise, not for a different story.
"""

from __future__ import annotations

import json
import re

import pytest

from dashboard.cli import main
from dashboard.core.incident.service import Incidents
from dashboard.core.reporting.postmortem.service import get_postmortem, render_postmortem, save_section


def support_bot_id(data) -> str:
    return next(s.id for s in Incidents.for_data_dir(data).list() if s.source == "demo:support-bot-refusals")


@pytest.fixture(scope="module")
def pm(demo_data):
    return get_postmortem(demo_data, support_bot_id(demo_data))


def _pct(text: str) -> list[float]:
    return [float(x) / 100 for x in re.findall(r"(\d+\.\d)%", text)]


def test_releases_and_alert_on_the_timeline(pm):
    entries = [(i.at.strftime("%H:%M"), i.kind, i.text) for i in pm.timeline]
    assert any(t == "13:30" and k == "release" and "prompt-v7" in x for t, k, x in entries)
    assert any(t == "13:40" and k == "release" and "kb-2025-02-15" in x for t, k, x in entries)
    assert any(t == "14:10" and k == "detection" for t, k, _ in entries)


def test_prompt_rollback_partial_recovery_measured(pm):
    entry = next(i for i in pm.timeline if i.kind == "rollback" and "prompt-v6" in i.text)
    assert "partial recovery" in entry.text
    refusal, deflection = _pct(entry.text.split("partial recovery")[1])[:2]
    assert 0.065 <= refusal <= 0.095  # 8%
    assert 0.33 <= deflection <= 0.39  # 36%


def test_index_rollback_full_recovery_measured(pm):
    entry = next(i for i in pm.timeline if i.kind == "rollback" and "kb-2025-02-01" in i.text)
    assert "full recovery" in entry.text
    refusal, deflection = _pct(entry.text.split("full recovery")[1])[:2]
    assert 0.035 <= refusal <= 0.065  # 5%
    assert 0.385 <= deflection <= 0.435  # 41%


def test_soak_on_the_timeline(pm):
    kinds = [i.kind for i in pm.timeline]
    assert "soak_started" in kinds
    assert pm.timeline[-1].kind == "now" and "soak" in pm.timeline[-1].text.lower()


def test_impact_and_causes(pm):
    refusal = pm.impact.delta("refusal_rate")
    assert 0.03 <= refusal.baseline <= 0.05 and 0.16 <= refusal.worst <= 0.22
    deflection = pm.impact.delta("task_success_rate")
    assert 0.39 <= deflection.baseline <= 0.45 and 0.21 <= deflection.worst <= 0.29
    assert deflection.excess_events > 1000  # tickets not deflected
    assert pm.impact.users_affected and pm.impact.users_affected <= pm.impact.requests_affected
    roles = {(c.artifact, c.version): c.role for c in pm.causes}
    assert roles == {("prompt", "prompt-v7"): "root cause", ("index", "kb-2025-02-15"): "contributing"}
    assert pm.times.duration("detect").total_seconds() == 40 * 60


@pytest.mark.slow
def test_cli_exports_markdown_and_html(demo_data_copy, tmp_path, capsys):
    incident = support_bot_id(demo_data_copy)
    save_section(demo_data_copy, incident, "went_well", "- Comms landed on time", "lena", expected_seq=0)
    assert main(["postmortem", incident, "--data", str(demo_data_copy.root)]) == 0
    md = capsys.readouterr().out
    assert md.startswith(f"# Postmortem {incident}")
    assert "- Comms landed on time" in md and "Edited by lena" in md
    out = tmp_path / "pm.html"
    assert main(["postmortem", incident, "--format", "html", "--out", str(out),
                 "--data", str(demo_data_copy.root)]) == 0
    html = out.read_text()
    assert "<h2>Timeline (UTC)</h2>" in html and "prompt-v7" in html and "full recovery" in html
    assert render_postmortem(demo_data_copy, incident, "md") == md


def test_cli_unknown_incident_is_a_user_error(demo_data, capsys):
    assert main(["postmortem", "INC-999", "--data", str(demo_data.root)]) == 2
    assert "INC-999" in capsys.readouterr().err


def test_slo_cli_json(demo_data, capsys):
    assert main(["slo", "--data", str(demo_data.root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    by_name = {s["name"]: s for s in report["slos"]}
    assert set(by_name) == {"availability", "refusals", "deflection", "latency-p95", "cost-per-request"}
    # the demo week's five incidents spend the refusal and latency budgets; availability holds
    assert by_name["refusals"]["budget_remaining"] < 0
    assert by_name["availability"]["state"] == "ok"
    assert all(len(s["alerts"]) == 2 for s in report["slos"])
