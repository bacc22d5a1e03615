"""Subscriptions over time: the sweep, cancel and resume, and the billing view.

The rules are ``lib.domain.subscriptions``; each change here is one unit of
work with its outbox row, so an email goes out exactly once per subscription,
period end and kind (the idempotency key names all three).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from lib.domain.payment_records import EmailFacts, NewEmail, Subscription
from lib.domain.payments import Plan, quote
from lib.domain.subscriptions import (
    CANCELLED_EMAIL,
    EXPIRED_EMAIL,
    OPEN,
    REMINDER_KINDS,
    SubscriptionStatus,
    end_date,
    next_sweep_at,
    schedule_change,
    status_at,
    sweep_step,
)
from lib.errors import Conflict, NotFound
from lib.services.payments.autopay import autopay_view, stop_autopay
from lib.services.payments.deps import PaymentDeps
from lib.services.payments.emails import billing_notice
from lib.services.payments.ports import PaymentsUnit

# Subscriptions one sweep run handles; a run that hits it says ``more`` and the next run goes on.
SWEEP_BATCH = 1000
# How long one scheduled call keeps sweeping full batches (the maintenance function's timeout is 300 s).
SWEEP_BUDGET_S = 240.0
CANCEL_EMAIL = "subscription-cancelled"


def _notice(kind: str, sub: Subscription, plan_name: str) -> tuple[str, list[str]]:
    """Subject and paragraphs of a subscription notice."""
    end = end_date(sub)
    if kind.startswith("renewal-reminder"):
        if sub.cancel_at_period_end:
            return f"Your {plan_name} plan ends on {end}", [
                f"Your {plan_name} plan is set to end on {end}; you cancelled it.",
                "Resume it from the billing page before then to keep it.",
            ]
        change = (
            [f"You asked to move to the {sub.scheduled_plan_id} plan ({sub.scheduled_billing_period}) from then."]
            if sub.scheduled_plan_id
            else []
        )
        return f"Your {plan_name} plan renews on {end}", [
            f"Your {plan_name} plan's current period ends on {end}.",
            *change,
            "Renew it from the billing page to keep your workspace running without a break.",
        ]
    if kind == EXPIRED_EMAIL:
        return f"Your {plan_name} plan has expired", [
            f"Your {plan_name} plan ended on {end} and was not renewed.",
            "Your business context and its history are still here; renew to use the paid features again.",
        ]
    if kind == CANCELLED_EMAIL:
        return f"Your {plan_name} plan has ended", [
            f"Your {plan_name} plan ended on {end}, as you asked.",
            "Your business context and its history are still here; choose a plan any time to continue.",
        ]
    if kind == CANCEL_EMAIL:
        return f"Your {plan_name} plan will end on {end}", [
            f"You cancelled your {plan_name} plan. It stays active until {end} and then ends.",
            "Changed your mind? Resume it from the billing page before then.",
        ]
    return f"Your {plan_name} plan continues", [f"Your {plan_name} plan will keep running after {end}."]


def notice_email(deps: PaymentDeps, kind: str, sub: Subscription, facts: EmailFacts, key: str) -> NewEmail | None:
    """The outbox row of one subscription notice for the workspace's owner (None: no address)."""
    subject, paragraphs = _notice(kind, sub, facts.plan_name)
    extra = {
        "workspace_id": sub.workspace_id,
        "plan_id": sub.plan_id,
        "plan_name": facts.plan_name,
        "period_end": sub.current_period_end.isoformat() if sub.current_period_end else None,
        "workspace_name": facts.workspace_name,
    }
    return billing_notice(kind, facts, subject, paragraphs, key, frontend_url=deps.config.frontend_url, extra=extra)


@dataclass(frozen=True)
class SweepResult:
    examined: int
    moved: int
    emails: int
    more: bool  # the run was full: there may be more due right now

    def as_json(self) -> dict[str, Any]:
        return {"examined": self.examined, "moved": self.moved, "emails": self.emails, "more": self.more}


