"""What every onboarding use case takes: its ports and configuration (fakes in unit tests)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lib.ports import Clock, TaskQueue
from lib.services.entitlements.gate import Entitlements
from lib.services.onboarding import ai_contract as ai
from lib.services.onboarding.ports import DraftStore, OnboardingRepo, OnboardingUnit, SessionCache


@dataclass(frozen=True)
class OnboardingDeps:
    """The onboarding services' ports: the Postgres mirror, the durable drafts, their hot copy,
    the task queue for AI requests, the clock and the plan gate."""

    repo: OnboardingRepo
    # A new unit of work per call: ``with deps.unit() as uow: ...; uow.commit()``.
    unit: Callable[[], OnboardingUnit]
    drafts: DraftStore
    cache: SessionCache
    tasks: TaskQueue
    clock: Clock
    entitlements: Entitlements
    ai_queue: str
    functions_base_url: str

    @property
    def ai_url(self) -> str:
        """Where the AI worker's tasks are delivered."""
        return self.functions_base_url.rstrip("/") + ai.WORKER_PATH
