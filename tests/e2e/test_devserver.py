"""The local suite end to end: the dev server's app served on a free port against real services.

``build_app`` runs in-process against the session's ``services`` (Postgres with
the migrations, Valkey, the emulators); requests go over real HTTP, so the
JWT verifier fetches the dev JWKS, the dispatcher posts tasks with OIDC
tokens, and the ``resend`` SDK talks to the mail catcher as it would to
Resend.  ``run()`` is exercised twice: in-process (SIGTERM to ourselves) and as
``python -m devtools dev`` in a subprocess, which must leave no child behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import psutil
import psycopg
import pytest
import resend
from werkzeug.wrappers import Response

from devtools.local.dev_auth import DevAuth, DevRoutesRefused, ensure_dev_routes
from devtools.local.devserver import (
    DEV_MOUNTS,
    FUNCTIONS,
    DevSuite,
    LocalApp,
    _resolve_factory,
    build_app,
    register_dev_mount,
    run,
)
from devtools.local.mailcatcher import MailCatcher
from devtools.local.services import ServiceSet, free_port
from lib import bootstrap
from lib.config import Settings, get_settings
from tests.conftest import BUCKETS
from tests.e2e.support import local_settings, serving

pytestmark = pytest.mark.services

REPO = Path(__file__).resolve().parents[2]
# A dev server that is not answering after this long is broken (target: up in under 20 s).
STARTUP_LIMIT_S = 60.0


@dataclass
class Served:
    app: LocalApp
    base: str
    settings: Settings
    http: httpx.Client

    def token(self, email: str | None = None, name: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"email": email or f"e2e-{uuid.uuid4().hex[:10]}@example.com"}
        if name:
            body["name"] = name
        response = self.http.post("/_dev/token", json=body)
        assert response.status_code == 200, response.text
        return dict(response.json())


def _echo_mount(suite: DevSuite) -> Any:
    """A stand-in registered the way the PhonePe simulator and the Gemini stand-in are."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        body = {"base": suite.settings.functions_base_url, "path": environ.get("PATH_INFO")}
        return Response(json.dumps(body), mimetype="application/json")(environ, start_response)

    return app


@pytest.fixture(scope="module")
def served(services: ServiceSet, settings: Settings) -> Iterator[Served]:
    port = free_port()
    local = local_settings(settings, port)
    saved_mounts = list(DEV_MOUNTS)
    register_dev_mount("/_dev/echo", _echo_mount)
    try:
        app = build_app(local, services)
    finally:
        DEV_MOUNTS[:] = saved_mounts
    try:
        with serving(app, port) as base, httpx.Client(base_url=base, timeout=15) as client:
            yield Served(app, base, local, client)
    finally:
        app.stop()


# --- health, console, mounts ----------------------------------------------------------------


def test_healthz_reports_every_service(served: Served, services: ServiceSet) -> None:
    response = served.http.get("/healthz")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["status"] == "ok"
    for name in ("postgres", "redis", "storage"):
        assert report["checks"][name]["status"] == "ok"
    # "skipped" only when the emulator is not installed (and REQUIRE_EMULATORS=1 fails that elsewhere)
    assert report["checks"]["firestore"]["status"] == ("skipped" if "firestore" in services.missing else "ok")
    assert report["functions"] == list(FUNCTIONS)


