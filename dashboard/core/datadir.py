"""The one data folder every command and the app work on.

Layout (all Parquet files are immutable once written; new data arrives as new
files, renamed into place so a reader never sees half a file):

    requests/*.parquet     request-level telemetry
    releases/*.parquet     release events
    quarantine/*.parquet   rejected rows with file, row number and reason
    schema.json            which columns are segments and artifact versions
    truth.json             the demo's injected incidents (demo data only)
    incidents.sqlite       the incident event store (unless warroom.toml points at PostgreSQL)
    slos.toml              SLO declarations
    roles.toml             roles and integration tokens (optional, see core/incident/roles.py)
    warroom.toml           [incidents] url for a PostgreSQL store (optional)
    links.toml             link templates to a request's trace elsewhere (`[links]` of a mapping)
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dashboard.core.errors import WarroomError

ENV_VAR = "WARROOM_DATA"
DEFAULT_DIR = "data"


def resolve_data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """`--data DIR`, else `$WARROOM_DATA`, else `data/`."""
    return Path(explicit or os.environ.get(ENV_VAR) or DEFAULT_DIR)


@dataclass(frozen=True, init=False)
class DataDir:
    root: Path

    def __init__(self, root: str | os.PathLike) -> None:  # a str is as good as a Path; root is always a Path
        object.__setattr__(self, "root", Path(root))

    @classmethod
    def at(cls, explicit: str | os.PathLike | None = None) -> DataDir:
        return cls(resolve_data_dir(explicit))

    @property
    def requests(self) -> Path:
        return self.root / "requests"

    @property
    def releases(self) -> Path:
        return self.root / "releases"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def truth(self) -> Path:
        return self.root / "truth.json"

    @property
    def incidents_db(self) -> Path:
        return self.root / "incidents.sqlite"

    @property
    def slos(self) -> Path:
        return self.root / "slos.toml"

    @property
    def links_file(self) -> Path:
        return self.root / "links.toml"

    @property
    def schema_file(self) -> Path:
        return self.root / "schema.json"

    def has_requests(self) -> bool:
        return self.requests.is_dir() and any(self.requests.glob("*.parquet"))


class StoreWriteError(WarroomError, OSError):
    """A file of the data folder could not be written (disk full, read-only); names the file, not its temporary."""

    def __init__(self, target: Path, exc: OSError):
        super().__init__(exc.errno, exc.strerror or str(exc), str(target))
        self.target = target

    def __str__(self) -> str:
        return f"{self.target}: could not write ({self.strerror})"


TEMPORARY = re.compile(r"^\..+\.(\d+)-[0-9a-f]{32}\.tmp$")  # .<name>.<pid>-<uuid>.tmp


def temporary_beside(target: Path) -> Path:
    """A hidden name next to `target` that says which process writes it (see `remove_leftovers`)."""
    return target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex}.tmp")


def writer_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def remove_leftovers(folder: Path) -> list[Path]:
    """Delete the temporary files of writers that died before renaming them into place (kill -9, power loss).

    A temporary file is only ever renamed by the process that made it, so one
    whose process is gone will never become data.
    """
    removed: list[Path] = []
    try:
        with os.scandir(folder) as entries:
            owners = [(e.name, int(m.group(1))) for e in entries if (m := TEMPORARY.match(e.name))]
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for name, owner in owners:
        if owner != os.getpid() and not writer_alive(owner):
            try:
                (folder / name).unlink()
                removed.append(folder / name)
            except FileNotFoundError:  # another writer swept it first
                pass
            except OSError:  # a read-only folder: nothing can be left there by a write either
                break
    return removed


def atomic_write_parquet(frame: pl.DataFrame, target: Path, row_group_size: int = 131_072,
                         metadata: dict[str, str] | None = None) -> Path:
    """Write next to the target, fsync, then rename: readers see all or nothing (footer `metadata` too)."""
    tmp = temporary_beside(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_leftovers(target.parent)
        frame.write_parquet(tmp, compression="zstd", row_group_size=row_group_size, statistics=True,
                           metadata=metadata)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        raise StoreWriteError(target, exc) from exc
    except pl.exceptions.ComputeError as exc:  # Polars reports the file system's error inside its own
        found = re.search(r"os error (\d+)", str(exc))
        if not found:
            raise
        errno = int(found.group(1))
        raise StoreWriteError(target, OSError(errno, os.strerror(errno))) from exc
    finally:
        _discard(tmp)
    return target


def atomic_write_text(target: Path, text: str) -> Path:
    tmp = temporary_beside(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_leftovers(target.parent)
        with open(tmp, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        raise StoreWriteError(target, exc) from exc
    finally:
        _discard(tmp)
    return target


def _discard(tmp: Path) -> None:
    try:
        tmp.unlink(missing_ok=True)
    except OSError:  # a read-only folder, where it could not have been made
        pass
