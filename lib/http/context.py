"""What a handler receives: the request, who is calling, and the layer's helpers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from flask import Request

from lib.errors import BadRequest, FieldError, NotFound, Unauthorized, Unprocessable, UnsupportedMediaType
from lib.http.deps import HttpDeps
from lib.http.params import count_header, reject_unstorable
from lib.http.principal import Principal
from lib.http.query import QueryParam
from lib.logs import BoundLogger

AppT = TypeVar("AppT")

# JSON nested deeper than this is refused as malformed (guards the parser's recursion).
MAX_JSON_DEPTH = 64


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _depth(value: Any, limit: int) -> int:
    """Nesting depth, stopping early once past ``limit``."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    deepest = 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Strict JSON object parsing: 400 ``malformed_json`` for anything that is not one."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadRequest("The request body is not valid JSON.", code="malformed_json") from exc
    if not isinstance(value, dict):
        raise BadRequest("The request body must be a JSON object.", code="malformed_json")
    if _depth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise BadRequest("The request body is nested too deeply.", code="malformed_json")
    return value


def is_json_mimetype(mimetype: str) -> bool:
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


@dataclass
class RequestContext(Generic[AppT]):
    """Everything a handler needs about the current request; built by the router.

    ``app`` is the function's own typed dependencies (its services' deps), as
    wired by the composition root; ``deps`` is the HTTP layer's.
    """

    request: Request
    request_id: str
    function: str
    deps: HttpDeps
    app: AppT
    log: BoundLogger
    raw_body: bytes = b""
    principal: Principal | None = None
    declared_query: Mapping[str, QueryParam] = field(default_factory=dict)
    _json: dict[str, Any] | None = field(default=None, repr=False)

    def arg(self, name: str) -> str | None:
        """A query parameter the route declares (``Router.route(query=...)``); the first value if repeated."""
        param = self.declared_query.get(name)
        if param is None:
            raise RuntimeError(f"query parameter {name!r} is read but not declared on the route")
        value = self.request.args.get(name)
        refusal = None if value is None else param.refusal(value)
        if refusal is not None:
            raise Unprocessable(
                f"The query parameter {name!r} is invalid.",
                code="validation_failed",
                errors=[FieldError(name, refusal)],
            )
        return value

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; an empty body is ``{}`` (optional-body POSTs).

        A key or string holding NUL or a lone surrogate is a 422 naming it (``lib.http.params``)."""
        if self._json is None:
            if not self.raw_body.strip():
                self._json = {}
            elif not is_json_mimetype(self.request.mimetype):
                raise UnsupportedMediaType("Send the body as application/json.", code="unsupported_media_type")
            else:
                parsed = parse_json_object(self.raw_body)
                reject_unstorable(parsed)
                self._json = parsed
        return self._json

    @property
    def task_retry_count(self) -> int:
        """Cloud Tasks' attempt number (0 on the first delivery or when absent)."""
        return count_header(self.request.headers.get("X-CloudTasks-TaskRetryCount"))

    @property
    def user_id(self) -> str:
        """The authenticated user's id; 401 when the route let an anonymous caller in."""
        if self.principal is None:
            raise Unauthorized("Authentication required.", code="token_missing")
        return self.principal.user_id

    def workspace_id(self, requested: str | None) -> str:
        """The workspace to act on, membership checked.

        ``None`` means the caller's own (first owned) workspace; a workspace the
        caller is not a member of is 404 ``workspace_not_found``, never a hint
        that it exists.
        """
        resolver = self.deps.membership
        if resolver is None:
            raise RuntimeError("workspace-scoped call but no membership resolver is configured")
        if requested is not None and not isinstance(requested, str):
            raise NotFound("No such workspace.", code="workspace_not_found")
        return resolver.resolve(self.user_id, requested)

    def is_member(self, workspace_id: str) -> bool:
        """``workspace_id`` answered as a yes/no (a service's ``CanAccess`` check), not a 404."""
        try:
            self.workspace_id(workspace_id)
        except NotFound:
            return False
        return True
