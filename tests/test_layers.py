"""The layout holds: three layers with arrows only downward, and one owner of Chroma.

Imports are read from the source (``ast``), including those inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

FRONT_ENDS = {
    "app",
    "assistant.cli",
    "assistant.eval",
    "assistant.__main__",
    "ingest.cli",
    "ingest.__main__",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    paths = [*ROOT.glob("assistant/**/*.py"), *ROOT.glob("ingest/**/*.py"), ROOT / "app.py"]
    return {module_name(path): path for path in paths}


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def layer(module: str) -> str:
    if module in FRONT_ENDS or module.startswith("assistant.web"):
        return "front"
    if module.startswith("assistant.core"):
        return "core"
    if module.startswith("ingest"):
        return "write"
    return "read"


MODULES = project_modules()
GRAPH = {
    name: {target for target in imports_of(path) if target in MODULES and target != name}
    for name, path in MODULES.items()
}


def test_arrows_point_only_downward():
    allowed = {
        "core": {"core"},
        "write": {"core", "write"},
        "read": {"core", "read"},
        "front": {"core", "write", "read", "front"},
    }
    wrong = [
        f"{source} ({layer(source)}) imports {target} ({layer(target)})"
        for source, targets in GRAPH.items()
        for target in targets
        if layer(target) not in allowed[layer(source)]
    ]
    assert wrong == []


def test_the_query_front_ends_do_not_ingest():
    web = [name for name in GRAPH if name.startswith("assistant.web")]
    assert web, "the web app's modules were not found"
    for module in (*web, "assistant.cli", "assistant.eval"):
        assert not [t for t in GRAPH[module] if t.startswith("ingest")], module


def test_no_import_cycles():
    def visit(node: str, path: list[str]) -> None:
        if node in path:
            raise AssertionError(" → ".join(path[path.index(node) :] + [node]))
        for target in GRAPH[node]:
            if target in ("assistant", "ingest"):  # the packages' own __init__ files
                continue
            visit(target, path + [node])

    for module in GRAPH:
        visit(module, [])


def test_only_the_store_touches_chroma():
    touching = sorted(
        name
        for name, path in MODULES.items()
        if any(
            target == "chromadb"
            or target.startswith("chromadb.")
            or target.startswith("llama_index.vector_stores.chroma")
            for target in imports_of(path)
        )
    )
    assert touching == ["assistant.core.store"]
