"""Check that a staged function folder holds every first-party module its code imports.

``tools/stage.py`` ships ``lib/`` without ``lib/testing``, and never the
sibling packages ``devtools``, ``tools`` or ``tests``.  An import of a module
that is not staged would only fail in the cloud, on the first request that
reaches it; this reads every staged ``.py`` file's imports (no code runs) and
reports each first-party module that is not in the folder, wherever the import
sits (module level or inside a function).  Only imports under
``if TYPE_CHECKING:`` (never executed) are let through.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# The repository's own top-level packages: everything else is a dependency from requirements.txt.
FIRST_PARTY = frozenset({"lib", "devtools", "tools", "tests", "bench"})


@dataclass(frozen=True)
class LibImport:
    module: str  # dotted name, e.g. "lib.http.router"
    names: tuple[str, ...]  # for ``from module import a, b``; empty for ``import module``
    lazy: bool  # inside a function body


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve_relative(node: ast.ImportFrom, package: str) -> str:
    if node.level == 0:
        return node.module or ""
    parts = package.split(".")
    base = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
    return ".".join([*base, node.module] if node.module else base)


@cache  # every function stages the same lib/: parse each distinct file once per run
def lib_imports(source: str, package: str) -> tuple[LibImport, ...]:
    """The first-party imports in ``source`` (a module of ``package``), skipping ``TYPE_CHECKING`` blocks."""
    found: list[LibImport] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for other in child.orelse:
                    visit_one(other, lazy)
                continue
            visit_one(child, lazy)

    def visit_one(node: ast.AST, lazy: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend(LibImport(a.name, (), lazy) for a in node.names if a.name.split(".")[0] in FIRST_PARTY)
        elif isinstance(node, ast.ImportFrom):
            module = _resolve_relative(node, package)
            if module.split(".")[0] in FIRST_PARTY:
                found.append(LibImport(module, tuple(a.name for a in node.names), lazy))
        else:
            inner = lazy or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            visit(node, inner)

    visit(ast.parse(source), False)
    return tuple(found)


def _exists(root: Path, module: str) -> bool:
    path = root.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or path.is_dir()  # a folder is a (namespace) package


def missing_lib_imports(root: Path, source: Path) -> list[str]:
    """``"<file>: <module>"`` for each first-party module imported under ``root`` but not staged there.

    ``source`` is the repository (holding the original ``lib/``): it tells a
    submodule (``from lib import http``) from an attribute (``from lib.config
    import Settings``) without running anything.
    """
    problems: list[str] = []
    for file in sorted(root.rglob("*.py")):
        package = ".".join(file.relative_to(root).parts[:-1])
        rel = file.relative_to(root).as_posix()
        for imp in lib_imports(file.read_text(encoding="utf-8"), package):
            wanted = [imp.module] + [f"{imp.module}.{n}" for n in imp.names if _exists(source, f"{imp.module}.{n}")]
            for module in wanted:
                if not _exists(root, module):
                    problems.append(f"{rel}: {module}")
    return problems
