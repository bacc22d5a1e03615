"""Refunds: what may be given back, and what a refund takes back from the subscription.

A refund is an operator's decision on one paid order, full or partial, keyed by
our ``merchantRefundId`` (a retry of the same request is the same refund, never
a second one).  The refunds of an order that have not failed never add up to
more than it was paid; a failed refund gives its amount back.  The order moves
to ``REFUNDED`` once completed refunds cover all of it.

Money out means time out, when the money has actually gone: a COMPLETED refund
takes back the same share of the time the order bought (``time_taken_back``),
from the end of the subscription.  Time already used is not taken back twice:
a refund of an order whose bought time is over changes nothing.  If nothing is
left, the subscription ends at once (``cancelled``, no grace).
The database's ``refunds_guard`` trigger enforces the amounts too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from lib.domain.payment_records import COMPLETED, REFUNDED, Order, Subscription
from lib.domain.payments import MERCHANT_ID_RE
from lib.domain.subscriptions import SubscriptionStatus, next_sweep_at
from lib.errors import Conflict, FieldError, NotFound, Unprocessable

MAX_REASON = 500
MAX_REQUESTED_BY = 200


class RefundState(StrEnum):
    REQUESTED = "REQUESTED"  # our row is written; PhonePe's answer is not known yet
    PENDING = "PENDING"  # PhonePe accepted it (its PENDING or CONFIRMED)
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


OPEN_REFUND_STATES: tuple[str, ...] = (RefundState.REQUESTED.value, RefundState.PENDING.value)
REFUND_EMAIL = "refund-completed"


@dataclass(frozen=True)
class Refund:
    id: str
    merchant_refund_id: str
    merchant_order_id: str
    workspace_id: str
    amount_paise: int
    reason: str
    requested_by: str
    state: str
    phonepe_refund_id: str | None
    error_code: str | None
    completed_at: datetime | None
    created_at: datetime

    @property
    def open(self) -> bool:
        return self.state in OPEN_REFUND_STATES

    def as_json(self) -> dict[str, Any]:
        return {
            "merchant_refund_id": self.merchant_refund_id,
            "merchant_order_id": self.merchant_order_id,
            "amount_paise": self.amount_paise,
            "state": self.state,
            "reason": self.reason,
            "phonepe_refund_id": self.phonepe_refund_id,
            "error_code": self.error_code,
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class NewRefund:
    merchant_refund_id: str
    merchant_order_id: str
    workspace_id: str
    amount_paise: int
    reason: str
    requested_by: str


@dataclass(frozen=True)
class RefundRequest:
    """An operator's refund: ``amount_paise`` None means all that is still refundable."""

    merchant_order_id: str
    merchant_refund_id: str
    reason: str
    requested_by: str
    amount_paise: int | None = None


class OrderNotRefundable(Conflict):
    code, title = "order_not_refundable", "Order not refundable"


class RefundIdConflict(Conflict):
    code, title = "refund_id_conflict", "Refund id already used"


def gateway_refund_state(state: str | None) -> RefundState | None:
    """PhonePe's refund state as ours; None for one we do not know (kept open, checked again)."""
    return {
        "PENDING": RefundState.PENDING,
        "CONFIRMED": RefundState.PENDING,
        "COMPLETED": RefundState.COMPLETED,
        "FAILED": RefundState.FAILED,
    }.get(state or "")


def validate_request(req: RefundRequest) -> None:
    """422 naming each bad field; nothing is looked up yet."""
    errors: list[FieldError] = []
    if not MERCHANT_ID_RE.fullmatch(req.merchant_order_id):
        errors.append(FieldError("merchant_order_id", "must be 1-63 of A-Z a-z 0-9 _ -"))
    if not MERCHANT_ID_RE.fullmatch(req.merchant_refund_id):
        errors.append(FieldError("merchant_refund_id", "must be 1-63 of A-Z a-z 0-9 _ -"))
    if not req.reason.strip() or len(req.reason) > MAX_REASON:
        errors.append(FieldError("reason", f"must be 1-{MAX_REASON} characters, not blank"))
    if not req.requested_by.strip() or len(req.requested_by) > MAX_REQUESTED_BY:
        errors.append(FieldError("requested_by", f"must be 1-{MAX_REQUESTED_BY} characters"))
    if req.amount_paise is not None and req.amount_paise < 1:
        errors.append(FieldError("amount_paise", "must be at least 1 paisa"))
    if errors:
        raise Unprocessable("The refund request is not valid.", code="invalid_refund", errors=errors)


