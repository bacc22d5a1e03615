"""docs/openapi.json is generated from the routers, valid OpenAPI 3.1, and covers the HTTP contract."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi

from lib.http.router import RouteSpec
from tools import openapi
from tools.functions import function_names

REGENERATE = "docs/openapi.json is stale: run `.venv/bin/python tools/openapi.py` and commit the result"
USER = [{"supabaseJwt": []}]
INTERNAL = [{"googleOidc": []}]
WEBHOOK = [{"phonepeWebhookAuth": []}]
# The HTTP contract: (path, method, security) that must be in the document.
CONTRACT: list[tuple[str, str, list[dict[str, list[str]]]]] = [
    ("/initiate_payment/", "post", USER),
    ("/payment_status/{merchant_order_id}", "get", USER),
    ("/payment_webhook/", "post", WEBHOOK),
    ("/onboarding_step/steps", "get", USER),
    ("/onboarding_step/sessions", "post", USER),
    ("/onboarding_step/sessions/{session_id}", "get", USER),
    ("/onboarding_step/sessions/{session_id}/steps/{number}", "put", USER),
    ("/onboarding_step/sessions/{session_id}/steps/{number}/ai", "post", USER),
    ("/finalize/{session_id}", "post", USER),
    ("/context/manifest", "get", USER),
    ("/context/rebuild", "post", USER),
    ("/context/version-history", "get", USER),
    ("/context/export", "get", USER),
    ("/context/guardrails/check", "post", USER),
    ("/context/recommendations", "get", USER),
]
# Internal workers (Cloud Tasks / Scheduler) answer only Google OIDC tokens.
INTERNAL_PATHS = [
    "/payment_reconcile/",
    "/onboarding_ai/",
    "/bcm_rebuild/",
    "/maintenance/expire-sessions",
    "/maintenance/sweep-outbox",
    "/maintenance/reconcile-payments",
]
# Success statuses the HTTP contract promises.
CONTRACT_SUCCESS = {
    ("/initiate_payment/", "post"): {"200", "201"},
    ("/onboarding_step/sessions", "post"): {"200", "201"},
    ("/onboarding_step/sessions/{session_id}/steps/{number}/ai", "post"): {"202"},
    ("/context/rebuild", "post"): {"202"},
    ("/finalize/{session_id}", "post"): {"200"},
    ("/payment_status/{merchant_order_id}", "get"): {"200"},
}


@pytest.fixture(scope="module")
def routes() -> dict[str, list[RouteSpec]]:
    return openapi.load_routes()


@pytest.fixture(scope="module")
def document(routes: dict[str, list[RouteSpec]]) -> dict[str, Any]:
    return openapi.build_document(routes)


def _operation(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    assert path in document["paths"], f"{path} missing from the OpenAPI document"
    item = document["paths"][path]
    assert method in item, f"{method.upper()} {path} missing from the OpenAPI document"
    op: dict[str, Any] = item[method]
    return op


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref" and isinstance(v, str)] + [
            r for k, v in node.items() if k != "$ref" for r in _refs(v)
        ]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_committed_document_is_current(document: dict[str, Any]) -> None:
    committed = openapi.OUTPUT.read_text(encoding="utf-8") if openapi.OUTPUT.exists() else ""
    assert committed == openapi.render(document), REGENERATE


def test_render_is_deterministic_with_trailing_newline(document: dict[str, Any]) -> None:
    text = openapi.render(document)
    assert text.endswith("}\n")
    assert text == openapi.render(json.loads(text))


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate_openapi(document)


def test_every_ref_resolves(document: dict[str, Any]) -> None:
    refs = _refs(document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/"), ref
        node: Any = document
        for raw in ref[2:].split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            assert isinstance(node, dict), f"unresolvable $ref {ref}"
            assert part in node, f"unresolvable $ref {ref}"
            node = node[part]


def test_component_schemas_are_valid_json_schema(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert {"Problem", "StepCatalogueEntry"} <= set(schemas)
    for schema in schemas.values():
        Draft202012Validator.check_schema(schema)


def test_every_route_of_every_router_appears(document: dict[str, Any], routes: dict[str, list[RouteSpec]]) -> None:
    assert set(routes) == set(function_names())
    count = 0
    for function, specs in routes.items():
        assert specs, f"functions/{function} declares no routes"
        for spec in specs:
            path, params = openapi.openapi_path(function, spec.path)
            for method in spec.methods:
                op = _operation(document, path, method.lower())
                count += 1
                assert op["operationId"] == f"{function}.{spec.handler.__name__}"
                assert op["x-auth"] == spec.auth
                responses = op["responses"]
                assert ("429" in responses) == (spec.rate is not None), f"{method} {path}: 429 iff rate-limited"
                has_key = {"$ref": "#/components/parameters/IdempotencyKey"} in op.get("parameters", [])
                assert has_key == spec.idempotent, f"{method} {path}: Idempotency-Key iff idempotent"
                if spec.idempotent:
                    assert {"409", "422"} <= set(responses)
                if method in openapi.BODY_METHODS:
                    assert "413" in responses
                    assert str(spec.max_body) in responses["413"]["description"]
                    assert "requestBody" in op
                for status, response in responses.items():
                    if int(status) >= 400:
                        schema = response["content"]["application/problem+json"]["schema"]
                        assert schema["allOf"] == [{"$ref": "#/components/schemas/Problem"}]
                        assert schema["properties"]["code"]["enum"], f"{method} {path} {status}: no problem code"
                    else:
                        assert response["description"] == openapi.first_line(spec.handler)
                        assert dict(spec.responses), f"{method} {path}: declares no responses"
                declared = {p["name"] for p in params} | {q.name for q in spec.query}
                assert declared == {p["name"] for p in document["paths"][path].get("parameters", [])}
    operations = sum(
        1 for item in document["paths"].values() for method in item if method in {"get", "post", "put", "delete"}
    )
    assert operations == count


@pytest.mark.parametrize(("path", "method", "security"), CONTRACT)
def test_api_contract_paths_methods_and_security(
    document: dict[str, Any], path: str, method: str, security: list[dict[str, list[str]]]
) -> None:
    op = _operation(document, path, method)
    assert op["security"] == security
    assert "401" in op["responses"]


@pytest.mark.parametrize("path", INTERNAL_PATHS)
def test_internal_workers_need_google_oidc(document: dict[str, Any], path: str) -> None:
    op = _operation(document, path, "post")
    assert op["security"] == INTERNAL
    assert "429" not in op["responses"]


@pytest.mark.parametrize(("key", "statuses"), sorted(CONTRACT_SUCCESS.items()))
def test_contract_success_statuses(document: dict[str, Any], key: tuple[str, str], statuses: set[str]) -> None:
    responses = _operation(document, *key)["responses"]
    assert {s for s in responses if s.startswith("2")} == statuses


def test_every_query_parameter_a_handler_reads_is_declared() -> None:
    """Handlers read the query through ``ctx.arg`` (declared names only), never ``request.args`` directly."""
    for main in sorted((openapi.FUNCTIONS_DIR).glob("*/main.py")):
        assert "request.args" not in main.read_text(), f"{main}: read query parameters with ctx.arg"


def test_the_context_reads_declare_their_bounds(document: dict[str, Any]) -> None:
    params = {p["name"]: p for p in document["paths"]["/context/version-history"]["parameters"]}
    assert params["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}
    export = {p["name"]: p for p in document["paths"]["/context/export"]["parameters"]}
    assert export["format"]["schema"]["enum"] == ["json", "markdown"]
    recommendations = {p["name"]: p for p in document["paths"]["/context/recommendations"]["parameters"]}
    assert recommendations["for"]["required"] is True
    step = {
        p["name"]: p for p in document["paths"]["/onboarding_step/sessions/{session_id}/steps/{number}"]["parameters"]
    }
    assert step["number"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 23}


def test_specific_contract_errors(document: dict[str, Any]) -> None:
    save = _operation(document, "/onboarding_step/sessions/{session_id}/steps/{number}", "put")["responses"]
    assert {"409", "413", "422"} <= set(save)
    webhook = _operation(document, "/payment_webhook/", "post")["responses"]
    assert {"400", "401", "503"} <= set(webhook)
    assert "415" not in webhook


def test_security_schemes(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["supabaseJwt"] == {**schemes["supabaseJwt"], "type": "http", "scheme": "bearer"}
    assert schemes["googleOidc"] == {**schemes["googleOidc"], "type": "http", "scheme": "bearer"}
    assert schemes["phonepeWebhookAuth"] == {
        **schemes["phonepeWebhookAuth"],
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
    }


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = document["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def test_problem_schema_matches_api_md(document: dict[str, Any]) -> None:
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["properties"]) == {"type", "title", "status", "detail", "code", "errors", "request_id"}
    assert "errors" not in problem["required"]
    assert _resolve(document, problem["properties"]["errors"]["items"])["required"] == ["path", "message"]


def test_step_and_business_context_schemas_are_components(document: dict[str, Any]) -> None:
    from lib.domain.steps import catalogue

    schemas = document["components"]["schemas"]
    steps = catalogue()
    for step in steps:
        name = openapi.step_component_name(step["number"], step["slug"])
        assert name in schemas
        assert "$id" not in schemas[name]
    assert "Step01CompanyProfile" in schemas
    body = _operation(document, "/onboarding_step/sessions/{session_id}/steps/{number}", "put")["requestBody"]
    request = _resolve(document, body["content"]["application/json"]["schema"])
    by_step = request["properties"]["data"]["x-schema-by-step"]
    assert set(by_step) == {str(step["number"]) for step in steps}
    assert by_step["1"] == {"$ref": "#/components/schemas/Step01CompanyProfile"}
    if openapi.business_context_schema() is not None:
        finalize = _operation(document, "/finalize/{session_id}", "post")["responses"]["200"]
        schema = _resolve(document, finalize["content"]["application/json"]["schema"])
        context = schema["properties"]["business_context"]
        assert context["allOf"] == [{"$ref": "#/components/schemas/BusinessContext"}]


def test_embedded_schema_refs_point_into_the_document() -> None:
    source = {
        "$id": "x.json",
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {"A": {"type": "string"}},
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/A"}},
    }
    embedded = openapi.embed_schema(source, "Thing")
    assert "$id" not in embedded
    assert "$schema" not in embedded
    assert embedded["properties"]["a"] == {"$ref": "#/components/schemas/Thing/$defs/A"}
    validator = Draft202012Validator(
        {"$ref": "#/components/schemas/Thing", "components": {"schemas": {"Thing": embedded}}}
    )
    assert validator.is_valid({"a": "ok"})
    assert not validator.is_valid({"a": 1})


def test_business_context_degrades_when_missing_or_unparsable(tmp_path: Path) -> None:
    assert openapi.business_context_schema(tmp_path / "absent.json") is None
    partial = tmp_path / "partial.json"
    partial.write_text('{"$defs": {', encoding="utf-8")
    assert openapi.business_context_schema(partial) is None


@pytest.mark.parametrize(
    ("rule", "path", "schemas"),
    [
        ("/", "/fn/", []),
        ("/steps", "/fn/steps", []),
        ("/<merchant_order_id>", "/fn/{merchant_order_id}", [{"type": "string"}]),
        ("/s/<int:number>/ai", "/fn/s/{number}/ai", [{"type": "integer", "minimum": 0}]),
        ("/s/<int(min=1, max=23):n>", "/fn/s/{n}", [{"type": "integer", "minimum": 1, "maximum": 23}]),
        ("/<uuid:id>", "/fn/{id}", [{"type": "string", "format": "uuid"}]),
        ("/<any(json, markdown):fmt>", "/fn/{fmt}", [{"type": "string", "enum": ["json", "markdown"]}]),
        ("/<path:rest>", "/fn/{rest}", [{"type": "string"}]),
    ],
)
def test_openapi_path_from_werkzeug_rules(rule: str, path: str, schemas: list[dict[str, Any]]) -> None:
    got_path, params = openapi.openapi_path("fn", rule)
    assert got_path == path
    assert [p["schema"] for p in params] == schemas
    assert all(p["in"] == "path" and p["required"] for p in params)


def _write_function(root: Path, name: str, body: str) -> None:
    (root / name).mkdir(parents=True)
    (root / name / "main.py").write_text(body, encoding="utf-8")


def test_loading_a_function_that_connects_at_import_fails(tmp_path: Path) -> None:
    original = socket.create_connection
    _write_function(
        tmp_path,
        "chatty",
        "import socket\nsocket.create_connection(('127.0.0.1', 9))\n",
    )
    with pytest.raises(openapi.ImportTimeIOError, match=r"functions/chatty/main\.py"):
        openapi.load_routes(tmp_path, ["chatty"])
    assert socket.create_connection is original
    assert "_openapi_function_chatty" not in sys.modules


def test_network_is_restored_after_loading() -> None:
    original = socket.socket.connect
    with openapi.no_network("x"), pytest.raises(openapi.ImportTimeIOError):
        socket.getaddrinfo("localhost", 80)
    assert socket.socket.connect is original


def test_loads_routes_from_a_function_file(tmp_path: Path) -> None:
    _write_function(
        tmp_path,
        "demo",
        "from lib.http import Router\n"
        "router = Router('demo')\n"
        "@router.route('/<int:n>', methods=['PUT'], auth='user', rate='write', idempotent=True, max_body=10)\n"
        "def put_n(ctx, n):\n"
        '    """Store n (201)."""\n',
    )
    routes = openapi.load_routes(tmp_path, ["demo"])
    document = openapi.build_document(routes)
    op = _operation(document, "/demo/{n}", "put")
    assert op["summary"] == "Store n (201)."
    assert set(op["responses"]) == {"201", "400", "401", "404", "405", "409", "413", "415", "422", "429", "500", "503"}
    assert op["responses"]["413"]["description"].startswith("The request body exceeds 10 bytes.")
    validate_openapi(document)


def test_a_function_without_router_is_an_error(tmp_path: Path) -> None:
    _write_function(tmp_path, "bare", "X = 1\n")
    with pytest.raises(RuntimeError, match="no module-level `router`"):
        openapi.load_routes(tmp_path, ["bare"])


def test_check_mode_exit_codes(tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    assert openapi.main(["--check", "--output", str(target)]) == 1
    assert openapi.main(["--output", str(target)]) == 0
    assert openapi.main(["--check", "--output", str(target)]) == 0
    target.write_text(target.read_text(encoding="utf-8") + " ", encoding="utf-8")
    assert openapi.main(["--check", "--output", str(target)]) == 1


def _bare_objects(node: Any, where: str) -> Iterator[str]:
    """Every ``{"type": "object"}`` that says nothing about its members (no properties, no
    additionalProperties, no composition or reference)."""
    if isinstance(node, dict):
        shaped = {"properties", "additionalProperties", "patternProperties", "allOf", "anyOf", "oneOf", "$ref"}
        if node.get("type") == "object" and not shaped & set(node):
            yield where
        for key, value in node.items():
            if key not in ("examples", "example"):  # instances, not schemas
                yield from _bare_objects(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _bare_objects(value, f"{where}/{index}")


def _reachable_schemas(document: dict[str, Any], node: Any, seen: set[str]) -> None:
    for ref in _refs(node):
        name = ref.split("/")[3]
        if ref.startswith("#/components/schemas/") and name not in seen:
            seen.add(name)
            _reachable_schemas(document, document["components"]["schemas"][name], seen)


def test_no_operation_answers_a_bare_object(document: dict[str, Any]) -> None:
    """Every response (success and problem) and request body of every operation is described: no bare
    ``{"type": "object"}`` in them nor in any component they reach (the steps' and business_context's
    own JSON Schemas, published as the domain writes them, excepted)."""
    operations = [
        (f"{method.upper()} {path}", op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method != "parameters"
    ]
    assert len(operations) >= 26
    reached: set[str] = set()
    bare: list[str] = []
    for name, op in operations:
        for status, response in op["responses"].items():
            assert response.get("content"), f"{name} {status}: no content"
            for media, content in response["content"].items():
                assert content["schema"] != {"type": "object"}, f"{name} {status} {media}"
        bare += _bare_objects(op["responses"], name)
        bare += _bare_objects(op.get("requestBody", {}), name)
        _reachable_schemas(document, op, reached)
    domain = {"BusinessContext"} | {n for n in reached if n.startswith("Step") and n[4:6].isdigit()}
    for name in sorted(reached - domain):
        bare += _bare_objects(document["components"]["schemas"][name], f"#/components/schemas/{name}")
    assert bare == []


def test_the_committed_document_has_no_bare_response_object() -> None:
    committed = json.loads(openapi.OUTPUT.read_text(encoding="utf-8"))
    test_no_operation_answers_a_bare_object(committed)


def test_every_contract_schema_has_one_example_that_it_accepts(document: dict[str, Any]) -> None:
    """Each model of lib.contract is published with one example, valid against its own schema
    (enumerations excepted: their values are the example; the domain's step and business_context
    schemas are published as the domain writes them)."""
    schemas = document["components"]["schemas"]
    domain = {"BusinessContext"} | {n for n in schemas if n.startswith("Step") and n[4:6].isdigit()}
    checked = 0
    for name, schema in sorted(schemas.items()):
        if name in domain or "enum" in schema:
            continue
        assert len(schema.get("examples", [])) == 1, f"{name}: one example"
        if "#/components/schemas/BusinessContext" in json.dumps(schema):
            continue  # a whole business_context is too long an example; its own schema file has it
        validator = Draft202012Validator({**schema, "components": document["components"]})
        assert list(validator.iter_errors(schema["examples"][0])) == [], name
        checked += 1
    assert checked >= 50


def test_an_invalid_document_is_neither_written_nor_passed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--check`` (make lint) validates the document with openapi-spec-validator, as writing does."""
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    broken = openapi.build_document()
    del broken["info"]
    monkeypatch.setattr(openapi, "build_document", lambda routes=None: broken)
    target = tmp_path / "openapi.json"
    target.write_text(openapi.render(broken), encoding="utf-8")
    with pytest.raises(OpenAPIValidationError):
        openapi.main(["--check", "--output", str(target)])
    with pytest.raises(OpenAPIValidationError):
        openapi.main(["--output", str(tmp_path / "new.json")])
    assert not (tmp_path / "new.json").exists()
