"""The published JSON Schema of business_context v2.0, derived from the pydantic model.

``schemas/business_context.v2.schema.json`` is this function's output; a unit
test fails when the file and the model drift apart, and
``python -m lib.domain.bcm --write-schema`` regenerates the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lib.domain.context.models import BusinessContext

# Where the published schema lives in the repository (the frontend and other consumers read it there).
SCHEMA_PATH = Path(__file__).resolve().parents[3] / "schemas" / "business_context.v2.schema.json"


def business_context_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a business_context document as stored (serialisation mode)."""
    return BusinessContext.model_json_schema(mode="serialization")
