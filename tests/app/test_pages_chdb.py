"""The app on a chDB-backed store: every page opens reading telemetry from ClickHouse, and shows the
same figures as on the DuckDB store of the same data.

The data folder's warroom.toml says `[store] engine = "chdb"`; the DuckDB store is
never opened (its constructor fails the test if anything calls it), so every number
on a page came through the ClickHouse forms of the query files.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.core.telemetry.query import TelemetryStore
from dashboard.core.telemetry.user_sketch import BOUND as USERS_BOUND
from tests.fixtures import REPO_ROOT, copy_store

pytestmark = pytest.mark.slow  # the shared chDB store is loaded once per session

APP = REPO_ROOT / "dashboard" / "app.py"
PAGES = sorted(p.name for p in (REPO_ROOT / "dashboard" / "views").glob("*.py") if p.name != "__init__.py")


def _no_duckdb(*args, **kwargs):
    raise AssertionError("a page opened the DuckDB store although the folder's [store] names chDB")


@pytest.fixture
def chdb_data(chdb_pair, tmp_path):
    """A private copy of the pair's data folder whose config points at the shared chDB store."""
    data, folder = chdb_pair
    copy = copy_store(data.root, tmp_path / "data")
    (copy.root / "warroom.toml").write_text(f'[store]\nengine = "chdb"\npath = "{folder}"\n')
    return copy


@pytest.fixture
def duck_data(chdb_pair, tmp_path):
    return copy_store(chdb_pair[0].root, tmp_path / "duck")


def _app(data, monkeypatch, page: str | None = None) -> AppTest:
    monkeypatch.setenv("WARROOM_DATA", str(data.root))
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    if page:
        at.switch_page(f"views/{page}")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _figures(at: AppTest) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in at.metric:
        out.setdefault(m.label, []).append(f"{m.value} {m.delta or ''}")
    return out


# the pages whose figures are compared with the DuckDB store's (the others only need to open: each
# page costs seconds on chDB, so it is drawn once and compared where it was)
COMPARED = ("summary.py", "explorer.py", "slos.py")


@pytest.mark.parametrize("page", PAGES)
def test_page_opens_on_chdb_and_shows_the_duckdb_figures(chdb_data, duck_data, monkeypatch, page):
    with monkeypatch.context() as m:
        m.setattr(TelemetryStore, "__init__", _no_duckdb)
        ch = _app(chdb_data, monkeypatch, page)
    assert ch.title or ch.header or ch.markdown, f"{page} drew nothing"
    assert not [e.value for e in ch.error if "could not be drawn" in e.value], page
    if page not in COMPARED:
        return
    duck = _app(duck_data, monkeypatch, page)
    ch_figures, duck_figures = _figures(ch), _figures(duck)
    # DuckDB merges the rollups' HyperLogLog (within 5 %); ClickHouse counts the users exactly
    ch_users, duck_users = ch_figures.pop("Users affected", None), duck_figures.pop("Users affected", None)
    assert ch_figures == duck_figures
    assert (ch_users is None) == (duck_users is None)
    if ch_users:
        exact, approx = (int(v[0].split()[0].replace(",", "")) for v in (ch_users, duck_users))
        assert exact > 0 and abs(approx - exact) <= USERS_BOUND * exact, (approx, exact)
    assert [c.value for c in ch.caption] == [c.value for c in duck.caption]
    assert [m.value for m in ch.markdown] == [m.value for m in duck.markdown]
    assert _figures(duck) or len(duck.caption) > 1, f"{page}: nothing measured to compare"


def test_the_folder_config_picks_the_store(chdb_data, duck_data, tmp_path):
    from datetime import timedelta

    from dashboard.core.telemetry.clickhouse_store import ClickHouseTelemetryStore, open_store
    from dashboard.core.telemetry.store_config import StoreConfigError

    ch, duck = open_store(chdb_data, cache=False), open_store(duck_data, cache=False)
    assert isinstance(ch, ClickHouseTelemetryStore) and not isinstance(duck, ClickHouseTelemetryStore)
    assert ch.time_range() == duck.time_range() and ch.measures() == duck.measures()
    assert ch.measures_by_service() == duck.measures_by_service()
    _, last, _ = duck.time_range()
    start = last - timedelta(hours=6, seconds=13)
    def values(store):  # most frequent first; values of equal count in either order
        return {dim: sorted(v) for dim, v in store.dimension_values(start, last).items()}

    assert values(ch) == values(duck)
    assert ch.releases().rows() == duck.releases().rows()
    # an engine without the telemetry tables: one line saying what to run
    (chdb_data.root / "warroom.toml").write_text(f'[store]\nengine = "chdb"\npath = "{tmp_path / "empty"}"\n')
    with pytest.raises(StoreConfigError, match="warroom store migrate"):
        open_store(chdb_data)
