"""SLO declarations: the shipped default loads; mistakes are named by file, entry and field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from dashboard.core.datadir import DataDir
from dashboard.core.reporting.slo_config import (
    DEFAULT_SLO_FILE,
    SloConfigError,
    load_slo_config,
    parse_duration,
    slo_file_for,
)
from dashboard.core.telemetry import signals as sig


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "slos.toml"
    path.write_text(body)
    return path


def test_shipped_default_declares_the_issue_objectives():
    config = load_slo_config(DEFAULT_SLO_FILE, known_signals=set(sig.BY_NAME))
    assert config.period == timedelta(days=28)
    by_name = {s.name: s for s in config.slos}
    assert (by_name["refusals"].signal, by_name["refusals"].op, by_name["refusals"].threshold) == (
        "refusal_rate", "<=", 0.06)
    assert by_name["latency-p95"].threshold == 5000
    assert by_name["deflection"].op == ">=" and by_name["deflection"].threshold == 0.38
    assert by_name["availability"].method == "requests"
    assert by_name["availability"].allowed_bad_fraction == pytest.approx(0.01)
    assert by_name["refusals"].allowed_bad_fraction == pytest.approx(0.01)


def test_data_folder_file_wins_over_default(tmp_path):
    assert slo_file_for(DataDir(tmp_path)) == DEFAULT_SLO_FILE
    own = write(tmp_path, "")
    assert slo_file_for(DataDir(tmp_path)) == own


def test_request_method_objective_derives_from_threshold(tmp_path):
    config = load_slo_config(write(tmp_path, """
[[slo]]
name = "deflect"
signal = "task_success_rate"
op = ">="
threshold = 0.38
method = "requests"
segment = { tier = "paid" }
"""))
    slo = config.slos[0]
    assert slo.allowed_bad_fraction == pytest.approx(0.62)
    assert slo.target == pytest.approx(0.38)
    assert slo.segment == {"tier": "paid"}
    assert "tier=paid" in slo.describe()


@pytest.mark.parametrize("body, message", [
    ('[[slo]]\nname = "a"\nsignal = "refusal_rate"\nop = "<"\nthreshold = 0.06\n', "field 'op'"),
    ('[[slo]]\nname = "a"\nsignal = "refusal_rate"\nop = "<="\n', "field 'threshold' is required"),
    ('[[slo]]\nname = "a"\nsignal = "refusal_rate"\nop = "<="\nthreshold = 0.06\nobjective = 99\n',
     "field 'objective'"),
    ('[[slo]]\nname = "a"\nsignal = "refusal_rate"\nop = "<="\nthreshold = 0.06\nwindow = "five"\n',
     "field 'window'"),
    ('[[slo]]\nname = "a"\nsignal = "refusal_rate"\nop = "<="\nthreshold = 0.06\nmethod = "requests"\n'
     'objective = 0.9\n', "derived from the threshold"),
    ('[[slo]]\nname = "a"\nsignal = "nope"\nop = "<="\nthreshold = 0.06\n', "field 'signal'"),
    ('[[slo]]\nname = "a"\nsignal = "refusal_rate"\nop = "<="\nthreshold = 0.06\ncolour = 1\n',
     "unknown field"),
    ('[defaults]\nperiod_days = 28\n', "no [[slo]] entries"),
    ('[[slo]]\nname = "a"\nsignal = "refusal_rate"\nop = "<="\nthreshold = 0.06\n'
     '[[slo]]\nname = "a"\nsignal = "error_rate"\nop = "<="\nthreshold = 0.01\n', "duplicate"),
    ('[[slo]\n', "not valid TOML"),
])
def test_mistakes_name_file_entry_and_field(tmp_path, body, message):
    path = write(tmp_path, body)
    with pytest.raises(SloConfigError) as info:
        load_slo_config(path, known_signals=set(sig.BY_NAME))
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_second_entry_is_numbered(tmp_path):
    path = write(tmp_path, '[[slo]]\nname = "a"\nsignal = "refusal_rate"\nop = "<="\nthreshold = 0.06\n'
                           '[[slo]]\nname = "b"\nsignal = "error_rate"\nop = "=="\nthreshold = 0.01\n')
    with pytest.raises(SloConfigError, match=r"\[\[slo\]\] #2 \(b\): field 'op'"):
        load_slo_config(path)


def test_durations():
    assert parse_duration("5m") == timedelta(minutes=5)
    assert parse_duration("1h") == timedelta(hours=1)
    with pytest.raises(ValueError):
        parse_duration("5 minutes")
