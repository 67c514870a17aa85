"""Real services and file systems for tests: a throwaway PostgreSQL cluster (Debian's server
binaries), a read-only view of a folder, a small disk (tmpfs) that fills up, a free loopback port.

Shared by every test layer through tests.fixtures.
"""

from __future__ import annotations

import subprocess
from contextlib import contextmanager
from pathlib import Path

from dashboard.cli.app_process import free_port  # noqa: F401 - re-exported: one free-port helper for every layer


def postgres_bin(name: str) -> Path | None:
    import glob
    import shutil

    found = shutil.which(name)
    if found:
        return Path(found)
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return Path(candidates[-1]) if candidates else None


class PostgresCluster:
    """initdb + pg_ctl on a free port of 127.0.0.1, in a folder of its own, removed on stop.

    The server refuses to run as root: as root it runs as Debian's `postgres`
    user (runuser), otherwise as the current user.
    """

    def __init__(self) -> None:
        import os
        import tempfile

        self.initdb, self.pg_ctl = postgres_bin("initdb"), postgres_bin("pg_ctl")
        if self.initdb is None or self.pg_ctl is None:
            raise RuntimeError("PostgreSQL server binaries are missing: `make test` installs Debian's postgresql "
                               "(scripts/install-system-deps.sh)")
        self.root = Path(tempfile.mkdtemp(prefix="warroom-pg-"))
        self.port = free_port()
        self._as_root = os.geteuid() == 0
        if self._as_root:
            import shutil

            shutil.chown(self.root, "postgres", "postgres")
        self.url = f"postgresql://warroom@127.0.0.1:{self.port}/postgres"

    def _run(self, *cmd: str) -> None:
        import subprocess

        prefix = ["runuser", "-u", "postgres", "--"] if self._as_root else []
        done = subprocess.run(prefix + list(cmd), capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:2])} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")

    def start(self) -> PostgresCluster:
        data = self.root / "data"
        self._run(str(self.initdb), "-D", str(data), "-U", "warroom", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--locale=C")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
        self._run(str(self.pg_ctl), "-D", str(data), "-o", options, "-l", str(self.root / "server.log"),
                  "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        import shutil

        try:
            self._run(str(self.pg_ctl), "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def fresh_schema_url(self, name: str) -> str:
        """A URL whose tables live in a new, empty schema (one per test: fast, isolated)."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
        return f"{self.url}?options=-csearch_path%3D{name}"


@contextmanager
def read_only_view(folder: Path, at: Path):
    """`folder` bind-mounted read-only at `at` (a read-only medium even for root); skips where mounting is refused."""
    import pytest

    at.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "--bind", str(folder), str(at)], capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"a read-only bind mount needs CAP_SYS_ADMIN: {done.stderr.strip()}")
    try:
        ro = subprocess.run(["mount", "-o", "remount,bind,ro", str(at)], capture_output=True, text=True)
        if ro.returncode:
            pytest.skip(f"cannot remount read-only: {ro.stderr.strip()}")
        yield at
    finally:
        subprocess.run(["umount", str(at)], capture_output=True)


@contextmanager
def small_disk(at: Path, size: str = "2m"):
    """A tmpfs of `size` at `at`, to fill up (ENOSPC); skips where mounting is refused."""
    import pytest

    at.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(at)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"mounting a small tmpfs needs CAP_SYS_ADMIN: {done.stderr.strip()}")
    try:
        yield at
    finally:
        subprocess.run(["umount", str(at)], capture_output=True)
