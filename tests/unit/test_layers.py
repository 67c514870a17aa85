"""The import graph of `dashboard/` follows the layers of docs/ARCHITECTURE.md.

Every module's imports are read with `ast`, including imports inside
functions and under `if TYPE_CHECKING:` (a lazy import is still a link).
An import against the rule fails with the module, its line and the rule
broken. Tests are outside the graph: they may import any layer.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from tests.fixtures import REPO_ROOT

PACKAGE = REPO_ROOT / "dashboard"

# module (or package prefix) -> layer; the longest prefix wins
LAYER_OF: dict[str, str] = {
    "dashboard": "base",
    "dashboard.app": "app",
    "dashboard.views": "views",
    "dashboard.components": "components",
    "dashboard.cli": "cli",
    "dashboard.core": "base",
    "dashboard.core.datadir": "base",
    "dashboard.core.errors": "base",
    "dashboard.core.http_service": "base",
    "dashboard.core.output_paths": "base",
    "dashboard.core.stats": "base",
    "dashboard.core.text": "base",
    "dashboard.core.timeutil": "base",
    "dashboard.core.telemetry": "telemetry",
    "dashboard.core.diagnosis": "diagnosis",
    "dashboard.core.incident": "incident",
    "dashboard.core.reporting": "reporting",
    "dashboard.core.bench": "bench",
    "dashboard.core.demo": "demo",
    "dashboard.core.bench.faults": "bench",
}

# layer -> the other layers it may import (its own layer it always may)
DOMAIN = ("reporting", "incident", "diagnosis", "telemetry", "base")
MAY_IMPORT: dict[str, tuple[str, ...]] = {
    "app": ("views", "components") + DOMAIN,
    "views": ("components",) + DOMAIN,
    "components": DOMAIN,
    "cli": ("bench", "demo") + DOMAIN,
    "bench": ("demo",) + DOMAIN,
    "demo": DOMAIN[1:],
    "reporting": DOMAIN[1:],
    "incident": DOMAIN[2:],
    "diagnosis": DOMAIN[3:],
    "telemetry": DOMAIN[4:],
    "base": (),
}
# only the pages and their parts draw; the domain, the CLI and benchmarks never import Streamlit
STREAMLIT_LAYERS = ("app", "views", "components")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    path: Path
    line: int
    target: str  # the imported module, absolute


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path, modules: dict[str, Path]) -> list[Import]:
    return imports_in(path.read_text(), module_name(path), path, modules)


def imports_in(source: str, name: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.Import):
            found += [Import(name, path, node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:  # `from pkg import module` links to the module, not only the package
                sub = f"{source}.{alias.name}"
                found.append(Import(name, path, node.lineno, sub if sub in modules else source))
    return found


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if (layer := LAYER_OF.get(".".join(parts[:n]))) is not None:
            return layer
    return None


def broken_rule(imp: Import) -> str | None:
    """What `imp` breaks, or None when the rule allows it."""
    source = layer_of(imp.module)
    root = imp.target.split(".")[0]
    if root == "streamlit":
        drawing = ", ".join(STREAMLIT_LAYERS)
        return None if source in STREAMLIT_LAYERS else f"{source} never imports Streamlit (only {drawing} draw)"
    if root != "dashboard":
        return None
    target = layer_of(imp.target)
    if target == source or target in MAY_IMPORT[source]:
        return None
    allowed = ", ".join(MAY_IMPORT[source]) or "nothing above the standard library and third-party packages"
    return f"{source} may import {allowed}; not {target}"


def violations() -> list[str]:
    modules = all_modules()
    out = []
    for name, path in modules.items():
        for imp in dict.fromkeys(imports_of(path, modules)):  # `from x import a, b` is one link
            if (rule := broken_rule(imp)) is not None:
                out.append(f"{path.relative_to(REPO_ROOT)}:{imp.line}: {name} imports {imp.target}: {rule}")
    return out


def test_every_module_has_a_layer():
    unplaced = [name for name in all_modules() if layer_of(name) is None]
    assert not unplaced, f"modules without a layer (add them to LAYER_OF and docs/ARCHITECTURE.md): {unplaced}"


def test_imports_follow_the_layers():
    found = violations()
    assert not found, "imports against docs/ARCHITECTURE.md:\n" + "\n".join(found)


def test_the_reader_sees_lazy_relative_and_from_imports():
    """The checker itself: an import inside a function, a relative one and `from pkg import module` all count."""
    source = (
        "from . import query\n"
        "def f():\n"
        "    from dashboard.core.diagnosis import investigate\n"
        "    import streamlit as st\n"
    )
    path = PACKAGE / "core" / "telemetry" / "x.py"  # where it would sit; never written
    found = imports_in(source, "dashboard.core.telemetry.x", path, all_modules())
    assert [(i.line, i.target) for i in found] == [
        (1, "dashboard.core.telemetry.query"), (3, "dashboard.core.diagnosis.investigate"), (4, "streamlit")]
    assert [broken_rule(i) for i in found] == [
        None, "telemetry may import base; not diagnosis",
        "telemetry never imports Streamlit (only app, views, components draw)"]


def test_the_architecture_doc_states_the_same_rule():
    """The doc's rule block lists each layer and what it may import, exactly as MAY_IMPORT does."""
    text = (REPO_ROOT / "docs" / "ARCHITECTURE.md").read_text()
    block = re.search(r"```text\n# may import\n(.*?)```", text, re.S)
    assert block, "docs/ARCHITECTURE.md has no ```text block starting with '# may import'"
    stated = {}
    for line in block.group(1).strip().splitlines():
        layer, _, allowed = line.partition("->")
        stated[layer.strip()] = tuple(a.strip() for a in allowed.split(",") if a.strip() and a.strip() != "-")
    assert stated == MAY_IMPORT
