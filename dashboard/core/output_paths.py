"""Where a command may write what a user asked for: checks that return the path or raise OutputPathError.

Exports are written next to the target and renamed onto it (readers see all or
nothing), and a rename replaces whatever was there: a device such as /dev/full,
a FIFO, a folder's contents. So a file goes only where nothing is yet or where
a regular file is, and a folder only where nothing is yet, or into an empty or
(with force) existing folder, never into the data folder it was read from.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from dashboard.core.errors import WarroomError


class OutputPathError(WarroomError, ValueError):
    """The output path is not a place to write to; the message names it and says why."""


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def output_file(path: str | os.PathLike) -> Path:
    """`path` if it is new or a regular file (following a link); else OutputPathError."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if path.is_symlink():
            raise OutputPathError(f"{path}: a link to nowhere; give a new path or a regular file") from None
        if not path.parent.is_dir():
            raise OutputPathError(f"{path}: folder {path.parent} does not exist") from None
        return path
    if not stat.S_ISREG(mode):
        raise OutputPathError(f"{path}: {_kind(mode)}, not a regular file; give a new path or a regular file")
    if path.is_symlink():
        return path.resolve()  # replace the file the link points to, not the link
    return path


def output_folder(path: str | os.PathLike, force: bool = False, data_root: str | os.PathLike | None = None) -> Path:
    """`path` if it is new or an empty folder, or any folder with `force`; never the data folder itself."""
    path = Path(path)
    if data_root is not None and path.exists() and path.resolve() == Path(data_root).resolve():
        raise OutputPathError(f"{path}: this is the data folder; give a folder of its own")
    if not path.exists():
        if path.is_symlink():
            raise OutputPathError(f"{path}: a link to nowhere; give a new path or a folder")
        return path
    mode = os.stat(path).st_mode
    if not stat.S_ISDIR(mode):
        raise OutputPathError(f"{path}: {_kind(mode) if not stat.S_ISREG(mode) else 'a file'}, not a folder")
    if not force and any(path.iterdir()):
        raise OutputPathError(f"{path}: folder exists and is not empty; pass --force to write into it "
                              "(files of the same name are replaced)")
    return path
