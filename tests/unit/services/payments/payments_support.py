"""What the payment service tests share: the payment services over the in-memory fakes, a signed-up
owner, and a plan bought and granted through the one grant rule."""

from __future__ import annotations

from typing import Any

from lib.domain.payment_records import NewOrder
from lib.services.payments import grants
from lib.testing.fake_payments import FakeGateway, FakePayments, FakePaymentsUnit, payment_deps
from lib.testing.fakes import FakeTaskQueue, ManualClock

DAY = 86400.0


class PaymentsRig:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.repo = FakePayments(self.clock)
        self.deps = payment_deps(self.repo, lambda: FakePaymentsUnit(self.repo), self.clock)
        assert isinstance(self.deps.gateway, FakeGateway)
        assert isinstance(self.deps.tasks, FakeTaskQueue)
        self.gateway: FakeGateway = self.deps.gateway
        self.tasks: FakeTaskQueue = self.deps.tasks
        self.user, self.ws = self.repo.add_user("ada@example.com", "Ada")

    def buy(self, plan: str = "starter", period: str = "monthly") -> str:
        """A checkout order PhonePe completed, granted: its merchant order id."""
        mid = f"ord_{len(self.repo.orders)}"
        price = self.repo.plans[plan].price(period)
        assert price is not None
        self.repo.create_order(NewOrder(mid, self.ws, self.user, plan, period, price))
        self.gateway.orders[mid] = {"state": "COMPLETED", "amount": price, "meta": {}, "expire_at": None}
        assert grants.grant(self.deps, mid, payment_details=None, email_subject="s").granted
        return mid

    def emails(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.repo.outbox.values() if r["kind"] == kind]
