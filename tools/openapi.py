"""Generate ``docs/openapi.json`` (OpenAPI 3.1) from the functions' routers.

The HTTP contract lives in code: each ``functions/<name>/main.py`` declares its
routes on a ``lib.http.Router``, and this tool reads ``router.routes`` (path,
methods, auth, rate, idempotent, max_body, the handler's docstring) so the
document cannot drift from what the router actually enforces.  Each route also
declares its contract: the pydantic models of ``lib.contract`` it answers with
(``responses=``) and accepts (``body=``), and the problem codes its code raises
(``problems=``); their JSON Schemas become ``components/schemas`` and each
problem response lists its ``code`` values.  ``--check`` also validates the
document (openapi-spec-validator).  Each main.py is
loaded from its file path under a unique module name, as functions_framework
does, with the network blocked: importing a function must not connect to
anything, and a module that tries fails the generation.

    python tools/openapi.py            # (re)write docs/openapi.json
    python tools/openapi.py --check    # exit 1 if docs/openapi.json is stale (CI, make lint)
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import inspect
import json
import re
import socket
import sys
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: make ``lib`` importable
    sys.path.insert(0, str(REPO))

from openapi_spec_validator import validate as validate_spec  # noqa: E402
from pydantic import BaseModel  # noqa: E402
from pydantic.json_schema import JsonSchemaMode, models_json_schema  # noqa: E402

from lib.contract.common import NoBody, Problem  # noqa: E402
from lib.contract.problems import codes_for  # noqa: E402
from lib.http.router import RouteSpec  # noqa: E402
from tools.functions import FUNCTIONS_DIR, function_names  # noqa: E402

OUTPUT = REPO / "docs" / "openapi.json"
BUSINESS_CONTEXT_SCHEMA = REPO / "schemas" / "business_context.v2.schema.json"
PYPROJECT = REPO / "pyproject.toml"

OPENAPI_VERSION = "3.1.0"
# The local suite (`make dev`) mounts every function under one base.
LOCAL_SERVER = "http://127.0.0.1:8080"
# Gen2 functions answer at https://<region>-<project>.cloudfunctions.net/<name> (infra/terraform/locals.tf),
# so the ``/<function>`` prefix of every path is right for production as well.
PRODUCTION_SERVER = "https://{region}-{project}.cloudfunctions.net"
DEFAULT_REGION = "asia-south1"
# Methods whose requests carry a body: these get 400/413/415/422 and a requestBody.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# Functions whose auth="none" route is authenticated by the service itself with a header secret.
HEADER_SECRET_AUTH = {"payment_webhook": "phonepeWebhookAuth"}
# The route whose request body's ``data`` follows the step's own schema.
STEP_SAVE_ROUTE = ("onboarding_step", "PUT", "/sessions/<session_id>/steps/<int(min=1, max=23):number>")
# A route that declares no responses (only ever a test's) is published with this placeholder.
UNDECLARED_SCHEMA: dict[str, Any] = {"type": "object"}

PROBLEM_DESCRIPTIONS = {
    400: "Malformed request (body not JSON, bad header or parameter).",
    401: "Missing or invalid credentials.",
    402: "subscription_inactive: no plan, or the plan lapsed (expired or cancelled); the body names the plan,"
    " its status and period end. Renew or choose a plan; manifests and their history stay readable.",
    404: "No such route or resource (or one the caller may not see).",
    405: "Method not allowed here; see the Allow header.",
    409: "Conflict (an in-flight or reused Idempotency-Key, a stale version, or a state that does not allow it).",
    410: "The onboarding session expired (its draft is gone); start a new one.",
    413: "The request body is too large.",
    415: "The body must be application/json.",
    422: "Validation failed; `errors` names each bad field.",
    429: "Rate limit exceeded (rate_limited) or the plan's daily allowance used up (plan_limit_reached);"
    " see Retry-After.",
    500: "An unexpected error (a bug, logged with its trace); the body has no stack trace.",
    503: "A backing service is unavailable; retry after Retry-After seconds.",
}
SUCCESS_STATUS_RE = re.compile(r"\b(20[0-6])\b")
# Werkzeug rule syntax: ``<name>`` or ``<converter(args):name>``.
RULE_PART_RE = re.compile(
    r"<(?:(?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)(?:\((?P<args>[^)]*)\))?:)?(?P<variable>[a-zA-Z_][a-zA-Z0-9_]*)>"
)
CONVERTER_SCHEMAS: dict[str, dict[str, Any]] = {
    "default": {"type": "string"},
    "string": {"type": "string"},
    "path": {"type": "string"},
    "int": {"type": "integer", "minimum": 0},  # werkzeug's int converter takes no sign by default
    "float": {"type": "number"},
    "uuid": {"type": "string", "format": "uuid"},
}


class ImportTimeIOError(RuntimeError):
    """A function's module tried to open a network connection while being imported."""


