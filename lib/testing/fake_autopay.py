"""An in-memory ``AutoPayGateway`` (PhonePe's mandates) for unit tests.

It keeps what PhonePe keeps and refuses what PhonePe refuses (a debit before its 24-hour
notice, on a mandate that is not ACTIVE, above its maximum); tests play the customer and
the bank with ``approve``, ``decline``, ``settle`` and ``set_state``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from lib.errors import Missing, Rejected, Unavailable
from lib.ports import Clock
from lib.services.payments.autopay_ports import (
    PRE_DEBIT_NOTICE_S,
    AmountType,
    AuthWorkflowType,
    AutoPayOrderStatus,
    Frequency,
    MandateSetup,
    MandateStatus,
    RedemptionNotice,
    RedemptionResult,
    RedemptionRetryStrategy,
)
from lib.testing.fakes import ManualClock


class FakeAutoPay:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or ManualClock()
        self.down = False
        self.mandates: dict[str, dict[str, Any]] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def _call(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1
        if self.down:
            raise Unavailable("simulated outage", "phonepe")

    def setup_mandate(
        self,
        *,
        merchant_order_id: str,
        merchant_subscription_id: str,
        amount_paise: int,
        max_amount_paise: int,
        frequency: Frequency,
        amount_type: AmountType,
        auth_workflow_type: AuthWorkflowType,
        mandate_expire_at: datetime | None = None,
        order_expire_at: datetime | None = None,
        meta_info: Mapping[str, str] | None = None,
        vpa: str | None = None,
        target_app: str | None = None,
    ) -> MandateSetup:
        with self._lock:
            self._call("setup_mandate")
            if merchant_order_id in self.orders or merchant_subscription_id in self.mandates:
                raise Rejected("BAD_REQUEST: id reused", "phonepe")
            self.mandates[merchant_subscription_id] = {"state": "PENDING", "max": max_amount_paise}
            self.orders[merchant_order_id] = {
                "state": "PENDING",
                "amount": amount_paise,
                "msid": merchant_subscription_id,
                "meta": dict(meta_info or {}),
                "flow": "SUBSCRIPTION_SETUP",
            }
            return MandateSetup(f"OMO{merchant_order_id}", "PENDING", None, f"upi://mandate?o={merchant_order_id}")

    def mandate_status(self, merchant_subscription_id: str) -> MandateStatus:
        with self._lock:
            self._call("mandate_status")
            m = self.mandates.get(merchant_subscription_id)
            if m is None:
                return MandateStatus(found=False)
            return MandateStatus(
                True, merchant_subscription_id, f"OMS{merchant_subscription_id}", m["state"], max_amount_paise=m["max"]
            )

    def notify_redemption(
        self,
        *,
        merchant_order_id: str,
        merchant_subscription_id: str,
        amount_paise: int,
        expire_at: datetime | None = None,
        retry_strategy: RedemptionRetryStrategy = "STANDARD",
        auto_debit: bool = False,
        meta_info: Mapping[str, str] | None = None,
    ) -> RedemptionNotice:
        with self._lock:
            self._call("notify_redemption")
            m = self.mandates.get(merchant_subscription_id)
            if m is None or m["state"] != "ACTIVE":
                raise Rejected("SUBSCRIPTION_NOT_ACTIVE", "phonepe")
            if amount_paise > m["max"]:
                raise Rejected("AMOUNT_EXCEEDS_MAX", "phonepe")
            order = self.orders.setdefault(
                merchant_order_id,
                {
                    "state": "NOTIFIED",
                    "amount": amount_paise,
                    "msid": merchant_subscription_id,
                    "meta": {},
                    "flow": "SUBSCRIPTION_REDEMPTION",
                    "notified_at": self.clock.now(),
                },
            )
            return RedemptionNotice(f"OMO{merchant_order_id}", order["state"], expire_at)

    def redeem(self, merchant_order_id: str) -> RedemptionResult:
        with self._lock:
            self._call("redeem")
            order = self.orders.get(merchant_order_id)
            if order is None:
                raise Missing("no such order", "phonepe")
            if self.mandates[order["msid"]]["state"] != "ACTIVE":
                raise Rejected("SUBSCRIPTION_NOT_ACTIVE", "phonepe")
            if self.clock.now() < order["notified_at"] + timedelta(seconds=PRE_DEBIT_NOTICE_S):
                raise Rejected("REDEMPTION_BEFORE_NOTICE_PERIOD", "phonepe")
            if order["state"] == "NOTIFIED":
                order["state"] = "PENDING"
            return RedemptionResult(f"OM{merchant_order_id}", "PENDING")

    def redemption_status(self, merchant_order_id: str) -> AutoPayOrderStatus:
        with self._lock:
            self._call("redemption_status")
            order = self.orders.get(merchant_order_id)
            if order is None:
                return AutoPayOrderStatus(found=False)
            return AutoPayOrderStatus(
                True,
                merchant_order_id,
                f"OMO{merchant_order_id}",
                order["state"],
                order["amount"],
                error_code="PAYMENT_DECLINED" if order["state"] == "FAILED" else None,
                meta_info=order["meta"],
                flow_type=order["flow"],
                merchant_subscription_id=order["msid"],
            )

    def cancel_mandate(self, merchant_subscription_id: str) -> None:
        with self._lock:
            self._call("cancel_mandate")
            m = self.mandates.get(merchant_subscription_id)
            if m is None:
                raise Missing("no such subscription", "phonepe")
            m["state"] = "CANCELLED"

    # --- the customer and the bank ------------------------------------------------------------
    def approve(self, merchant_order_id: str) -> None:
        """The customer approves the mandate and pays the setup order."""
        order = self.orders[merchant_order_id]
        order["state"] = "COMPLETED"
        self.mandates[order["msid"]]["state"] = "ACTIVE"

    def settle(self, merchant_order_id: str, state: str = "COMPLETED") -> None:
        self.orders[merchant_order_id]["state"] = state

    def set_state(self, merchant_subscription_id: str, state: str) -> None:
        self.mandates[merchant_subscription_id]["state"] = state


__all__ = ["FakeAutoPay"]
