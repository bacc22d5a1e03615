"""Error types shared by every layer.

``AppError`` and its subclasses are what services raise for the caller; the
HTTP layer turns them into ``application/problem+json``.  ``AdapterError`` and
its subclasses are what adapters raise after translating a vendor exception
(``raise ... from exc``), named for what the caller should do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldError:
    """One bad field: a JSON-pointer-like dotted path and why it is bad."""

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class AppError(Exception):
    """An error the caller can act on; becomes a problem+json response."""

    status: int = 500
    code: str = "internal_error"
    title: str = "Internal error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if code:
            self.code = code
        self.errors = errors or []
        self.headers = headers or {}
        self.extra = extra or {}


class BadRequest(AppError):
    status, code, title = 400, "bad_request", "Bad request"


class Unauthorized(AppError):
    status, code, title = 401, "unauthorized", "Unauthorized"


class Forbidden(AppError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(AppError):
    status, code, title = 404, "not_found", "Not found"


class MethodNotAllowed(AppError):
    status, code, title = 405, "method_not_allowed", "Method not allowed"


class Conflict(AppError):
    status, code, title = 409, "conflict", "Conflict"


class PayloadTooLarge(AppError):
    status, code, title = 413, "payload_too_large", "Payload too large"


class UnsupportedMediaType(AppError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class Unprocessable(AppError):
    status, code, title = 422, "validation_failed", "Validation failed"


class TooManyRequests(AppError):
    status, code, title = 429, "rate_limited", "Too many requests"


class NotImplementedYet(AppError):
    status, code, title = 501, "not_implemented", "Not implemented"


class ServiceUnavailable(AppError):
    status, code, title = 503, "service_unavailable", "Service unavailable"


@dataclass
class AdapterError(Exception):
    """Base of every adapter error; ``retryable`` says whether trying again may help."""

    message: str
    service: str = "unknown"
    retryable: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.service}: {self.message}"


class Unavailable(AdapterError):
    """The service is down, timed out or refused: retry later."""

    def __init__(self, message: str, service: str = "unknown", **details: Any) -> None:
        super().__init__(message, service, True, details)


class Rejected(AdapterError):
    """The service understood and refused the request: do not retry as is."""

    def __init__(self, message: str, service: str = "unknown", **details: Any) -> None:
        super().__init__(message, service, False, details)


class Unstorable(Rejected):
    """The value cannot be stored as sent (text the database cannot encode, a malformed number).

    Input checks should stop such values first; when one slips through, the
    HTTP layer answers 422, never 500: it is the request's fault, not ours.
    """


class Missing(AdapterError):
    """The thing asked for does not exist."""

    def __init__(self, message: str, service: str = "unknown", **details: Any) -> None:
        super().__init__(message, service, False, details)


class AlreadyExists(AdapterError):
    """A create collided with an existing record (unique key, task name)."""

    def __init__(self, message: str, service: str = "unknown", **details: Any) -> None:
        super().__init__(message, service, False, details)
