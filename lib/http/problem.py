"""``application/problem+json`` (RFC 9457) responses for every error the layer returns.

One renderer for all errors keeps the shape stable for the frontend:
``{type, title, status, detail, code, errors?, request_id}`` plus any
``AppError.extra`` fields (a contact hint, a retry time...).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import Response

from lib.errors import AppError

PROBLEM_CONTENT_TYPE = "application/problem+json"
# Stable, dereference-free problem type URIs: the code is the contract, not a web page.
PROBLEM_TYPE_PREFIX = "urn:bcm:problem:"
# Fields a subclass's ``extra`` may not overwrite.
_RESERVED = frozenset({"type", "title", "status", "detail", "code", "errors", "request_id"})


def problem_body(error: AppError, request_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"{PROBLEM_TYPE_PREFIX}{error.code}",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "code": error.code,
    }
    if error.errors:
        body["errors"] = [e.as_dict() for e in error.errors]
    for key, value in error.extra.items():
        if key not in _RESERVED:
            body[key] = value
    body["request_id"] = request_id
    return body


def problem_response(error: AppError, request_id: str | None, headers: Mapping[str, str] | None = None) -> Response:
    response = Response(
        json.dumps(problem_body(error, request_id), default=str),
        status=error.status,
        content_type=PROBLEM_CONTENT_TYPE,
    )
    for name, value in {**error.headers, **(headers or {})}.items():
        response.headers[name] = value
    return response
