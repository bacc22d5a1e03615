"""Every response the function and e2e tests see, checked against ``docs/openapi.json``.

``Router.dispatch`` is wrapped for the session (``tests/functions/conftest.py``,
``tests/e2e/conftest.py``): each answer of a published function is looked up by
its operation (the matched route, or the function's 404/405 for none) and
status, and must be a documented status, with a documented media type, whose
JSON body validates against that response's schema.  A test that saw a
mismatch fails after it ran, naming each one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response as WerkzeugResponse

from lib.errors import AppError
from lib.http.health import is_health_path
from lib.http.router import Router
from tools.openapi import openapi_path

OPENAPI = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"
# The body of a 404/405 answered before any route matched.
UNMATCHED = {404: "route_not_found", 405: "method_not_allowed"}


@cache
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(OPENAPI.read_text(encoding="utf-8"))
    return loaded


@cache
def validator(pointer: str) -> Draft202012Validator:
    """The validator of the schema at ``pointer`` (slash-separated keys), the document's components in reach."""
    node: Any = document()
    for part in pointer.split("\x00"):
        node = node[part]
    return Draft202012Validator({**node, "components": document()["components"]})


def published(function: str) -> bool:
    return any(tag["name"] == function for tag in document()["tags"])


def mismatches(router: Router[Any], request: Request, response: WerkzeugResponse) -> list[str]:
    """What is wrong with ``response`` to ``request`` under the published contract ([] when nothing)."""
    if request.method == "OPTIONS" or is_health_path(request.path, router.name) or not published(router.name):
        return []
    status = response.status_code
    where = f"{router.name}: {request.method} {request.path} -> {status}"
    try:
        route, _ = router._match(request.path, request.method)
    except AppError as exc:
        if exc.status not in UNMATCHED or status != exc.status:
            return [f"{where}: no route matched, expected {exc.status}"]
        body = _json(response)
        if response.mimetype != "application/problem+json" or not isinstance(body, dict):
            return [f"{where}: not a problem+json body"]
        if body.get("code") != UNMATCHED[status]:
            return [f"{where}: code {body.get('code')!r}, expected {UNMATCHED[status]!r}"]
        return [f"{where}: {e.message}" for e in validator("components\x00schemas\x00Problem").iter_errors(body)]
    path, _ = openapi_path(router.name, route.path)
    method = request.method.lower()
    operation = document()["paths"].get(path, {}).get(method)
    if operation is None:
        return [f"{where}: {method.upper()} {path} is not in the document"]
    answer = operation["responses"].get(str(status))
    if answer is None:
        return [f"{where}: status {status} is not documented for {method.upper()} {path}"]
    content = answer.get("content", {})
    if not content:
        return [] if not response.get_data() else [f"{where}: a body where none is documented"]
    media = response.mimetype or ""
    if media not in content:
        return [f"{where}: media type {media!r} is not documented (only {sorted(content)})"]
    if "json" not in media:
        return []
    body = _json(response)
    schema = validator("\x00".join(("paths", path, method, "responses", str(status), "content", media, "schema")))
    errors = schema.iter_errors(body)
    return [f"{where}: {'/'.join(map(str, e.absolute_path)) or '<body>'}: {e.message}" for e in errors]


def _json(response: WerkzeugResponse) -> Any:
    try:
        return json.loads(response.get_data(as_text=True))
    except ValueError:
        return None


class Conformance:
    """The mismatches seen since the last ``take``; the wrapped dispatch runs on server threads too."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: list[str] = []

    def note(self, found: list[str]) -> None:
        if found:
            with self._lock:
                self._seen.extend(found)

    def take(self) -> list[str]:
        with self._lock:
            seen, self._seen = self._seen, []
        return seen


def checking() -> Iterator[Conformance]:
    """Wrap ``Router.dispatch`` while the generator is open (a session fixture's body)."""
    conformance = Conformance()
    original = Router.dispatch

    def dispatch(self: Router[Any], request: Request, *, deps: Any = None) -> WerkzeugResponse:
        response = original(self, request, deps=deps)
        conformance.note(mismatches(self, request, response))
        return response

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Router, "dispatch", dispatch)
        yield conformance


def assert_conforms(conformance: Conformance) -> None:
    found = conformance.take()
    assert not found, "responses off the published contract (docs/openapi.json):\n" + "\n".join(found)
