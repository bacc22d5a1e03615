"""``functions/onboarding_ai/main.py`` through functions_framework, as Cloud Tasks calls it.

Real HTTP layer (OIDC tokens from the local signer, verified by the real
verifier); the use case runs against the onboarding store over in-memory fakes
and a scripted model, so each status Cloud Tasks acts on is checked: 200 to
acknowledge, 503 to be retried, with ``X-CloudTasks-TaskRetryCount`` deciding
which attempt is the last.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from devtools.local.devserver import load_function_app
from devtools.local.oidc_signer import LocalOidcSigner
from lib import bootstrap
from lib.adapters.firestore_drafts import FirestoreDrafts
from lib.adapters.redis_sessions import RedisSessionCache
from lib.config import Settings
from lib.errors import Unavailable
from lib.http import HttpDeps
from lib.services import onboarding
from lib.services.entitlements.gate import Entitlements
from lib.services.onboarding import OnboardingDeps
from lib.services.onboarding_ai import SuggestionDeps
from lib.testing.fake_entitlements import FakeEntitlements
from lib.testing.fake_onboarding import FakeOnboardingRepo, FakeOnboardingUnit
from lib.testing.fakes import FakeDocuments, FakeKeyValue, FakeTaskQueue, ManualClock
from tests.functions.support import AUDIENCE, INVOKER, installed, local_oidc, preset, task_token

WORKSPACE, USER = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"


@dataclass
class SwitchModel:
    """A model that times out while ``down`` and answers a guardrails suggestion otherwise."""

    down: bool = False
    calls: int = 0
    answer: dict[str, Any] = field(default_factory=lambda: {"dos": ["Cite the truth sheet"], "donts": ["Overpromise"]})

    def generate_json(
        self, prompt: str, *, response_schema: dict[str, Any], timeout_s: float
    ) -> tuple[dict[str, Any], str]:
        self.calls += 1
        if self.down:
            raise Unavailable(f"no answer within {timeout_s:g} s", "vertex", timeout=True)
        return dict(self.answer), "gemini-test"


@dataclass
class Env:
    app: Any
    signer: LocalOidcSigner
    deps: OnboardingDeps
    tasks: FakeTaskQueue
    model: SwitchModel
    session_id: str

    def token(self) -> str:
        return task_token(self.signer, "onboarding_ai")

    def request_ai(self, number: int) -> dict[str, Any]:
        onboarding.request_ai(self.session_id, number, lambda _ws: True, "req-fn", deps=self.deps)
        (task,) = self.tasks.take()
        return dict(task.payload)

    def deliver(self, payload: dict[str, Any], retry_count: int | None = None, token: str | None = "") -> Any:
        headers = {"Authorization": f"Bearer {self.token() if token == '' else token}"} if token is not None else {}
        if retry_count is not None:
            headers["X-CloudTasks-TaskRetryCount"] = str(retry_count)
        return self.app.test_client().post("/", json=payload, headers=headers)

    def ai(self, number: int) -> dict[str, Any]:
        _, doc = onboarding.read_document(self.session_id, deps=self.deps)
        return dict(doc["steps"][f"s{number:02d}"]["ai"])


@pytest.fixture
def env() -> Iterator[Env]:
    clock = ManualClock(datetime(2025, 3, 1, tzinfo=UTC))
    repo = FakeOnboardingRepo(clock)
    subs = FakeEntitlements()
    subs.grant(WORKSPACE, now=clock.now(), days=365)
    tasks = FakeTaskQueue()
    service = OnboardingDeps(
        repo=repo,
        unit=lambda: FakeOnboardingUnit(repo),
        drafts=FirestoreDrafts(FakeDocuments()),
        cache=RedisSessionCache(FakeKeyValue(clock)),
        tasks=tasks,
        clock=clock,
        ai_queue="onboarding-ai",
        functions_base_url=AUDIENCE,
        entitlements=Entitlements(subs, clock),
    )
    session_id = onboarding.start_session(WORKSPACE, USER, deps=service).session["session_id"]
    model = SwitchModel()
    signer = LocalOidcSigner()
    settings = Settings(app_env="test", functions_base_url=AUDIENCE, tasks_invoker_email=INVOKER)
    runner = SuggestionDeps(service, model, clock, timeout_s=30.0)
    deps = HttpDeps(settings=settings, oidc=local_oidc(settings, signer))
    with installed(preset(bootstrap.Container(settings), http=deps, onboarding_ai=runner)):
        yield Env(load_function_app("onboarding_ai"), signer, service, tasks, model, session_id)


def test_a_successful_attempt_is_acknowledged_with_the_suggestion_recorded(env: Env) -> None:
    response = env.deliver(env.request_ai(16))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"result": "succeeded", "attempt": 1, "model": "gemini-test"}
    ai = env.ai(16)
    assert ai["status"] == "succeeded"
    assert ai["suggestion"] == env.model.answer


def test_failures_are_retried_until_the_last_attempt_then_acknowledged(env: Env) -> None:
    env.model.down = True
    payload = env.request_ai(16)
    statuses = [env.deliver(payload, retry_count=n).status_code for n in range(3)]
    assert statuses == [503, 503, 200]
    ai = env.ai(16)
    assert (ai["status"], ai["attempts"]) == ("failed", 3)
    assert ai["error"] == "model unavailable: no answer within 30 s"


def test_the_retry_header_decides_the_attempt_number(env: Env) -> None:
    payload = env.request_ai(18)
    env.model.down = True
    response = env.deliver(payload, retry_count=1)
    assert response.status_code == 503
    assert response.get_json()["attempt"] == 2
    assert env.ai(18)["attempts"] == 2


def test_a_payload_no_attempt_can_use_is_acknowledged(env: Env) -> None:
    response = env.deliver({"session_id": env.session_id, "step": 1})
    assert response.status_code == 200
    assert response.get_json()["result"] == "skipped"
    assert env.model.calls == 0


def test_callers_without_a_google_token_are_refused(env: Env) -> None:
    payload = env.request_ai(16)
    assert env.deliver(payload, token=None).status_code == 401
    forged = task_token(LocalOidcSigner(), "onboarding_ai")
    assert env.deliver(payload, token=forged).status_code == 401
    assert env.model.calls == 0
    assert env.ai(16)["status"] == "queued"
