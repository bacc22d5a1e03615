"""Shared set-up for the onboarding unit tests: the service over in-memory fakes."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lib.adapters.firestore_drafts import FirestoreDrafts
from lib.adapters.redis_sessions import RedisSessionCache
from lib.domain.steps import STEPS
from lib.services import onboarding
from lib.services.entitlements.gate import Entitlements
from lib.services.onboarding import OnboardingDeps
from lib.testing.fake_entitlements import FakeEntitlements
from lib.testing.fake_onboarding import FakeOnboardingRepo, FakeOnboardingUnit
from lib.testing.fakes import FakeDocuments, FakeKeyValue, FakeTaskQueue, ManualClock

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "steps_complete.json"
AI_QUEUE = "onboarding-ai"
BASE_URL = "http://functions.test"


def complete_data() -> dict[int, dict[str, Any]]:
    """Realistic complete data for every step, by number."""
    by_slug = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return {step.number: by_slug[step.slug] for step in STEPS}


@dataclass
class Rig:
    clock: ManualClock = field(default_factory=ManualClock)
    repo: FakeOnboardingRepo = field(init=False)
    documents: FakeDocuments = field(default_factory=FakeDocuments)
    kv: FakeKeyValue = field(init=False)
    tasks: FakeTaskQueue = field(default_factory=FakeTaskQueue)
    subs: FakeEntitlements = field(default_factory=FakeEntitlements)
    cache_breaker_s: float = 0.0
    deps: OnboardingDeps = field(init=False)
    workspace: str = field(default_factory=lambda: str(uuid.uuid4()))
    user: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        self.repo = FakeOnboardingRepo(self.clock)
        self.kv = FakeKeyValue(self.clock)
        self.deps = OnboardingDeps(
            repo=self.repo,
            unit=lambda: FakeOnboardingUnit(self.repo),
            drafts=FirestoreDrafts(self.documents),
            cache=RedisSessionCache(self.kv, breaker_s=self.cache_breaker_s),
            tasks=self.tasks,
            clock=self.clock,
            ai_queue=AI_QUEUE,
            functions_base_url=BASE_URL,
            entitlements=Entitlements(self.subs, self.clock),
        )
        self.subs.grant(self.workspace, now=self.clock.now(), days=365)

    def mine(self, workspace_id: str) -> bool:
        return workspace_id == self.workspace

    def start(self) -> str:
        return str(onboarding.start_session(self.workspace, self.user, deps=self.deps).session["session_id"])

    def save(self, session_id: str, number: int, data: Any, *, draft: bool = False, version: int | None = None) -> Any:
        body: dict[str, Any] = {"data": data, "draft": draft}
        if version is not None:
            body["version"] = version
        return onboarding.save_step(session_id, number, body, self.mine, deps=self.deps)

    def read(self, session_id: str) -> dict[str, Any]:
        return onboarding.get_session(session_id, self.mine, deps=self.deps)

    def stored(self, session_id: str) -> dict[str, Any] | None:
        return self.documents.get("onboarding_drafts", session_id)
