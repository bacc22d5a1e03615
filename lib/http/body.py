"""Bounded request body reading: never more than the route's limit is held in memory."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Request

from lib.errors import FieldError, PayloadTooLarge, Unprocessable

# Default per-route body limit: the largest onboarding step fits with room to spare.
DEFAULT_MAX_BODY = 64 * 1024
# Bytes read from the WSGI stream per call.
READ_CHUNK = 64 * 1024


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body exceeds {limit} bytes.", code="payload_too_large")


def read_body(request: Request, limit: int) -> bytes:
    """The body, or 413 as soon as it is known to exceed ``limit`` (declared or actual length)."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise too_large(limit)
    stream = request.stream
    buf = bytearray()
    while True:
        chunk = stream.read(min(READ_CHUNK, limit + 1 - len(buf)))
        if not chunk:
            break
        buf += chunk
        if len(buf) > limit:
            raise too_large(limit)
    data = bytes(buf)
    # Werkzeug's own cache slot: a handler calling request.get_data()/get_json() later sees
    # the body instead of an exhausted stream.
    request.__dict__["_cached_data"] = data
    return data


@functools.cache
def _closed_fields(model: Any) -> frozenset[str] | None:
    """The top-level field names a request model takes when it refuses others, else None."""
    if getattr(model, "model_config", {}).get("extra") != "forbid":
        return None
    return frozenset(info.alias or name for name, info in model.model_fields.items())


def refuse_unknown_fields(model: Any, read_json: Callable[[], dict[str, Any]]) -> None:
    """422 ``validation_failed`` naming each top-level field of the JSON body that the route's closed
    request model (``Router.route(body=...)``) does not take: a misspelt field is an error, never
    silently ignored.  Open models (no body read, a vendor's callback) are not checked."""
    allowed = _closed_fields(model)
    if allowed is None:
        return
    unknown = sorted(set(read_json()) - allowed)
    if unknown:
        raise Unprocessable(
            "The request body has fields this route does not take.",
            code="validation_failed",
            errors=[FieldError(name, "is not a field of this request") for name in unknown],
        )
