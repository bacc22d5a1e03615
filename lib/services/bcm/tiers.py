"""The BCM cache tiers: memory -> Redis -> Firestore -> Postgres, read-through with promotion.

- tier0: this instance's memory, at most ``MEMORY_TTL_S``, keyed by (workspace,
  version).  It is used only for the version the Redis *pointer* names, so a
  rebuild served by another instance is seen on the next read (one cheap
  ``MGET`` of the pointer, and of the latest job, per request).
- tier1: Redis, one key per (workspace, version) and the pointer, ``REDIS_TTL_S``.
- tier2: Firestore ``bcm_cache/<workspace>``, ``expires_at`` for the TTL policy
  (``FIRESTORE_TTL_S``); it survives a Redis flush or outage.  The manifest is
  stored as its canonical JSON string (Firestore refuses nested arrays, and a
  string keeps the bytes identical).
- origin: Postgres ``bcm_manifests`` (the caller's loader).

Every miss is filled from the next tier and the result promoted upwards.  A
tier that fails (``AdapterError``) is retried briefly with backoff when the
error is transient (tenacity), then skipped for ``BREAKER_OPEN_S`` so an
outage costs one timeout, not one per request; the read goes on to the next
tier and never fails because a cache did.  Writers move the pointer LAST:
origin first, then tier2, the tier1 entry, then the pointer.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from lib.domain.bcm import canonical_json
from lib.domain.bcm.records import Job, StoredManifest
from lib.errors import AdapterError
from lib.ports import Clock, Documents, KeyValue

log = logging.getLogger(__name__)

Tier = Literal["tier0", "tier1", "tier2", "origin"]
T = TypeVar("T")

# Instance memory may serve a version at most this long (docs/domain.md: at most 1 hour).
MEMORY_TTL_S = 3600
# Redis keeps a manifest a day after its last fill (docs/domain.md).
REDIS_TTL_S = 24 * 3600
# Firestore keeps it a week (docs/domain.md; the collection's TTL policy deletes on expires_at).
FIRESTORE_TTL_S = 7 * 24 * 3600
# The latest job's status is cached as long as the pointer: the manifest read shows it for a day.
JOB_TTL_S = REDIS_TTL_S
# A transient cache error is retried this many times in all, with backoff from ..
CACHE_ATTEMPTS = 2
# .. this many seconds (doubling, capped at 0.2 s): a blip is ridden out, an outage is not waited on.
CACHE_BACKOFF_S = 0.02
# After a tier failed, skip it this long (seconds) before trying again.
BREAKER_OPEN_S = 5.0
# Instance memory holds at most this many versions (a warm instance serves many workspaces).
MEMORY_MAX_ENTRIES = 2048
COLLECTION = "bcm_cache"
TTL_FIELD = "expires_at"


def pointer_key(workspace_id: str) -> str:
    return f"bcm:current:{workspace_id}"


def entry_key(workspace_id: str, version: str) -> str:
    return f"bcm:manifest:{workspace_id}:{version}"


def job_key(workspace_id: str) -> str:
    return f"bcm:job:{workspace_id}"


@dataclass(frozen=True)
class Served:
    """A manifest and the tier that served it; ``job`` is the latest rebuild when the read knew it."""

    manifest: StoredManifest
    served_from: Tier
    job: dict[str, Any] | None = None
    job_known: bool = False


def _encode(m: StoredManifest) -> dict[str, Any]:
    return {
        "workspace_id": m.workspace_id,
        "version": m.version,
        "checksum": m.checksum,
        "token_count": m.token_count,
        "manifest_json": canonical_json(m.manifest).decode("utf-8"),
        "source": m.source,
        "change": m.change,
        "created_at": m.created_at.astimezone(UTC).isoformat(),
        "business_context_id": m.business_context_id,
    }


def _decode(data: dict[str, Any]) -> StoredManifest:
    return StoredManifest(
        workspace_id=str(data["workspace_id"]),
        version=str(data["version"]),
        checksum=str(data["checksum"]),
        token_count=int(data["token_count"]),
        manifest=json.loads(data["manifest_json"]),
        source=str(data["source"]),
        change=str(data["change"]),
        created_at=datetime.fromisoformat(str(data["created_at"])),
        business_context_id=data.get("business_context_id"),
    )


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, AdapterError) and exc.retryable


class _Breaker:
    """Skip a failing tier for a while (per instance)."""

    def __init__(self, open_s: float, monotonic: Callable[[], float]) -> None:
        self._open_s = open_s
        self._monotonic = monotonic
        self._until = 0.0

    @property
    def open(self) -> bool:
        return self._monotonic() < self._until

    def trip(self) -> None:
        self._until = self._monotonic() + self._open_s

    def reset(self) -> None:
        self._until = 0.0


class ManifestCache:
    """The tiers above the origin, for every workspace an instance serves."""

    def __init__(
        self,
        kv: KeyValue,
        documents: Documents,
        clock: Clock,
        *,
        memory_ttl_s: int = MEMORY_TTL_S,
        breaker_s: float = BREAKER_OPEN_S,
        attempts: int = CACHE_ATTEMPTS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kv = kv
        self._docs = documents
        self._clock = clock
        self._memory_ttl_s = memory_ttl_s
        self._attempts = attempts
        self._monotonic = monotonic
        self._memory: dict[tuple[str, str], tuple[float, StoredManifest]] = {}
        self._lock = threading.Lock()
        self._redis = _Breaker(breaker_s, monotonic)
        self._firestore = _Breaker(breaker_s, monotonic)

    # --- guarded calls ---------------------------------------------------------------------
    def _call(self, breaker: _Breaker, what: str, fn: Callable[[], T]) -> tuple[bool, T | None]:
        """(ok, result): ``fn`` retried on transient errors; False when the tier failed or is skipped."""
        if breaker.open:
            return False, None
        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=CACHE_BACKOFF_S, max=0.2),
            retry=retry_if_exception(_transient),
            reraise=True,
        )
        try:
            result = retrying(fn)
        except AdapterError as exc:
            breaker.trip()
            log.warning("bcm.cache.tier_failed", extra={"tier": what, "error": str(exc)})
            return False, None
        breaker.reset()
        return True, result

    # --- tier0 ---------------------------------------------------------------------------------
    def _remember(self, m: StoredManifest) -> None:
        with self._lock:
            if len(self._memory) >= MEMORY_MAX_ENTRIES:
                self._memory.pop(next(iter(self._memory)))
            self._memory[(m.workspace_id, m.version)] = (self._monotonic() + self._memory_ttl_s, m)

    def _recall(self, workspace_id: str, version: str) -> StoredManifest | None:
        with self._lock:
            item = self._memory.get((workspace_id, version))
            if item is None:
                return None
            if self._monotonic() >= item[0]:
                del self._memory[(workspace_id, version)]
                return None
            return item[1]

    def forget_memory(self, workspace_id: str | None = None) -> None:
        """Drop this instance's tier0 entries (one workspace's, or all)."""
        with self._lock:
            for key in [k for k in self._memory if workspace_id is None or k[0] == workspace_id]:
                del self._memory[key]

    # --- reads ---------------------------------------------------------------------------------
    def read(self, workspace_id: str, origin: Callable[[], StoredManifest | None]) -> Served | None:
        """The current manifest from the first tier that has it, promoting it to the tiers above."""
        ok, values = self._call(
            self._redis, "tier1", lambda: self._kv.mget([pointer_key(workspace_id), job_key(workspace_id)])
        )
        pointer = values[0].decode() if ok and values and values[0] else None
        job: dict[str, Any] | None = json.loads(values[1]) if ok and values and values[1] else None
        if pointer is not None:
            remembered = self._recall(workspace_id, pointer)
            if remembered is not None:
                return Served(remembered, "tier0", job, job_known=True)
            got, raw = self._call(self._redis, "tier1", lambda: self._kv.get(entry_key(workspace_id, pointer)))
            if got and raw:
                m = _decode(json.loads(raw))
                self._remember(m)
                return Served(m, "tier1", job, job_known=True)
        cold = self._from_firestore(workspace_id, pointer)
        if cold is not None:
            self._promote(cold, to_firestore=False)
            return Served(cold, "tier2", job, job_known=ok and pointer is not None)
        stored = origin()
        if stored is None:
            return None
        self._promote(stored, to_firestore=True)
        return Served(stored, "origin", job, job_known=ok and pointer is not None)

    def _from_firestore(self, workspace_id: str, pointer: str | None) -> StoredManifest | None:
        ok, data = self._call(self._firestore, "tier2", lambda: self._docs.get(COLLECTION, workspace_id))
        if not ok or not data:
            return None
        expires = data.get(TTL_FIELD)
        if isinstance(expires, datetime) and expires <= self._clock.now():
            return None  # Firestore's TTL deletion lags; an expired copy is a miss
        if pointer is not None and data.get("version") != pointer:
            return None  # older than the version Redis names
        try:
            return _decode(data)
        except (KeyError, ValueError, TypeError):
            return None

    # --- writes --------------------------------------------------------------------------------
    def _promote(self, m: StoredManifest, *, to_firestore: bool) -> None:
        if to_firestore:
            self._put_firestore(m)
        self._put_redis(m)
        self._remember(m)

    def _put_firestore(self, m: StoredManifest) -> None:
        doc = {**_encode(m), TTL_FIELD: self._clock.now() + timedelta(seconds=FIRESTORE_TTL_S)}
        self._call(self._firestore, "tier2", lambda: self._docs.set(COLLECTION, m.workspace_id, doc))

    def _put_redis(self, m: StoredManifest) -> None:
        entry = json.dumps(_encode(m)).encode()

        def write() -> None:
            self._kv.set(entry_key(m.workspace_id, m.version), entry, ttl_s=REDIS_TTL_S)
            self._kv.set(pointer_key(m.workspace_id), m.version.encode(), ttl_s=REDIS_TTL_S)  # the pointer last

        self._call(self._redis, "tier1", write)

    def fill(self, m: StoredManifest) -> None:
        """A new current version (origin already written): tier2, the tier1 entry, then the pointer, then memory."""
        self._promote(m, to_firestore=True)

    def note_job(self, workspace_id: str, job: Job) -> None:
        """Cache the workspace's latest rebuild job (the manifest read shows it without a query)."""
        raw = json.dumps(job.brief()).encode()
        self._call(self._redis, "tier1", lambda: self._kv.set(job_key(workspace_id), raw, ttl_s=JOB_TTL_S))

    def invalidate(self, workspace_id: str, versions: list[str] | None = None) -> None:
        """Remove the workspace's cached entries in every tier (the origin is untouched)."""
        keys = [pointer_key(workspace_id)] + [entry_key(workspace_id, v) for v in versions or []]
        self._call(self._redis, "tier1", lambda: self._kv.delete(*keys))
        self._call(self._firestore, "tier2", lambda: self._docs.delete(COLLECTION, workspace_id))
        self.forget_memory(workspace_id)
