"""What the entitlement gate reads and counts (``PostgresEntitlements``; ``FakeEntitlements`` in tests)."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from lib.domain.payment_records import Subscription
from lib.domain.subscriptions import PlanLimits


class EntitlementsRepo(Protocol):
    def entitlement_facts(self, workspace_id: str) -> tuple[Subscription | None, PlanLimits]:
        """The workspace's subscription (None: none yet) and its plan's daily limits."""
        ...

    def use(self, workspace_id: str, action: str, day: date, limit: int) -> bool:
        """Count one use of ``action`` on ``day`` when fewer than ``limit`` were counted (one atomic
        statement: concurrent callers never pass the limit together); False when the limit is reached."""
        ...

    def used(self, workspace_id: str, day: date) -> dict[str, int]:
        """Uses counted on ``day`` by action (absent: none)."""
        ...
