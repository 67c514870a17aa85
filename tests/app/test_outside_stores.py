"""Every page and the CLI on outside-shaped stores (tests/fixtures/outside).

No exception, and nothing absent shown as a number.
"""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.core.telemetry import signals as sig
from dashboard.core.telemetry.query import TelemetryStore
from tests.fixtures import OUTSIDE_STORES, REPO_ROOT, build_outside_store, run_cli

APP = REPO_ROOT / "dashboard" / "app.py"
PAGES = sorted(p.name for p in (REPO_ROOT / "dashboard" / "views").glob("*.py") if p.name != "__init__.py")


@pytest.fixture(scope="module", params=OUTSIDE_STORES)
def outside(request, tmp_path_factory):
    return build_outside_store(request.param, tmp_path_factory.mktemp(request.param) / "data")


def page_text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [e.value for e in at.error]
    parts += [w.value for w in at.warning] + [i.value for i in at.info]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_opens_and_draws_no_absent_signal(outside, page, monkeypatch):
    monkeypatch.setenv("WARROOM_DATA", str(outside.root))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.switch_page(f"views/{page}")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    # deliberate error boxes (a burning SLO, a regression found) are the data speaking; a failure is not
    assert not [e.value for e in at.error if "could not be drawn" in e.value]
    store = TelemetryStore(outside)
    absent = [s for s in sig.SIGNALS if s.name not in store.signals()]
    for box in at.selectbox:
        for option in box.options:
            assert not any(option.startswith(f"{s.label} (") for s in absent), (page, box.label, option)


def test_investigate_says_not_in_this_data(outside):
    store = TelemetryStore(outside)
    absent = next(s for s in sig.DIAGNOSABLE if s not in store.signals())
    run = run_cli("investigate", "--data", str(outside.root), "--signal", absent, "--json")
    assert run.returncode == 2
    answer = json.loads(run.stdout)
    assert answer["in_data"] is False and "not in this data" in answer["message"]
    present = next(s for s in sig.DIAGNOSABLE if s in store.signals())
    ok = run_cli("investigate", "--data", str(outside.root), "--signal", present)
    assert ok.returncode == 0, ok.stderr
