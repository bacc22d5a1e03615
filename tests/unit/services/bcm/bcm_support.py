"""Shared set-up for the BCM unit tests: the BCM use cases over in-memory fakes.

The onboarding session store is the real ``OnboardingService`` over its
fakes (``tests.unit.services.onboarding.onboarding_support.Rig``), so finalize reads steps exactly
as in production.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lib.domain.bcm import ReducedManifest, Source, reduce_context
from lib.services.bcm.deps import BcmConfig, BcmDeps
from lib.services.bcm.sessions import OnboardingStoreSessions
from lib.services.bcm.tiers import ManifestCache
from lib.testing.fake_bcm import FakeBcmRepo, FakeBcmUnit
from lib.testing.fakes import FakeBlobs, FakeDocuments, FakeKeyValue, FakeTaskQueue, ManualClock
from tests.unit.services.onboarding.onboarding_support import Rig, complete_data

EXPORTS = "bcm-exports-unit"
BASE_URL = "http://functions.test"


class Monotonic:
    """A hand-driven monotonic clock for the cache's memory TTL and breakers."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@dataclass
class BcmRig:
    onboarding: Rig = field(default_factory=Rig)
    repo: FakeBcmRepo = field(init=False)
    kv: FakeKeyValue = field(init=False)
    docs: FakeDocuments = field(default_factory=FakeDocuments)
    blobs: FakeBlobs = field(init=False)
    tasks: FakeTaskQueue = field(default_factory=FakeTaskQueue)
    mono: Monotonic = field(default_factory=Monotonic)
    cache: ManifestCache = field(init=False)
    deps: BcmDeps = field(init=False)
    fail_reduce: Exception | None = None

    def __post_init__(self) -> None:
        clock = self.onboarding.clock
        self.repo = FakeBcmRepo(clock)
        self.kv = self.onboarding.kv  # one Redis for sessions and the BCM, as in production
        self.blobs = FakeBlobs(clock, buckets=[EXPORTS])
        self.cache = self.new_cache()
        self.deps = BcmDeps(
            repo=self.repo,
            cache=self.cache,
            blobs=self.blobs,
            tasks=self.tasks,
            clock=clock,
            config=BcmConfig(exports_bucket=EXPORTS, rebuild_queue="bcm-rebuild", functions_base_url=BASE_URL),
            entitlements=self.onboarding.deps.entitlements,
            unit=lambda: FakeBcmUnit(self.repo),
            sessions=OnboardingStoreSessions(self.onboarding.deps),
            reduce=self._reduce,
        )

    def new_cache(self) -> ManifestCache:
        """Another instance's cache (its own tier0) over the same Redis and Firestore."""
        return ManifestCache(self.kv, self.docs, self.onboarding.clock, breaker_s=0.0, monotonic=self.mono)

    def _reduce(self, context: Mapping[str, Any], *, source: Source) -> ReducedManifest:
        if self.fail_reduce is not None:
            raise self.fail_reduce
        return reduce_context(context, source=source)

    @property
    def clock(self) -> ManualClock:
        return self.onboarding.clock

    @property
    def workspace(self) -> str:
        return self.onboarding.workspace

    def completed_session(self, *, skip: tuple[int, ...] = ()) -> str:
        session_id = self.onboarding.start()
        # The onboarding_sessions row finalize locks (the onboarding fake keeps its own copy).
        self.repo.sessions[session_id] = ("active", self.onboarding.user)
        for number, data in complete_data().items():
            if number not in skip:
                self.onboarding.save(session_id, number, data)
        return session_id

    def mine(self, workspace_id: str) -> bool:
        return workspace_id == self.workspace
