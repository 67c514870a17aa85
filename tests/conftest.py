from __future__ import annotations

import shutil

import pytest

from tests.fixtures import build_demo_week


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory):
    """The full demo week (as `make run` generates it), built once per test session.

    Read-only: tests that write (ingest, incidents) copy it with `demo_data_copy`.
    """
    return build_demo_week(tmp_path_factory.mktemp("demo") / "data")


@pytest.fixture
def demo_data_copy(demo_data, tmp_path):
    from dashboard.core.datadir import DataDir

    target = tmp_path / "data"
    shutil.copytree(demo_data.root, target)
    return DataDir(target)


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
