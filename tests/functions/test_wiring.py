"""Every function's ``main.py`` loads through functions_framework and answers its routes.

Each app is built with ``functions_framework.create_app(target="main", source=...)``
(through the dev server's loader, which also keeps the ten ``main`` modules
apart) and driven with Flask's test client.  The HTTP layer gets real
verifiers: HS256 Supabase tokens (the legacy secret) for user routes, and RS256
tokens from the local OIDC signer for internal ones, so "authorized" means the
real verification code accepted the token.  An authorized call reaches the
handler: every handler has landed, so it answers anything but an auth or routing
error or a 501 stub (its services are not wired here).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devtools.local.devserver import load_function_app
from devtools.local.oidc_signer import LocalOidcSigner
from lib import bootstrap
from lib.config import Settings
from tests.functions import support
from tests.functions.support import AUDIENCE, INVOKER, http_deps, installed, preset, task_token
from tools.functions import FUNCTIONS_DIR, function_folders, function_names

REPO = Path(__file__).resolve().parents[2]
SECRET = "wiring-test-secret-that-is-long-enough-for-hs256"
CLOSED = "postgresql://postgres@127.0.0.1:1/postgres"  # port 1: nothing listens
# Every deployable function: the one list (pyproject.toml [tool.bcm.functions]).
FUNCTIONS = function_names()


# Values for the path parameters of the routes below.
_PARAMS = {"<merchant_order_id>": "ORDER_123", "<session_id>": str(uuid.uuid4()), "<int(min=1, max=23):number>": "3"}


@dataclass(frozen=True)
class Case:
    function: str
    method: str
    rule: str  # the route as declared
    auth: str  # user | internal | none

    @property
    def path(self) -> str:
        """A concrete path matching the rule."""
        path = self.rule
        for param, value in _PARAMS.items():
            path = path.replace(param, value)
        return path


# The HTTP contract (the public routes plus the internal workers), one concrete request per route.
ROUTES: list[Case] = [
    Case("initiate_payment", "POST", "/", "user"),
    Case("payment_status", "GET", "/<merchant_order_id>", "user"),
    Case("payment_webhook", "POST", "/", "none"),
    Case("payment_reconcile", "POST", "/", "internal"),
    Case("billing", "GET", "/", "user"),
    Case("billing", "POST", "/cancel", "user"),
    Case("billing", "POST", "/change", "user"),
    Case("billing", "POST", "/resume", "user"),
    Case("onboarding_step", "GET", "/steps", "user"),
    Case("onboarding_step", "POST", "/sessions", "user"),
    Case("onboarding_step", "GET", "/sessions/<session_id>", "user"),
    Case("onboarding_step", "PUT", "/sessions/<session_id>/steps/<int(min=1, max=23):number>", "user"),
    Case("onboarding_step", "POST", "/sessions/<session_id>/steps/<int(min=1, max=23):number>/ai", "user"),
    Case("onboarding_ai", "POST", "/", "internal"),
    Case("finalize", "POST", "/<session_id>", "user"),
    Case("context", "GET", "/manifest", "user"),
    Case("context", "POST", "/rebuild", "user"),
    Case("context", "GET", "/version-history", "user"),
    Case("context", "GET", "/export", "user"),
    Case("context", "POST", "/guardrails/check", "user"),
    Case("context", "GET", "/recommendations", "user"),
    Case("bcm_rebuild", "POST", "/", "internal"),
    Case("maintenance", "POST", "/expire-sessions", "internal"),
    Case("maintenance", "POST", "/sweep-outbox", "internal"),
    Case("maintenance", "POST", "/reconcile-payments", "internal"),
    Case("maintenance", "POST", "/sweep-subscriptions", "internal"),
]
# Methods a route may be probed with; each function's 405 probe takes the first its first route lacks.
PROBE_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")


def wrong_method(function: str) -> tuple[str, str, set[str]]:
    """A method the function does not serve on its first route's path, the path, and what it does serve there."""
    first = next(c for c in ROUTES if c.function == function)
    served = {c.method for c in ROUTES if c.function == function and c.rule == first.rule}
    method = next(m for m in PROBE_METHODS if m not in served)
    return method, first.path, served


def _id(case: Case) -> str:
    return f"{case.function}:{case.method}:{case.rule}"


@pytest.fixture(scope="module")
def signer() -> LocalOidcSigner:
    return LocalOidcSigner()


@pytest.fixture(scope="module")
def apps(signer: LocalOidcSigner) -> Iterator[dict[str, Any]]:
    """Every function's app, with the HTTP layer's deps installed as the process container's."""
    settings = Settings(
        app_env="test",
        supabase_jwt_secret=SECRET,
        functions_base_url=AUDIENCE,
        tasks_invoker_email=INVOKER,
        # Handlers that have landed find nothing listening (refused at once): this tests wiring only.
        database_url=CLOSED,
        redis_url="redis://127.0.0.1:1/0",
        firestore_emulator_host="127.0.0.1:1",
        storage_emulator_host="http://127.0.0.1:1",
        db_connect_timeout_s=0.5,
    )
    container = preset(bootstrap.Container(settings), http=http_deps(settings, signer))
    with installed(container):
        yield {name: load_function_app(name) for name in FUNCTIONS}


def user_token(*, secret: str = SECRET) -> str:
    return support.user_token(secret, sub=str(uuid.uuid4()), email="wiring@example.com")


