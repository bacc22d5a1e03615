"""Routing inside one Cloud Function, and everything every route gets for free.

``GET /healthz`` (liveness, ``lib.http.health``) is answered first, before any
dependency is built.  Any other request goes: request id and trace -> route match (404 / 405 with Allow) ->
bounded body read (413) -> authentication (401 / 503) -> rate limit (429 /
503) -> Idempotency-Key (replay / 409 / 422) -> the handler -> problem+json
for any error, a 500 without a stack trace for a bug (logged with it) ->
X-Request-Id, RateLimit-* and CORS headers -> one access log line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, cast

import flask
from flask import Request, Response
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed as WzMethodNotAllowed
from werkzeug.exceptions import NotFound as WzNotFound
from werkzeug.routing import Map, MapAdapter, RequestRedirect, Rule
from werkzeug.wrappers import Response as WerkzeugResponse

from lib.errors import (
    AppError,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    Unavailable,
    Unprocessable,
    Unstorable,
)
from lib.http.body import DEFAULT_MAX_BODY, read_body, refuse_unknown_fields
from lib.http.context import RequestContext
from lib.http.cors import apply_cors, origin_of, preflight_headers
from lib.http.deps import HttpDeps, Wiring
from lib.http.health import HEALTH_PATH, health_response, is_health_path
from lib.http.idempotency import HEADER as IDEMPOTENCY_HEADER
from lib.http.idempotency import request_fingerprint, validate_key
from lib.http.params import reject_unstorable_params
from lib.http.principal import Principal
from lib.http.problem import problem_response
from lib.http.query import QueryParam
from lib.http.ratelimit import RATE_LIMITS
from lib.http.responses import replay, stored_from, to_response
from lib.http.tokens import bearer_token
from lib.http.tracing import REQUEST_ID_HEADER, log_context_from, request_id_from
from lib.logs import get_logger, log_context

AuthMode = Literal["user", "internal", "none"]
RateClass = Literal["read", "write", "expensive"]
Handler = Callable[..., Any]
AppT = TypeVar("AppT")
WiringFactory = Callable[[], Wiring[AppT]]
AUTH_MODES = frozenset({"user", "internal", "none"})
# What a 503 for an unreachable backing service tells the client to wait.
UNAVAILABLE_RETRY_AFTER_S = 5

log = logging.getLogger("lib.http")


@dataclass(frozen=True)
class RouteSpec:
    """One registered route; also what the OpenAPI generator reads."""

    path: str
    methods: tuple[str, ...]
    handler: Handler
    auth: AuthMode
    rate: RateClass | None
    idempotent: bool
    max_body: int
    endpoint: str
    query: tuple[QueryParam, ...] = ()
    # The contract (``lib.contract``): status -> the model answered (or media type -> model), the
    # request body's model, and the problem codes the route's own code raises.  Read by the OpenAPI
    # generator only; handlers return the models themselves.
    responses: tuple[tuple[int, Any], ...] = ()
    body: Any = None
    problems: tuple[str, ...] = ()


class _Outcome:
    """Headers gathered along the way, added to whatever response ends the request."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.principal: Principal | None = None
        self.route: RouteSpec | None = None


