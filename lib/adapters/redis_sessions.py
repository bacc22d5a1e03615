"""The hot onboarding session cache on Redis (``SessionCache``).

One key per session holding ``{"doc": <the whole document>, "version": <its
Firestore update_time or null>}`` as JSON, with a 7-day TTL refreshed on every
write (a bare document, the earlier format, reads as one without a version).
The version lets the next save write without reading Firestore first.

The cache is an accelerator, never a source of truth: every error is
swallowed (logged) and reads as a miss, and after a failure Redis is skipped
for a few seconds so a stopped server does not add its timeout to every save
and read (``lib.services.onboarding.service`` detects stale
copies, so skipped writes cannot serve old data later).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from lib.errors import AdapterError
from lib.ports import KeyValue

log = logging.getLogger(__name__)

KEY_PREFIX = "onb:session:"
# Hot copies live a week after their last write (docs/domain.md: 7-day TTL, refreshed on write).
SESSION_TTL_S = 7 * 24 * 3600
# After a Redis error, go straight to Firestore for this long before trying Redis again.
BREAKER_OPEN_S = 5.0
_DOC, _VERSION = "doc", "version"  # the two fields of a cached entry


def session_key(session_id: str) -> str:
    return f"{KEY_PREFIX}{session_id}"


class RedisSessionCache:
    """``lib.services.onboarding.ports.SessionCache`` over any ``KeyValue``."""

    def __init__(
        self,
        kv: KeyValue,
        *,
        ttl_s: int = SESSION_TTL_S,
        breaker_s: float = BREAKER_OPEN_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kv = kv
        self._ttl = ttl_s
        self._breaker_s = breaker_s
        self._monotonic = monotonic
        self._open_until = 0.0
        self._lock = threading.Lock()

    def _skipping(self) -> bool:
        with self._lock:
            return self._monotonic() < self._open_until

    def _failed(self, op: str, exc: AdapterError) -> None:
        with self._lock:
            self._open_until = self._monotonic() + self._breaker_s
        log.warning("onboarding.cache_unavailable", extra={"op": op, "error": str(exc)})

    def get(self, session_id: str) -> dict[str, Any] | None:
        found = self.get_versioned(session_id)
        return None if found is None else found[0]

    def get_versioned(self, session_id: str) -> tuple[dict[str, Any], str | None] | None:
        if self._skipping():
            return None
        try:
            raw = self._kv.get(session_key(session_id))
        except AdapterError as exc:
            self._failed("get", exc)
            return None
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(value, dict):
            return None
        doc, version = value.get(_DOC), value.get(_VERSION)
        if isinstance(doc, dict):
            return doc, version if isinstance(version, str) else None
        return value, None  # a bare document (the earlier format)

    def put(self, session_id: str, doc: Mapping[str, Any], version: str | None = None) -> bool:
        if self._skipping():
            return False
        raw = json.dumps({_DOC: doc, _VERSION: version}, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            self._kv.set(session_key(session_id), raw, ttl_s=self._ttl)
        except AdapterError as exc:
            self._failed("put", exc)
            return False
        return True

    def drop(self, session_id: str) -> bool:
        try:
            return self._kv.delete(session_key(session_id)) > 0
        except AdapterError as exc:
            self._failed("drop", exc)
            return False
