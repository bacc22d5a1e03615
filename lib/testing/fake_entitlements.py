"""An in-memory ``EntitlementsRepo``: subscriptions, plan limits and usage counters (it stores;
the rule is the gate's).  Share a ``FakePayments``' ``subscriptions`` dict to see its grants."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

from lib.domain.payment_records import Subscription
from lib.domain.subscriptions import PlanLimits
from lib.errors import Unavailable

# The limits migration 006 seeds.
SEEDED_LIMITS = {
    "free": PlanLimits(2, 5, 20),
    "starter": PlanLimits(10, 50, 200),
    "growth": PlanLimits(50, 200, 1000),
    "enterprise": PlanLimits(),
}


class FakeEntitlements:
    def __init__(self, subscriptions: dict[str, Subscription] | None = None) -> None:
        self.subscriptions: dict[str, Subscription] = {} if subscriptions is None else subscriptions
        self.limits = dict(SEEDED_LIMITS)
        self.usage: dict[tuple[str, str, date], int] = {}
        self.down = False
        self.reads = 0
        self._lock = threading.Lock()

    def grant(self, workspace_id: str, plan_id: str = "starter", *, now: datetime, days: int = 30) -> Subscription:
        """Test helper: a paid (or, for ``free``, endless) active subscription from ``now``."""
        end = None if plan_id == "free" else now + timedelta(days=days)
        sub = Subscription(workspace_id, plan_id, "monthly", "active", now, end)
        self.subscriptions[workspace_id] = sub
        return sub

    def _check(self) -> None:
        if self.down:
            raise Unavailable("simulated outage", "postgres")

    def entitlement_facts(self, workspace_id: str) -> tuple[Subscription | None, PlanLimits]:
        with self._lock:
            self._check()
            self.reads += 1
            sub = self.subscriptions.get(workspace_id)
            return sub, (self.limits.get(sub.plan_id, PlanLimits()) if sub else PlanLimits())

    def use(self, workspace_id: str, action: str, day: date, limit: int) -> bool:
        with self._lock:
            self._check()
            key = (workspace_id, action, day)
            if self.usage.get(key, 0) >= limit:
                return False
            self.usage[key] = self.usage.get(key, 0) + 1
            return True

    def used(self, workspace_id: str, day: date) -> dict[str, int]:
        with self._lock:
            self._check()
            return {a: n for (ws, a, d), n in self.usage.items() if ws == workspace_id and d == day}
