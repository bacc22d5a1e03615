"""``GET /healthz``: the liveness answer every function gives, from the Router.

Liveness means "this instance imported its code and serves requests", nothing
more: it touches no backing service and builds no dependency, so it answers
the same with Postgres down, Redis unreachable or settings that would fail a
real request.  That is what a deploy smoke test or an uptime check needs to
tell "the package is broken" apart from "a dependency is down" (the local dev
server's own ``/healthz`` is the readiness probe that checks the services).

The version is the staged source's content hash, written by ``tools/stage.py``
into ``build_info.json`` beside ``main.py``; read once, from local disk, and
``null`` when running from a checkout.

Not in ``docs/openapi.json``: it is an operations endpoint, not part of the
frontend's contract, so it is answered before routing and never registered.
"""

from __future__ import annotations

import json
import platform
from functools import cache
from pathlib import Path

from flask import Response

from lib.errors import MethodNotAllowed
from lib.http.problem import problem_response

HEALTH_PATH = "/healthz"
# Written by tools/stage.py at the function's root (the folder holding main.py and lib/).
BUILD_INFO_FILE = "build_info.json"
# How much of the source hash the answer shows: enough to tell deployed versions apart.
VERSION_CHARS = 12
HEALTH_METHODS = ("GET", "HEAD")
# The function's root: lib/http/health.py -> lib/http -> lib -> root.
FUNCTION_ROOT = Path(__file__).resolve().parents[2]


def is_health_path(path: str, function: str) -> bool:
    """``/healthz``, or ``/<function>/healthz`` as the function's own URL path (trailing slash allowed)."""
    trimmed = path.rstrip("/")
    return trimmed in (HEALTH_PATH, f"/{function}{HEALTH_PATH}")


@cache
def source_version(root: Path = FUNCTION_ROOT) -> str | None:
    """The staged source's hash prefix from ``build_info.json``; None when absent or unreadable."""
    try:
        info = json.loads((root / BUILD_INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    digest = info.get("source_sha256") if isinstance(info, dict) else None
    return digest[:VERSION_CHARS] if isinstance(digest, str) and digest else None


def health_body(function: str, version: str | None) -> dict[str, str | None]:
    return {"status": "ok", "function": function, "version": version, "python": platform.python_version()}


def health_response(function: str, method: str, request_id: str) -> Response:
    """200 with :func:`health_body` for GET/HEAD; a 405 problem with ``Allow`` otherwise."""
    if method.upper() not in HEALTH_METHODS:
        allow = ", ".join(HEALTH_METHODS)
        error = MethodNotAllowed(f"{method} is not allowed here.", code="method_not_allowed", headers={"Allow": allow})
        response = problem_response(error, request_id)
    else:
        response = Response(
            json.dumps(health_body(function, source_version())), status=200, mimetype="application/json"
        )
    response.headers["Cache-Control"] = "no-store"
    return response
