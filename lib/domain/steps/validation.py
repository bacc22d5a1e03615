"""Validate one step's data: types and limits always, completeness unless it is a draft.

The result is the normalized data (trimmed, NFC, nulls dropped, JSON-ready) that
the session stores; errors name each bad field by a dotted path relative to the
request body (``data.items.3.url``), with a message a person can act on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from lib.domain.steps.limits import MAX_STEP_BYTES
from lib.domain.steps.registry import step_by_number
from lib.domain.steps.rules import ROOT
from lib.errors import FieldError, Unprocessable

CODE_INVALID = "step_invalid"
CODE_INCOMPLETE = "step_incomplete"


@dataclass(frozen=True)
class StepResult:
    """A valid step: what to store, whether it is complete, and what completing it still needs."""

    data: dict[str, Any]
    complete: bool
    missing: list[FieldError] = field(default_factory=list)


def payload_size(data: object) -> int:
    """Bytes of ``data`` as compact UTF-8 JSON: the measure the 256 KiB limit applies to."""
    return len(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))


def _check_size(data: object) -> None:
    try:
        size = payload_size(data)
    except (TypeError, ValueError) as exc:
        raise Unprocessable(
            "The step data is not JSON.", code=CODE_INVALID, errors=[FieldError(ROOT, "must be JSON data")]
        ) from exc
    if size > MAX_STEP_BYTES:
        message = f"is {size} bytes as JSON; a step may be at most {MAX_STEP_BYTES} bytes (256 KiB)"
        raise Unprocessable("The step data is too large.", code=CODE_INVALID, errors=[FieldError(ROOT, message)])


def validate_step(number: int, data: object, *, draft: bool) -> StepResult:
    """Check ``data`` against step ``number``'s schema (and its completeness rule unless ``draft``).

    Raises ``NotFound`` (``step_not_found``) for an unknown step number and ``Unprocessable``
    with one ``FieldError`` per bad field: code ``step_invalid`` for type and limit errors,
    ``step_incomplete`` when ``draft`` is false and only completeness is missing.
    """
    step = step_by_number(number)
    if not isinstance(data, dict):
        raise Unprocessable(
            "The step data must be a JSON object.", code=CODE_INVALID, errors=[FieldError(ROOT, "must be an object")]
        )
    _check_size(data)
    try:
        model = step.model.model_validate(data)
    except ValidationError as exc:
        errors = [_field_error(detail) for detail in exc.errors(include_url=False, include_input=False)]
        raise Unprocessable(
            f"Step {step.number} ({step.slug}) has {len(errors)} invalid field(s).", code=CODE_INVALID, errors=errors
        ) from None
    normalized = model.model_dump(mode="json", exclude_none=True)
    _check_size(normalized)
    missing = step.completeness.check(model)
    if missing and not draft:
        raise Unprocessable(
            f"Step {step.number} ({step.slug}) is not complete: {len(missing)} requirement(s) unmet.",
            code=CODE_INCOMPLETE,
            errors=missing,
        )
    return StepResult(data=normalized, complete=not missing, missing=missing)


def _field_error(detail: ErrorDetails) -> FieldError:
    path = ".".join([ROOT, *(str(part) for part in detail["loc"])])
    return FieldError(path, _message(detail))


def _message(detail: ErrorDetails) -> str:
    """A plain message.  Only our own templates go through ``str.format``, filled with pydantic's
    context (bounds, expected literals); the user's text (a key like ``"}"``) is never a template."""
    kind, ctx = detail["type"], detail.get("ctx") or {}
    if kind == "extra_forbidden":
        loc = detail["loc"]
        return f"unknown field {str(loc[-1]) if loc else ''!r}: it is not part of this step's schema"
    human = {
        "string_type": "must be text",
        "string_unicode": "must be valid Unicode text",
        "string_too_long": "must be at most {max_length} characters",
        "string_too_short": "must not be empty",
        "too_long": "must have at most {max_length} items (has {actual_length})",
        "int_type": "must be a whole number",
        "float_type": "must be a number",
        "finite_number": "must be a finite number",
        "bool_type": "must be true or false",
        "list_type": "must be a list",
        "model_type": "must be an object",
        "dict_type": "must be an object",
        "greater_than_equal": "must be at least {ge}",
        "less_than_equal": "must be at most {le}",
        "literal_error": "must be one of {expected}",
    }.get(kind)
    if human is None:  # custom errors already speak plainly; others get pydantic's message
        return detail["msg"] if kind in _OWN_ERRORS else detail["msg"][:1].lower() + detail["msg"][1:]
    try:
        return human.format(**{key: _plain_number(value) for key, value in ctx.items()})
    except (KeyError, IndexError):  # pragma: no cover - pydantic always sends these ctx keys
        return detail["msg"]


def _plain_number(value: object) -> object:
    """``1.0`` reads as ``1`` in a message."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


_OWN_ERRORS = frozenset({"control_character", "identifier", "url", "storage_path", "currency"})
