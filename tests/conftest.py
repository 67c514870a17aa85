from __future__ import annotations

import fcntl
import functools
import hashlib
import importlib.metadata
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from dashboard.core.datadir import DataDir
from tests.fixtures import build_demo_week, changed_files, copy_store, files_of, rewritten_in_place

REPO = Path(__file__).parent.parent
# what a built test store depends on besides its builder's arguments: the code that writes it
# (the whole domain, the shared fixtures) and, through `build_key`, every installed package's version
BUILT_FROM = ("dashboard/core/**/*.py", "tests/fixtures*.py", "tests/conftest.py", "pyproject.toml")


@functools.cache
def build_key() -> str:
    """A digest of the files in BUILT_FROM and of the installed packages' versions: a change to
    either (an edit in the domain, an upgraded DuckDB or NumPy) builds the kept stores again."""
    digest = hashlib.sha256()
    for path in sorted(p for pattern in BUILT_FROM for p in REPO.glob(pattern)):
        digest.update(path.relative_to(REPO).as_posix().encode() + b"\0" + path.read_bytes())
    installed = sorted(f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions())
    digest.update("\n".join(installed).encode())
    return digest.hexdigest()[:16]


def kept_across_runs(cache_root: Path, name: str, build: Callable[[Path], object]) -> Path:
    """A folder `build` fills once and later test runs reuse (the edit loop's second run skips the
    demo week's build): kept under `cache_root` with the `build_key` of the code that built it.

    Reused only when every file is as it was built (a listing taken after the build, compared on
    each use), so a store changed by hand or by a test through a link is built again, as is one
    from other code. One process builds while the others (xdist workers, a second run) wait.
    """
    cache_root.mkdir(parents=True, exist_ok=True)
    key = build_key()
    folder, listing = cache_root / f"{name}-{key}", cache_root / f"{name}-{key}.files.json"
    with open(cache_root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (listing.exists() and folder.is_dir() and json.loads(listing.read_text()) == files_of(folder)):
            for old in cache_root.glob(f"{name}-*"):  # other keys' stores, or this one half built
                shutil.rmtree(old) if old.is_dir() else old.unlink()
            folder.mkdir()
            build(folder)
            listing.write_text(json.dumps(files_of(folder)))
    return folder


def built_once(config: pytest.Config, tmp_path_factory, name: str, build: Callable[[Path], object]) -> Path:
    """A folder `build` fills once, shared by every xdist worker: kept between runs in pytest's
    cache folder (`kept_across_runs`), or, with the cache off (`-p no:cacheprovider`,
    WARROOM_TEST_REBUILD=1), built once per test run: the first worker to take the lock builds it,
    the others wait and read it. Without xdist it is this session's own.

    Only for read-only stores (tests that write copy them): a build that failed or was cut short
    leaves no `.built` mark, so the next worker starts it again from an empty folder.
    """
    cache = getattr(config, "cache", None)
    if cache is not None and not os.environ.get("WARROOM_TEST_REBUILD"):
        return kept_across_runs(cache.mkdir("warroom-stores"), name, build)
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    shared = tmp_path_factory.getbasetemp().parent  # one folder above the workers' own
    folder, done = shared / name, shared / f"{name}.built"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def demo_data(pytestconfig, tmp_path_factory):
    """The full demo week (as `make run` generates it), built once for every worker and kept between runs.

    Read-only: tests that write (ingest, incidents) copy it with `demo_data_copy`.
    Copies hard-link its Parquet files, so the session ends by checking that no file
    was written in place (through a copy or not), added or removed.
    """
    folder = built_once(pytestconfig, tmp_path_factory, "demo", lambda root: build_demo_week(root / "data"))
    data = DataDir(folder / "data")
    before = files_of(data.root)
    yield data
    changed = changed_files(before, files_of(data.root))
    assert not changed, f"files of the shared demo store were written, added or removed (through a link?): {changed}"


@pytest.fixture(scope="session")
def two_demo_days(pytestconfig, tmp_path_factory):
    """Two demo days at 0.6 requests a second (about 100k requests, without incidents): small enough to
    compare rollup answers with every request row. Read-only: a test that writes copies it."""
    from dashboard.core.demo import write_demo

    folder = built_once(pytestconfig, tmp_path_factory, "two_demo_days",
                        lambda root: write_demo(DataDir(root / "data"), days=2, rps=0.6))
    return DataDir(folder / "data")


@pytest.fixture(scope="session")
def one_demo_day(pytestconfig, tmp_path_factory):
    """One demo day at the demo's traffic, with the demo incidents: enough for every command to have
    something to read, built once and kept like the demo week. Read-only: a test that writes copies it."""
    folder = built_once(pytestconfig, tmp_path_factory, "one_demo_day", lambda root: build_demo_week(root / "data",
                                                                                                     days=1))
    return DataDir(folder / "data")


@pytest.fixture(scope="session")
def live_demo_week(pytestconfig, tmp_path_factory, demo_data):
    """The demo week and 40 simulated minutes after it, written as one-minute live slices (about 40 files
    over five ten-minute blocks, each with its rollups): what compaction merges. Built once and kept like
    the demo week; read-only (a test copies it), and the session ends by checking no Parquet file of it
    was rewritten in place."""
    from datetime import timedelta

    from dashboard.core.demo import live

    def build(root: Path) -> None:
        live.append_minutes(copy_store(demo_data.root, root / "data"), 40, chunk=timedelta(minutes=1))

    data = DataDir(built_once(pytestconfig, tmp_path_factory, "live_demo_week", build) / "data")
    before = files_of(data.root, "*.parquet")
    yield data
    changed = rewritten_in_place(data.root, before)
    assert not changed, f"Parquet files of the shared live store were rewritten in place: {changed}"


@pytest.fixture
def demo_data_copy(demo_data, tmp_path):
    """A private demo week to write into: Parquet hard-linked, everything else copied (`copy_store`)."""
    return copy_store(demo_data.root, tmp_path / "data")


@pytest.fixture(scope="session")
def chdb_pair(tmp_path_factory):
    """Two demo days with incidents, as the DuckDB store reads them and loaded into a chDB store: (data, folder).

    Built once per test session (loading into ClickHouse costs seconds). Read-only:
    a test that writes copies the data folder and loads its own chDB store.
    """
    from tests.fixtures import build_chdb_pair

    return build_chdb_pair(tmp_path_factory.mktemp("chdb_pair"))


@pytest.fixture(scope="session")
def postgres_cluster():
    """A throwaway PostgreSQL server for this test session (stopped and removed after)."""
    from tests.fixtures import PostgresCluster

    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def event_store(request, tmp_path):
    """An empty incident event store on each backend: the store tests run against both."""
    from dashboard.core.incident.store import IncidentStore

    if request.param == "sqlite":
        return IncidentStore(tmp_path / "incidents.sqlite")
    from dashboard.core.incident.store_postgres import PostgresIncidentStore

    cluster = request.getfixturevalue("postgres_cluster")
    return PostgresIncidentStore(cluster.fresh_schema_url(f"t_{abs(hash(request.node.nodeid)) % 10**12}"))


APP_TESTS = Path(__file__).parent / "app"


def pytest_collection_modifyitems(items):
    """Mark every test under tests/app `app`: each drives whole pages with Streamlit's AppTest
    (seconds each, two thirds of the suite), so the edit loop (`make test-fast`) leaves them out."""
    for item in items:
        if APP_TESTS in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.app)
