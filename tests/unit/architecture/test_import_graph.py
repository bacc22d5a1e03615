"""The import graph of ``lib``: no cycle among its modules (``TYPE_CHECKING`` and function-level
imports included), and dependencies pointing inwards (the HTTP layer, services and domain never
import the composition root; the domain imports no adapter and no cloud SDK).

Read statically with ``ast`` so nothing is imported to check it.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
LIB = REPO / "lib"
CLOUD_SDKS = ("google", "psycopg", "psycopg_pool", "redis", "resend", "httpx", "requests")


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(LIB.rglob("*.py"))}


def _imports(module: str, path: Path) -> Iterator[str]:
    """Every module named by an import anywhere in the file (top level, functions, TYPE_CHECKING).

    ``from pkg import submodule`` names ``pkg.submodule`` only; ``from pkg import name`` names ``pkg``.
    """
    known = _modules()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names]
            yield from (n for n in names if n in known)
            if any(n not in known for n in names):
                yield base


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: {i for i in _imports(name, path) if i in modules and i != name} for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _package_imports(graph: dict[str, set[str]], module: str) -> set[str]:
    """What ``module`` imports, with each submodule import also counted as its package
    (``lib.http.deps`` counts as ``lib.http``): a package's ``__init__`` runs on any such import."""
    out: set[str] = set()
    for target in graph[module]:
        parts = target.split(".")
        out.update(".".join(parts[:n]) for n in range(2, len(parts) + 1))
    return out


def test_the_graph_is_read() -> None:
    graph = _graph()
    assert "lib.bootstrap" in graph
    assert "lib.http.deps" in graph["lib.bootstrap"]


def test_no_import_cycle_among_lib_modules() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("layer", ["lib.http", "lib.services", "lib.domain", "lib.adapters"])
def test_only_the_entry_points_import_the_composition_root(layer: str) -> None:
    graph = _graph()
    offenders = [m for m in graph if m.startswith(layer) and "lib.bootstrap" in graph[m]]
    assert offenders == []


def test_the_domain_imports_no_adapter_service_or_cloud_sdk() -> None:
    for name, path in _modules().items():
        if not name.startswith("lib.domain"):
            continue
        for imported in _imports(name, path):
            assert not imported.startswith(("lib.adapters", "lib.services", "lib.http", "lib.bootstrap")), (
                name,
                imported,
            )
            assert imported.split(".")[0] not in CLOUD_SDKS, (name, imported)


def test_shipped_code_imports_no_dev_package() -> None:
    """``lib`` (but its test fakes) and ``functions`` ship; ``devtools``, ``tools`` and ``tests`` never do."""
    shipped = [p for p in LIB.rglob("*.py") if "testing" not in p.relative_to(LIB).parts[:1]]
    shipped += sorted((REPO / "functions").glob("*/main.py"))
    assert len(shipped) > 100
    for path in shipped:
        module = _module_name(path)
        for imported in _imports(module, path):
            assert imported.split(".")[0] not in {"devtools", "tools", "tests", "bench"}, (module, imported)


def test_the_http_contract_is_imported_only_by_the_http_edge() -> None:
    """``lib.contract`` (the pydantic models of the HTTP contract) belongs to the edge: the domain, the
    services and the adapters never import it, and it imports nothing but itself and the domain's types."""
    graph = _graph()
    inner = ("lib.domain", "lib.services", "lib.adapters", "lib.testing")
    assert [m for m in graph if m.startswith(inner) and any(i.startswith("lib.contract") for i in graph[m])] == []
    contract = {m: graph[m] for m in graph if m.startswith("lib.contract")}
    assert contract, "lib.contract is read"
    for module, imported in contract.items():
        assert all(i.startswith(("lib.contract", "lib.domain")) for i in imported), (module, sorted(imported))
