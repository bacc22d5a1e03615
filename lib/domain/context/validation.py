"""Validating a business_context document, with errors a client can point at.

Finalize validates before it stores anything; a failure becomes a 422 whose
``errors`` name each bad field by its dotted path
(``intelligence.icps.0.name``), so the frontend can send the founder back to
the right step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from lib.domain.context.models import BusinessContext
from lib.errors import FieldError, Unprocessable

# A broken document can produce hundreds of errors; the first ones are enough to act on.
MAX_REPORTED_ERRORS = 50


def _path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "$"


def _field_errors(exc: ValidationError) -> list[FieldError]:
    return [FieldError(_path(err["loc"]), err["msg"]) for err in exc.errors()[:MAX_REPORTED_ERRORS]]


def _cross_field_errors(doc: BusinessContext) -> list[FieldError]:
    """Rules a JSON Schema cannot say: primary_icp names one of the ICPs."""
    intel = doc.intelligence
    names = [icp.name for icp in intel.icps]
    if intel.primary_icp is None and names:
        return [FieldError("intelligence.primary_icp", "must name one of the ICPs")]
    if intel.primary_icp is not None and intel.primary_icp not in names:
        return [FieldError("intelligence.primary_icp", f"{intel.primary_icp!r} names none of the ICPs")]
    return []


def parse_business_context(doc: Mapping[str, Any]) -> BusinessContext:
    """The typed document; raises Unprocessable listing every bad field by path."""
    try:
        parsed = BusinessContext.model_validate(doc)
    except ValidationError as exc:
        raise Unprocessable("business_context is invalid", errors=_field_errors(exc)) from exc
    errors = _cross_field_errors(parsed)
    if errors:
        raise Unprocessable("business_context is invalid", errors=errors)
    return parsed


def validate_business_context(doc: Mapping[str, Any]) -> None:
    """Raise Unprocessable (422, one FieldError per bad field) unless ``doc`` is a valid business_context v2.0."""
    parse_business_context(doc)
