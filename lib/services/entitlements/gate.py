"""The one gate every paid action passes: ``Entitlements.check(workspace_id, action)``.

The rule is the domain's (``lib.domain.subscriptions``: ``entitlement``,
``require_open``, the plan's daily limits); this module reads the facts and
counts the uses.  Paid routes are hot (autosave), so an open answer is kept in
process memory for ``ttl_s`` seconds, never past the moment the rule says it
changes (period or grace end, on the injected clock).  A closed answer is never
kept: a workspace that just paid gets in at once.  ``forget`` drops one
workspace's answer (cancel, plan change) in this instance; other instances
notice within ``ttl_s``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

from lib.domain.subscriptions import (
    COUNTED,
    DEFAULT_GRACE,
    Entitlement,
    PaidAction,
    entitlement,
    limit_reached,
    require_open,
)
from lib.ports import Clock
from lib.services.entitlements.ports import EntitlementsRepo

# A cancelled or lapsed subscription is noticed within this long on a warm instance.
CACHE_TTL_S = 30.0
CACHE_MAX = 10_000


class Entitlements:
    def __init__(
        self,
        repo: EntitlementsRepo,
        clock: Clock,
        *,
        grace: timedelta = DEFAULT_GRACE,
        ttl_s: float = CACHE_TTL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._repo = repo
        self._clock = clock
        self._grace = grace
        self._ttl_s = ttl_s
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, Entitlement]] = {}
        self._lock = threading.Lock()

    def current(self, workspace_id: str) -> Entitlement:
        """The workspace's entitlement now (from the cache while it holds)."""
        now = self._clock.now()
        with self._lock:
            hit = self._cache.get(workspace_id)
        if hit is not None:
            stored_at, ent = hit
            fresh = self._monotonic() - stored_at < self._ttl_s
            if fresh and (ent.valid_until is None or now < ent.valid_until):
                return ent
        sub, limits = self._repo.entitlement_facts(workspace_id)
        ent = entitlement(workspace_id, sub, limits, now, self._grace)
        with self._lock:
            if ent.open:
                if len(self._cache) >= CACHE_MAX:
                    self._cache.clear()
                self._cache[workspace_id] = (self._monotonic(), ent)
            else:
                self._cache.pop(workspace_id, None)
        return ent

    def check(self, workspace_id: str, action: PaidAction) -> Entitlement:
        """Pass, or raise 402 ``subscription_inactive`` / 429 ``plan_limit_reached``.  A counted
        action (AI suggestion, rebuild, export) uses one of the day's allowance when it passes."""
        ent = self.current(workspace_id)
        require_open(ent, action)
        per_day = ent.limits.per_day(action) if action in COUNTED else None
        if per_day is not None:
            now = self._clock.now()
            if per_day <= 0 or not self._repo.use(workspace_id, action.value, now.date(), per_day):
                raise limit_reached(ent, action, now)
        return ent

    def forget(self, workspace_id: str) -> None:
        with self._lock:
            self._cache.pop(workspace_id, None)
