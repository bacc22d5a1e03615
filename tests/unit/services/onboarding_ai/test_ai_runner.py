"""The AI worker's use case with a scripted model and the real onboarding store over fakes.

The session store is ``OnboardingDeps`` itself (Firestore drafts and the
Redis cache on ``FakeDocuments``/``FakeKeyValue``, Postgres on
``FakeOnboardingRepo``), so the worker's writes go through the same API the
endpoint uses.  Cloud Tasks is played by hand: each delivery is
``runner.run(payload, retry_count=n)``, and a 503 means "deliver again".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lib import ops_events
from lib.adapters.firestore_drafts import FirestoreDrafts
from lib.adapters.redis_sessions import RedisSessionCache
from lib.domain.steps import STEPS, validate_step
from lib.errors import Rejected, Unavailable
from lib.services import onboarding
from lib.services.entitlements.gate import Entitlements
from lib.services.onboarding import OnboardingDeps
from lib.services.onboarding_ai import (
    MAX_ATTEMPTS,
    InvalidOutput,
    SuggestionDeps,
    response_schema,
    run_suggestion,
    unusable_payload,
)
from lib.testing.fake_entitlements import FakeEntitlements
from lib.testing.fake_onboarding import FakeOnboardingRepo, FakeOnboardingUnit
from lib.testing.fakes import FakeDocuments, FakeKeyValue, FakeTaskQueue, ManualClock

FIXTURE = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "steps_complete.json").read_text())
WORKSPACE, USER = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
MODEL = "gemini-test"

Reply = dict[str, Any] | Exception | Callable[[], dict[str, Any]]


def anyone(_workspace: str) -> bool:
    return True


@dataclass
class ScriptedModel:
    """``SuggestionModel`` answering from a script, one entry per call (the last one repeats)."""

    script: list[Reply]
    calls: list[tuple[str, dict[str, Any], float]] = field(default_factory=list)

    def generate_json(
        self, prompt: str, *, response_schema: dict[str, Any], timeout_s: float
    ) -> tuple[dict[str, Any], str]:
        self.calls.append((prompt, response_schema, timeout_s))
        reply = self.script[min(len(self.calls), len(self.script)) - 1]
        if isinstance(reply, Exception):
            raise reply
        if callable(reply):
            return reply(), MODEL
        return json.loads(json.dumps(reply)), MODEL


@dataclass
class World:
    clock: ManualClock
    repo: FakeOnboardingRepo
    docs: FakeDocuments
    tasks: FakeTaskQueue
    deps: OnboardingDeps
    session_id: str

    def runner(self, model: ScriptedModel) -> SuggestionDeps:
        return SuggestionDeps(self.deps, model, self.clock, timeout_s=30.0)

    def save(self, number: int) -> dict[str, Any]:
        data = FIXTURE[STEPS[number - 1].slug]
        onboarding.save_step(self.session_id, number, {"data": data, "draft": True}, anyone, deps=self.deps)
        return dict(self.step(number)["data"])

    def request(self, number: int) -> dict[str, Any]:
        onboarding.request_ai(self.session_id, number, anyone, "req-test", deps=self.deps)
        (task,) = self.tasks.take()
        return dict(task.payload)

    def step(self, number: int) -> dict[str, Any]:
        _, doc = onboarding.read_document(self.session_id, deps=self.deps)
        return dict(doc["steps"][f"s{number:02d}"])

    def ai(self, number: int) -> dict[str, Any]:
        return dict(self.step(number)["ai"])


@pytest.fixture
def world() -> World:
    clock = ManualClock(START)
    repo = FakeOnboardingRepo(clock)
    subs = FakeEntitlements()
    subs.grant(WORKSPACE, now=clock.now(), days=365)
    docs = FakeDocuments()
    tasks = FakeTaskQueue()
    service = OnboardingDeps(
        repo=repo,
        unit=lambda: FakeOnboardingUnit(repo),
        drafts=FirestoreDrafts(docs),
        cache=RedisSessionCache(FakeKeyValue(clock)),
        tasks=tasks,
        clock=clock,
        ai_queue="onboarding-ai",
        functions_base_url="http://functions.test",
        entitlements=Entitlements(subs, clock),
    )
    started = onboarding.start_session(WORKSPACE, USER, deps=service)
    return World(clock, repo, docs, tasks, service, started.session["session_id"])


def deliver_until_acked(runner: SuggestionDeps, payload: dict[str, Any]) -> list[int]:
    """Cloud Tasks with the AI queue's config: deliver until 2xx or MAX_ATTEMPTS deliveries."""
    statuses: list[int] = []
    for retry_count in range(MAX_ATTEMPTS):
        outcome = run_suggestion(payload, retry_count=retry_count, deps=runner)
        statuses.append(outcome.status_code)
        if outcome.status_code < 300:
            break
    return statuses


