"""One colour per severity and per status, defined once (components/badges.py) and used on every page."""

from __future__ import annotations

import ast
import typing

from dashboard.components.badges import SEVERITY_COLORS, STATUS_COLORS, BadgeColor, severity_color
from dashboard.core.incident.events import SEVERITIES
from tests.fixtures import REPO_ROOT

COLOURS = set(typing.get_args(BadgeColor))


def test_every_severity_has_its_own_colour_and_none_shares_a_status_colour():
    assert set(SEVERITY_COLORS) == set(SEVERITIES)
    coloured = [c for c in SEVERITY_COLORS.values() if c != "gray"]
    assert len(set(coloured)) == len(coloured)
    assert not set(coloured) & {STATUS_COLORS[s] for s in ("monitoring", "resolved", "postmortem")}
    assert severity_color(None) == severity_color("SEV9") == "gray"


def colour_tables(tree: ast.AST, keys: set[str]) -> list[int]:
    """Lines of dict literals mapping exactly `keys` to badge colours."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict) and node.keys and all(isinstance(k, ast.Constant) for k in node.keys):
            if {k.value for k in node.keys} == keys and all(  # type: ignore[union-attr]
                    isinstance(v, ast.Constant) and v.value in COLOURS for v in node.values):
                found.append(node.lineno)
    return found


def test_no_other_module_defines_a_severity_or_status_colour_table():
    others = {}
    for path in sorted((REPO_ROOT / "dashboard").rglob("*.py")):
        if path.name == "badges.py":
            continue
        tree = ast.parse(path.read_text())
        for keys in (set(SEVERITY_COLORS), set(STATUS_COLORS)):
            if lines := colour_tables(tree, keys):
                others[str(path.relative_to(REPO_ROOT))] = lines
    assert not others, f"colour tables outside components/badges.py: {others}"
