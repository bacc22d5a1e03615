"""What the BCM use cases need, in one place (built by ``lib.bootstrap.Container.bcm``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lib.domain.bcm import ReducedManifest, Source, reduce_context
from lib.ports import Blobs, Clock, TaskQueue
from lib.queues import BCM
from lib.services.bcm.ports import BcmRepo, BcmUnit, OnboardingSessions
from lib.services.bcm.tiers import ManifestCache
from lib.services.entitlements.gate import Entitlements

# A signed export link works this long: enough to click it, short enough not to leak for long.
EXPORT_URL_TTL_S = 15 * 60
# Cloud Tasks delivers a rebuild at most this many times (the bcm-rebuild queue's max_attempts, lib/queues.json).
REBUILD_MAX_ATTEMPTS = BCM.retry.max_attempts
# Path of the rebuild worker under the functions' base URL.
REBUILD_WORKER_PATH = "/bcm_rebuild/"

Reducer = Callable[..., ReducedManifest]


@dataclass(frozen=True)
class BcmConfig:
    exports_bucket: str
    rebuild_queue: str
    functions_base_url: str
    export_url_ttl_s: int = EXPORT_URL_TTL_S
    rebuild_max_attempts: int = REBUILD_MAX_ATTEMPTS

    @property
    def rebuild_url(self) -> str:
        return self.functions_base_url.rstrip("/") + REBUILD_WORKER_PATH


def _reduce(context: Mapping[str, Any], *, source: Source) -> ReducedManifest:
    return reduce_context(context, source=source)


@dataclass
class BcmDeps:
    repo: BcmRepo
    cache: ManifestCache
    blobs: Blobs
    tasks: TaskQueue
    clock: Clock
    config: BcmConfig
    # The paid-action gate (finalize, rebuild, export, recommendations, guardrails).
    entitlements: Entitlements
    # A new unit of work per call: ``with deps.unit() as uow: ...; uow.commit()`` (finalize).
    unit: Callable[[], BcmUnit]
    sessions: OnboardingSessions | None = None  # finalize only
    # The reducer (a seam: tests inject one that fails to prove a failed rebuild leaves the old version).
    reduce: Reducer = field(default=_reduce)