# ----------------------------------------------------------------------------- loading
@contextlib.contextmanager
def no_network(label: str) -> Iterator[None]:
    """Fail any socket connect or name lookup inside the block (import must not do I/O)."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise ImportTimeIOError(f"{label} opened a network connection at import time")

    saved = (socket.socket.connect, socket.socket.connect_ex, socket.create_connection, socket.getaddrinfo)
    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse
    socket.getaddrinfo = refuse
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex, socket.create_connection, socket.getaddrinfo = saved  # type: ignore[method-assign]


def load_function(name: str, functions_dir: Path = FUNCTIONS_DIR) -> ModuleType:
    """Import ``functions/<name>/main.py`` from its path under a unique name, with the network blocked."""
    path = functions_dir / name / "main.py"
    module_name = f"_openapi_function_{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        with no_network(f"functions/{name}/main.py"):
            spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def load_routes(functions_dir: Path = FUNCTIONS_DIR, names: Iterable[str] | None = None) -> dict[str, list[RouteSpec]]:
    """Function name -> its router's routes, for each of ``names`` (default: every function in the list)."""
    routes: dict[str, list[RouteSpec]] = {}
    for name in function_names() if names is None else names:
        router = getattr(load_function(name, functions_dir), "router", None)
        if router is None or not hasattr(router, "routes"):
            raise RuntimeError(f"functions/{name}/main.py has no module-level `router`")
        routes[name] = list(router.routes)
    return routes


# ----------------------------------------------------------------------------- pieces
def openapi_path(function: str, rule: str) -> tuple[str, list[dict[str, Any]]]:
    """``/<function>`` + the werkzeug rule with ``{name}`` placeholders, and its path parameters."""
    parameters: list[dict[str, Any]] = []

    def replace(match: re.Match[str]) -> str:
        converter = match.group("converter") or "default"
        variable = match.group("variable")
        if converter == "any":
            options = [o.strip().strip("'\"") for o in (match.group("args") or "").split(",") if o.strip()]
            schema: dict[str, Any] = {"type": "string", "enum": options}
        else:
            schema = dict(CONVERTER_SCHEMAS.get(converter, {"type": "string"}))
            if converter == "int":  # werkzeug's int(min=..., max=...) bounds
                bounds = dict(
                    part.split("=", 1)
                    for part in (match.group("args") or "").replace(" ", "").split(",")
                    if "=" in part
                )
                schema.update(
                    {key: int(bounds[arg]) for arg, key in (("min", "minimum"), ("max", "maximum")) if arg in bounds}
                )
        parameters.append({"name": variable, "in": "path", "required": True, "schema": schema})
        return "{" + variable + "}"

    return f"/{function}{RULE_PART_RE.sub(replace, rule)}", parameters


def first_line(handler: Any) -> str:
    doc = inspect.getdoc(handler) or ""
    return doc.strip().splitlines()[0].strip() if doc.strip() else "Success."