def test_healthz_says_degraded_when_a_service_is_down(served: Served, settings: Settings) -> None:
    from devtools.local.devserver import health_report

    broken = bootstrap.Container(settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"}))
    suite = served.app.suite
    real = suite.container
    suite.container = broken
    try:
        ok, report = health_report(suite)
    finally:
        suite.container = real
    assert ok is False
    assert report["status"] == "degraded"
    assert report["checks"]["redis"]["status"] == "failed"
    assert report["checks"]["postgres"]["status"] == "ok"


def test_console_is_served_at_root(served: Served) -> None:
    page = served.http.get("/")
    assert page.status_code == 200
    assert "BCM local console" in page.text
    script = served.http.get("/console.js")
    assert script.status_code == 200
    assert "/_dev/token" in script.text
    for route in ("/billing/cancel", "/billing/change", "/_dev/clock/advance"):  # the billing panel's calls
        assert route in script.text
    assert 'id="billing-summary"' in page.text
    assert served.http.get("/no-such-page").status_code == 404


def test_registered_stand_ins_are_mounted(served: Served) -> None:
    response = served.http.get("/_dev/echo/apis/x")
    assert response.json() == {"base": served.base, "path": "/apis/x"}
    assert "/_dev/echo" in served.app.suite.mounts
    assert _resolve_factory("devtools.local.no_such_stand_in:create_app") is None
    assert _resolve_factory("devtools.local.mailcatcher:MailCatcher") is MailCatcher


def test_every_function_is_mounted(served: Served) -> None:
    for name in FUNCTIONS:
        response = served.http.get(f"/{name}/definitely/not/a/route")
        assert response.status_code == 404, name
        assert response.json()["code"] == "route_not_found", name  # the function's router answered


# --- dev auth ---------------------------------------------------------------------------------


def test_token_creates_user_workspace_and_membership(served: Served, services: ServiceSet) -> None:
    email = f"Founder-{uuid.uuid4().hex[:8]}@Example.com"
    body = served.token(email, name="Asha Rao")
    assert uuid.UUID(body["user_id"])
    assert uuid.UUID(body["workspace_id"])
    assert body["created"] is True
    with psycopg.connect(services.env["DATABASE_URL"]) as conn:
        user = conn.execute("select email, full_name from public.users where id = %s", (body["user_id"],)).fetchone()
        workspace = conn.execute(
            "select w.name, m.role from public.workspaces w join public.workspace_members m on m.workspace_id = w.id"
            " where w.id = %s and m.user_id = %s",
            (body["workspace_id"], body["user_id"]),
        ).fetchone()
    assert user == (email.lower(), "Asha Rao")
    assert workspace == ("Asha Rao's Workspace", "owner")

    again = served.token(email.upper())
    assert (again["user_id"], again["workspace_id"], again["created"]) == (body["user_id"], body["workspace_id"], False)


def test_token_is_a_supabase_shaped_es256_jwt(served: Served) -> None:
    body = served.token()
    header = jwt.get_unverified_header(body["access_token"])
    jwks = served.http.get("/_dev/auth/auth/v1/.well-known/jwks.json").json()
    assert header["alg"] == "ES256"
    assert header["kid"] == jwks["keys"][0]["kid"]
    key = jwt.PyJWK(jwks["keys"][0])
    claims = jwt.decode(
        body["access_token"], key, algorithms=["ES256"], audience="authenticated", issuer=served.settings.jwt_issuer
    )
    assert claims["sub"] == body["user_id"]
    assert claims["role"] == "authenticated"
    assert claims["exp"] - claims["iat"] == 3600


def test_functions_accept_the_dev_token(served: Served) -> None:
    token = served.token()["access_token"]
    with_token = served.http.get("/onboarding_step/steps", headers={"Authorization": f"Bearer {token}"})
    assert with_token.status_code == 200, with_token.text  # past authentication, into the (landed) handler
    assert "RateLimit-Limit" in with_token.headers  # the limiter counted the verified user
    root = served.http.post("/initiate_payment", json={})  # the function's root without the slash
    assert root.status_code == 401  # served by the function, not redirected
    without = served.http.get("/onboarding_step/steps")
    assert without.status_code == 401
    assert without.json()["code"] == "token_missing"
    head, payload, sig = token.split(".")
    forged = f"{head}.{payload}.{sig[:-4]}AAAA"
    assert served.http.get("/payment_status/X1", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_token_endpoint_validates_its_input(served: Served) -> None:
    bad = served.http.post("/_dev/token", json={"email": "not-an-email", "name": ""})
    assert bad.status_code == 422
    assert {e["path"] for e in bad.json()["errors"]} == {"email", "name"}
    malformed = served.http.post("/_dev/token", content=b"{", headers={"content-type": "application/json"})
    assert malformed.status_code == 400
    assert served.http.post("/_dev/token").status_code == 400
    assert served.http.get("/_dev/token").status_code == 405
    assert served.http.get("/_dev/auth/auth/v1/nothing").status_code == 404


def test_dev_routes_are_refused_outside_local_and_test(settings: Settings) -> None:
    with pytest.raises(DevRoutesRefused):
        ensure_dev_routes(settings.model_copy(update={"dev_routes": False}))
    with pytest.raises(DevRoutesRefused):
        ensure_dev_routes(settings.model_copy(update={"app_env": "production", "dev_routes": True}))
    with pytest.raises(DevRoutesRefused):
        DevAuth(settings.model_copy(update={"dev_routes": False}), bootstrap.Container(settings).db)


def test_dev_auth_key_is_kept_on_disk(settings: Settings, tmp_path: Path) -> None:
    db = bootstrap.Container(settings).db
    path = tmp_path / "auth" / "jwk.json"
    first = DevAuth(settings, db, key_path=path)
    second = DevAuth(settings, db, key_path=path)
    assert first.key.kid == second.key.kid
    assert path.stat().st_mode & 0o777 == 0o600
    assert DevAuth(settings, db).key.kid != first.key.kid  # in memory: a fresh key


# --- the mail catcher, through the real resend SDK ---------------------------------------------


@pytest.fixture
def resend_at(served: Served) -> Iterator[MailCatcher]:
    saved = (resend.api_url, resend.api_key)
    resend.api_url, resend.api_key = served.settings.resend_base_url, "re_local_test_key"
    mail = served.app.suite.mail
    mail.clear()
    try:
        yield mail
    finally:
        resend.api_url, resend.api_key = saved
        mail.clear()


def _params(to: str, subject: str = "Your receipt") -> Any:
    return {"from": "Founders <billing@example.com>", "to": [to], "subject": subject, "html": "<p>Paid.</p>"}


def test_resend_sdk_delivers_to_the_catcher(served: Served, resend_at: MailCatcher) -> None:
    sent = resend.Emails.send(_params("asha@example.com"))
    listed = served.http.get("/_dev/mail/").json()
    assert listed["count"] == 1
    message = listed["data"][0]
    assert message["id"] == sent["id"]
    assert message["to"] == ["asha@example.com"]
    assert message["subject"] == "Your receipt"
    assert message["api_key_hint"] == "_key"
    one = served.http.get(f"/_dev/resend/emails/{sent['id']}").json()
    assert one["html"] == "<p>Paid.</p>"


def test_idempotency_key_gives_the_same_id_and_one_message(served: Served, resend_at: MailCatcher) -> None:
    options: Any = {"idempotency_key": f"receipt-{uuid.uuid4()}"}
    first = resend.Emails.send(_params("a@example.com"), options)
    second = resend.Emails.send(_params("a@example.com"), options)
    assert first["id"] == second["id"]
    assert len(resend_at.messages()) == 1
    with pytest.raises(resend.exceptions.ResendError) as err:
        resend.Emails.send(_params("a@example.com", subject="Other"), options)
    assert "idempotency" in str(err.value).lower()
    assert len(resend_at.messages()) == 1


def test_catcher_validates_like_resend(served: Served, resend_at: MailCatcher) -> None:
    with pytest.raises(resend.exceptions.ResendError):
        resend.Emails.send({"from": "x@example.com", "to": ["a@example.com"], "html": "<p/>"})  # type: ignore[typeddict-item]
    no_key = served.http.post("/_dev/resend/emails", json=_params("a@example.com"))
    assert no_key.status_code == 401
    assert no_key.json()["name"] == "missing_api_key"
    assert resend_at.messages() == []


def test_catcher_injects_failures(served: Served, resend_at: MailCatcher) -> None:
    assert served.http.post("/_dev/mail/fail-next?count=1&mode=500").status_code == 200
    with pytest.raises(resend.exceptions.ResendError):
        resend.Emails.send(_params("a@example.com"))
    resend_at.fail_next(1, "timeout", seconds=0.2)
    started = time.monotonic()
    with pytest.raises(resend.exceptions.ResendError):
        resend.Emails.send(_params("a@example.com"))
    assert time.monotonic() - started >= 0.2
    resend.Emails.send(_params("a@example.com"))  # the next one goes through
    assert len(resend_at.messages()) == 1
    assert served.http.post("/_dev/mail/fail-next?mode=explode").status_code == 422


def test_catcher_keeps_messages_across_restarts(tmp_path: Path) -> None:
    store = tmp_path / "mail" / "messages.json"
    first = MailCatcher(store_path=store)
    message_id, created = first.send(_params("k@example.com"), api_key="re_x", idempotency_key="k1")
    assert created
    second = MailCatcher(store_path=store)
    assert [m.id for m in second.messages()] == [message_id]
    assert second.send(_params("k@example.com"), api_key="re_x", idempotency_key="k1") == (message_id, False)


# --- tasks with OIDC --------------------------------------------------------------------------


def test_tasks_reach_internal_functions_with_an_oidc_token(served: Served) -> None:
    """A task for an internal worker carries a token the worker's verifier accepts."""
    created = served.http.post(
        "/_dev/tasks/queues/bcm-rebuild/tasks",
        # Cloud Tasks' default audience is the target URL, which is what the worker expects.
        json={"url": f"{served.base}/bcm_rebuild", "payload": {"workspace_id": "w"}},
    )
    assert created.status_code == 201, created.text
    name = created.json()["name"]
    dispatcher = served.app.suite.dispatcher
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        task = dispatcher.task(name)
        if task is not None and task.last_status is not None:
            break
        time.sleep(0.05)
    assert task is not None
    assert task.last_status is not None
    assert task.last_status not in (401, 403)  # the dispatcher's OIDC token was accepted
    assert task.last_status == 422, task.last_status  # past auth, the handler itself refused the bogus workspace id
    listed = served.http.get("/_dev/tasks/").json()
    assert any(t["name"] == name for t in [*listed["tasks"], *listed["finished"]])


# --- run() -------------------------------------------------------------------------------------


def _wait_healthy(url: str, limit_s: float = STARTUP_LIMIT_S) -> httpx.Response | None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.get(url, timeout=2)
            if response.status_code in (200, 503):
                return response
        time.sleep(0.1)
    return None


@contextlib.contextmanager
def _run_env(services: ServiceSet, port: int, local_dir: Path) -> Iterator[None]:
    """The environment ``run()`` reads (it writes its own on top); restored afterwards."""
    saved_env = dict(os.environ)
    os.environ.update(
        {
            **services.env,
            "DEV_PORT": str(port),
            "LOCAL_DIR": str(local_dir),
            # The session's Storage emulator has the test buckets (run() creates buckets only when it starts one).
            "GCS_BUCKET_EXPORTS": BUCKETS[0],
            "GCS_BUCKET_EVIDENCE": BUCKETS[1],
        }
    )
    get_settings.cache_clear()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        get_settings.cache_clear()


def test_run_in_process_serves_until_sigterm(services: ServiceSet, tmp_path: Path) -> None:
    """``run()`` against the session's services (given by URL, so it starts none of its own)."""
    port = free_port()
    seen: dict[str, Any] = {}

    def stop_when_healthy() -> None:
        response = _wait_healthy(f"http://127.0.0.1:{port}/healthz")
        if response is None:
            return  # run() failed to serve: it raised or will be stopped by the test timeout
        seen["health"] = response.status_code
        if response.status_code != 200:
            seen["report"] = response.text
        seen["token"] = httpx.post(f"http://127.0.0.1:{port}/_dev/token", json={"email": "run@example.com"}).status_code
        os.kill(os.getpid(), signal.SIGTERM)  # run() installed its handler before serving

    watcher = threading.Thread(target=stop_when_healthy, daemon=True)
    watcher.start()
    with _run_env(services, port, tmp_path / "local"):
        code = run()
    watcher.join(5)
    assert code == 0
    assert seen == {"health": 200, "token": 200}
    assert (tmp_path / "local" / "auth" / "jwk.json").exists()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)


def test_run_reports_a_busy_port(services: ServiceSet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with _run_env(services, busy.getsockname()[1], tmp_path / "local"):
            assert run() == 1
    assert "set DEV_PORT to a free port" in capsys.readouterr().err


def _dev_env(port: int, local_dir: Path) -> dict[str, str]:
    """The test process's environment minus the session's services: the dev server starts its own."""
    own = ("DATABASE_URL", "REDIS_URL", "STORAGE_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST")
    env = {k: v for k, v in os.environ.items() if k not in own}
    env.update({"DEV_PORT": str(port), "LOCAL_DIR": str(local_dir)})
    return env


def _start_dev(port: int, local_dir: Path) -> tuple[subprocess.Popen[bytes], float, dict[str, Any]]:
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtools", "dev"],
        cwd=REPO,
        env=_dev_env(port, local_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    response = _wait_healthy(f"http://127.0.0.1:{port}/healthz")
    if response is None or response.status_code != 200:
        proc.kill()
        output = proc.communicate(timeout=10)[0].decode(errors="replace")[-3000:]
        pytest.fail(f"dev server not healthy: {response and response.text}\n{output}")
    return proc, time.monotonic() - started, response.json()


def _firestore(health: dict[str, Any]) -> Any:
    """The dev server's own Firestore emulator, found through /healthz ("read ok (host:port)")."""
    from lib.adapters.firestore import FirestoreDocuments

    match = re.search(r"\((127\.0\.0\.1:\d+)\)", health["checks"]["firestore"]["detail"])
    assert match, health
    return FirestoreDocuments("bcm-local", emulator_host=match.group(1))


def _stop_dev(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=30)[0].decode(errors="replace")
    return proc.returncode, output


def test_python_m_lib_dev_starts_persists_and_leaves_no_orphans(services: ServiceSet, tmp_path: Path) -> None:
    port = free_port()
    local_dir = tmp_path / "local"
    with_firestore = "firestore" not in services.missing
    proc, took, health = _start_dev(port, local_dir)
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
        names = {c.name() for c in children}
        assert any("postgres" in n for n in names), names
        assert any("valkey" in n for n in names), names
        first = httpx.post(f"http://127.0.0.1:{port}/_dev/token", json={"email": "persist@example.com"}).json()
        jwks = httpx.get(f"http://127.0.0.1:{port}/_dev/auth/auth/v1/.well-known/jwks.json").json()
        if with_firestore:
            _firestore(health).set("e2e_probe", "kept", {"n": 1})
    finally:
        code, output = _stop_dev(proc)
    assert code == 0, output[-3000:]
    assert "Local suite up" in output
    assert took < STARTUP_LIMIT_S
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], [(p.pid, p.name()) for p in alive]

    # Data survives a restart: the same user (Postgres), the same signing key, Firestore's documents.
    proc, _, health = _start_dev(port, local_dir)
    try:
        again = httpx.post(f"http://127.0.0.1:{port}/_dev/token", json={"email": "persist@example.com"}).json()
        jwks_again = httpx.get(f"http://127.0.0.1:{port}/_dev/auth/auth/v1/.well-known/jwks.json").json()
        kept = _firestore(health).get("e2e_probe", "kept") if with_firestore else {"n": 1}
        children = psutil.Process(proc.pid).children(recursive=True)
    finally:
        code, output = _stop_dev(proc)
    assert code == 0, output[-3000:]
    assert (again["user_id"], again["workspace_id"]) == (first["user_id"], first["workspace_id"])
    assert again["created"] is False
    assert jwks_again == jwks
    assert kept == {"n": 1}
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == []


def test_the_pages_frontend_url_links_to_are_the_console(served: Served) -> None:
    """PhonePe sends the customer back to FRONTEND_URL/billing/return, emails link FRONTEND_URL/billing:
    locally both are the console (under /app, apart from the billing function at /billing)."""
    for path in ("/app/billing/return?order=ord_1", "/app/billing", "/app/"):
        page = served.http.get(path)
        assert page.status_code == 200, path
        assert "BCM local console" in page.text
    script = served.http.get("/console.js").text
    assert "/billing/return" in script
    assert 'id="pay-link"' in served.http.get("/").text
