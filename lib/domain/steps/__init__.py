"""The 23 onboarding steps: schemas, completeness rules, catalogue and progress.

Pure domain code (pydantic and the standard library only).  Callers use::

    from lib.domain.steps import STEPS, step_by_number, validate_step, catalogue, progress
"""

from __future__ import annotations

from lib.domain.steps.catalogue import SCHEMA_DIR, catalogue, progress, schema_files, write_schemas
from lib.domain.steps.fields import StepModel
from lib.domain.steps.limits import MAX_STEP_BYTES, TOTAL_STEPS
from lib.domain.steps.registry import STEPS, StepDef, step_by_number, step_by_slug
from lib.domain.steps.validation import CODE_INCOMPLETE, CODE_INVALID, StepResult, payload_size, validate_step

__all__ = [
    "CODE_INCOMPLETE",
    "CODE_INVALID",
    "MAX_STEP_BYTES",
    "SCHEMA_DIR",
    "STEPS",
    "TOTAL_STEPS",
    "StepDef",
    "StepModel",
    "StepResult",
    "catalogue",
    "payload_size",
    "progress",
    "schema_files",
    "step_by_number",
    "step_by_slug",
    "validate_step",
    "write_schemas",
]
