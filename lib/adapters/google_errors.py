"""Google Cloud client errors -> ``lib.errors``, decided once for Firestore, Cloud Storage and Cloud Tasks.

One table, read top to bottom (the first matching row wins, so subclasses come
before their bases).  Each row says what the caller should do: ``Unavailable``
means "try again later" (the caller retries, or answers 503), ``Rejected``
"this request will not succeed as sent", ``Missing`` and ``AlreadyExists`` are
answers in their own right.  The SDK modules are imported only when an
adapter translates, never at import of this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from lib.errors import AdapterError, AlreadyExists, Missing, Rejected, Unavailable

Row = tuple[tuple[type[BaseException], ...], type[AdapterError], str]


@cache
def table() -> tuple[Row, ...]:
    """The rows: (exception types, our error, why)."""
    import requests
    from google.api_core import exceptions as g
    from google.auth import exceptions as auth

    return (
        # A create collided with an existing resource (a task name, a document): an answer, not a failure.
        ((g.AlreadyExists,), AlreadyExists, "exists"),
        ((g.NotFound,), Missing, "not found"),
        # Aborted: a transaction lost to another (contention); FailedPrecondition: not now (a paused queue,
        # a write racing a transaction). Both succeed when tried again.
        ((g.Aborted, g.FailedPrecondition), Unavailable, "try again: contention or not ready"),
        # Any other 409 Conflict is another writer having made the thing first.
        ((g.Conflict,), AlreadyExists, "conflict: made by another writer"),
        # The service is down, slow, overloaded (429 / RESOURCE_EXHAUSTED) or failed in transit.
        (
            (
                g.ServiceUnavailable,
                g.DeadlineExceeded,
                g.InternalServerError,
                g.TooManyRequests,
                g.ResourceExhausted,
                g.BadGateway,
                g.GatewayTimeout,
                g.Unknown,
                g.Cancelled,
            ),
            Unavailable,
            "unavailable",
        ),
        # The SDK's own retry gave up: its budget (ours) ran out on retryable errors.
        ((g.RetryError,), Unavailable, "gave up retrying"),
        # Anything else the API answered (400, 401, 403...) will fail the same way again.
        ((g.GoogleAPICallError,), Rejected, "rejected"),
        # Cloud Storage talks HTTP through requests: no connection or no answer in time.
        ((requests.ConnectionError, requests.Timeout), Unavailable, "unreachable"),
        # Credentials: the token endpoint unreachable is transient; anything else is configuration.
        ((auth.TransportError,), Unavailable, "credentials unreachable"),
        ((auth.GoogleAuthError,), Rejected, "credentials refused"),
    )


def translate(exc: BaseException, service: str) -> AdapterError | None:
    """Our error for a Google client exception; ``None`` when the table has no row for it."""
    if isinstance(exc, AdapterError):
        return exc
    for types, error, why in table():
        if isinstance(exc, types):
            message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            return error(f"{why}: {message}", service)
    return None


@contextmanager
def google_errors(service: str) -> Iterator[None]:
    """``with google_errors("firestore"): ...``: Google client exceptions leave as ``lib.errors``."""
    try:
        yield
    except AdapterError:
        raise
    except Exception as exc:
        error = translate(exc, service)
        if error is None:
            raise
        raise error from exc
