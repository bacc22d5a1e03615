"""Bounded request body reading: never more than the route's limit is held in memory."""

from __future__ import annotations

from flask import Request

from lib.errors import PayloadTooLarge

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
