"""The payment rules that change several rows at once, each ONE unit of work.

- ``grant``: PhonePe said COMPLETED: the order, the subscription period, the
  user's onboarding status and the confirmation email commit together.
- ``fail``: PhonePe said FAILED: the move and its payment-failed email.
- ``grant_free``: the free plan: the subscription and the onboarding status.

The unit locks the order row first, then the workspace row: of any number of
concurrent deliveries exactly one sees an open order and grants; the rest see
it COMPLETED and change nothing.  The same code runs over Postgres and over the
in-memory fake (``lib.testing.fake_payments``), which only stores.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from lib.domain.payment_records import (
    COMPLETED,
    FAILED,
    NEEDS_REVIEW,
    Activation,
    EmailFacts,
    NewEmail,
    Order,
    Subscription,
    sources_of,
)
from lib.domain.payments import PaymentState, TransitionKind, next_state, subscription_period
from lib.domain.receipts import Customer, IssuedReceipt, new_receipt, plan_line_description
from lib.domain.subscriptions import FREE_PLAN, OPEN, is_upgrade_of, next_sweep_at, running_end, status_at
from lib.services.payments.autopay import on_failed, on_granted
from lib.services.payments.deps import PaymentDeps
from lib.services.payments.emails import BILLING_PATH, CONFIRMED_KIND, FAILED_KIND
from lib.services.payments.ports import PaymentsUnit


def grant(deps: PaymentDeps, merchant_order_id: str, *, payment_details: Any, email_subject: str) -> Activation:
    """Apply a confirmed COMPLETED to the order, re-deciding ``next_state`` under the order's row lock."""
    with deps.unit() as uow:
        repo = uow.payments
        order = repo.lock_order(merchant_order_id)
        if order is None:
            return Activation("missing", None)
        step = next_state(order.state, COMPLETED)
        if step.kind is TransitionKind.NOOP and order.state == COMPLETED:
            return Activation("already_completed", order, repo.get_subscription(order.workspace_id))
        if step.kind is TransitionKind.REVIEW:
            # Money arrived after we gave up: never dropped, never granted automatically.
            reviewed = repo.transition(
                merchant_order_id, NEEDS_REVIEW, from_states=(order.state,), payment_details=payment_details
            )
            uow.commit()
            return Activation("needs_review", reviewed)
        if step.kind is not TransitionKind.MOVE:
            return Activation("ignored", order)  # REFUNDED / NEEDS_REVIEW: a person decides
        subscription, bought = _extend(deps, uow, order, deps.clock.now())
        completed = repo.transition(
            merchant_order_id, COMPLETED, from_states=(order.state,), payment_details=payment_details, period=bought
        )
        assert completed is not None, "the order row is locked in this unit"
        repo.confirm_onboarding(order.user_id)
        on_granted(uow, completed)
        # Who the receipt and the email name: read once for both.
        facts = repo.email_facts(order.user_id, order.workspace_id, order.plan_id)
        receipt = _issue_receipt(deps, uow, completed, bought, facts) if facts is not None else None
        period_end = subscription.current_period_end
        extra = {
            "next_billing_date": period_end.date().isoformat() if period_end else None,
            "receipt_number": receipt.number if receipt else None,
            "receipt_url": f"{deps.config.frontend_url}{BILLING_PATH}" if receipt else None,
        }
        outbox_id = queue_email(uow, CONFIRMED_KIND, completed, email_subject, extra, facts=facts)
        uow.commit()
        return Activation("granted", completed, subscription, outbox_id)


def _extend(
    deps: PaymentDeps, uow: PaymentsUnit, order: Order, now: datetime
) -> tuple[Subscription, tuple[datetime, datetime]]:
    """The subscription once the order is paid, and the time the order bought (``subscription_period``):
    a renewal while active or past due extends from the current end and keeps the running
    subscription's start; an upgrade, a lapsed or a new subscription starts now.  Paying clears a
    pending cancellation."""
    repo = uow.payments
    repo.lock_workspace(order.workspace_id)
    current = repo.get_subscription(order.workspace_id, lock=True)
    # An upgrade (only an upgrade reaches a grant for another plan mid-period) starts now;
    # a renewal extends from the running end.
    upgrade = is_upgrade_of(current, order.plan_id, order.billing_period, now, deps.config.grace)
    extend_from = None if upgrade else running_end(current, now, deps.config.grace)
    bought = subscription_period(extend_from, order.billing_period, now)
    start, end = bought
    if current is not None and extend_from is not None:
        start = current.current_period_start
    granted = Subscription(order.workspace_id, order.plan_id, order.billing_period, "active", start, end)
    granted = replace(granted, next_sweep_at=next_sweep_at(granted, now, deps.config.grace))
    return repo.save_subscription(granted, last_transaction_id=order.id), bought


