"""The layout's rules, read from the code's own imports (module-level and inside functions).

ml/core is pure and imports only itself; io may use core; jobs may use io and core; the Snowflake
backend may use all three; ml/backend.py and ml/worker.py (where a backend is chosen and a run is
started) may use anything in ml. Nothing in ml imports the bot, and there are no import cycles.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ml", "bot")
# layer -> the ml layers it may import (ml.config, plain settings, is open to all)
ALLOWED: dict[str, set[str]] = {
    "ml.core": {"ml.core"},
    "ml.io": {"ml.core", "ml.io", "ml.config"},
    "ml.jobs": {"ml.core", "ml.io", "ml.jobs", "ml.config"},
    "ml.snowflake": {"ml.core", "ml.io", "ml.jobs", "ml.snowflake", "ml.config"},
}
# Modules core may not reach for even through the standard library: core reads no files.
CORE_FORBIDDEN = {"pathlib", "sqlite3", "urllib", "http", "socket", "subprocess", "shutil", "tempfile"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module `path` imports, wherever the import statement is."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def project_graph() -> dict[str, set[str]]:
    files = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]
    modules = {module_name(p): p for p in files}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        # `from ml.core import model` names the module ml.core.model: keep what is a module.
        graph[name] = {m for m in imports(path) if m in modules and m != name}
    return graph


GRAPH = project_graph()


def layer(module: str) -> str | None:
    return next((prefix for prefix in ALLOWED if module == prefix or module.startswith(prefix + ".")), None)


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if layer(m)))
def test_each_layer_imports_only_what_is_below_it(module: str) -> None:
    allowed = ALLOWED[layer(module) or ""]
    wrong = sorted(
        imported
        for imported in GRAPH[module]
        if imported.startswith(("ml.", "bot."))
        and not any(imported == a or imported.startswith(a + ".") for a in allowed)
        and imported not in ("ml", "bot")
    )
    assert wrong == [], f"{module} imports {wrong}"


def test_core_reads_no_files() -> None:
    for module, path in ((m, ROOT / (m.replace(".", "/") + ".py")) for m in GRAPH if layer(m) == "ml.core"):
        if not path.exists():
            path = path.with_suffix("") / "__init__.py"
        used = {name.split(".")[0] for name in imports(path)}
        assert not used & CORE_FORBIDDEN, f"{module} uses {sorted(used & CORE_FORBIDDEN)}"


def test_ml_never_imports_the_bot() -> None:
    offenders = {
        m: sorted(i for i in deps if i.startswith("bot")) for m, deps in GRAPH.items() if m.startswith("ml")
    }
    assert {m: d for m, d in offenders.items() if d} == {}


def test_no_import_cycles() -> None:
    seen: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        seen[node] = 1
        for nxt in sorted(GRAPH.get(node, ())):
            if seen.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in seen:
                visit(nxt, [*path, nxt])
        seen[node] = 2

    for start in sorted(GRAPH):
        if start not in seen:
            visit(start, [start])
    # A package's __init__ re-exporting its own modules is not a cycle worth failing on.
    real = [c for c in cycles if not any(m in PACKAGES or GRAPH.get(m) is None for m in c)]
    real = [
        c for c in real if not all(c[i + 1].startswith(c[i] + ".") for i in range(len(c) - 1) if c[i] == c[0])
    ]
    assert real == []