# --- success ------------------------------------------------------------------------------------


def test_success_fills_the_suggestion_and_leaves_the_users_data_alone(world: World) -> None:
    world.save(2)
    typed = world.save(3)
    proposal = {"facts": [{"id": "f-1", "label": "ARR", "value": "  INR 1.2 Cr  ", "status": "pending"}]}
    model = ScriptedModel([proposal])
    payload = world.request(3)

    outcome = run_suggestion(payload, retry_count=0, deps=world.runner(model))

    assert (outcome.status_code, outcome.result, outcome.attempt) == (200, "succeeded", 1)
    ai = world.ai(3)
    assert ai["status"] == "succeeded"
    assert ai["attempts"] == 1
    assert ai["model"] == MODEL
    assert ai["error"] is None
    assert ai["finished_at"] == START.isoformat(timespec="microseconds")
    # Stored normalized, exactly as the step's validation would store it.
    assert ai["suggestion"] == validate_step(3, proposal, draft=True).data
    assert ai["suggestion"]["facts"][0]["value"] == "INR 1.2 Cr"
    assert world.step(3)["data"] == typed
    assert world.step(3)["version"] == 1


def test_the_prompt_holds_the_tasks_inputs_and_the_schema_is_the_steps(world: World) -> None:
    world.save(1)
    world.save(2)
    model = ScriptedModel([{"facts": []}])
    run_suggestion(world.request(3), retry_count=0, deps=world.runner(model))

    ((prompt, schema, timeout_s),) = model.calls
    evidence_title = FIXTURE["evidence_vault"]["items"][0]["title"]
    assert evidence_title in prompt  # step 3 reads step 2 ("from 2")
    assert FIXTURE["company_profile"]["description"] not in prompt  # ... and nothing else
    assert "extract facts" in prompt
    assert schema == response_schema(STEPS[2])
    assert timeout_s == 30.0


def test_a_suggestion_for_a_step_the_user_never_saved(world: World) -> None:
    world.save(1)
    proposal = {"dos": ["Quote numbers from the truth sheet"], "donts": ["Promise refunds"]}
    outcome = run_suggestion(world.request(16), retry_count=0, deps=world.runner(ScriptedModel([proposal])))
    assert outcome.status_code == 200
    step = world.step(16)
    assert step["ai"]["suggestion"] == proposal
    assert "data" not in step  # the suggestion never becomes the step's data


# --- failures and retries ---------------------------------------------------------------------------