def success_statuses(route: RouteSpec) -> list[int]:
    """The declared success statuses; for a route that declares none, those its docstring names (or 200)."""
    declared = [status for status, _ in route.responses if status < 400]
    if declared:
        return sorted(declared)
    named = {int(code) for code in SUCCESS_STATUS_RE.findall(first_line(route.handler))}
    return sorted(named) or [200]


def problem_codes(function: str, method: str, route: RouteSpec) -> dict[int, list[str]]:
    """Status -> the problem codes this operation can answer with (``lib.contract.problems``)."""
    has_body = method in BODY_METHODS
    return codes_for(
        declared=route.problems,
        body=has_body,
        parses_json=has_body and function not in HEADER_SECRET_AUTH and route.body is not NoBody,
        auth=route.auth,
        rate=route.rate,
        idempotent=route.idempotent,
    )


def error_statuses(function: str, method: str, route: RouteSpec) -> list[int]:
    return sorted(problem_codes(function, method, route))


def security_for(function: str, route: RouteSpec) -> list[dict[str, list[str]]]:
    if route.auth == "user":
        return [{"supabaseJwt": []}]
    if route.auth == "internal":
        return [{"googleOidc": []}]
    if function in HEADER_SECRET_AUTH:
        return [{HEADER_SECRET_AUTH[function]: []}]
    return []


def problem_schema(codes: list[str]) -> dict[str, Any]:
    """``Problem`` with ``code`` narrowed to the codes this operation answers with at this status."""
    return {
        "allOf": [{"$ref": "#/components/schemas/Problem"}],
        "properties": {"code": {"type": "string", "enum": codes}},
    }


def problem_response(status: int, route: RouteSpec, codes: list[str]) -> dict[str, Any]:
    description = PROBLEM_DESCRIPTIONS[status]
    if status == 413:
        description = f"The request body exceeds {route.max_body} bytes."
    response: dict[str, Any] = {
        "description": f"{description} Codes: {', '.join(f'`{code}`' for code in codes)}.",
        "content": {"application/problem+json": {"schema": problem_schema(codes)}},
        "headers": {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}},
    }
    if status in (429, 503) or (status == 409 and route.idempotent):
        response["headers"]["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
    if status == 405:
        response["headers"]["Allow"] = {"$ref": "#/components/headers/Allow"}
    return response


# ----------------------------------------------------------------------------- contract models
def _models_of(value: Any) -> list[type[BaseModel]]:
    """The models a ``responses`` entry names: a model, or media type -> model (None: plain text)."""
    if isinstance(value, Mapping):
        return [m for m in value.values() if m is not None]
    return [value]


class ContractSchemas:
    """The JSON Schemas of every model the routes declare, generated together as ``components/schemas``."""

    def __init__(self, routes: dict[str, list[RouteSpec]]) -> None:
        wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(Problem, "serialization")]
        for specs in routes.values():
            for route in specs:
                for _, value in route.responses:
                    wanted += [(model, "serialization") for model in _models_of(value)]
                if route.body is not None:
                    wanted.append((route.body, "validation"))
        unique = list(dict.fromkeys(wanted))
        refs, top = models_json_schema(unique, ref_template="#/components/schemas/{model}")
        self.components: dict[str, Any] = dict(top.get("$defs", {}))
        self._refs = refs

    def ref(self, model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        return dict(self._refs[(model, mode)])

    def name(self, model: type[BaseModel], mode: JsonSchemaMode) -> str:
        return str(self._refs[(model, mode)]["$ref"]).rsplit("/", 1)[1]

    def content(self, value: Any) -> dict[str, Any]:
        """A response's ``content``: application/json for a model, else each media type named."""
        if not isinstance(value, Mapping):
            return {"application/json": {"schema": self.ref(value, "serialization")}}
        return {
            media: {"schema": {"type": "string"} if model is None else self.ref(model, "serialization")}
            for media, model in value.items()
        }


def request_body(route: RouteSpec, contract: ContractSchemas) -> dict[str, Any]:
    if route.body is None:
        schema: dict[str, Any] = dict(UNDECLARED_SCHEMA)
        description, required = "A JSON object.", True
    else:
        schema = contract.ref(route.body, "validation")
        description = ((inspect.getdoc(route.body) or "").splitlines() or ["A JSON object."])[0]
        required = bool(contract.components[contract.name(route.body, "validation")].get("required"))
    return {"required": required, "description": description, "content": {"application/json": {"schema": schema}}}


def operation(function: str, method: str, route: RouteSpec, contract: ContractSchemas) -> dict[str, Any]:
    summary = first_line(route.handler)
    success_headers: dict[str, Any] = {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}}
    if route.rate is not None:
        for header in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy"):
            success_headers[header] = {"$ref": f"#/components/headers/{header}"}
    declared = dict(route.responses)
    responses: dict[str, Any] = {}
    for status in success_statuses(route):
        content = (
            contract.content(declared[status])
            if status in declared
            else {"application/json": {"schema": dict(UNDECLARED_SCHEMA)}}
        )
        responses[str(status)] = {"description": summary, "headers": success_headers, "content": content}
    for status, codes in problem_codes(function, method, route).items():
        problem = problem_response(status, route, codes)
        if status in declared:  # a worker's own body at this status (503 "retry"), or a problem
            problem["content"].update(contract.content(declared[status]))
            problem["description"] += " Or the worker's outcome, asking Cloud Tasks to retry."
        responses[str(status)] = problem
    op: dict[str, Any] = {
        "operationId": f"{function}.{route.handler.__name__}",
        "summary": summary,
        "tags": [function],
        "security": security_for(function, route),
        "responses": responses,
        "x-auth": route.auth,
        "x-rate-class": route.rate,
        "x-max-body": route.max_body,
    }
    description = inspect.getdoc(route.handler)
    if description and description.strip() != summary:
        op["description"] = description
    if route.idempotent:
        op["parameters"] = [{"$ref": "#/components/parameters/IdempotencyKey"}]
    if method in BODY_METHODS:
        op["requestBody"] = request_body(route, contract)
    return op


