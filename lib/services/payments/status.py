"""payment_status: one order's state for its owner; a stale PENDING order is checked with PhonePe now.

The live check is rate-limited per order through KeyValue (``set_if_absent``),
so a page polling every second costs PhonePe at most one call per interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lib.domain.payment_records import OPEN_STATES, Order
from lib.errors import AdapterError, NotFound
from lib.services.payments.autopay import order_status
from lib.services.payments.deps import PaymentDeps
from lib.services.payments.outbox import deliver_email
from lib.services.payments.settlement import apply_gateway_status

# A PENDING order last checked longer ago than this is checked with PhonePe on read.
STALE_AFTER_S = 10
# At most one live check per order per this many seconds, across all instances.
LIVE_CHECK_INTERVAL_S = 5
# What the client is told to wait before polling again while the order is open.
POLL_AFTER_MS = 3000


@dataclass(frozen=True)
class StatusQuery:
    user_id: str
    merchant_order_id: str


def _stale(order: Order, now: datetime) -> bool:
    last = order.last_checked_at or order.created_at
    return (now - last).total_seconds() > STALE_AFTER_S


def _may_check(deps: PaymentDeps, mid: str) -> bool:
    if deps.kv is None:
        return False
    try:
        return deps.kv.set_if_absent(f"payments:live-check:{mid}", b"1", ttl_s=LIVE_CHECK_INTERVAL_S)
    except AdapterError:
        return False  # Redis down: answer from the database, skip the live check


def get_payment_status(query: StatusQuery, *, deps: PaymentDeps) -> dict[str, Any]:
    order = deps.repo.get_order(query.merchant_order_id)
    if order is None or order.user_id != query.user_id:
        raise NotFound("No such order.", code="order_not_found")
    if order.state in OPEN_STATES and _stale(order, deps.clock.now()) and _may_check(deps, order.merchant_order_id):
        try:
            applied = apply_gateway_status(deps, order, order_status(deps, order))
        except AdapterError as exc:
            deps.log.warning(
                "live status check failed", extra={"merchant_order_id": order.merchant_order_id, "error": str(exc)}
            )
        else:
            order = applied.order or order
            if applied.outbox_id:
                deliver_email(deps, applied.outbox_id)
    subscription = deps.repo.get_subscription(order.workspace_id)
    return {
        "merchant_order_id": order.merchant_order_id,
        "state": order.state,
        "amount": order.amount_paise,
        "currency": order.currency,
        "plan": order.plan_id,
        "billing_period": order.billing_period,
        "subscription": subscription.as_json() if subscription else None,
        "updated_at": order.updated_at.isoformat(),
        "poll_after_ms": POLL_AFTER_MS if order.state in OPEN_STATES else 0,
    }