def test_three_timeouts_give_failed_after_exactly_three_attempts(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.save(2)
    model = ScriptedModel([Unavailable("no answer within 30 s", "vertex", timeout=True)])
    runner = world.runner(model)
    payload = world.request(3)

    with caplog.at_level(logging.INFO):
        statuses = deliver_until_acked(runner, payload)
    # Only the last failure is the event the AI-failures alert counts; the retried ones are not.
    failed = [r for r in caplog.records if getattr(r, "event", None) == ops_events.AI_SUGGESTION_FAILED]
    assert [r.attempt for r in failed] == [3]  # type: ignore[attr-defined]

    assert statuses == [503, 503, 200]
    assert len(model.calls) == MAX_ATTEMPTS == 3
    ai = world.ai(3)
    assert ai["status"] == "failed"
    assert ai["attempts"] == 3
    assert "no answer within 30 s" in ai["error"]
    assert ai["suggestion"] is None
    assert ai["finished_at"] is not None
    # A stray fourth delivery finds the task finished and does nothing.
    extra = run_suggestion(payload, retry_count=3, deps=runner)
    assert (extra.status_code, extra.result) == (200, "skipped")
    assert len(model.calls) == 3


def test_between_attempts_the_step_shows_the_error_and_stays_in_flight(world: World) -> None:
    model = ScriptedModel([Unavailable("503 UNAVAILABLE", "vertex")])
    outcome = run_suggestion(world.request(12), retry_count=0, deps=world.runner(model))
    assert (outcome.status_code, outcome.result) == (503, "retry")
    ai = world.ai(12)
    assert ai["status"] == "queued"
    assert ai["attempts"] == 1
    assert "503 UNAVAILABLE" in ai["error"]
    # A second request while it waits for its retry returns the same task.
    again = onboarding.request_ai(world.session_id, 12, anyone, "req-2", deps=world.deps)
    assert again["task_id"] == ai["task_id"]
    assert world.tasks.take() == []


def test_invalid_json_is_retried_and_succeeds_on_attempt_two(world: World) -> None:
    model = ScriptedModel([InvalidOutput("the answer is not JSON"), {"one_liner": "Filing, done.", "headline": "GST"}])
    statuses = deliver_until_acked(world.runner(model), world.request(18))
    assert statuses == [503, 200]
    ai = world.ai(18)
    assert ai["status"] == "succeeded"
    assert ai["attempts"] == 2
    assert ai["error"] is None
    assert ai["suggestion"] == {"one_liner": "Filing, done.", "headline": "GST"}


def test_output_that_breaks_the_steps_schema_is_a_failed_attempt(world: World) -> None:
    bad = {"facts": [{"id": "f 1", "confidence": 7}], "invented": True}
    model = ScriptedModel([bad])
    statuses = deliver_until_acked(world.runner(model), world.request(3))
    assert statuses == [503, 503, 200]
    ai = world.ai(3)
    assert ai["status"] == "failed"
    assert ai["error"].startswith("invalid output: data.")
    assert ai["suggestion"] is None


def test_a_refused_request_fails_at_once(world: World) -> None:
    model = ScriptedModel([Rejected("400 INVALID_ARGUMENT: schema", "vertex", status=400)])
    outcome = run_suggestion(world.request(21), retry_count=0, deps=world.runner(model))
    assert (outcome.status_code, outcome.result) == (200, "failed")
    assert len(model.calls) == 1
    assert world.ai(21)["status"] == "failed"
    assert "refused" in world.ai(21)["error"]


def test_the_store_down_when_recording_the_result_asks_for_a_retry(world: World) -> None:
    def answer_then_outage() -> dict[str, Any]:
        world.docs.down = True
        return {"dos": ["Be plain"]}

    outcome = run_suggestion(world.request(16), retry_count=0, deps=world.runner(ScriptedModel([answer_then_outage])))
    assert (outcome.status_code, outcome.result) == (503, "retry")
    world.docs.down = False
    assert world.ai(16)["status"] == "running"  # nothing else was acknowledged


# --- deliveries acknowledged without work -------------------------------------------------------------


def test_a_finalized_session_is_acknowledged_without_calling_the_model(world: World) -> None:
    payload = world.request(6)
    world.repo.finalize(world.session_id)
    model = ScriptedModel([{"pricing_model": "recurring"}])
    outcome = run_suggestion(payload, retry_count=0, deps=world.runner(model))
    assert (outcome.status_code, outcome.result) == (200, "skipped")
    assert "finalized" in outcome.detail
    assert model.calls == []


def test_a_missing_session_is_acknowledged(world: World) -> None:
    payload = {**world.request(6), "session_id": "33333333-3333-4333-8333-333333333333"}
    model = ScriptedModel([{}])
    outcome = run_suggestion(payload, retry_count=0, deps=world.runner(model))
    assert (outcome.status_code, outcome.result) == (200, "skipped")
    assert model.calls == []


def test_a_superseded_task_is_acknowledged(world: World) -> None:
    payload = {**world.request(7), "task_id": "onboarding-ai-old-s07-r0"}
    model = ScriptedModel([{}])
    outcome = run_suggestion(payload, retry_count=0, deps=world.runner(model))
    assert (outcome.status_code, outcome.result) == (200, "skipped")
    assert world.ai(7)["status"] == "queued"
    assert model.calls == []


def test_a_task_delivered_hours_late_is_failed_and_acknowledged(world: World) -> None:
    payload = world.request(8)
    world.clock.advance(timedelta(hours=7).total_seconds())
    model = ScriptedModel([{"alternatives": []}])
    outcome = run_suggestion(payload, retry_count=0, deps=world.runner(model))
    assert (outcome.status_code, outcome.result) == (200, "failed")
    assert model.calls == []
    assert world.ai(8)["error"] == "the request expired before it ran"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"session_id": "x"},
        {"session_id": "x", "step": 0},
        {"session_id": "x", "step": True},
        {"session_id": "x", "step": 10},
    ],
)
def test_unusable_payloads_are_acknowledged(payload: dict[str, Any]) -> None:
    outcome = unusable_payload(payload)
    assert outcome is not None
    assert (outcome.status_code, outcome.result) == (200, "skipped")


def test_a_usable_payload_is_not_flagged() -> None:
    assert unusable_payload({"session_id": "x", "step": 3}) is None
