"""Every page opens on the demo week without an exception (Streamlit's AppTest).

AppTest cannot render Plotly or fire run_every: that logic lives in pure
functions tested in tests/unit, and the browser layer covers the rest.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.fixtures import REPO_ROOT

APP = REPO_ROOT / "dashboard" / "app.py"
PAGES = sorted(p.name for p in (REPO_ROOT / "dashboard" / "views").glob("*.py") if p.name != "__init__.py")


def test_every_view_is_routed():
    router = APP.read_text()
    for page in PAGES:
        assert f"views/{page}" in router, f"{page} is not in the router"


@pytest.fixture
def app(demo_data_copy, monkeypatch):
    monkeypatch.setenv("WARROOM_DATA", str(demo_data_copy.root))
    return AppTest.from_file(str(APP), default_timeout=120)


@pytest.mark.parametrize("page", PAGES)
def test_page_opens_without_exception(app, page):
    app.run()
    app.switch_page(f"views/{page}")
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.title or app.header or app.markdown, f"{page} drew nothing"
    # no sign-in configured here: every page says it runs single-user, on this machine only
    assert any("Single-user mode" in c.value for c in app.sidebar.caption), f"{page} hides single-user mode"


def test_without_sign_in_the_app_refuses_to_serve_other_machines(app):
    from streamlit import config

    before = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    try:
        app.run()
    finally:
        config.set_option("server.address", before)
    assert not app.exception
    assert "only serves this machine" in app.error[0].value and "--server.address 127.0.0.1" in app.error[0].value
    assert not app.title  # nothing of the data was drawn


def test_empty_store_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("WARROOM_DATA", str(tmp_path / "empty"))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.switch_page("views/explorer.py")
    at.run()
    assert not at.exception
    assert any("warroom demo" in i.value for i in at.info)


def test_explorer_filters_narrow_the_data(app):
    app.run()
    app.switch_page("views/explorer.py")
    app.run()
    total = int(app.caption[1].value.split(" requests")[0].replace(",", ""))
    app.multiselect(key="f_language").set_value(["en"]).run()
    narrowed = int(app.caption[1].value.split(" requests")[0].replace(",", ""))
    assert not app.exception
    assert 0 < narrowed < total
