"""The HTTP layer every function codes against.

``Router`` routes inside one Cloud Function and gives each route problem+json
errors, request ids, authentication, rate limits and Idempotency-Key handling;
handlers receive a ``RequestContext`` and may return a ``ResponseLike``.
"""

from lib.http.context import RequestContext
from lib.http.deps import HttpDeps, Wiring
from lib.http.principal import Principal
from lib.http.responses import ResponseLike, json_response
from lib.http.router import Router, RouteSpec

__all__ = ["HttpDeps", "Principal", "RequestContext", "ResponseLike", "RouteSpec", "Router", "Wiring", "json_response"]
