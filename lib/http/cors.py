"""CORS for the browser frontend: only ``settings.frontend_url``'s origin is allowed.

Locally the console is served from the same origin as the functions and none
of this applies; in production the frontend lives on its own domain.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from werkzeug.datastructures import Headers

ALLOWED_REQUEST_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Request-Id"
EXPOSED_HEADERS = (
    "X-Request-Id, Retry-After, Idempotent-Replayed, RateLimit-Limit, RateLimit-Remaining, "
    "RateLimit-Reset, RateLimit-Policy"
)
# Browsers cache a preflight this long (seconds): one preflight per route per 10 minutes.
PREFLIGHT_MAX_AGE_S = 600


def origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def apply_cors(headers: Headers, origin: str | None, allowed_origin: str | None) -> None:
    """Allow the frontend's origin on an actual (non-preflight) response."""
    headers.add("Vary", "Origin")
    if origin and allowed_origin and origin.lower() == allowed_origin:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS


def preflight_headers(methods: Iterable[str]) -> dict[str, str]:
    return {
        "Access-Control-Allow-Methods": ", ".join(sorted(set(methods))),
        "Access-Control-Allow-Headers": ALLOWED_REQUEST_HEADERS,
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_S),
    }