def sweep_subscriptions(*, deps: PaymentDeps, limit: int = SWEEP_BATCH) -> SweepResult:
    """Move every due subscription (``next_sweep_at`` passed) by the lifecycle and queue its one
    email.  It reads only what is due (a partial index) and writes in batches: five statements a
    run however many rows are due, so its cost follows the work, not the table."""
    now = deps.clock.now()
    grace = deps.config.grace
    with deps.unit() as uow:
        due = uow.payments.due_subscriptions(now, limit)
        steps = [(sub, sweep_step(sub, now, grace)) for sub in due]
        moves = [replace(sub, status=step.status.value, next_sweep_at=step.next_sweep_at) for sub, step in steps]
        uow.payments.save_sweep(moves)
        noticed = [(sub, step) for sub, step in steps if step.email and step.email_key]
        # AutoPay renews these: its pre-debit notice replaces the "renew by hand" reminders.
        reminded = [sub.workspace_id for sub, step in noticed if str(step.email) in REMINDER_KINDS]
        charged = uow.mandates.charging_workspaces(reminded)
        noticed = [(s, st) for s, st in noticed if not (s.workspace_id in charged and str(st.email) in REMINDER_KINDS)]
        facts = uow.payments.owners_email_facts([sub for sub, _ in noticed])
        emails = [
            email
            for sub, step in noticed
            if sub.workspace_id in facts
            and (email := notice_email(deps, str(step.email), sub, facts[sub.workspace_id], str(step.email_key)))
        ]
        written = uow.payments.add_emails(emails)
        uow.commit()
    moved = sum(1 for sub, step in steps if step.status.value != sub.status)
    if moved or written:
        deps.log.info("subscriptions swept", extra={"moved": moved, "emails": written, "examined": len(due)})
    return SweepResult(len(due), moved, written, len(due) == limit)


def sweep_all_due(*, deps: PaymentDeps, budget_s: float = SWEEP_BUDGET_S, limit: int = SWEEP_BATCH) -> SweepResult:
    """Sweep run after run while a run came back full, within ``budget_s`` (the scheduler's next
    call picks up anything left)."""
    deadline = time.monotonic() + budget_s
    examined = moved = emails = 0
    while True:
        run = sweep_subscriptions(deps=deps, limit=limit)
        examined, moved, emails = examined + run.examined, moved + run.moved, emails + run.emails
        if not run.more or time.monotonic() >= deadline:
            return SweepResult(examined, moved, emails, run.more)


# --- cancel / resume ----------------------------------------------------------------------------


class NothingToCancel(Conflict):
    code = "nothing_to_cancel"
    title = "Nothing to cancel"


class NothingToResume(Conflict):
    code = "nothing_to_resume"
    title = "Nothing to resume"


def _locked(uow: PaymentsUnit, workspace_id: str) -> Subscription:
    uow.payments.lock_workspace(workspace_id)
    sub = uow.payments.get_subscription(workspace_id, lock=True)
    if sub is None:
        raise NotFound("This workspace has no subscription.", code="subscription_not_found")
    return sub


def cancel_subscription(workspace_id: str, *, deps: PaymentDeps) -> dict[str, Any]:
    """Cancel at the period end (the plan runs until then).  409 for the free plan, a lapsed plan
    or one already cancelled."""
    now = deps.clock.now()
    with deps.unit() as uow:
        sub = _locked(uow, workspace_id)
        status = status_at(sub, now, deps.config.grace)
        if sub.current_period_end is None:
            raise NothingToCancel("The free plan has no period to cancel.")
        if sub.cancel_at_period_end:
            raise NothingToCancel(f"Already cancelled: the plan ends on {end_date(sub)}.")
        if status is not SubscriptionStatus.ACTIVE:
            raise NothingToCancel(f"The plan is {status.value}; there is no running period to cancel.")
        cancelled = replace(sub, cancel_at_period_end=True, scheduled_plan_id=None, scheduled_billing_period=None)
        cancelled = uow.payments.save_subscription(
            replace(cancelled, next_sweep_at=next_sweep_at(cancelled, now, deps.config.grace))
        )
        key = f"{CANCEL_EMAIL}/{workspace_id}/{end_date(sub)}/{now.isoformat()}"
        facts = uow.payments.owners_email_facts([cancelled]).get(workspace_id)
        email = notice_email(deps, CANCEL_EMAIL, cancelled, facts, key) if facts else None
        if email is not None:
            uow.payments.add_email(email)
        uow.commit()
    stop_autopay(deps, workspace_id)  # a cancelled plan is not charged: the mandate goes too
    return billing_subscription_view(cancelled, now, deps)


def resume_subscription(workspace_id: str, *, deps: PaymentDeps) -> dict[str, Any]:
    """Undo a cancellation before the period ends.  409 when nothing is cancelled or it has ended."""
    now = deps.clock.now()
    with deps.unit() as uow:
        sub = _locked(uow, workspace_id)
        if not sub.cancel_at_period_end:
            raise NothingToResume("The plan is not cancelled.")
        if status_at(sub, now, deps.config.grace) is not SubscriptionStatus.ACTIVE:
            raise NothingToResume(f"The plan ended on {end_date(sub)}; choose a plan to start again.")
        resumed = replace(sub, cancel_at_period_end=False)
        resumed = uow.payments.save_subscription(
            replace(resumed, next_sweep_at=next_sweep_at(resumed, now, deps.config.grace))
        )
        uow.commit()
    return billing_subscription_view(resumed, now, deps)


