"""Cloud Tasks task ids from arbitrary de-dup names (no SDK import).

Shared by the Cloud Tasks adapter, the local dispatcher and the fake so a
name maps to the same task id everywhere, and de-dup behaves identically.
"""

from __future__ import annotations

import hashlib
import re

# Cloud Tasks limits a task id to 500 characters of [A-Za-z0-9_-].
MAX_TASK_ID = 500
# Suffix that keeps two names distinct after sanitising (e.g. "a.b" vs "a_b").
_HASH_CHARS = 16
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def task_id(name: str) -> str:
    """A valid Cloud Tasks task id for ``name``: unchanged when already valid,
    else sanitised with a hash of the original appended (so distinct names
    never collide), truncated to the limit."""
    clean = _UNSAFE.sub("_", name)
    if clean == name and 0 < len(name) <= MAX_TASK_ID:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:_HASH_CHARS]
    return f"{clean[: MAX_TASK_ID - _HASH_CHARS - 1]}-{digest}"


def function_audience(url: str) -> str:
    """The OIDC audience for a task aimed at ``url``: the target function's URL.

    Every function is served at ``<base>/<function>/...`` (Cloud Functions'
    ``https://<region>-<project>.cloudfunctions.net/<function>``, or the local
    suite's one port), and a receiver accepts tokens minted for its own URL,
    so the audience is the origin plus the first path segment.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    first = parts.path.strip("/").split("/", 1)[0]
    return f"{parts.scheme}://{parts.netloc}/{first}" if first else f"{parts.scheme}://{parts.netloc}"
