"""Request ids and Cloud Trace context, read from incoming headers.

A caller-supplied ``X-Request-Id`` is kept when it is sane (so a frontend or a
task can correlate its own logs); anything else gets a fresh id.  The trace
comes from ``X-Cloud-Trace-Context`` (Google's front end sets it) or W3C
``traceparent``, so every log line of a request groups under its trace.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping

from werkzeug.datastructures import Headers

from lib.logs import LogContext

HeaderSource = Headers | Mapping[str, str]

REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
_CLOUD_TRACE_RE = re.compile(r"^([0-9a-fA-F]{32})(?:/(\d{1,20}))?(?:;o=([01]))?$")
_TRACEPARENT_RE = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def request_id_from(headers: HeaderSource) -> str:
    incoming = (headers.get(REQUEST_ID_HEADER) or "").strip()
    return incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex


def log_context_from(headers: HeaderSource, *, project: str, request_id: str, function: str) -> LogContext:
    trace_id: str | None = None
    span_id: str | None = None
    sampled: bool | None = None
    cloud = _CLOUD_TRACE_RE.match((headers.get("X-Cloud-Trace-Context") or "").strip())
    if cloud:
        trace_id, span_id = cloud.group(1).lower(), cloud.group(2)
        sampled = None if cloud.group(3) is None else cloud.group(3) == "1"
    else:
        w3c = _TRACEPARENT_RE.match((headers.get("traceparent") or "").strip())
        if w3c:
            trace_id, span_id = w3c.group(1), w3c.group(2)
            sampled = bool(int(w3c.group(3), 16) & 1)
    return LogContext(
        request_id=request_id,
        function=function,
        trace=f"projects/{project}/traces/{trace_id}" if trace_id else None,
        span_id=span_id,
        trace_sampled=sampled,
    )
