"""The one place a gateway status is applied to an order.

A PhonePe status is the only thing that moves money state: webhooks,
reconciliation and ``payment_status`` all end in ``apply_gateway_status``.
The rules (the state machine, subscription periods) are ``lib.domain.payments``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lib import ops_events
from lib.domain.payment_records import CREATED, FAILED, OPEN_STATES, Order, sources_of
from lib.domain.payments import PaymentState, TransitionKind, is_expired, next_state, parse_state
from lib.services.payments import grants
from lib.services.payments.deps import PaymentDeps
from lib.services.payments.emails import confirmed_subject, failed_email_extra, failed_subject
from lib.services.payments.ports import GatewayStatus

# A CREATED order PhonePe has never heard of this long after creation: the pay never arrived.
CREATED_GIVE_UP_S = 120
# PhonePe reports an order that expired unpaid as FAILED with this code: recorded as EXPIRED, no email.
EXPIRED_UNPAID_CODES = frozenset({"TXN_NOT_COMPLETED"})


@dataclass(frozen=True)
class Applied:
    """What applying one gateway status did to an order."""

    outcome: str  # granted | already_completed | needs_review | failed | expired | pending | amount_mismatch ...
    order: Order | None
    outbox_id: str | None = None


def apply_gateway_status(deps: PaymentDeps, order: Order, status: GatewayStatus) -> Applied:
    """Confirm a PhonePe status against our row, then move the state machine (``next_state``).

    Nothing is granted unless PhonePe says COMPLETED for exactly our amount and,
    when PhonePe echoes the owner in ``metaInfo.udf1``, for our workspace."""
    mid = order.merchant_order_id
    bound = deps.log.bind(merchant_order_id=mid)
    now = deps.clock.now()
    if not status.found:
        if order.state == CREATED and (now - order.created_at).total_seconds() > CREATED_GIVE_UP_S:
            failed = deps.repo.transition(
                mid, FAILED, from_states=sources_of(PaymentState.FAILED), error_code="ORDER_NOT_AT_GATEWAY"
            )
            return Applied("failed", failed or deps.repo.get_order(mid))
        deps.repo.touch_checked(mid)
        return Applied("not_found", order)
    if status.amount_paise is not None and status.amount_paise != order.amount_paise:
        bound.error(
            "payment amount differs from the order; not granted",
            extra={
                "event": ops_events.PAYMENT_MISMATCH,
                "expected_paise": order.amount_paise,
                "gateway_paise": status.amount_paise,
            },
        )
        deps.repo.transition(mid, order.state, from_states=(order.state,), error_code="AMOUNT_MISMATCH")
        return Applied("amount_mismatch", order)
    owner = status.meta_info.get("udf1") if status.meta_info else None
    if owner and str(owner) != order.workspace_id:
        bound.error(
            "payment owner differs from the order; not granted",
            extra={"event": ops_events.PAYMENT_MISMATCH, "gateway_owner": str(owner)},
        )
        deps.repo.transition(mid, order.state, from_states=(order.state,), error_code="OWNER_MISMATCH")
        return Applied("owner_mismatch", order)
    reported = parse_state(status.state)
    step = next_state(order.state, status.state)
    if reported is PaymentState.COMPLETED:
        if status.amount_paise is None:
            bound.error("COMPLETED status without an amount; not granted")
            return Applied("amount_missing", order)
        # grant re-applies next_state under the row lock: of concurrent callers exactly one grants.
        plan = deps.repo.get_plan(order.plan_id)
        activation = grants.grant(
            deps,
            mid,
            payment_details=status.payment_details,
            email_subject=confirmed_subject(plan.name if plan else order.plan_id),
        )
        if activation.outcome == "needs_review":
            bound.error(
                "COMPLETED after the order had failed or expired: NEEDS_REVIEW (money taken, nothing granted)",
                extra={"event": ops_events.PAYMENT_NEEDS_REVIEW, "previous_state": order.state},
            )
        elif activation.granted:
            bound.info("payment completed; subscription granted", extra={"plan": order.plan_id})
        return Applied(activation.outcome, activation.order, activation.outbox_id)
    if reported is PaymentState.FAILED and step.kind is TransitionKind.MOVE:
        if _expired_unpaid(order, status, now):
            # Nobody paid before expireAt: an expiry, not a failed payment (no "payment failed" email).
            expired = deps.repo.transition(
                mid,
                PaymentState.EXPIRED,
                from_states=sources_of(PaymentState.EXPIRED),
                error_code=status.error_code,
                payment_details=status.payment_details,
            )
            return Applied("expired", expired or deps.repo.get_order(mid))
        return _fail(deps, order, status)
    if reported is PaymentState.FAILED:
        # Already FAILED (a repeat), or FAILED after another final state: never backwards.
        return Applied("failed" if step.kind is TransitionKind.NOOP else "ignored", order)
    # PENDING (or an unknown state, read leniently as "not final yet").
    if order.state in OPEN_STATES and is_expired(status.expire_at or order.expires_at, now):
        expired = deps.repo.transition(
            mid, PaymentState.EXPIRED, from_states=sources_of(PaymentState.EXPIRED), error_code="EXPIRED"
        )
        return Applied("expired", expired or deps.repo.get_order(mid))
    if step.kind is TransitionKind.MOVE and step.to is PaymentState.PENDING:
        # Our pay call timed out but reached PhonePe: the order exists there.
        pending = deps.repo.mark_pending(mid, phonepe_order_id=None, checkout_url=None, expires_at=status.expire_at)
        if pending is not None:
            return Applied("pending", pending)
    deps.repo.touch_checked(mid)
    return Applied("pending", order)


def _expired_unpaid(order: Order, status: GatewayStatus, now: datetime) -> bool:
    """PhonePe's FAILED for an order it let expire (its expiry code, at or after ``expireAt``; no grace:
    PhonePe has already decided)."""
    expire_at = status.expire_at or order.expires_at
    return status.error_code in EXPIRED_UNPAID_CODES and expire_at is not None and now >= expire_at


def _fail(deps: PaymentDeps, order: Order, status: GatewayStatus) -> Applied:
    """PhonePe says FAILED: the move and its payment-failed outbox row commit together (``grants.fail``);
    only the caller whose conditional update matched gets an outbox id, so a repeat sends nothing."""
    mid = order.merchant_order_id
    plan = deps.repo.get_plan(order.plan_id)
    error_code = status.error_code or "FAILED"
    failed, outbox_id = grants.fail(
        deps,
        mid,
        error_code=error_code,
        payment_details=status.payment_details,
        email_subject=failed_subject(plan.name if plan else order.plan_id),
        email_extra=failed_email_extra(status.error_code, deps.config.frontend_url),
    )
    if failed is not None:
        deps.log.bind(merchant_order_id=mid).info("payment failed", extra={"error_code": error_code})
    return Applied("failed", failed or deps.repo.get_order(mid), outbox_id)
