"""The port the AutoPay services use (PhonePe Subscriptions v2: UPI mandates), and its values.

A mandate is set up once (the customer approves it in a UPI app), then each charge is two
calls: ``notify_redemption`` (the pre-debit notice RBI requires) and, no earlier than
``valid_after`` (24 h after the notice went out), ``redeem``.  ``PhonePeClient``
(``lib.adapters.phonepe``) implements ``AutoPayGateway``; the values here are what the
services keep, so nothing in this module knows HTTP, PhonePe's JSON or its SDK.  States
and enum-like fields stay strings: PhonePe adds values without notice, and a service
that meets one it does not know must wait, not crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from lib.domain.autopay import PRE_DEBIT_NOTICE

Frequency = Literal[
    "DAILY", "WEEKLY", "FORTNIGHTLY", "MONTHLY", "BIMONTHLY", "QUARTERLY", "HALFYEARLY", "YEARLY", "ON_DEMAND"
]
# FIXED: every debit is the same amount; VARIABLE: any amount up to the mandate's maximum.
AmountType = Literal["FIXED", "VARIABLE"]
# TRANSACTION: the setup charges the customer ``amount``; PENNY_DROP: it only verifies the account.
AuthWorkflowType = Literal["TRANSACTION", "PENNY_DROP"]
# STANDARD: PhonePe retries a failed debit itself; CUSTOM: the merchant calls ``redeem`` again.
RedemptionRetryStrategy = Literal["STANDARD", "CUSTOM"]

# The pre-debit notice: a redemption may run no earlier than this long after its notification
# (RBI's rule, ``lib.domain.autopay.PRE_DEBIT_NOTICE``).
PRE_DEBIT_NOTICE_S = int(PRE_DEBIT_NOTICE.total_seconds())

# Mandate states the services branch on.  Only ACTIVE may be notified or redeemed; the ended
# ones never come back (a PAUSED mandate does, when the customer unpauses it).
MANDATE_ACTIVE = "ACTIVE"
MANDATE_PAUSED = "PAUSED"
MANDATE_ENDED_STATES = frozenset({"CANCELLED", "REVOKED", "FAILED", "EXPIRED"})
# A redemption order whose notice went out; ``redeem`` is allowed from ``valid_after``.
ORDER_NOTIFIED = "NOTIFIED"

# The callbacks PhonePe sends about mandates, ``event`` -> ``type`` (PhonePe asks merchants to
# read ``event``; ``type`` is what its SDK's ``CallbackType`` parses).  Order callbacks carry an
# order (``merchantOrderId``, ``state``, ``paymentFlow``, ``paymentDetails``); the mandate ones
# (cancelled, paused, unpaused, revoked) carry the subscription (``merchantSubscriptionId``).
SUBSCRIPTION_SETUP_ORDER_COMPLETED = "SUBSCRIPTION_SETUP_ORDER_COMPLETED"
SUBSCRIPTION_SETUP_ORDER_FAILED = "SUBSCRIPTION_SETUP_ORDER_FAILED"
SUBSCRIPTION_NOTIFICATION_COMPLETED = "SUBSCRIPTION_NOTIFICATION_COMPLETED"
SUBSCRIPTION_NOTIFICATION_FAILED = "SUBSCRIPTION_NOTIFICATION_FAILED"
SUBSCRIPTION_REDEMPTION_ORDER_COMPLETED = "SUBSCRIPTION_REDEMPTION_ORDER_COMPLETED"
SUBSCRIPTION_REDEMPTION_ORDER_FAILED = "SUBSCRIPTION_REDEMPTION_ORDER_FAILED"
SUBSCRIPTION_REDEMPTION_TRANSACTION_COMPLETED = "SUBSCRIPTION_REDEMPTION_TRANSACTION_COMPLETED"
SUBSCRIPTION_REDEMPTION_TRANSACTION_FAILED = "SUBSCRIPTION_REDEMPTION_TRANSACTION_FAILED"
SUBSCRIPTION_CANCELLED = "SUBSCRIPTION_CANCELLED"
SUBSCRIPTION_PAUSED = "SUBSCRIPTION_PAUSED"
SUBSCRIPTION_UNPAUSED = "SUBSCRIPTION_UNPAUSED"
SUBSCRIPTION_REVOKED = "SUBSCRIPTION_REVOKED"
SUBSCRIPTION_CALLBACKS: Mapping[str, str] = {
    t.lower().replace("_", "."): t
    for t in (
        SUBSCRIPTION_SETUP_ORDER_COMPLETED,
        SUBSCRIPTION_SETUP_ORDER_FAILED,
        SUBSCRIPTION_NOTIFICATION_COMPLETED,
        SUBSCRIPTION_NOTIFICATION_FAILED,
        SUBSCRIPTION_REDEMPTION_ORDER_COMPLETED,
        SUBSCRIPTION_REDEMPTION_ORDER_FAILED,
        SUBSCRIPTION_REDEMPTION_TRANSACTION_COMPLETED,
        SUBSCRIPTION_REDEMPTION_TRANSACTION_FAILED,
        SUBSCRIPTION_CANCELLED,
        SUBSCRIPTION_PAUSED,
        SUBSCRIPTION_UNPAUSED,
        SUBSCRIPTION_REVOKED,
    )
}
MANDATE_CALLBACKS = frozenset(
    {SUBSCRIPTION_CANCELLED, SUBSCRIPTION_PAUSED, SUBSCRIPTION_UNPAUSED, SUBSCRIPTION_REVOKED}
)


@dataclass(frozen=True)
class MandateSetup:
    """The setup order PhonePe created.  The customer approves the mandate in a UPI app:
    ``intent_url`` (a ``upi://mandate`` link) for UPI_INTENT, a request to their VPA for
    UPI_COLLECT; until then the order is PENDING."""

    phonepe_order_id: str | None
    state: str
    expire_at: datetime | None
    intent_url: str | None = None
    redirect_url: str | None = None


@dataclass(frozen=True)
class MandateStatus:
    """A mandate as PhonePe reports it; ``found`` False: PhonePe has no such subscription."""

    found: bool
    merchant_subscription_id: str | None = None
    subscription_id: str | None = None
    state: str | None = None
    auth_workflow_type: str | None = None
    amount_type: str | None = None
    max_amount_paise: int | None = None
    frequency: str | None = None
    expire_at: datetime | None = None
    pause_start: datetime | None = None
    pause_end: datetime | None = None


@dataclass(frozen=True)
class RedemptionNotice:
    """PhonePe accepted the pre-debit notice (``state`` PENDING until it reaches the customer)."""

    phonepe_order_id: str | None
    state: str
    expire_at: datetime | None


@dataclass(frozen=True)
class RedemptionResult:
    """The debit PhonePe started (``state`` PENDING); the order's status tells how it ended."""

    transaction_id: str | None
    state: str


@dataclass(frozen=True)
class AutoPayOrderStatus:
    """A setup or redemption order; ``found`` False: PhonePe has no such order.

    ``flow_type`` is SUBSCRIPTION_SETUP or SUBSCRIPTION_REDEMPTION.  For a redemption,
    ``notified_at``/``valid_after``/``valid_upto`` bound when ``redeem`` is allowed;
    for a setup, ``subscription_id`` is PhonePe's id of the mandate."""

    found: bool
    merchant_order_id: str | None = None
    phonepe_order_id: str | None = None
    state: str | None = None
    amount_paise: int | None = None
    expire_at: datetime | None = None
    error_code: str | None = None
    detailed_error_code: str | None = None
    payment_details: list[dict[str, Any]] = field(default_factory=list)
    meta_info: Mapping[str, Any] = field(default_factory=dict)
    flow_type: str | None = None
    merchant_subscription_id: str | None = None
    subscription_id: str | None = None
    notified_at: datetime | None = None
    valid_after: datetime | None = None
    valid_upto: datetime | None = None


class AutoPayGateway(Protocol):
    """PhonePe's mandates.  Raises ``Unavailable`` (try again later; for a write, read the
    status first), ``Rejected`` (PhonePe refused: a rule, a reused id) or ``Missing``
    (``redeem``/``cancel_mandate`` of something PhonePe does not know).  The writes are
    never retried blindly: a reused merchant order id is refused."""

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
        """Start a mandate: UPI_COLLECT to ``vpa`` when given, otherwise UPI_INTENT."""
        ...

    def mandate_status(self, merchant_subscription_id: str) -> MandateStatus: ...

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
        """The pre-debit notice of one charge (at most the mandate's maximum), on an ACTIVE mandate."""
        ...

    def redeem(self, merchant_order_id: str) -> RedemptionResult:
        """Debit a notified order, no earlier than its ``valid_after``."""
        ...

    def redemption_status(self, merchant_order_id: str) -> AutoPayOrderStatus:
        """A redemption (or setup) order's state; the webhook is only a hint, this is the answer."""
        ...

    def cancel_mandate(self, merchant_subscription_id: str) -> None:
        """Stop the mandate for good (PhonePe confirms with SUBSCRIPTION_CANCELLED)."""
        ...


__all__ = [
    "MANDATE_ACTIVE",
    "MANDATE_CALLBACKS",
    "MANDATE_ENDED_STATES",
    "MANDATE_PAUSED",
    "ORDER_NOTIFIED",
    "PRE_DEBIT_NOTICE_S",
    "SUBSCRIPTION_CALLBACKS",
    "SUBSCRIPTION_CANCELLED",
    "SUBSCRIPTION_NOTIFICATION_COMPLETED",
    "SUBSCRIPTION_NOTIFICATION_FAILED",
    "SUBSCRIPTION_PAUSED",
    "SUBSCRIPTION_REDEMPTION_ORDER_COMPLETED",
    "SUBSCRIPTION_REDEMPTION_ORDER_FAILED",
    "SUBSCRIPTION_REDEMPTION_TRANSACTION_COMPLETED",
    "SUBSCRIPTION_REDEMPTION_TRANSACTION_FAILED",
    "SUBSCRIPTION_REVOKED",
    "SUBSCRIPTION_SETUP_ORDER_COMPLETED",
    "SUBSCRIPTION_SETUP_ORDER_FAILED",
    "SUBSCRIPTION_UNPAUSED",
    "AmountType",
    "AuthWorkflowType",
    "AutoPayGateway",
    "AutoPayOrderStatus",
    "Frequency",
    "MandateSetup",
    "MandateStatus",
    "RedemptionNotice",
    "RedemptionResult",
    "RedemptionRetryStrategy",
]
