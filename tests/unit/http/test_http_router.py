"""The router with hand-written fakes: routing, problem+json, bodies, auth, limits, idempotency."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Request, Response
from pydantic import BaseModel, ConfigDict, Field
from werkzeug.exceptions import Forbidden as WzForbidden
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response as WerkzeugResponse

from lib.config import Settings
from lib.errors import FieldError, NotFound, ServiceUnavailable, TooManyRequests, Unavailable, Unprocessable
from lib.http import HttpDeps, Principal, RequestContext, Router, Wiring
from lib.http.idempotency import StoredResponse, in_flight, key_reused
from lib.http.query import QueryParam
from lib.http.ratelimit import RateDecision
from lib.http.tokens import token_error
from lib.logs import configure_logging

USER = "11111111-2222-4333-8444-555555555555"
OTHER = "99999999-2222-4333-8444-555555555555"
WS_OWN = "aaaaaaaa-0000-4000-8000-000000000001"
WS_FOREIGN = "bbbbbbbb-0000-4000-8000-000000000002"


# --------------------------------------------------------------------- fakes
class FakeVerifier:
    """token -> principal; anything else is a 401 with the code in ``bad``."""

    def __init__(self, tokens: dict[str, Principal], bad: str = "token_bad_signature") -> None:
        self.tokens = tokens
        self.bad = bad

    def verify(self, token: str, *, function: str | None = None) -> Principal:
        if token in self.tokens:
            return self.tokens[token]
        raise token_error(self.bad, "bad token")


class FakeRateLimiter:
    def __init__(self, limit: int = 3) -> None:
        self.limit = limit
        self.hits: dict[tuple[str, str, str], int] = {}
        self.down = False

    def check(self, function: str, rate_class: str, identity: str) -> RateDecision:
        if self.down:
            raise ServiceUnavailable("down", code="rate_limiter_unavailable")
        key = (function, rate_class, identity)
        self.hits[key] = self.hits.get(key, 0) + 1
        decision = RateDecision(rate_class, self.limit, self.limit - self.hits[key], 42, 60)
        if self.hits[key] > self.limit:
            raise TooManyRequests("slow down", headers={"Retry-After": "42", **decision.headers})
        return decision


@dataclass
class _Row:
    request_hash: str
    status: str = "in_flight"
    response: StoredResponse | None = None


@dataclass
class FakeIdempotencyStore:
    rows: dict[tuple[str, str, str], _Row] = field(default_factory=dict)

    def begin(self, user_id: str, scope: str, key: str, request_hash: str) -> StoredResponse | None:
        row = self.rows.get((user_id, scope, key))
        if row is None:
            self.rows[(user_id, scope, key)] = _Row(request_hash)
            return None
        if row.request_hash != request_hash:
            raise key_reused()
        if row.status == "completed":
            return row.response
        raise in_flight()

    def complete(self, user_id: str, scope: str, key: str, response: StoredResponse) -> None:
        row = self.rows[(user_id, scope, key)]
        row.status, row.response = "completed", response

    def release(self, user_id: str, scope: str, key: str) -> None:
        self.rows.pop((user_id, scope, key), None)


class FakeMembership:
    def __init__(self, members: dict[str, list[str]]) -> None:
        self.members = members

    def resolve(self, user_id: str, requested: str | None) -> str:
        owned = self.members.get(user_id, [])
        if requested is None:
            if not owned:
                raise NotFound("none", code="workspace_not_found")
            return owned[0]
        if requested not in owned:
            raise NotFound("No such workspace.", code="workspace_not_found")
        return requested


PRINCIPAL = Principal(USER, "u@example.com", "authenticated", {"sub": USER})
INTERNAL = Principal("1234", "tasks@p.iam.gserviceaccount.com", "internal", {})


def make_deps(**overrides: Any) -> HttpDeps:
    base: dict[str, Any] = {
        "settings": Settings(frontend_url="https://app.example.com", gcp_project="proj-1"),
        "jwt": FakeVerifier({"good": PRINCIPAL, "other": Principal(OTHER, None, "authenticated", {})}),
        "oidc": FakeVerifier({"google": INTERNAL}),
        "rate_limiter": FakeRateLimiter(),
        "idempotency": FakeIdempotencyStore(),
        "membership": FakeMembership({USER: [WS_OWN]}),
    }
    base.update(overrides)
    return HttpDeps(**base)


# -------------------------------------------------------------- the function
calls: list[str] = []
router = Router("demo")


@router.route("/items/<item_id>", methods=["GET"], auth="user", rate="read")
def get_item(ctx: RequestContext, item_id: str) -> Any:
    return {"item_id": item_id, "user": ctx.user_id, "retry": ctx.task_retry_count}


@router.route("/items", methods=["POST"], auth="user", rate="write", idempotent=True, max_body=200)
def create_item(ctx: RequestContext) -> Any:
    body = ctx.json()
    calls.append(json.dumps(body, sort_keys=True))
    if body.get("explode"):
        raise RuntimeError("database on fire with token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl")
    if body.get("invalid"):
        raise Unprocessable(errors=[FieldError("name", "required")])
    return {"id": len(calls), "name": body.get("name")}, 201, {"Location": f"/items/{len(calls)}"}


@router.route("/", methods=["GET", "PUT"], auth="none")
def root(ctx: RequestContext) -> Any:
    return {"root": True, "json": ctx.json() if ctx.request.method == "PUT" else None}


@router.route("/ws", methods=["GET"])
def workspace(ctx: RequestContext) -> Any:
    return {"workspace_id": ctx.workspace_id(ctx.request.args.get("workspace_id"))}


@router.route("/internal", methods=["POST"], auth="internal")
def internal(ctx: RequestContext) -> Any:
    assert ctx.principal is not None
    return {"caller": ctx.principal.email, "attempt": ctx.task_retry_count}


@router.route("/raw", methods=["POST"], auth="none", max_body=10)
def raw(ctx: RequestContext) -> Any:
    return Response(ctx.raw_body[::-1], status=202, content_type="text/plain")


@router.route("/nothing", methods=["DELETE"], auth="none")
def nothing(ctx: RequestContext) -> None:
    return None


@router.route("/forbidden", methods=["GET"], auth="none")
def forbidden(ctx: RequestContext) -> Any:
    raise WzForbidden()


@router.route("/db-down", methods=["GET"], auth="none")
def db_down(ctx: RequestContext) -> Any:
    raise Unavailable("no connection", service="postgres")


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(alias="for")
    note: str | None = None
    size: int = 0


@router.route(
    "/model", methods=["GET"], auth="none", responses={200: Thing, 201: Thing}, body=Thing, problems=["no_thing"]
)
def model(ctx: RequestContext) -> Any:
    given = Thing.model_validate({"for": "demo", "note": None})
    return (given, 201) if ctx.request.args.get("created") else given


@router.route("/things", methods=["POST"], auth="none", body=Thing)
def add_thing(ctx: RequestContext) -> Any:
    calls.append("add_thing")
    return {"got": sorted(ctx.json())}


CHOSEN = QueryParam("workspace_id", "A workspace.", {"type": "string", "format": "uuid"})
SHAPE = QueryParam("shape", "A shape.", {"type": "string", "enum": ["round", "square"]})
CODE = QueryParam("code", "A code.", {"type": "string", "pattern": "^R/[0-9]{4}$"})
COUNT = QueryParam("count", "A count the handler parses.", {"type": "integer", "minimum": 1})


@router.route("/query", methods=["GET"], auth="none", query=[CHOSEN, SHAPE, CODE, COUNT])
def read_query(ctx: RequestContext) -> Any:
    calls.append("read_query")
    return {name: ctx.arg(name) for name in ("workspace_id", "shape", "code", "count")}


@router.route("/flask-json", methods=["POST"], auth="none")
def flask_json(ctx: RequestContext) -> Any:
    return {"via_flask": ctx.request.get_json()}


def request(
    path: str,
    method: str = "GET",
    *,
    token: str | None = "good",
    body: Any = None,
    data: bytes | None = None,
    content_type: str | None = None,
    headers: dict[str, str] | None = None,
) -> Request:
    all_headers = dict(headers or {})
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        data = json.dumps(body).encode()
        content_type = content_type or "application/json"
    builder = EnvironBuilder(path=path, method=method, headers=all_headers, data=data, content_type=content_type)
    return builder.get_request(Request)


def call(req: Request, deps: HttpDeps | None = None) -> tuple[WerkzeugResponse, dict[str, Any]]:
    response = router.dispatch(req, deps=deps or make_deps())
    text = response.get_data(as_text=True)
    return response, (json.loads(text) if text and "json" in (response.mimetype or "") else {})


@pytest.fixture(autouse=True)
def _reset() -> None:
    calls.clear()


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream, force=True)
    yield stream
    configure_logging("INFO", force=True)


# -------------------------------------------------------------------- routing
def test_a_route_with_a_path_argument() -> None:
    response, body = call(request("/items/abc", headers={"X-CloudTasks-TaskRetryCount": "2"}))
    assert response.status_code == 200
    assert body == {"item_id": "abc", "user": USER, "retry": 2}


def test_the_function_name_prefix_is_accepted() -> None:
    response, body = call(request("/demo/items/abc"))
    assert response.status_code == 200
    assert body["item_id"] == "abc"
    response, body = call(request("/demo", token=None))
    assert response.status_code == 200
    assert body["root"] is True


def test_trailing_slash_is_tolerated() -> None:
    response, _ = call(request("/items/abc/"))
    assert response.status_code == 200


def test_unknown_route_is_a_404_problem() -> None:
    response, body = call(request("/nope"))
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert body["code"] == "route_not_found"
    assert body["status"] == 404
    assert body["type"].endswith("route_not_found")
    assert body["request_id"] == response.headers["X-Request-Id"]


def test_wrong_method_is_405_with_allow() -> None:
    response, body = call(request("/items/abc", "DELETE"))
    assert response.status_code == 405
    assert body["code"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD"}


def test_response_like_variants() -> None:
    response, _ = call(request("/nothing", "DELETE", token=None))
    assert response.status_code == 204
    assert response.get_data() == b""
    response, _ = call(request("/raw", "POST", token=None, data=b"abc", content_type="text/plain"))
    assert response.status_code == 202
    assert response.get_data() == b"cba"


def test_a_model_is_rendered_with_the_fields_it_was_given_by_alias() -> None:
    response, body = call(request("/model", token=None))
    assert (response.status_code, response.mimetype) == (200, "application/json")
    assert body == {"for": "demo", "note": None}  # size was not given: not invented
    response, body = call(request("/model?created=1", token=None))
    assert (response.status_code, body) == (201, {"for": "demo", "note": None})


def test_a_field_the_closed_request_model_does_not_take_is_refused_before_the_handler_runs() -> None:
    response, body = call(request("/things", "POST", token=None, body={"for": "x", "sise": 2, "": 1}))
    assert (response.status_code, body["code"]) == (422, "validation_failed")
    assert body["errors"] == [
        {"path": "", "message": "is not a field of this request"},
        {"path": "sise", "message": "is not a field of this request"},
    ]
    assert calls == []
    response, body = call(request("/things", "POST", token=None, body={"for": "x", "size": 2}))
    assert (response.status_code, body) == (200, {"got": ["for", "size"]})  # by alias, as published


@pytest.mark.parametrize(
    ("query", "param", "why"),
    [
        ("workspace_id=", "workspace_id", "must be a UUID"),
        ("workspace_id=abc", "workspace_id", "must be a UUID"),
        ("shape=oval", "shape", "must be one of round, square"),
        ("code=R/12", "code", "must match ^R/[0-9]{4}$"),
    ],
)
def test_a_query_value_breaking_its_published_schema_is_a_422_naming_it(query: str, param: str, why: str) -> None:
    response, body = call(request(f"/query?{query}", token=None))
    assert (response.status_code, body["code"]) == (422, "validation_failed")
    assert body["errors"] == [{"path": param, "message": why}]


def test_query_values_within_their_schemas_and_absent_ones_reach_the_handler() -> None:
    response, body = call(request(f"/query?workspace_id={WS_OWN}&shape=round&code=R/2026&count=x", token=None))
    assert response.status_code == 200
    assert body == {"workspace_id": WS_OWN, "shape": "round", "code": "R/2026", "count": "x"}  # count: the handler's
    response, body = call(request("/query", token=None))
    assert body == {"workspace_id": None, "shape": None, "code": None, "count": None}


def test_the_contract_is_recorded_on_the_route_for_the_openapi_generator() -> None:
    (spec,) = [r for r in router.routes if r.path == "/model"]
    assert spec.responses == ((200, Thing), (201, Thing))
    assert (spec.body, spec.problems) == (Thing, ("no_thing",))
    (plain,) = [r for r in router.routes if r.path == "/nothing"]
    assert (plain.responses, plain.body, plain.problems) == ((), None, ())


def test_flask_request_apis_still_see_the_body() -> None:
    response, body = call(request("/flask-json", "POST", token=None, body={"a": 1}))
    assert response.status_code == 200
    assert body == {"via_flask": {"a": 1}}


def test_head_is_served_for_get_routes() -> None:
    response, _ = call(request("/items/abc", "HEAD"))
    assert response.status_code == 200


# ------------------------------------------------------------- request ids
def test_a_sane_incoming_request_id_is_echoed() -> None:
    response, _ = call(request("/items/x", headers={"X-Request-Id": "frontend-req-0001"}))
    assert response.headers["X-Request-Id"] == "frontend-req-0001"


@pytest.mark.parametrize("bad", ["short", "has spaces in it", "x" * 200, "<script>alert(1)</script>"])
def test_an_insane_request_id_is_replaced(bad: str) -> None:
    response, body = call(request("/nope", headers={"X-Request-Id": bad}))
    assert response.headers["X-Request-Id"] != bad
    assert len(response.headers["X-Request-Id"]) == 32
    assert body["request_id"] == response.headers["X-Request-Id"]


def test_trace_context_reaches_the_logs(logs: io.StringIO) -> None:
    trace = "105445aa7843bc8bf206b12000100000"
    call(request("/items/x", headers={"X-Cloud-Trace-Context": f"{trace}/1;o=1", "X-Request-Id": "req-abcdefgh"}))
    entries = [json.loads(line) for line in logs.getvalue().splitlines()]
    access = [e for e in entries if "httpRequest" in e]
    assert len(access) == 1
    assert access[0]["logging.googleapis.com/trace"] == f"projects/proj-1/traces/{trace}"
    assert access[0]["logging.googleapis.com/spanId"] == "1"
    assert access[0]["logging.googleapis.com/trace_sampled"] is True
    assert access[0]["request_id"] == "req-abcdefgh"
    assert access[0]["function"] == "demo"
    assert access[0]["httpRequest"]["status"] == 200
    assert access[0]["user_id"] == USER
    assert "Bearer good" not in logs.getvalue()


def test_w3c_traceparent_is_understood(logs: io.StringIO) -> None:
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    call(request("/items/x", headers={"traceparent": f"00-{trace}-00f067aa0ba902b7-01"}))
    entry = json.loads(logs.getvalue().splitlines()[-1])
    assert entry["logging.googleapis.com/trace"] == f"projects/proj-1/traces/{trace}"


# ---------------------------------------------------------------------- bodies
def test_malformed_json_is_400() -> None:
    response, body = call(request("/items", "POST", data=b'{"name": ', content_type="application/json"))
    assert response.status_code == 400
    assert body["code"] == "malformed_json"
    assert calls == []


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"text"', b"NaN", b"\xff\xfe", b'{"a": Infinity}'])
def test_json_that_is_not_an_object_is_400(raw: bytes) -> None:
    response, body = call(request("/", "PUT", token=None, data=raw, content_type="application/json"))
    assert response.status_code == 400
    assert body["code"] == "malformed_json"


def test_deeply_nested_json_is_400_not_500() -> None:
    raw = b'{"a":' * 5000 + b"1" + b"}" * 5000
    deps = make_deps()
    big = Router("big")

    @big.route("/", methods=["PUT"], auth="none", max_body=100_000)
    def handler(ctx: RequestContext) -> Any:
        return ctx.json()

    response = big.dispatch(request("/", "PUT", token=None, data=raw, content_type="application/json"), deps=deps)
    assert response.status_code == 400
    assert json.loads(response.get_data())["code"] == "malformed_json"


def test_wrong_content_type_is_415() -> None:
    response, body = call(
        request("/", "PUT", token=None, data=b"a=1", content_type="application/x-www-form-urlencoded")
    )
    assert response.status_code == 415
    assert body["code"] == "unsupported_media_type"


def test_json_suffix_types_and_empty_bodies_are_accepted() -> None:
    response, body = call(request("/", "PUT", token=None, data=b'{"a":1}', content_type="application/merge-patch+json"))
    assert response.status_code == 200
    assert body["json"] == {"a": 1}
    response, body = call(request("/", "PUT", token=None, data=b""))
    assert response.status_code == 200
    assert body["json"] == {}


def test_body_over_the_declared_limit_is_413() -> None:
    response, body = call(request("/raw", "POST", token=None, data=b"x" * 11, content_type="text/plain"))
    assert response.status_code == 413
    assert body["code"] == "payload_too_large"


def test_body_over_the_limit_without_content_length_is_413() -> None:
    builder = EnvironBuilder(
        path="/raw", method="POST", input_stream=io.BytesIO(b"y" * 5000), content_type="text/plain"
    )
    environ = builder.get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input_terminated"] = True
    response, body = call(Request(environ))
    assert response.status_code == 413
    assert body["code"] == "payload_too_large"


def test_a_lying_short_content_length_reads_only_what_was_declared() -> None:
    builder = EnvironBuilder(
        path="/raw", method="POST", input_stream=io.BytesIO(b"abcdefghijklmnop"), content_type="text/plain"
    )
    environ = builder.get_environ()
    environ["CONTENT_LENGTH"] = "3"
    response, _ = call(Request(environ))
    assert response.status_code == 202
    assert response.get_data() == b"cba"


# ---------------------------------------------------------------------- errors
def test_an_unexpected_exception_is_a_500_without_a_trace(logs: io.StringIO) -> None:
    response, body = call(request("/items", "POST", body={"explode": True}))
    assert response.status_code == 500
    assert body["code"] == "internal_error"
    text = response.get_data(as_text=True)
    assert "Traceback" not in text
    assert "database on fire" not in text
    log_text = logs.getvalue()
    assert "Traceback" in log_text
    assert "database on fire" in log_text
    assert "eyJhbGciOiJIUzI1NiJ9" not in log_text  # redacted even inside the stack trace


def test_app_errors_render_with_field_errors() -> None:
    response, body = call(request("/items", "POST", body={"invalid": True}))
    assert response.status_code == 422
    assert body["code"] == "validation_failed"
    assert body["errors"] == [{"path": "name", "message": "required"}]


def test_werkzeug_http_exceptions_become_problems() -> None:
    response, body = call(request("/forbidden", token=None))
    assert response.status_code == 403
    assert body["code"] == "http_403"


def test_an_unavailable_backing_service_is_503_with_retry_after() -> None:
    response, body = call(request("/db-down", token=None))
    assert response.status_code == 503
    assert body["code"] == "service_unavailable"
    assert response.headers["Retry-After"]


def test_a_failing_wiring_factory_is_a_500_problem() -> None:
    def broken() -> Wiring[None]:
        raise RuntimeError("bad settings")

    r = Router("broken", wiring=broken)

    @r.route("/", methods=["GET"], auth="none")
    def h(ctx: RequestContext) -> Any:
        return {}

    response = r.dispatch(request("/", token=None))
    assert response.status_code == 500
    assert json.loads(response.get_data())["code"] == "internal_error"


def test_wiring_comes_from_the_factory_once_and_handlers_get_the_app() -> None:
    built: list[int] = []

    def factory() -> Wiring[dict[str, str]]:
        built.append(1)
        return Wiring(make_deps(), {"service": "typed"})

    r = Router("lazy", wiring=factory)

    @r.route("/", methods=["GET"], auth="none")
    def h(ctx: RequestContext[dict[str, str]]) -> Any:
        return {"ok": True, "app": ctx.app["service"]}

    assert built == []
    for _ in range(3):
        response = r.dispatch(request("/", token=None))
        assert json.loads(response.get_data()) == {"ok": True, "app": "typed"}
    assert built == [1]


def test_a_router_without_wiring_answers_a_500_problem() -> None:
    r: Router[None] = Router("unwired")

    @r.route("/", methods=["GET"], auth="none")
    def h(ctx: RequestContext[None]) -> Any:
        return {}

    response = r.dispatch(request("/", token=None))
    assert response.status_code == 500
    assert json.loads(response.get_data())["code"] == "internal_error"


def test_router_level_deps_are_used_without_a_factory() -> None:
    r = Router("fixed", deps=make_deps())

    @r.route("/", methods=["GET"], auth="none")
    def h(ctx: RequestContext) -> Any:
        return {"project": ctx.deps.settings.gcp_project}

    assert json.loads(r.dispatch(request("/", token=None)).get_data()) == {"project": "proj-1"}


def test_route_registration_rejects_nonsense() -> None:
    r = Router("x")
    with pytest.raises(ValueError, match="auth"):
        r.route("/", methods=["GET"], auth="maybe")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rate"):
        r.route("/", methods=["GET"], rate="cheap")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="idempotent"):
        r.route("/", methods=["POST"], auth="none", idempotent=True)
    with pytest.raises(ValueError, match="start with"):
        r.route("items", methods=["GET"])


def test_routes_are_listed_for_openapi() -> None:
    specs = {(s.path, s.methods) for s in router.routes}
    assert ("/items", ("POST",)) in specs
    create = next(s for s in router.routes if s.path == "/items")
    assert (create.auth, create.rate, create.idempotent, create.max_body) == ("user", "write", True, 200)


# ------------------------------------------------------------------------ auth
def test_missing_token_is_401() -> None:
    response, body = call(request("/items/x", token=None))
    assert response.status_code == 401
    assert body["code"] == "token_missing"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_bad_token_is_401_with_its_code() -> None:
    response, body = call(request("/items/x", token="forged"))
    assert response.status_code == 401
    assert body["code"] == "token_bad_signature"
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_internal_routes_need_a_google_token_not_a_user_token() -> None:
    response, body = call(request("/internal", "POST", token="good"))
    assert response.status_code == 401
    response, body = call(request("/internal", "POST", token="google", headers={"X-CloudTasks-TaskRetryCount": "x"}))
    assert response.status_code == 200
    assert body == {"caller": INTERNAL.email, "attempt": 0}


def test_a_route_without_its_verifier_fails_closed() -> None:
    response, body = call(request("/items/x"), make_deps(jwt=None))
    assert response.status_code == 500
    assert body["code"] == "internal_error"


# ----------------------------------------------------------------- rate limits
def test_rate_limit_headers_on_success_and_429_when_over() -> None:
    deps = make_deps()
    for remaining in (2, 1, 0):
        response, _ = call(request("/items/x"), deps)
        assert response.status_code == 200
        assert response.headers["RateLimit-Remaining"] == str(remaining)
        assert response.headers["RateLimit-Limit"] == "3"
    response, body = call(request("/items/x"), deps)
    assert response.status_code == 429
    assert body["code"] == "rate_limited"
    assert response.headers["Retry-After"] == "42"
    assert response.headers["RateLimit-Remaining"] == "0"
    assert response.headers["RateLimit-Reset"] == "42"


def test_rate_limits_are_per_user() -> None:
    deps = make_deps()
    for _ in range(3):
        call(request("/items/x"), deps)
    assert call(request("/items/x"), deps)[0].status_code == 429
    assert call(request("/items/x", token="other"), deps)[0].status_code == 200


def test_a_limiter_outage_surfaces_its_decision() -> None:
    limiter = FakeRateLimiter()
    limiter.down = True
    response, body = call(request("/items", "POST", body={"name": "a"}), make_deps(rate_limiter=limiter))
    assert response.status_code == 503
    assert body["code"] == "rate_limiter_unavailable"
    assert calls == []


# ----------------------------------------------------------------- idempotency
def test_same_key_same_body_replays_without_running_again() -> None:
    deps = make_deps(rate_limiter=FakeRateLimiter(limit=100))
    headers = {"Idempotency-Key": "k-1"}
    first, body1 = call(request("/items", "POST", body={"name": "a", "n": 1}, headers=headers), deps)
    # Same JSON, different key order and spacing: the same request.
    again = request("/items", "POST", data=b'{ "n": 1, "name": "a" }', content_type="application/json", headers=headers)
    second, body2 = call(again, deps)
    assert first.status_code == second.status_code == 201
    assert body1 == body2 == {"id": 1, "name": "a"}
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["Location"] == "/items/1"
    assert "Idempotent-Replayed" not in first.headers
    assert len(calls) == 1


def test_same_key_other_body_is_422() -> None:
    deps = make_deps(rate_limiter=FakeRateLimiter(limit=100))
    headers = {"Idempotency-Key": "k-2"}
    call(request("/items", "POST", body={"name": "a"}, headers=headers), deps)
    response, body = call(request("/items", "POST", body={"name": "b"}, headers=headers), deps)
    assert response.status_code == 422
    assert body["code"] == "idempotency_key_reused"
    assert len(calls) == 1


def test_a_key_still_in_flight_is_409() -> None:
    store = FakeIdempotencyStore()
    deps = make_deps(idempotency=store, rate_limiter=FakeRateLimiter(limit=100))
    from lib.http.idempotency import request_fingerprint

    fingerprint = request_fingerprint("POST", "/items", {}, b'{"name": "a"}')
    store.begin(USER, "demo", "k-3", fingerprint)
    response, body = call(request("/items", "POST", body={"name": "a"}, headers={"Idempotency-Key": "k-3"}), deps)
    assert response.status_code == 409
    assert body["code"] == "idempotency_in_flight"
    assert response.headers["Retry-After"]
    assert calls == []


def test_a_5xx_releases_the_key_and_a_4xx_is_stored() -> None:
    store = FakeIdempotencyStore()
    deps = make_deps(idempotency=store, rate_limiter=FakeRateLimiter(limit=100))
    response, _ = call(request("/items", "POST", body={"explode": True}, headers={"Idempotency-Key": "k-4"}), deps)
    assert response.status_code == 500
    assert store.rows == {}
    response, _ = call(request("/items", "POST", body={"explode": True}, headers={"Idempotency-Key": "k-4"}), deps)
    assert len(calls) == 2  # the retry ran
    call(request("/items", "POST", body={"invalid": True}, headers={"Idempotency-Key": "k-5"}), deps)
    replayed, body = call(request("/items", "POST", body={"invalid": True}, headers={"Idempotency-Key": "k-5"}), deps)
    assert replayed.status_code == 422
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.mimetype == "application/problem+json"
    assert body["code"] == "validation_failed"
    assert len(calls) == 3


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "ünïcode"])
def test_an_invalid_key_is_400(key: str) -> None:
    headers = {"Idempotency-Key": key}
    response, body = call(request("/items", "POST", body={"name": "a"}, headers=headers))
    assert response.status_code == 400
    assert body["code"] == "idempotency_key_invalid"
    assert calls == []


def test_without_a_key_the_route_simply_runs() -> None:
    deps = make_deps(rate_limiter=FakeRateLimiter(limit=100))
    call(request("/items", "POST", body={"name": "a"}), deps)
    call(request("/items", "POST", body={"name": "a"}), deps)
    assert len(calls) == 2


# ------------------------------------------------------------------- workspaces
def test_own_workspace_by_default_and_by_id() -> None:
    assert call(request("/ws"))[1] == {"workspace_id": WS_OWN}
    assert call(request(f"/ws?workspace_id={WS_OWN}"))[1] == {"workspace_id": WS_OWN}


def test_a_workspace_the_caller_is_not_a_member_of_is_404() -> None:
    response, body = call(request(f"/ws?workspace_id={WS_FOREIGN}"))
    assert response.status_code == 404
    assert body["code"] == "workspace_not_found"


# ------------------------------------------------------------------------ CORS
def test_cors_for_the_frontend_origin_only() -> None:
    response, _ = call(request("/items/x", headers={"Origin": "https://app.example.com"}))
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "X-Request-Id" in response.headers["Access-Control-Expose-Headers"]
    response, _ = call(request("/items/x", headers={"Origin": "https://evil.example"}))
    assert "Access-Control-Allow-Origin" not in response.headers


def test_preflight_answers_with_the_routes_methods() -> None:
    response, _ = call(request("/items/x", "OPTIONS", token=None, headers={"Origin": "https://app.example.com"}))
    assert response.status_code == 204
    assert "GET" in response.headers["Access-Control-Allow-Methods"]
    assert "Idempotency-Key" in response.headers["Access-Control-Allow-Headers"]
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    response, _ = call(request("/nope", "OPTIONS", token=None))
    assert response.status_code == 404


# ------------------------------------------------------------- production wiring
def test_the_container_wires_http_deps_without_connecting(logs: io.StringIO) -> None:
    import hashlib
    import logging

    from lib.bootstrap import Container
    from lib.http.auth import SupabaseJwtVerifier
    from lib.http.idempotency import PostgresIdempotencyStore
    from lib.http.membership import MembershipResolver
    from lib.http.oidc import GoogleOidcVerifier
    from lib.http.ratelimit import RedisRateLimiter

    settings = Settings(
        database_url="postgresql://postgres@127.0.0.1:1/none",  # never contacted
        phonepe_webhook_username="hookuser",
        phonepe_webhook_password="hook-password-123",
    )
    deps = Container(settings).http
    assert isinstance(deps.jwt, SupabaseJwtVerifier)
    assert isinstance(deps.oidc, GoogleOidcVerifier)
    assert isinstance(deps.rate_limiter, RedisRateLimiter)
    assert isinstance(deps.idempotency, PostgresIdempotencyStore)
    assert isinstance(deps.membership, MembershipResolver)
    # The webhook's Authorization value is scrubbed even when logged bare, under an innocent key.
    header = hashlib.sha256(b"hookuser:hook-password-123").hexdigest()
    logging.getLogger("test.wiring").info("got %s", header, extra={"note": f"value {header}"})
    assert header not in logs.getvalue()
    assert "hook-password-123" not in logs.getvalue()


class CompleteFails(FakeIdempotencyStore):
    def complete(self, user_id: str, scope: str, key: str, response: StoredResponse) -> None:
        raise Unavailable("db went away", service="postgres")


def test_a_failure_to_store_the_outcome_still_answers_the_work_done(logs: io.StringIO) -> None:
    deps = make_deps(idempotency=CompleteFails())
    response, body = call(request("/items", "POST", body={"name": "a"}, headers={"Idempotency-Key": "k-9"}), deps)
    assert response.status_code == 201
    assert body["name"] == "a"
    assert "storing the idempotent response failed" in logs.getvalue()


anon = Router("anon")


@anon.route("/who", methods=["GET"], auth="none")
def who(ctx: RequestContext) -> Any:
    return {"user": ctx.user_id}


@anon.route("/ws", methods=["GET"], auth="user")
def anon_ws(ctx: RequestContext) -> Any:
    return {"workspace_id": ctx.workspace_id(None)}


def test_user_id_on_an_anonymous_route_is_401() -> None:
    response = anon.dispatch(request("/who", token=None), deps=make_deps())
    assert response.status_code == 401
    assert json.loads(response.get_data())["code"] == "token_missing"


def test_workspace_calls_without_a_resolver_fail_closed() -> None:
    response = anon.dispatch(request("/ws"), deps=make_deps(membership=None))
    assert response.status_code == 500
