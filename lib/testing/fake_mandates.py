"""The in-memory ``MandatesRepo``, mixed into ``FakePayments`` (one store, one lock, one unit).

It stores; it keeps of the database only its keys: one live mandate per workspace and one
redemption per mandate and period end.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from lib.domain.autopay import Mandate, Redemption
from lib.domain.payment_records import Order, Subscription
from lib.errors import AlreadyExists, Unavailable

if TYPE_CHECKING:
    from lib.ports import Clock


class FakeMandatesMixin:
    """Needs ``_lock``, ``_check()``, ``clock`` and ``subscriptions`` from the store it is mixed into."""

    _lock: threading.RLock
    clock: Clock
    subscriptions: dict[str, Subscription]
    mandate_rows: dict[str, Mandate]
    redemption_rows: dict[str, Redemption]
    orders: dict[str, Order]

    def _check(self) -> None:  # pragma: no cover - the store's own
        raise Unavailable("not mixed in", "postgres")

    def add_mandate(self, mandate: Mandate) -> Mandate:
        with self._lock:
            self._check()
            if mandate.live and any(
                m.live and m.workspace_id == mandate.workspace_id for m in self.mandate_rows.values()
            ):
                raise AlreadyExists("duplicate key: mandates_one_live_per_workspace", "postgres")
            if mandate.merchant_subscription_id in self.mandate_rows:
                raise AlreadyExists("duplicate key", "postgres")
            stored = replace(mandate, id=mandate.id or str(uuid.uuid4()))
            self.mandate_rows[stored.merchant_subscription_id] = stored
            return stored

    def get_mandate(self, merchant_subscription_id: str, *, lock: bool = False) -> Mandate | None:
        with self._lock:
            self._check()
            return self.mandate_rows.get(merchant_subscription_id)

    def mandate_of_order(self, merchant_order_id: str) -> Mandate | None:
        with self._lock:
            self._check()
            redemption = self.redemption_rows.get(merchant_order_id)
            for m in self.mandate_rows.values():
                if m.setup_merchant_order_id == merchant_order_id or (redemption and redemption.mandate_id == m.id):
                    return m
            return None

    def charging_workspaces(self, workspace_ids: list[str]) -> set[str]:
        with self._lock:
            self._check()
            wanted = set(workspace_ids)
            return {m.workspace_id for m in self.mandate_rows.values() if m.charges and m.workspace_id in wanted}

    def live_mandate(self, workspace_id: str) -> Mandate | None:
        with self._lock:
            self._check()
            return next((m for m in self.mandate_rows.values() if m.live and m.workspace_id == workspace_id), None)

    def set_mandate(
        self,
        merchant_subscription_id: str,
        *,
        state: str | None = None,
        phonepe_subscription_id: str | None = None,
        autopay_off: bool = False,
    ) -> Mandate | None:
        with self._lock:
            self._check()
            m = self.mandate_rows.get(merchant_subscription_id)
            if m is None:
                return None
            m = replace(
                m,
                state=state or m.state,
                phonepe_subscription_id=phonepe_subscription_id or m.phonepe_subscription_id,
                autopay_off_at=m.autopay_off_at or (self.clock.now() if autopay_off else None),
            )
            self.mandate_rows[merchant_subscription_id] = m
            return m

    def renewals_to_notify(self, horizon_end: datetime, limit: int) -> list[tuple[Mandate, Subscription]]:
        with self._lock:
            self._check()
            out = []
            for m in self.mandate_rows.values():
                sub = self.subscriptions.get(m.workspace_id)
                if m.state != "ACTIVE" or m.autopay_off_at or sub is None or sub.current_period_end is None:
                    continue
                end = sub.current_period_end
                taken = any(r.mandate_id == m.id and r.renews_from == end for r in self.redemption_rows.values())
                if end < horizon_end and not taken:
                    out.append((m, sub))
            out.sort(key=lambda pair: pair[1].current_period_end or horizon_end)
            return out[:limit]

    def add_redemption(self, redemption: Redemption) -> bool:
        with self._lock:
            self._check()
            if any(
                r.mandate_id == redemption.mandate_id and r.renews_from == redemption.renews_from
                for r in self.redemption_rows.values()
            ):
                return False
            self.redemption_rows[redemption.merchant_order_id] = redemption
            return True

    def get_redemption(self, merchant_order_id: str) -> Redemption | None:
        with self._lock:
            self._check()
            return self.redemption_rows.get(merchant_order_id)

    def unnotified_redemptions(self, limit: int) -> list[Redemption]:
        with self._lock:
            self._check()
            waiting = [
                r
                for r in self.redemption_rows.values()
                if r.notified_at is None and self.orders[r.merchant_order_id].state == "CREATED"
            ]
            return sorted(waiting, key=lambda r: r.due_at)[:limit]

    def mark_notified(self, merchant_order_id: str, at: datetime) -> None:
        with self._lock:
            self._check()
            r = self.redemption_rows.get(merchant_order_id)
            if r is not None and r.notified_at is None:
                self.redemption_rows[merchant_order_id] = replace(r, notified_at=at)

    def redemptions_to_redeem(self, now: datetime, limit: int) -> list[Redemption]:
        with self._lock:
            self._check()
            due = [
                r
                for r in self.redemption_rows.values()
                if r.notified_at is not None and r.redeem_requested_at is None and r.due_at <= now
            ]
            return sorted(due, key=lambda r: r.due_at)[:limit]

    def stuck_redemptions(self, asked_before: datetime, limit: int) -> list[str]:
        with self._lock:
            self._check()
            orders = self.orders
            return [
                r.merchant_order_id
                for r in sorted(self.redemption_rows.values(), key=lambda r: r.redeem_requested_at or asked_before)
                if r.redeem_requested_at is not None
                and r.redeem_requested_at < asked_before
                and orders[r.merchant_order_id].state in ("CREATED", "PENDING")
            ][:limit]

    def mark_redeem_requested(self, merchant_order_id: str, at: datetime) -> bool:
        with self._lock:
            self._check()
            r = self.redemption_rows.get(merchant_order_id)
            if r is None or r.redeem_requested_at is not None:
                return False
            self.redemption_rows[merchant_order_id] = replace(r, redeem_requested_at=at)
            return True
