"""Property test: on random small stores (measures absent, all null or partly null, minutes without any
request, random version mixes) every page and every CLI command completes, and no signal the store
lacks is reported as a number. Examples are few and small so the suite keeps its time."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from dashboard.core.reporting.slo_store import evaluate_slos, load_slos
from dashboard.core.telemetry import signals as sig
from dashboard.core.telemetry.compare import before_after, cohort_comparison
from dashboard.core.telemetry.query import TelemetryStore
from tests.fixtures import PRESENCE, RANDOM_MEASURES, REPO_ROOT, random_store, run_cli

APP = REPO_ROOT / "dashboard" / "app.py"
PAGES = sorted(p.name for p in (REPO_ROOT / "dashboard" / "views").glob("*.py") if p.name != "__init__.py")

stores = st.fixed_dictionaries({
    "seed": st.integers(0, 10_000),
    "per_minute": st.lists(st.integers(0, 8), min_size=3, max_size=40).filter(lambda m: sum(m) > 0),
    "presence": st.fixed_dictionaries({m: st.sampled_from(PRESENCE) for m in RANDOM_MEASURES}),
    "versions": st.lists(st.sampled_from(["v1", "v2", "v3"]), max_size=3, unique=True),
})


def expected_absent(presence: dict[str, str]) -> set[str]:
    have = {m for m, how in presence.items() if how in ("partly_null", "full")}
    return {s.name for s in sig.SIGNALS if not set(s.measures) <= have}


def cli(*args: str) -> tuple[int, str]:
    run = run_cli(*args)
    return run.returncode, run.stdout + run.stderr


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=stores)
def test_core_and_cli_on_random_stores(spec):
    root = Path(tempfile.mkdtemp(prefix="random-store-"))
    try:
        data = random_store(root / "data", **spec)
        store = TelemetryStore(data)
        absent = expected_absent(spec["presence"])
        # a measure null in every row counts as absent; a partly null one is there
        assert absent.isdisjoint(store.signals()) and set(store.signals()) | absent == set(sig.BY_NAME)
        first, last, _ = store.time_range()
        cohort_comparison(store, "prompt", first, last)
        cohort_comparison(store, "region", first, last)
        frame = before_after(store, first + (last - first) / 2, 5)
        for row in frame.iter_rows(named=True) if not frame.is_empty() else []:
            if row["signal"] in absent:
                assert row["baseline"] is None and row["value"] is None, row
        for status in evaluate_slos(store, load_slos(data)):
            if status.slo.signal in absent:
                assert status.state == "no data" and status.attainment is None
        # one signal the store lacks and one it has (every signal is covered across examples)
        picks = [n for n in sig.DIAGNOSABLE if n in absent][spec["seed"] % 3:][:1]
        picks += [n for n in sig.DIAGNOSABLE if n not in absent][spec["seed"] % 2:][:1]
        for name in picks:
            code, text = cli("investigate", "--data", str(data.root), "--signal", name, "--json")
            if name in absent:
                assert code == 2 and json.loads(text)["in_data"] is False
            else:
                assert code == 0, text
        code, text = cli("slo", "--data", str(data.root), "--json")
        assert code == 0, text
        signal = next((s for s in sig.DIAGNOSABLE if s not in absent), "error_rate")
        code, text = cli("incident", "open", "--data", str(data.root), "--as", "ana", "--title", "t",
                         "--signal", signal, "--json")
        assert code in (0, 2), text
        code, text = cli("postmortem", "INC-1", "--data", str(data.root))
        assert code in (0, 2), text
        assert "Traceback" not in text
    finally:
        shutil.rmtree(root, ignore_errors=True)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=stores)
def test_every_page_on_random_stores(spec):
    root = Path(tempfile.mkdtemp(prefix="random-pages-"))
    before = os.environ.get("WARROOM_DATA")
    try:
        data = random_store(root / "data", **spec)
        absent = expected_absent(spec["presence"])
        os.environ["WARROOM_DATA"] = str(data.root)
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.run()
        for page in PAGES:
            at.switch_page(f"views/{page}")
            at.run()
            assert not at.exception, (page, [e.value for e in at.exception])
            assert not [e.value for e in at.error if "could not be drawn" in e.value], page
            for box in at.selectbox:
                for option in box.options:
                    assert not any(option.endswith(f"({name})") for name in absent), (page, option)
    finally:
        if before is None:
            os.environ.pop("WARROOM_DATA", None)
        else:
            os.environ["WARROOM_DATA"] = before
        shutil.rmtree(root, ignore_errors=True)
