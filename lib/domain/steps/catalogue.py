"""What ``GET /steps`` publishes, the schema files under ``schemas/steps/``, and progress.

The JSON Schemas are derived from the pydantic models (the schema is written once);
``python -m lib.domain.steps --write-schemas`` regenerates the files and a unit test
fails when they drift.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from lib.domain.steps.limits import TOTAL_STEPS
from lib.domain.steps.registry import STEPS, StepDef

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "schemas" / "steps"
COMPLETE = "complete"


@cache
def _catalogue() -> tuple[dict[str, Any], ...]:
    return tuple(
        {"number": s.number, "slug": s.slug, "title": s.title, "ai_task": s.ai_task, "schema": s.json_schema()}
        for s in STEPS
    )


def catalogue() -> list[dict[str, Any]]:
    """``[{number, slug, title, ai_task, schema}]`` for the 23 steps, in order (a fresh copy each call)."""
    return copy.deepcopy(list(_catalogue()))


def schema_filename(step: StepDef) -> str:
    return f"{step.number:02d}_{step.slug}.schema.json"


def schema_files() -> dict[str, str]:
    """File name -> content of every published step schema (2-space JSON, trailing newline)."""
    return {
        schema_filename(step): json.dumps(step.json_schema(), indent=2, ensure_ascii=False) + "\n" for step in STEPS
    }


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every step schema into ``directory`` and remove stale ``*.schema.json`` files there."""
    directory.mkdir(parents=True, exist_ok=True)
    files = schema_files()
    for stale in directory.glob("*.schema.json"):
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, content in files.items():
        path = directory / name
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def progress(step_statuses: Mapping[int, str] | Iterable[str]) -> dict[str, int]:
    """``{complete, total: 23, percent}`` from step statuses (``empty|draft|complete``).

    Accepts a mapping step number -> status, or statuses in step order.  The percent
    is rounded down, so 100 means every step is complete.
    """
    if isinstance(step_statuses, Mapping):
        pairs: Iterable[tuple[int, str]] = step_statuses.items()
    else:
        pairs = enumerate(step_statuses, start=1)
    complete = sum(1 for number, status in pairs if 1 <= number <= TOTAL_STEPS and status == COMPLETE)
    return {"complete": complete, "total": TOTAL_STEPS, "percent": complete * 100 // TOTAL_STEPS}
