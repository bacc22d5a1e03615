"""Turning what a handler returns into a Response, and stored responses back into one."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import Response
from pydantic import BaseModel
from werkzeug.wrappers import Response as WerkzeugResponse

from lib.http.context import is_json_mimetype
from lib.http.idempotency import REPLAYED_HEADER, StoredResponse

JSON_CONTENT_TYPE = "application/json"

# a lib.contract model or a dict (200 JSON) | (body, status) | (body, status, headers) | a flask/werkzeug
# Response | None (204)
ResponseLike = (
    BaseModel
    | Mapping[str, Any]
    | list[Any]
    | tuple[Any, int]
    | tuple[Any, int, Mapping[str, str]]
    | WerkzeugResponse
    | None
)


def _jsonable(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)  # a pydantic model (lib.contract): the fields it was given
    if callable(dump):
        return dump(mode="json", by_alias=True, exclude_unset=True)
    return value


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    response = Response(
        json.dumps(_jsonable(body), default=str, ensure_ascii=False),
        status=status,
        content_type=JSON_CONTENT_TYPE,
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def to_response(result: Any) -> WerkzeugResponse:
    if isinstance(result, WerkzeugResponse):
        return result
    status, headers = 200, None
    body = result
    if isinstance(result, tuple):
        if len(result) == 2:
            body, status = result
        elif len(result) == 3:
            body, status, headers = result
        else:
            raise TypeError(f"a handler returned a tuple of {len(result)} items")
    if body is None:
        response = Response(status=204 if status == 200 else status)
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response
    return json_response(body, int(status), headers)


def stored_from(response: WerkzeugResponse) -> StoredResponse:
    """What an idempotent route keeps: status, JSON (or text) body, non-volatile headers."""
    text = "" if response.is_streamed else response.get_data(as_text=True)
    body: Any = text
    if is_json_mimetype(response.mimetype or "") and text:
        try:
            body = json.loads(text)
        except ValueError:
            body = text
    return StoredResponse(response.status_code, body, StoredResponse.storable_headers(dict(response.headers)))


def replay(stored: StoredResponse) -> Response:
    content_type = stored.headers.get("Content-Type", JSON_CONTENT_TYPE)
    if is_json_mimetype(content_type.split(";")[0].strip()):
        data = json.dumps(stored.body, ensure_ascii=False)
    else:
        data = stored.body if isinstance(stored.body, str) else json.dumps(stored.body)
    response = Response(data, status=stored.status)
    for name, value in stored.headers.items():
        response.headers[name] = value
    response.headers[REPLAYED_HEADER] = "true"
    return response