def list_price(deps: PaymentDeps) -> Callable[[str, str], int | None]:
    """``price(plan, period)``: a plan's list price from ``plans`` (None: unknown or not sold); each
    plan is read once per ``list_price`` (a decision asks for the old and the new plan's price)."""
    plans: dict[str, Plan | None] = {}

    def price(plan_id: str, period: str) -> int | None:
        if plan_id not in plans:
            plans[plan_id] = deps.repo.get_plan(plan_id)
        plan = plans[plan_id]
        return plan.price(period) if plan else None

    return price


def change_subscription(cmd: ChangeCommand, *, deps: PaymentDeps) -> dict[str, Any]:
    """Schedule a downgrade or a period switch for the period end (or clear one)."""
    plan = deps.repo.get_plan(cmd.plan)
    priced = quote({plan.id: plan} if plan else {}, cmd.plan, cmd.billing_period)  # 422 for bad input
    now = deps.clock.now()
    with deps.unit() as uow:
        sub = _locked(uow, cmd.workspace_id)
        changed = schedule_change(
            sub, priced.plan_id, priced.billing_period.value, list_price(deps), now=now, grace=deps.config.grace
        )
        saved = uow.payments.save_subscription(changed)
        uow.commit()
    return billing_subscription_view(saved, now, deps)


@dataclass(frozen=True)
class ChangeCommand:
    workspace_id: str
    plan: str
    billing_period: str


# --- the billing view -----------------------------------------------------------------------------

# Transactions the billing page lists (newest first).
BILLING_ORDERS = 50


def billing_overview(workspace_id: str, *, deps: PaymentDeps) -> dict[str, Any]:
    """GET /billing: the subscription, the next charge and the workspace's transactions."""
    now = deps.clock.now()
    sub = deps.repo.get_subscription(workspace_id)
    view = billing_subscription_view(sub, now, deps)
    orders = deps.repo.workspace_orders(workspace_id, limit=BILLING_ORDERS)
    with deps.unit() as uow:
        receipts = uow.receipts.order_receipts([o.merchant_order_id for o in orders])
        refunds = uow.refunds.workspace_refunds(workspace_id, limit=BILLING_ORDERS)
    view["workspace_id"] = workspace_id
    view["transactions"] = [
        {
            "merchant_order_id": o.merchant_order_id,
            "kind": o.kind,
            "plan": o.plan_id,
            "billing_period": o.billing_period,
            "amount_paise": o.amount_paise,
            "credit_paise": o.credit_paise,
            "currency": o.currency,
            "state": o.state,
            "period_start": o.period_start.isoformat() if o.period_start else None,
            "period_end": o.period_end.isoformat() if o.period_end else None,
            "created_at": o.created_at.isoformat(),
            "completed_at": o.completed_at.isoformat() if o.completed_at else None,
            "receipt_number": receipts.get(o.merchant_order_id),
            "refunds": [r.as_json() for r in refunds if r.merchant_order_id == o.merchant_order_id],
        }
        for o in orders
    ]
    return view


def billing_subscription_view(sub: Subscription | None, now: datetime, deps: PaymentDeps) -> dict[str, Any]:
    """The subscription as the billing page shows it (status as the rules say it is now)."""
    if sub is None:
        return {"subscription": None}
    status = status_at(sub, now, deps.config.grace)
    end = sub.current_period_end
    renews = end is not None and not sub.cancel_at_period_end and status in OPEN
    return {
        "subscription": {
            "plan": sub.plan_id,
            "billing_period": sub.billing_period,
            "status": status.value,
            "current_period_start": sub.current_period_start.isoformat(),
            "current_period_end": end.isoformat() if end else None,
            "grace_ends_at": (end + deps.config.grace).isoformat()
            if end and status is SubscriptionStatus.PAST_DUE
            else None,
            "cancel_at_period_end": sub.cancel_at_period_end,
            "credit_paise": sub.credit_paise,
            "next_charge_at": end.isoformat() if renews and end else None,
            # The renewal's price: the plan scheduled for the end, or the plan you have.
            "next_charge_paise": list_price(deps)(
                sub.scheduled_plan_id or sub.plan_id, sub.scheduled_billing_period or sub.billing_period
            )
            if renews
            else None,
            "scheduled_change": {
                "plan": sub.scheduled_plan_id,
                "billing_period": sub.scheduled_billing_period,
                "at": end.isoformat() if end else None,
            }
            if sub.scheduled_plan_id
            else None,
            "autopay": autopay_view(deps, sub.workspace_id),
        }
    }