def refunded_so_far(refunds: Iterable[Refund]) -> int:
    """What is given back or on its way (every refund that has not failed)."""
    return sum(r.amount_paise for r in refunds if r.state != RefundState.FAILED)


def completed_total(refunds: Iterable[Refund]) -> int:
    return sum(r.amount_paise for r in refunds if r.state == RefundState.COMPLETED)


def same_request(existing: Refund, req: RefundRequest) -> bool:
    """A retry of an earlier request: the same order and (when given) the same amount."""
    return existing.merchant_order_id == req.merchant_order_id and (
        req.amount_paise is None or req.amount_paise == existing.amount_paise
    )


def refund_amount(order: Order | None, refunds: list[Refund], req: RefundRequest) -> int:
    """The amount to refund now, or why not: 404 no such order, 409 not paid or nothing left,
    422 more than is left."""
    if order is None:
        raise NotFound(f"No order {req.merchant_order_id}.", code="order_not_found")
    if order.state not in (COMPLETED, REFUNDED):
        raise OrderNotRefundable(
            f"Order {order.merchant_order_id} is {order.state}: only a paid order can be refunded.",
            extra={"merchant_order_id": order.merchant_order_id, "state": order.state},
        )
    left = order.amount_paise - refunded_so_far(refunds)
    if left <= 0:
        raise OrderNotRefundable(
            f"Order {order.merchant_order_id} is refunded in full already.",
            extra={"merchant_order_id": order.merchant_order_id, "refundable_paise": 0},
        )
    amount = left if req.amount_paise is None else req.amount_paise
    if amount > left:
        raise Unprocessable(
            "The refund is larger than what is left to refund.",
            code="refund_exceeds_paid",
            errors=[FieldError("amount_paise", f"must be at most {left} (paid {order.amount_paise})")],
            extra={"refundable_paise": left},
        )
    return amount


def fully_refunded(order: Order, refunds: Iterable[Refund]) -> bool:
    return completed_total(refunds) >= order.amount_paise > 0


def time_taken_back(order: Order, refund_paise: int) -> timedelta:
    """The share of the order's bought time a refund of ``refund_paise`` takes back, rounded up
    to the second (a refund never leaves the customer more time than they paid for)."""
    if order.period_start is None or order.period_end is None or order.amount_paise <= 0:
        return timedelta(0)
    bought = int((order.period_end - order.period_start).total_seconds())
    seconds = -(-bought * min(refund_paise, order.amount_paise) // order.amount_paise)
    return timedelta(seconds=seconds)


def after_refund(
    sub: Subscription | None, order: Order, refund_paise: int, now: datetime, grace: timedelta
) -> Subscription | None:
    """The subscription once a refund of ``refund_paise`` on ``order`` has completed, or None when
    it does not change (no paid period, another workspace's, or the order's time is used up)."""
    if sub is None or sub.current_period_end is None or sub.workspace_id != order.workspace_id:
        return None
    if order.period_end is None or order.period_end <= now:
        return None
    end = sub.current_period_end - time_taken_back(order, refund_paise)
    if end > now:
        shortened = replace(sub, current_period_end=end)
        return replace(shortened, next_sweep_at=next_sweep_at(shortened, now, grace))
    # Nothing left: ends now, without grace; no renewal or change is pending any more.
    ended_at = max(now, sub.current_period_start + timedelta(microseconds=1))
    return replace(
        sub,
        status=SubscriptionStatus.CANCELLED.value,
        current_period_end=ended_at,
        cancel_at_period_end=False,
        scheduled_plan_id=None,
        scheduled_billing_period=None,
        next_sweep_at=None,
    )