def token_for(case: Case, signer: LocalOidcSigner) -> str | None:
    if case.auth == "user":
        return user_token()
    if case.auth == "internal":
        return task_token(signer, case.function)
    return None


def call(app: Any, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return app.test_client().open(path, method=method, headers=headers, **kw)


def test_every_function_has_a_main_and_routes_under_test() -> None:
    assert function_folders() == sorted(FUNCTIONS)
    assert {c.function for c in ROUTES} == set(FUNCTIONS)


def test_routers_declare_the_contract(apps: dict[str, Any]) -> None:
    """Every route above is declared, with the auth it needs (functions may add routes, not drop them)."""
    for name in FUNCTIONS:
        module = sys.modules[f"functions.{name}.main"]
        assert module.router.name == name
        declared = {(m, spec.path, spec.auth) for spec in module.router.routes for m in spec.methods}
        expected = {(c.method, c.rule, c.auth) for c in ROUTES if c.function == name}
        assert expected <= declared, (name, expected - declared)


def test_ten_apps_coexist_in_one_process(apps: dict[str, Any]) -> None:
    modules = [sys.modules[f"functions.{name}.main"] for name in FUNCTIONS]
    assert len({id(m) for m in modules}) == len(FUNCTIONS)
    assert "main" not in sys.modules or sys.modules["main"] not in modules
    assert not any(str(FUNCTIONS_DIR) in p for p in sys.path)


@pytest.mark.parametrize("case", ROUTES, ids=_id)
def test_without_a_token(apps: dict[str, Any], case: Case) -> None:
    response = call(apps[case.function], case.method, case.path)
    if case.auth == "none":
        # No bearer token demanded by the router (the webhook checks PhonePe's own header).
        assert response.status_code not in (404, 405)
        assert (response.get_json(silent=True) or {}).get("code") != "token_missing"
    else:
        assert response.status_code == 401
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["code"] == "token_missing"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("case", ROUTES, ids=_id)
def test_authorized_reaches_the_handler(apps: dict[str, Any], signer: LocalOidcSigner, case: Case) -> None:
    response = call(apps[case.function], case.method, case.path, token_for(case, signer), json={})
    body = response.get_json(silent=True)
    code = str(body.get("code", "")) if isinstance(body, dict) else ""
    if case.auth == "none":
        # The webhook's handler runs and checks PhonePe's own header itself (none sent here).
        assert (response.status_code, code) == (401, "webhook_unauthorized"), response.get_data(as_text=True)
    else:
        assert response.status_code not in (401, 403, 405), response.get_data(as_text=True)
    assert code != "route_not_found"  # a 404 from the handler (no such session...) is fine
    assert not code.startswith("token_")
    assert response.headers["X-Request-Id"]
    assert response.status_code != 501, body  # every handler has landed: a stub answering is a regression
    assert code != "not_implemented"


@pytest.mark.parametrize("case", [c for c in ROUTES if c.auth == "user"], ids=_id)
def test_user_routes_refuse_a_forged_token(apps: dict[str, Any], case: Case) -> None:
    response = call(apps[case.function], case.method, case.path, user_token(secret="x" * 48))
    assert response.status_code == 401
    assert response.get_json()["code"].startswith("token_")


@pytest.mark.parametrize("case", [c for c in ROUTES if c.auth == "internal"], ids=_id)
def test_internal_routes_refuse_a_user_token(apps: dict[str, Any], case: Case) -> None:
    response = call(apps[case.function], case.method, case.path, user_token())
    assert response.status_code == 401


@pytest.mark.parametrize("name", FUNCTIONS)
def test_unknown_path_is_404(apps: dict[str, Any], name: str) -> None:
    response = call(apps[name], "GET", "/no/such/route", user_token())
    assert response.status_code == 404
    assert response.get_json()["code"] == "route_not_found"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_wrong_method_is_405(apps: dict[str, Any], name: str) -> None:
    method, path, served = wrong_method(name)
    response = call(apps[name], method, path, user_token())
    assert response.status_code == 405
    assert response.get_json()["code"] == "method_not_allowed"
    assert set(response.headers["Allow"].replace(" ", "").split(",")) - {"HEAD", "OPTIONS"} == served


# --- cold-start rule: each function imports only the adapters it uses ----------------------

_PROBE = """
import json, sys
import functions_framework
functions_framework.create_app(target="main", source=sys.argv[1])
forbidden = ("google.cloud.firestore", "google.genai", "google.cloud.storage")
print(json.dumps({
    "forbidden": sorted(m for m in sys.modules if m.startswith(forbidden)),
    "router": "lib.http.router" in sys.modules,
}))
if len(sys.argv) > 2:  # control: prove the probe sees an import when there is one
    import google.cloud.firestore  # noqa: F401
    print(json.dumps({"forbidden": sorted(m for m in sys.modules if m.startswith(forbidden))}))
"""


def _probe(name: str, *extra: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(FUNCTIONS_DIR / name / "main.py"), *extra],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=True,
    )
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


@pytest.mark.parametrize(
    "name", ["initiate_payment", "payment_status", "payment_webhook", "payment_reconcile", "billing"]
)
def test_payment_functions_do_not_import_firestore_or_genai(name: str) -> None:
    (report,) = _probe(name)
    assert report["router"] is True
    assert report["forbidden"] == []


def test_the_import_probe_detects_an_import() -> None:
    first, after = _probe("payment_status", "control")
    assert first["forbidden"] == []
    assert "google.cloud.firestore" in after["forbidden"]
