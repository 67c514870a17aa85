"""One base for the errors a user can fix: every error class of the app derives from WarroomError,
and `warroom` turns one into a single line with exit 2, whichever command raised it."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import dashboard
from dashboard.cli import main
from dashboard.core.errors import WarroomError

# internal signals, never shown to a user as they are
NOT_USER_ERRORS = {
    "dashboard.core.telemetry.rollup.RollupKeyCollision",  # an invariant of the rollup writer, a bug if raised
    "dashboard.core.incident.http_endpoint._BadRequest",  # becomes an HTTP 400 inside the endpoint
    # a query file with no ClickHouse form: raised when the query files are read, found by the query suite
    "dashboard.core.telemetry.clickhouse_transpile.Untranslatable",
}


def _error_classes() -> dict[str, type]:
    found = {}
    for info in pkgutil.walk_packages(dashboard.__path__, "dashboard."):
        if info.name.startswith(("dashboard.views", "dashboard.app")) or info.name.endswith("__main__"):
            continue  # pages run Streamlit on import; a __main__ runs its command
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == info.name and issubclass(cls, Exception):
                found[f"{info.name}.{cls.__qualname__}"] = cls
    return found


def test_every_error_class_derives_from_the_one_base():
    classes = _error_classes()
    assert len(classes) > 20, sorted(classes)
    outside = sorted(name for name, cls in classes.items()
                     if not issubclass(cls, WarroomError) and name not in NOT_USER_ERRORS)
    assert not outside, f"derive these from dashboard.core.errors.WarroomError: {outside}"


def test_a_core_error_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "roles.toml").write_text("[[user]\n")  # unreadable roles: RolesError from the core
    code = main(["incident", "list", "--data", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("warroom incident: ") and err.count("\n") == 1 and "Traceback" not in err, err