# ----------------------------------------------------------------------------- schemas
def _rebase_refs(node: Any, base: str) -> Any:
    """Point ``#/...`` refs of an embedded JSON Schema at its place in the document."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and v.startswith("#/"):
                out[k] = base + v[1:]
            else:
                out[k] = _rebase_refs(v, base)
        return out
    if isinstance(node, list):
        return [_rebase_refs(v, base) for v in node]
    return node


def embed_schema(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """A standalone JSON Schema as ``components/schemas/<name>`` (own ``$id``/``$schema`` dropped)."""
    body = {k: v for k, v in schema.items() if k not in ("$id", "$schema")}
    rebased: dict[str, Any] = _rebase_refs(body, f"#/components/schemas/{name}")
    return rebased


def step_component_name(number: int, slug: str) -> str:
    return f"Step{number:02d}" + "".join(part.capitalize() for part in slug.split("_"))


def step_schemas() -> dict[str, dict[str, Any]]:
    """``Step01CompanyProfile``... from the step catalogue; empty when the catalogue does not load."""
    try:
        from lib.domain.steps import catalogue
    except ImportError:
        return {}
    return {
        step_component_name(step["number"], step["slug"]): embed_schema(
            step["schema"], step_component_name(step["number"], step["slug"])
        )
        for step in catalogue()
    }


def business_context_schema(path: Path = BUSINESS_CONTEXT_SCHEMA) -> dict[str, Any] | None:
    """The business_context schema, or None while the file is missing or not (yet) valid JSON."""
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return embed_schema(schema, "BusinessContext") if isinstance(schema, dict) else None


def project_version() -> str:
    with PYPROJECT.open("rb") as fh:
        return str(tomllib.load(fh)["project"]["version"])


def base_components() -> dict[str, Any]:
    def int_header(description: str) -> dict[str, Any]:
        return {"description": description, "schema": {"type": "integer"}}

    return {
        "schemas": {},
        "parameters": {
            "IdempotencyKey": {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Retries with the same key replay the first response; "
                "a different request under the same key is 422.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7e]+$"},
            }
        },
        "headers": {
            "X-Request-Id": {"description": "The request's id (echoed or generated).", "schema": {"type": "string"}},
            "Retry-After": int_header("Seconds to wait before retrying."),
            "Allow": {"description": "Methods this path accepts.", "schema": {"type": "string"}},
            "RateLimit-Limit": int_header("Requests allowed per window for this route class."),
            "RateLimit-Remaining": int_header("Requests left in the current window."),
            "RateLimit-Reset": int_header("Seconds until the window frees a request."),
            "RateLimit-Policy": {"description": "`<limit>;w=<window seconds>`.", "schema": {"type": "string"}},
        },
        "securitySchemes": {
            "supabaseJwt": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "A Supabase access token (`auth='user'` routes).",
            },
            "googleOidc": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "A Google-signed OIDC token for this function's URL: Cloud Tasks and Cloud Scheduler "
                "(`auth='internal'` routes).",
            },
            "phonepeWebhookAuth": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "PhonePe's lowercase hex SHA-256 of `username:password`, checked on the raw body.",
            },
        },
    }


# ----------------------------------------------------------------------------- document
def build_document(routes: dict[str, list[RouteSpec]] | None = None) -> dict[str, Any]:
    """The whole OpenAPI 3.1 document for ``routes`` (default: every function's router)."""
    routes = load_routes() if routes is None else routes
    components = base_components()
    contract = ContractSchemas(routes)
    components["schemas"].update(contract.components)
    steps = step_schemas()
    components["schemas"].update(steps)
    context = business_context_schema()
    if context is not None:
        components["schemas"]["BusinessContext"] = context
    step_refs = {str(int(name[4:6])): {"$ref": f"#/components/schemas/{name}"} for name in steps}

    paths: dict[str, Any] = {}
    for function in sorted(routes):
        for route in routes[function]:
            path, parameters = openapi_path(function, route.path)
            parameters += [param.openapi() for param in route.query]
            item = paths.setdefault(path, {})
            if parameters:
                item["parameters"] = parameters
            for method in route.methods:
                if method in ("HEAD", "OPTIONS"):
                    continue
                item[method.lower()] = operation(function, method, route, contract)
                if (function, method, route.path) == STEP_SAVE_ROUTE and route.body is not None and step_refs:
                    data = components["schemas"][contract.name(route.body, "validation")]["properties"]["data"]
                    names = ", ".join(ref["$ref"].rsplit("/", 1)[1] for ref in step_refs.values())
                    data["description"] = f"The step's fields, per the step's schema in components: {names}."
                    data["x-schema-by-step"] = step_refs

    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "BCM backend",
            "version": project_version(),
            "description": "Generated by `python tools/openapi.py` from each function's router; do not edit. "
            "Errors are application/problem+json; each operation's summary and description come from "
            "its handler's docstring.",
        },
        "servers": [
            {"url": LOCAL_SERVER, "description": "The local suite (`make dev`): every function under one base."},
            {
                "url": PRODUCTION_SERVER,
                "description": "Production: each function at its own URL, /<function>/... on this host.",
                "variables": {
                    "region": {"default": DEFAULT_REGION},
                    "project": {"default": "my-project", "description": "The GCP project id."},
                },
            },
        ],
        "tags": [{"name": name, "description": f"functions/{name}"} for name in sorted(routes)],
        "paths": paths,
        "components": components,
    }


def render(document: dict[str, Any]) -> str:
    """Deterministic text: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale instead of writing it")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    document = build_document()
    validate_spec(document)  # raises on an invalid document, in both modes
    text = render(document)
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
        if current != text:
            print(f"{args.output} is stale: run `python tools/openapi.py`", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
