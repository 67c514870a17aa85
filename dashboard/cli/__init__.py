"""`warroom`: the command line over the same core the app uses.

Each subcommand lives in its own module with a `register(subparsers)` that
adds its parser and sets `func`; this file only assembles them.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from dashboard.core.datadir import DataDir
from dashboard.core.errors import WarroomError

# module name -> registers one or more subcommands
COMMAND_MODULES = (
    "demo",
    "ingest",
    "bench",
    "postmortem",
    "slo",
    "incident",
    "investigate",
    "simulate",
    "compact",
    "rollup",
    "release",
    "receive",
    "store",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="warroom", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"dashboard.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except WarroomError as exc:  # the one place a user's error becomes one line: no command catches its own
        # a command that leaves the folder as it was on a core error says so (`nothing_written`)
        note = None if isinstance(exc, UserError | OSError) else getattr(args, "failure_note", None)
        print(f"warroom {args.command}: {exc}" + (f" ({note})" if note else ""), file=sys.stderr)
        return 2
    except OSError as exc:  # the environment (disk full, read-only folder, permissions): one line, no traceback
        where = f"{exc.filename}: " if exc.filename and str(exc.filename) not in str(exc) else ""
        print(f"warroom {args.command}: {where}{exc.strerror if where else exc}", file=sys.stderr)
        return 2


class UserError(WarroomError):
    """A bad argument the command itself finds: printed as one line, exit 2 (see `main`)."""


def nothing_written(parser: argparse.ArgumentParser, what: str = "nothing was written") -> None:
    """Say after any core error of this command that it left the data folder as it was."""
    parser.set_defaults(failure_note=what)


def existing_data_dir(args: argparse.Namespace) -> DataDir:
    """The --data folder, which must exist (a report over a folder that is not there is a typo)."""
    data = DataDir.at(args.data)
    if not data.root.is_dir():
        raise UserError(f"data folder {data.root} does not exist (create one with `warroom demo --data DIR`)")
    return data


def add_data_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", metavar="DIR", default=None,
                        help="data folder (default: $WARROOM_DATA or data/)")


if __name__ == "__main__":
    raise SystemExit(main())
