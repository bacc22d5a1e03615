"""The AI worker end to end: the endpoint queues, the local dispatcher delivers, the stand-in answers.

The whole local suite is served in-process on a free port against the real
services (Postgres, Valkey, the Firestore emulator): ``POST .../ai`` on
``onboarding_step`` writes ``queued`` and enqueues a task; the local Cloud
Tasks dispatcher (AI queue: 3 attempts, backoff shrunk by ``time_scale``)
posts it with an OIDC token to ``onboarding_ai``, which calls the Gemini
stand-in through the real google-genai adapter.  The stand-in is told to be
slow or to return invalid JSON through its ``/_control`` endpoint.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from devtools.local.devserver import build_suite, build_wsgi, stop_suite
from devtools.local.services import ServiceSet, free_port
from lib.config import Settings
from lib.domain.steps import STEPS, validate_step
from lib.services.onboarding_ai import MAX_ATTEMPTS
from tests.conftest import needs
from tests.e2e.support import base_url, local_settings, serving

pytestmark = pytest.mark.services

FIXTURE = json.loads((Path(__file__).parents[1] / "unit" / "fixtures" / "steps_complete.json").read_text())
# The worker's per-attempt model limit here, and how long "slow" makes the stand-in take.
AI_TIMEOUT_S, SLOW_S = 1.0, 4.0
# Backoffs of 2 s..30 s shrink to 20 ms..300 ms.
TIME_SCALE = 0.01
# How long a test waits for the task to settle (three timed-out attempts take about 3 s).
SETTLE_S = 30.0


@dataclass
class Suite:
    base: str
    http: httpx.Client
    settings: Settings

    def gemini(self, **control: Any) -> dict[str, Any]:
        response = self.http.post("/_dev/gemini/_control", json=control)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def gemini_calls(self) -> int:
        return int(self.http.get("/_dev/gemini/_control").json()["calls"])


@pytest.fixture(scope="module")
def suite(services: ServiceSet, settings: Settings) -> Iterator[Suite]:
    needs(services, "firestore")
    port = free_port()
    local = local_settings(settings, port, genai_base_url=f"{base_url(port)}/_dev/gemini", ai_timeout_s=AI_TIMEOUT_S)
    built = build_suite(local, services, time_scale=TIME_SCALE)
    try:
        with serving(build_wsgi(built), port) as base:
            built.dispatcher.start()
            try:
                with httpx.Client(base_url=base, timeout=15) as client:
                    yield Suite(base, client, local)
            finally:
                client_reset = httpx.post(f"{base}/_dev/gemini/_control", json={"mode": "ok"}, timeout=5)
                assert client_reset.status_code == 200
    finally:
        stop_suite(built)


@dataclass
class Founder:
    suite: Suite
    token: str
    session_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def save(self, number: int) -> dict[str, Any]:
        path = f"/onboarding_step/sessions/{self.session_id}/steps/{number}"
        body = {"data": FIXTURE[STEPS[number - 1].slug], "draft": True}
        response = self.suite.http.put(path, json=body, headers=self.headers)
        assert response.status_code == 200, response.text
        return dict(response.json()["step"]["data"])

    def ask(self, number: int) -> dict[str, Any]:
        path = f"/onboarding_step/sessions/{self.session_id}/steps/{number}/ai"
        response = self.suite.http.post(path, headers=self.headers)
        assert response.status_code == 202, response.text
        return dict(response.json())

    def step(self, number: int) -> dict[str, Any]:
        response = self.suite.http.get(f"/onboarding_step/sessions/{self.session_id}", headers=self.headers)
        assert response.status_code == 200, response.text
        return dict(response.json()["steps"][number - 1])

    def settled(self, number: int) -> dict[str, Any]:
        deadline = time.monotonic() + SETTLE_S
        while time.monotonic() < deadline:
            step = self.step(number)
            if step["ai"]["status"] in {"succeeded", "failed"}:
                return step
            time.sleep(0.1)
        raise AssertionError(f"step {number}'s AI task did not finish: {self.step(number)['ai']}")


@pytest.fixture
def founder(suite: Suite) -> Founder:
    minted = suite.http.post("/_dev/token", json={"email": f"ai-{uuid.uuid4().hex[:10]}@example.com"})
    assert minted.status_code == 200, minted.text
    user = minted.json()
    with psycopg.connect(suite.settings.database_url.get_secret_value(), autocommit=True) as conn:
        conn.execute(
            "update public.users set onboarding_status = 'payment_confirmed' where id = %s", (user["user_id"],)
        )
    headers = {"Authorization": f"Bearer {user['access_token']}"}
    chosen = suite.http.post("/initiate_payment/", json={"plan": "free"}, headers=headers)
    assert chosen.status_code == 200, chosen.text
    started = suite.http.post("/onboarding_step/sessions", json={}, headers=headers)
    assert started.status_code == 201, started.text
    suite.gemini(mode="ok")
    return Founder(suite, user["access_token"], started.json()["session_id"])


def test_a_suggestion_arrives_and_the_typed_data_stays(founder: Founder, suite: Suite) -> None:
    founder.save(1)
    founder.save(2)
    typed = founder.save(3)
    before = suite.gemini_calls()

    queued = founder.ask(3)
    assert queued["status"] == "queued"
    step = founder.settled(3)

    ai = step["ai"]
    assert ai["status"] == "succeeded", ai
    assert ai["attempts"] == 1
    assert ai["model"] == suite.settings.vertex_model
    assert ai["error"] is None
    assert ai["finished_at"]
    validate_step(3, ai["suggestion"], draft=True)
    assert ai["suggestion"]["facts"]
    assert step["data"] == typed
    assert step["version"] == 1
    assert suite.gemini_calls() == before + 1


def test_three_timeouts_give_failed_after_exactly_three_attempts(founder: Founder, suite: Suite) -> None:
    founder.save(1)
    suite.gemini(mode="slow", delay_s=SLOW_S)  # every call, until told otherwise
    before = suite.gemini_calls()

    founder.ask(12)
    step = founder.settled(12)

    ai = step["ai"]
    assert ai["status"] == "failed", ai
    assert ai["attempts"] == MAX_ATTEMPTS == 3
    assert "no answer within 1 s" in ai["error"]
    assert ai["suggestion"] is None
    time.sleep(0.5)  # nothing further is delivered after the acknowledgement
    assert suite.gemini_calls() == before + 3
    suite.gemini(mode="ok")  # wakes the sleeping stand-in requests


def test_invalid_json_then_ok_succeeds_on_attempt_two(founder: Founder, suite: Suite) -> None:
    founder.save(1)
    suite.gemini(mode="invalid_json", count=1)
    before = suite.gemini_calls()

    founder.ask(16)
    ai = founder.settled(16)["ai"]

    assert ai["status"] == "succeeded", ai
    assert ai["attempts"] == 2
    assert ai["error"] is None
    validate_step(16, ai["suggestion"], draft=True)
    assert suite.gemini_calls() == before + 2
