"""devtools.checkenv's real probes against the local services and a local stand-in HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from devtools import checkenv
from devtools.local.services import ServiceSet
from lib.config import Settings
from tests.conftest import needs

TOKEN_SECRET = "phonepe-secret-for-probe-test"


class StandIn:
    """A tiny HTTP server playing PhonePe's token endpoint, Resend and the Gemini/tasks roots."""

    def __init__(self) -> None:
        self.resend_status = 200
        self.root_status = 200
        self.token_body: dict[str, object] | None = None
        self.seen_forms: list[dict[str, str]] = []
        self.server = make_server("127.0.0.1", 0, self.app)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def app(self, environ: dict[str, object], start_response: object) -> object:
        request = Request(environ)  # type: ignore[arg-type]
        if request.path == "/oauth/token":
            form = dict(request.form)
            self.seen_forms.append(form)
            ok = form.get("client_secret") == TOKEN_SECRET and form.get("grant_type") == "client_credentials"
            body, status = ({"access_token": "t0k", "expires_at": 1}, 200) if ok else ({"code": "BAD_CREDS"}, 401)
            body = self.token_body if self.token_body is not None else body
        elif request.path == "/domains":
            names = {401: "restricted_api_key", 403: "invalid_api_key"}
            body = (
                {"data": [{"name": "example.com"}]}
                if self.resend_status == 200
                else {"name": names[self.resend_status]}
            )
            status = self.resend_status
        else:
            body, status = {"ok": True}, self.root_status
        response = Response(json.dumps(body), status=status, content_type="application/json")
        return response(environ, start_response)  # type: ignore[arg-type]


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    server = StandIn()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()


@pytest.mark.services
def test_every_probe_passes_against_the_local_suite(
    services: ServiceSet, settings: Settings, stand_in: StandIn
) -> None:
    needs(services, "firestore")
    local = settings.model_copy(
        update={
            "tasks_local_url": f"{stand_in.url}/_dev/tasks",
            "genai_base_url": f"{stand_in.url}/gemini",
            "phonepe_token_url": f"{stand_in.url}/oauth/token",
            "phonepe_client_secret": SecretStr(TOKEN_SECRET),
        }
    )
    results = {r.service: r for r in checkenv.run_probes(local, checkenv.PROBES, timeout_s=20)}
    for service in ("postgres", "redis", "firestore", "storage", "cloud_tasks", "vertex_ai", "phonepe"):
        assert results[service].status == "ok", (service, results[service].detail)
    assert results["resend"].status == "skipped"
    assert results["postgres"].detail.startswith("select 1 ok; PostgreSQL ")
    assert stand_in.seen_forms[0]["client_id"] == local.phonepe_client_id


@pytest.mark.services
def test_a_wrong_phonepe_secret_fails_without_printing_it(settings: Settings, stand_in: StandIn) -> None:
    bad = settings.model_copy(
        update={"phonepe_token_url": f"{stand_in.url}/oauth/token", "phonepe_client_secret": SecretStr("nope")}
    )
    (result,) = checkenv.run_probes(bad, {"phonepe": checkenv.probe_phonepe}, timeout_s=5)
    assert result.status == "failed"
    assert result.detail == "RuntimeError: token endpoint answered HTTP 401 BAD_CREDS"


@pytest.mark.parametrize(("status", "expected"), [(200, "ok"), (401, "ok"), (403, "failed")])
def test_resend_probe_checks_a_real_key(stand_in: StandIn, status: int, expected: str) -> None:
    stand_in.resend_status = status
    s = Settings(resend_api_key="re_live_looking_key_123", resend_base_url=stand_in.url)
    (result,) = checkenv.run_probes(s, {"resend": checkenv.probe_resend}, timeout_s=5)
    assert result.status == expected, result.detail
    assert "re_live_looking_key_123" not in result.detail


def test_a_gemini_stand_in_answering_5xx_fails(stand_in: StandIn) -> None:
    stand_in.root_status = 503
    s = Settings(genai_base_url=f"{stand_in.url}/gemini")
    (result,) = checkenv.run_probes(s, {"vertex_ai": checkenv.probe_vertex}, timeout_s=5)
    assert (result.status, result.detail) == ("failed", "RuntimeError: Gemini stand-in answered HTTP 503")


def test_a_token_response_without_access_token_fails(stand_in: StandIn) -> None:
    stand_in.token_body = {"unexpected": True}
    s = Settings(phonepe_token_url=f"{stand_in.url}/oauth/token", phonepe_client_secret=TOKEN_SECRET)
    (result,) = checkenv.run_probes(s, {"phonepe": checkenv.probe_phonepe}, timeout_s=5)
    assert (result.status, result.detail) == (
        "failed",
        "RuntimeError: token endpoint answered 200 without an access_token",
    )