def _issue_receipt(
    deps: PaymentDeps, uow: PaymentsUnit, order: Order, bought: tuple[datetime, datetime], facts: EmailFacts
) -> IssuedReceipt:
    """The paid order's receipt, numbered in this unit."""
    start, end = bought
    return uow.receipts.issue_receipt(
        new_receipt(
            merchant_order_id=order.merchant_order_id,
            workspace_id=order.workspace_id,
            issued_at=deps.clock.now(),
            issuer=deps.config.issuer,
            customer=Customer(facts.full_name or facts.workspace_name, facts.to_email or ""),
            description=plan_line_description(facts.plan_name, order.billing_period, start, end),
            amount_paise=order.amount_paise,
            credit_paise=order.credit_paise,
        )
    )


def fail(
    deps: PaymentDeps,
    merchant_order_id: str,
    *,
    error_code: str,
    payment_details: Any,
    email_subject: str,
    email_extra: Mapping[str, Any] | None = None,
) -> tuple[Order | None, str | None]:
    """PhonePe said FAILED: the conditional move (from ``sources_of(FAILED)``) and, only when THIS call
    moved the order, a payment-failed outbox row.  Returns (the failed order or None when nothing
    matched, the outbox id or None); of concurrent callers at most one gets an outbox id."""
    with deps.unit() as uow:
        failed = uow.payments.transition(
            merchant_order_id,
            FAILED,
            from_states=sources_of(PaymentState.FAILED),
            error_code=error_code,
            payment_details=payment_details,
        )
        if failed is None:
            return None, None
        on_failed(uow, failed)
        outbox_id = queue_email(uow, FAILED_KIND, failed, email_subject, email_extra or {})
        uow.commit()
        return failed, outbox_id


def grant_free(deps: PaymentDeps, workspace_id: str, user_id: str, billing_period: str) -> Subscription:
    """The free plan: no order, no email, no end."""
    now = deps.clock.now()
    with deps.unit() as uow:
        repo = uow.payments
        repo.lock_workspace(workspace_id)
        current = repo.get_subscription(workspace_id, lock=True)
        repo.confirm_onboarding(user_id)
        if current is not None and status_at(current, now, deps.config.grace) in OPEN:
            # A paid period still running (or in its grace) is never cut short by choosing free;
            # a running free subscription stays as it is.
            uow.commit()
            return current
        subscription = repo.save_subscription(
            Subscription(workspace_id, FREE_PLAN, billing_period, "active", now, None)
        )
        uow.commit()
        return subscription


def queue_email(
    uow: PaymentsUnit,
    kind: str,
    order: Order,
    subject: str,
    extra: Mapping[str, Any],
    *,
    facts: EmailFacts | None = None,
) -> str | None:
    """One outbox row of ``kind`` for the order's owner, inside ``uow``: the shared facts (plan, amount,
    order id, workspace, name; read here unless the caller has them) plus ``extra``; None when the
    owner has no address (the change stands)."""
    if facts is None:
        facts = uow.payments.email_facts(order.user_id, order.workspace_id, order.plan_id)
    if facts is None or not facts.to_email:
        return None
    outbox_id = str(uuid.uuid4())
    payload = {
        "merchant_order_id": order.merchant_order_id,
        "plan_id": order.plan_id,
        "plan_name": facts.plan_name,
        "billing_period": order.billing_period,
        "amount_paise": order.amount_paise,
        "currency": order.currency,
        "workspace_name": facts.workspace_name,
        "full_name": facts.full_name,
        **extra,
    }
    uow.payments.add_email(NewEmail(outbox_id, kind, facts.to_email, subject, payload, f"{kind}/{outbox_id}"))
    return outbox_id