class Router(Generic[AppT]):
    """``Router("payment_status", wiring=bootstrap.payments)``; ``@router.route(...)``; ``router.dispatch(request)``.

    ``wiring`` is the composition root's factory for this function's ``Wiring``:
    the HTTP layer's deps and the function's own typed deps, which handlers read
    as ``ctx.app``.  It runs once, on the first request that needs it (never at
    import, never for ``/healthz``).  ``deps`` fixes the HTTP deps instead, for
    routers that need no app deps (tests, benchmarks).
    """

    def __init__(
        self,
        name: str,
        *,
        wiring: WiringFactory[AppT] | None = None,
        deps: HttpDeps | None = None,
    ) -> None:
        self.name = name
        self._wiring: Wiring[AppT] | None = None if deps is None else Wiring(deps, cast(AppT, None))
        self._wiring_factory = wiring
        self._deps_lock = threading.Lock()
        self._map = Map(strict_slashes=False, merge_slashes=True)
        self._map_ready = False
        self._specs: dict[str, RouteSpec] = {}
        self._log = get_logger(f"functions.{name}")

    # ------------------------------------------------------------- registration
    def route(
        self,
        path: str,
        *,
        methods: list[str] | tuple[str, ...],
        auth: AuthMode = "user",
        rate: RateClass | None = None,
        idempotent: bool = False,
        max_body: int = DEFAULT_MAX_BODY,
        query: Sequence[QueryParam] = (),
        responses: Mapping[int, Any] | None = None,
        body: Any = None,
        problems: Sequence[str] = (),
    ) -> Callable[[Handler], Handler]:
        if auth not in AUTH_MODES:
            raise ValueError(f"auth must be one of {sorted(AUTH_MODES)}, not {auth!r}")
        if rate is not None and rate not in RATE_LIMITS:
            raise ValueError(f"rate must be None or one of {sorted(RATE_LIMITS)}, not {rate!r}")
        if idempotent and auth != "user":
            raise ValueError("idempotent routes need auth='user': keys are scoped per user")
        if not path.startswith("/"):
            raise ValueError(f"route paths start with '/': {path!r}")
        if path.rstrip("/") == HEALTH_PATH:
            raise ValueError(f"{HEALTH_PATH} is the built-in liveness route of every function")

        def register(handler: Handler) -> Handler:
            endpoint = f"r{len(self._specs)}:{handler.__name__}"
            spec = RouteSpec(
                path=path,
                methods=tuple(m.upper() for m in methods),
                handler=handler,
                auth=auth,
                rate=rate,
                idempotent=idempotent,
                max_body=max_body,
                endpoint=endpoint,
                query=tuple(query),
                responses=tuple(sorted((responses or {}).items())),
                body=body,
                problems=tuple(problems),
            )
            self._map.add(Rule(path, methods=list(spec.methods), endpoint=endpoint))
            self._specs[endpoint] = spec
            self._map_ready = False
            return handler

        return register

    @property
    def routes(self) -> list[RouteSpec]:
        return list(self._specs.values())

    # ------------------------------------------------------------- entry point
    def entry_point(self) -> Callable[[Request], WerkzeugResponse]:
        """The function functions-framework serves (``main = router.entry_point()`` in main.py).

        Every request is answered here, also those functions-framework's own
        routing cannot match (a path segment holding a newline): its 404 is
        handed to this router, which answers problem+json like any other.
        """
        import functions_framework

        def main(request: Request) -> WerkzeugResponse:
            return self.dispatch(request)

        # functions-framework points ``errorhandler`` at the app it is creating while it imports this
        # module; imported any other way (tools, tests) it is a dummy or the last app created, which
        # may be serving already: that app is not this module's, so nothing is registered on it.
        app = getattr(functions_framework.errorhandler, "__self__", None)
        if not getattr(app, "_got_first_request", False):
            functions_framework.errorhandler(404)(lambda _error: self.dispatch(flask.request))
        functions_framework.http(main)  # registers the signature type under the name "main"
        return main

    # ----------------------------------------------------------------- dispatch
    def dispatch(self, request: Request, *, deps: HttpDeps | None = None) -> WerkzeugResponse:
        """Answer one request; ``deps`` replaces the HTTP deps for this call (tests)."""
        started = time.perf_counter()
        request_id = request_id_from(request.headers)
        if is_health_path(request.path, self.name):
            return self._health(request, request_id, started)
        outcome = _Outcome()
        resolved: Wiring[AppT] | None = None
        deps_error: Exception | None = None
        try:
            resolved = self._resolve_wiring(deps)
        except Exception as exc:  # bootstrap failed: still answer with a problem, logged below
            deps_error = exc
        project = resolved.http.settings.gcp_project if resolved else "unknown"
        context = log_context_from(request.headers, project=project, request_id=request_id, function=self.name)
        with log_context(context):
            if deps_error is not None:
                self._log.error("building dependencies failed", exc_info=deps_error)
                response: WerkzeugResponse = problem_response(AppError("Internal error."), request_id)
            else:
                assert resolved is not None
                response = self._handle(request, request_id, resolved, outcome)
            for name, value in outcome.headers.items():
                response.headers.setdefault(name, value)
            response.headers[REQUEST_ID_HEADER] = request_id
            allowed = origin_of(resolved.http.settings.frontend_url) if resolved else None
            apply_cors(response.headers, request.headers.get("Origin"), allowed)
            self._access_log(request, response, outcome, started)
        return response

    def _health(self, request: Request, request_id: str, started: float) -> WerkzeugResponse:
        """Liveness: no deps, auth, rate limit or CORS; logged at DEBUG so uptime checks do not flood the logs."""
        response = health_response(self.name, request.method, request_id)
        response.headers[REQUEST_ID_HEADER] = request_id
        latency = time.perf_counter() - started
        self._log.debug("%s %s -> %s (%.6fs)", request.method, request.path, response.status_code, latency)
        return response

    def _resolve_wiring(self, explicit: HttpDeps | None) -> Wiring[AppT]:
        if explicit is not None:
            app = self._wiring.app if self._wiring is not None else cast(AppT, None)
            return Wiring(explicit, app)
        if self._wiring is None:
            with self._deps_lock:
                if self._wiring is None:
                    if self._wiring_factory is None:
                        raise RuntimeError(f"router {self.name!r} has no wiring: pass wiring= or deps=")
                    self._wiring = self._wiring_factory()
        return self._wiring

    def _adapter(self) -> MapAdapter:
        if not self._map_ready:
            with self._deps_lock:
                self._map.update()  # compile once, not racing on the first concurrent requests
                self._map_ready = True
        return self._map.bind("function", url_scheme="https")

    def _match(self, path: str, method: str) -> tuple[RouteSpec, dict[str, Any]]:
        adapter = self._adapter()
        candidates = [path or "/"]
        prefix = f"/{self.name}"
        if path == prefix or path.startswith(prefix + "/"):
            candidates.append(path[len(prefix) :] or "/")  # served with the function name in the path
        not_allowed: WzMethodNotAllowed | None = None
        for candidate in candidates:
            try:
                endpoint, args = adapter.match(candidate, method=method)
            except WzMethodNotAllowed as exc:
                not_allowed = not_allowed or exc
                continue
            except (WzNotFound, RequestRedirect):
                continue
            return self._specs[str(endpoint)], dict(args)
        if not_allowed is not None:
            allow = sorted(set(not_allowed.valid_methods or []))
            raise MethodNotAllowed(
                f"{method} is not allowed here.", code="method_not_allowed", headers={"Allow": ", ".join(allow)}
            )
        raise NotFound("No such route.", code="route_not_found")

    def _handle(self, request: Request, request_id: str, wiring: Wiring[AppT], outcome: _Outcome) -> WerkzeugResponse:
        deps = wiring.http
        try:
            if request.method == "OPTIONS":
                return self._preflight(request)
            route, args = self._match(request.path, request.method)
            outcome.route = route
            raw = read_body(request, route.max_body)
            ctx = RequestContext(
                request=request,
                request_id=request_id,
                function=self.name,
                deps=deps,
                app=wiring.app,
                log=self._log.bind(route=route.path),
                raw_body=raw,
                declared_query={q.name: q for q in route.query},
            )
            ctx.principal = outcome.principal = self._authenticate(route, request, deps)
            if ctx.principal is not None:
                ctx.log = ctx.log.bind(user_id=ctx.principal.user_id)
            if route.rate is not None:
                self._rate_limit(route.rate, ctx, deps, outcome)
            reject_unstorable_params(args, request.args.to_dict(flat=False))
            key = request.headers.get(IDEMPOTENCY_HEADER)
            if route.idempotent and key is not None:
                return self._run_idempotent(route, ctx, args, key)
            return self._invoke(route, ctx, args)
        except Exception as exc:
            return self._error_response(exc, request_id)

    def _preflight(self, request: Request) -> WerkzeugResponse:
        path = request.path
        try:
            self._match(path, "OPTIONS")
        except MethodNotAllowed as exc:
            methods = [m.strip() for m in exc.headers["Allow"].split(",")]
            response = Response(status=204)
            for name, value in {"Allow": exc.headers["Allow"], **preflight_headers(methods)}.items():
                response.headers[name] = value
            return response
        return Response(status=204)

    def _authenticate(self, route: RouteSpec, request: Request, deps: HttpDeps) -> Principal | None:
        if route.auth == "none":
            return None
        token = bearer_token(request.headers.get("Authorization"))
        if route.auth == "user":
            if deps.jwt is None:
                raise RuntimeError(f"route {route.path} needs auth='user' but no verifier is configured")
            return deps.jwt.verify(token)
        if deps.oidc is None:
            raise RuntimeError(f"route {route.path} needs auth={route.auth!r} but no verifier is configured")
        return deps.oidc.verify(token, function=self.name)

    def _rate_limit(self, rate: str, ctx: RequestContext[AppT], deps: HttpDeps, outcome: _Outcome) -> None:
        if deps.rate_limiter is None:
            raise RuntimeError(f"route needs rate={rate!r} but no rate limiter is configured")
        if ctx.principal is not None:
            identity = f"user:{ctx.principal.user_id}"
        else:
            route_ips = ctx.request.access_route
            identity = f"ip:{route_ips[0] if route_ips else ctx.request.remote_addr or 'unknown'}"
        try:
            decision = deps.rate_limiter.check(self.name, rate, identity)
        except AppError as exc:
            outcome.headers.update({k: v for k, v in exc.headers.items() if k.startswith("RateLimit-")})
            raise
        outcome.headers.update(decision.headers)

    def _run_idempotent(
        self, route: RouteSpec, ctx: RequestContext[AppT], args: dict[str, Any], raw_key: str
    ) -> WerkzeugResponse:
        key = validate_key(raw_key)
        store = ctx.deps.idempotency
        if store is None:
            raise RuntimeError(f"route {route.path} is idempotent but no idempotency store is configured")
        user_id = ctx.user_id
        fingerprint = request_fingerprint(
            ctx.request.method, ctx.request.path, ctx.request.args.to_dict(flat=False), ctx.raw_body
        )
        stored = store.begin(user_id, self.name, key, fingerprint)
        if stored is not None:
            ctx.log.info("idempotent replay", extra={"idempotency_key": key, "status": stored.status})
            return replay(stored)
        try:
            response = self._invoke(route, ctx, args)
        except BaseException:
            store.release(user_id, self.name, key)
            raise
        try:
            if response.status_code >= 500:
                store.release(user_id, self.name, key)  # our failure: let the retry run
            else:
                store.complete(user_id, self.name, key, stored_from(response))
        except Exception:
            # The work is done; answer it.  The key stays in flight until its lease runs out.
            ctx.log.exception("storing the idempotent response failed", extra={"idempotency_key": key})
        return response

    def _invoke(self, route: RouteSpec, ctx: RequestContext[AppT], args: dict[str, Any]) -> WerkzeugResponse:
        """Run the handler; its errors become responses here so idempotency sees the final status."""
        try:
            if route.body is not None:
                refuse_unknown_fields(route.body, ctx.json)
            return to_response(route.handler(ctx, **args))
        except Exception as exc:
            return self._error_response(exc, ctx.request_id)

    def _error_response(self, exc: Exception, request_id: str) -> WerkzeugResponse:
        if isinstance(exc, AppError):
            return problem_response(exc, request_id)
        if isinstance(exc, HTTPException) and exc.code is not None and exc.code < 500:
            error = AppError(exc.description or exc.name, code=f"http_{exc.code}")
            error.status, error.title = exc.code, exc.name
            return problem_response(error, request_id)
        if isinstance(exc, Unstorable):  # bad input the checks missed: the request's fault, logged to be fixed
            self._log.warning("unstorable input reached an adapter", exc_info=exc)
            return problem_response(
                Unprocessable("The request holds a value that cannot be stored.", code="unstorable_value"),
                request_id,
            )
        if isinstance(exc, Unavailable):
            self._log.error("backing service unavailable", exc_info=exc)
            return problem_response(
                ServiceUnavailable(
                    "A backing service is unavailable; try again shortly.",
                    headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)},
                ),
                request_id,
            )
        self._log.error("unhandled error", exc_info=exc)
        return problem_response(AppError("An unexpected error occurred.", code="internal_error"), request_id)

    def _access_log(self, request: Request, response: WerkzeugResponse, outcome: _Outcome, started: float) -> None:
        latency = time.perf_counter() - started
        status = response.status_code
        self._log.log(
            logging.ERROR if status >= 500 else logging.INFO,
            "%s %s -> %s",
            request.method,
            request.path,
            status,
            extra={
                "httpRequest": {
                    "requestMethod": request.method,
                    "requestUrl": request.full_path.rstrip("?"),
                    "status": status,
                    "latency": f"{latency:.6f}s",
                    "remoteIp": request.remote_addr,
                    "userAgent": request.user_agent.string,
                },
                "route": outcome.route.path if outcome.route else None,
                "user_id": outcome.principal.user_id if outcome.principal else None,
            },
        )
