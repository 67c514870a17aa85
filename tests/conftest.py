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
