"""THE list of deployable functions: ``[tool.bcm.functions]`` of pyproject.toml.

Every other registry reads it from here instead of repeating the names: the dev
server mounts these, staging builds these, the OpenAPI document and the Terraform
check (``tools/tfcheck.py`` demands a ``local.functions`` entry for each) cover
these, and the tests parametrize over them.  Adding a function is one entry there
(its runtime packages), its folder ``functions/<name>/main.py``, and its Terraform
line.  Reading is plain ``tomllib``: no third-party import, so the dev server and
tests can use it cheaply.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = REPO / "pyproject.toml"
FUNCTIONS_DIR = REPO / "functions"


class FunctionListError(RuntimeError):
    """pyproject.toml has no (or an empty) ``[tool.bcm.functions]`` table."""


def bcm_table(path: Path = PYPROJECT) -> dict[str, Any]:
    """pyproject's ``[tool.bcm]`` table (the function list, ``common`` packages, ``why`` lines)."""
    table: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get("bcm", {})
    return table


def function_names(path: Path = PYPROJECT) -> list[str]:
    """The deployable functions, in declaration order."""
    functions = bcm_table(path).get("functions", {})
    if not functions:
        raise FunctionListError(f"{path.name}: no [tool.bcm.functions] table")
    return list(functions)


def function_folders(functions_dir: Path = FUNCTIONS_DIR) -> list[str]:
    """Names of the folders holding a ``main.py`` (what is on disk, to compare with the list)."""
    return sorted(p.parent.name for p in functions_dir.glob("*/main.py"))
