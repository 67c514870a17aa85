"""One bad record or link parameter never takes a page down: the part that needs it warns, the rest is drawn."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.core.incident.service import Incidents
from tests.fixtures import REPO_ROOT

APP = REPO_ROOT / "dashboard" / "app.py"


@pytest.fixture
def bad_records(demo_data_copy, monkeypatch):
    """The demo plus two incidents written before references were checked: an unknown segment, an unknown signal."""
    incidents = Incidents.for_data_dir(demo_data_copy)
    bad_segment = incidents.open("Priya Raman", "Bad segment", segments={"nosuchcol": "x"}, signals=["refusal_rate"])
    bad_signal = incidents.open("Priya Raman", "Bad signal", signals=["no_such_signal"])
    monkeypatch.setenv("WARROOM_DATA", str(demo_data_copy.root))
    return bad_segment.id, bad_signal.id


def _open(page: str, **params: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.switch_page(page)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_landing_page_warns_beside_an_incident_it_cannot_measure_and_shows_the_others(bad_records):
    bad_segment, _ = bad_records
    at = _open("views/summary.py")
    assert any(bad_segment in w.value and "nosuchcol" in w.value for w in at.warning)
    assert any("INC-5" in m.value for m in at.markdown)  # the demo's open incident is still there


def test_the_war_room_draws_an_incident_naming_an_unknown_signal_with_a_warning(bad_records):
    _, bad_signal = bad_records
    at = _open("views/war_room.py", incident=bad_signal)
    assert any("no\\_such\\_signal" in w.value for w in at.warning)


@pytest.mark.parametrize("page, params, named", [
    ("views/explorer.py", {"range": "Custom", "range_from": "9999-12-31T00:00", "range_to": "9999-12-31T01:00"},
     "range\\_from"),
    ("views/explorer.py", {"ba_minutes": "1e400", "tab": "Before / after a release"}, "ba\\_minutes"),
    ("views/explorer.py", {"f_region": "eu-wst"}, "f\\_region\\=eu\\-wst"),
    ("views/root_cause.py", {"signal": "no_such_signal"}, "signal\\=no\\_such\\_signal"),
    ("views/root_cause.py", {"range": "Forever"}, "range\\=Forever"),
])
def test_a_link_parameter_outside_its_bounds_is_ignored_and_named(bad_records, page, params, named):
    at = _open(page, **params)
    assert any(w.value.startswith("Ignored from the link") and named in w.value for w in at.warning), \
        [w.value for w in at.warning]
