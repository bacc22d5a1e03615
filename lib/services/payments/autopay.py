"""UPI AutoPay: the mandate at checkout, the renewal's notice and debit, PhonePe's mandate news.

- ``start_mandate``: a checkout with ``autopay: true`` pays its first period through the
  mandate's setup order (kind ``mandate_setup``); the customer approves the mandate in a UPI
  app.  Its COMPLETED grants like any order (``grants.grant``) and makes the mandate ACTIVE.
- ``run_autopay`` (Scheduler, hourly): for each ACTIVE mandate whose period ends within
  ``NOTIFY_BEFORE``, a redemption order (kind ``redemption``) and the pre-debit notice
  (``notify_redemption``, and our email); once the period end has come and the notice is 24 h
  old, the debit (``redeem``).  The debit's outcome arrives like any order's: a webhook hint
  or the reconciliation ladder asks ``order_status``, and ``apply_gateway_status`` grants
  (a renewal: from the period end) or fails it (the payment-failed email, which links the
  manual renewal; the period runs out with its grace).
- ``refresh_mandate``: SUBSCRIPTION_CANCELLED / REVOKED / PAUSED / UNPAUSED, checked with
  ``mandate_status``: an ended mandate turns AutoPay off (one email) and the period runs out.
Every order status goes through ``order_status`` (checkout or AutoPay, by the order's kind).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lib import ops_events
from lib.domain.autopay import (
    AUTOPAY_OFF_EMAIL,
    NOTIFY_BEFORE,
    PRE_DEBIT_EMAIL,
    Mandate,
    Redemption,
    frequency,
    mandate_max,
    notify_due,
    redeem_allowed,
    renewal_plan,
)
from lib.domain.payment_records import CREATED, EXPIRED, FAILED, NewOrder, Order, OrderKind, sources_of
from lib.domain.payments import PaymentState, new_merchant_order_id
from lib.errors import AdapterError, ServiceUnavailable
from lib.services.payments.autopay_ports import MANDATE_ENDED_STATES, AutoPayGateway, AutoPayOrderStatus
from lib.services.payments.deps import PaymentDeps, log
from lib.services.payments.emails import billing_notice, rupees
from lib.services.payments.outbox import deliver_email
from lib.services.payments.ports import GatewayStatus, PaymentsUnit
from lib.services.payments.scheduling import schedule_reconcile

# Renewals notified / debited per run; the rest wait for the next run.
AUTOPAY_BATCH = 200
# A debit still open this long after ``redeem`` is reported stuck (PhonePe settles within minutes).
STUCK_AFTER = timedelta(hours=1)


def _gateway(deps: PaymentDeps) -> AutoPayGateway:
    if deps.autopay is None:
        raise ServiceUnavailable("AutoPay is not available here.", code="autopay_unavailable")
    return deps.autopay


def order_status(deps: PaymentDeps, order: Order) -> GatewayStatus:
    """PhonePe's word on an order, whichever product it went through."""
    if order.kind == OrderKind.CHECKOUT:
        return deps.gateway.order_status(order.merchant_order_id)
    return as_gateway_status(_gateway(deps).redemption_status(order.merchant_order_id))


def as_gateway_status(s: AutoPayOrderStatus) -> GatewayStatus:
    """An AutoPay order's status in the shape every settlement reads (``NOTIFIED`` is still pending)."""
    state = "PENDING" if s.state == "NOTIFIED" else s.state
    return GatewayStatus(
        found=s.found,
        state=state,
        amount_paise=s.amount_paise,
        meta_info=s.meta_info,
        error_code=s.error_code,
        expire_at=s.expire_at,
        payment_details=s.payment_details,
    )


# --- checkout ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MandateCheckout:
    merchant_subscription_id: str
    phonepe_order_id: str | None
    checkout_url: str | None
    expire_at: datetime | None


def start_mandate(deps: PaymentDeps, order: Order) -> MandateCheckout:
    """Create the mandate row and ask PhonePe for the setup order that pays ``order`` (already
    written, kind ``mandate_setup``).  Raises the adapter's error for the caller to translate."""
    autopay = _gateway(deps)
    maximum = max(mandate_max(deps.repo.list_plans(), order.billing_period), order.amount_paise)
    msid = f"ms{order.merchant_order_id[3:]}"[:63]
    with deps.unit() as uow:
        uow.mandates.add_mandate(
            Mandate(
                "",
                msid,
                order.workspace_id,
                order.user_id,
                order.plan_id,
                order.billing_period,
                "CREATED",
                maximum,
                order.merchant_order_id,
            )
        )
        uow.commit()
    setup = autopay.setup_mandate(
        merchant_order_id=order.merchant_order_id,
        merchant_subscription_id=msid,
        amount_paise=order.amount_paise,
        max_amount_paise=maximum,
        frequency=frequency(order.billing_period),  # type: ignore[arg-type]
        amount_type="VARIABLE",
        auth_workflow_type="TRANSACTION",
        meta_info={"udf1": order.workspace_id, "udf2": order.user_id},
    )
    with deps.unit() as uow:
        uow.mandates.set_mandate(msid, state="PENDING")
        uow.commit()
    return MandateCheckout(msid, setup.phonepe_order_id, setup.intent_url or setup.redirect_url, setup.expire_at)


def on_granted(uow: PaymentsUnit, order: Order) -> None:
    """Inside the grant's unit: a completed setup order means the customer approved the mandate."""
    if order.kind == OrderKind.MANDATE_SETUP:
        mandate = uow.mandates.mandate_of_order(order.merchant_order_id)
        if mandate is not None:
            uow.mandates.set_mandate(mandate.merchant_subscription_id, state="ACTIVE")


def on_failed(uow: PaymentsUnit, order: Order) -> None:
    """Inside the fail's unit: a failed setup order leaves no mandate to charge; a failed debit is
    counted for the alert (the customer gets the payment-failed email and renews by hand)."""
    if order.kind == OrderKind.REDEMPTION:
        log.warning(
            "AutoPay debit failed",
            extra={
                "event": ops_events.REDEMPTION_FAILED,
                "merchant_order_id": order.merchant_order_id,
                "error_code": order.error_code,
            },
        )
    if order.kind == OrderKind.MANDATE_SETUP:
        mandate = uow.mandates.mandate_of_order(order.merchant_order_id)
        if mandate is not None:
            uow.mandates.set_mandate(mandate.merchant_subscription_id, state="FAILED", autopay_off=True)


# --- renewals ------------------------------------------------------------------------------------


@dataclass
class AutoPayRun:
    notified: int = 0
    redeemed: int = 0
    skipped: int = 0
    turned_off: int = 0
    stuck: int = 0
    # The orders whose debit this run asked for (their outcome comes by webhook or the ladder).
    debited: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "notified": self.notified,
            "redeemed": self.redeemed,
            "skipped": self.skipped,
            "turned_off": self.turned_off,
            "stuck": self.stuck,
        }


def run_autopay(*, deps: PaymentDeps) -> AutoPayRun:
    """One Scheduler run: notify the renewals coming up, debit the ones due."""
    run = AutoPayRun()
    _notify(deps, run)
    _redeem(deps, run)
    return run


def _notify(deps: PaymentDeps, run: AutoPayRun) -> None:
    now = deps.clock.now()
    with deps.unit() as uow:
        waiting = uow.mandates.unnotified_redemptions(AUTOPAY_BATCH)
        pairs = uow.mandates.renewals_to_notify(now + NOTIFY_BEFORE, AUTOPAY_BATCH)
    for redemption in waiting:  # PhonePe was unreachable when these were first notified
        with deps.unit() as uow:
            mandate = uow.mandates.mandate_of_order(redemption.merchant_order_id)
            order = uow.payments.get_order(redemption.merchant_order_id)
        if mandate is not None and order is not None and mandate.charges:
            run.notified += _send_notice(deps, mandate, order, redemption.due_at)
    for mandate, sub in pairs:
        end = sub.current_period_end
        if end is None or not notify_due(sub, now, deps.config.grace):
            continue
        plan_id, period = renewal_plan(sub)
        plan = deps.repo.get_plan(plan_id)
        price = plan.price(period) if plan is not None else None
        if price is None or period != mandate.billing_period or price > mandate.max_amount_paise:
            _turn_off(
                deps,
                mandate,
                "The renewal costs more than your AutoPay mandate allows, or is billed on another schedule.",
            )
            run.turned_off += 1
            continue
        mid = new_merchant_order_id(now)
        with deps.unit() as uow:
            uow.payments.lock_workspace(sub.workspace_id)
            order = uow.payments.create_order(
                NewOrder(mid, sub.workspace_id, mandate.user_id, plan_id, period, price, kind=OrderKind.REDEMPTION)
            )
            if not uow.mandates.add_redemption(Redemption(mid, mandate.id, end, end)):
                continue  # another run took this period (rolled back with the unit)
            uow.commit()
        run.notified += _send_notice(deps, mandate, order, end)


def _send_notice(deps: PaymentDeps, mandate: Mandate, order: Order, end: datetime) -> int:
    """The pre-debit notice at PhonePe, then ours (one email per mandate and period end), naming
    the plan the charge renews (a scheduled change's, not necessarily the mandate's first)."""
    mid, price = order.merchant_order_id, order.amount_paise
    try:
        notice = _gateway(deps).notify_redemption(
            merchant_order_id=mid,
            merchant_subscription_id=mandate.merchant_subscription_id,
            amount_paise=price,
            expire_at=end + deps.config.grace,
        )
    except AdapterError as exc:
        if exc.retryable:  # the next run sends it again (``unnotified_redemptions``)
            deps.log.warning("AutoPay notice not sent; the next run tries again", extra={"merchant_order_id": mid})
            return 0
        # PhonePe refused the notice: no debit can follow it, so the customer renews by hand (and
        # gets the reminders again).
        deps.log.warning("AutoPay notice refused", extra={"merchant_order_id": mid, "error": str(exc)})
        deps.repo.transition(mid, FAILED, from_states=(CREATED,), error_code="NOTIFY_REJECTED")
        _turn_off(deps, mandate, "PhonePe could not notify your next UPI AutoPay debit, so it will not be made.")
        return 0
    now = deps.clock.now()
    outbox_id: str | None = None
    with deps.unit() as uow:
        uow.mandates.mark_notified(mid, now)
        uow.payments.mark_pending(
            mid, phonepe_order_id=notice.phonepe_order_id, checkout_url=None, expires_at=notice.expire_at
        )
        facts = uow.payments.email_facts(mandate.user_id, mandate.workspace_id, order.plan_id)
        day = end.date().isoformat()
        email = (
            None
            if facts is None
            else billing_notice(
                PRE_DEBIT_EMAIL,
                facts,
                f"UPI AutoPay will charge {rupees(price)} on {day}",
                [
                    f"Your {facts.plan_name} plan for {facts.workspace_name} renews on {day}. UPI AutoPay"
                    f" will charge {rupees(price)} to the account of your mandate on that day.",
                    "Nothing to do. To stop it, cancel from the billing page before then.",
                ],
                f"{PRE_DEBIT_EMAIL}/{mandate.merchant_subscription_id}/{end.isoformat()}",
                frontend_url=deps.config.frontend_url,
                extra={"merchant_order_id": mid, "amount_paise": price},
            )
        )
        if email is not None:
            uow.payments.add_email(email)
            outbox_id = email.id
        uow.commit()
    if outbox_id:
        deliver_email(deps, outbox_id)
    return 1


def _report_stuck(deps: PaymentDeps, now: datetime) -> int:
    """Debits asked for over ``STUCK_AFTER`` ago and still open: logged for the alert, each run."""
    with deps.unit() as uow:
        stuck = uow.mandates.stuck_redemptions(now - STUCK_AFTER, AUTOPAY_BATCH)
    for mid in stuck:
        deps.log.error(
            "AutoPay debit not final an hour after it was asked for",
            extra={"event": ops_events.REDEMPTION_STUCK, "merchant_order_id": mid},
        )
    return len(stuck)


def _redeem(deps: PaymentDeps, run: AutoPayRun) -> None:
    now = deps.clock.now()
    run.stuck = _report_stuck(deps, now)
    with deps.unit() as uow:
        due = uow.mandates.redemptions_to_redeem(now, AUTOPAY_BATCH)
    for redemption in due:
        if not redeem_allowed(redemption, now):
            continue
        mid = redemption.merchant_order_id
        with deps.unit() as uow:
            mandate = uow.mandates.mandate_of_order(mid)
            sub = uow.payments.get_subscription(mandate.workspace_id) if mandate else None
            renewed_by_hand = sub is None or sub.current_period_end != redemption.renews_from
            if mandate is None or not mandate.charges or renewed_by_hand:
                # Paid by hand meanwhile, or the mandate stopped: this charge is not made.
                uow.mandates.mark_redeem_requested(mid, now)
                uow.payments.transition(
                    mid,
                    EXPIRED,
                    from_states=sources_of(PaymentState.EXPIRED),
                    error_code="RENEWED_BY_HAND" if renewed_by_hand else "MANDATE_NOT_ACTIVE",
                )
                uow.commit()
                run.skipped += 1
                continue
            if not uow.mandates.mark_redeem_requested(mid, now):
                continue
            uow.commit()
        schedule_reconcile(deps, mid, step=0, chain="redeem", elapsed_s=0.0)
        try:
            _gateway(deps).redeem(mid)
        except AdapterError as exc:
            # The ladder asks PhonePe how it went; a refused debit ends as FAILED there.
            deps.log.warning("AutoPay debit not confirmed", extra={"merchant_order_id": mid, "error": str(exc)})
        run.redeemed += 1
        run.debited.append(mid)


# --- mandate news --------------------------------------------------------------------------------


def refresh_mandate(deps: PaymentDeps, merchant_subscription_id: str) -> str:
    """Ask PhonePe for the mandate's state and keep it; an ended mandate turns AutoPay off."""
    status = _gateway(deps).mandate_status(merchant_subscription_id)
    with deps.unit() as uow:
        mandate = uow.mandates.get_mandate(merchant_subscription_id, lock=True)
        if mandate is None or not status.found or status.state is None:
            return "ignored"
        ended = status.state in MANDATE_ENDED_STATES
        uow.mandates.set_mandate(
            merchant_subscription_id,
            state=status.state,
            phonepe_subscription_id=status.subscription_id,
            autopay_off=ended,
        )
        outbox_id = (
            _off_email(deps, uow, mandate, "Your UPI AutoPay mandate was stopped.")
            if (ended and mandate.autopay_off_at is None)
            else None
        )
        uow.commit()
    if outbox_id:
        deliver_email(deps, outbox_id)
    return status.state.lower()


def _turn_off(deps: PaymentDeps, mandate: Mandate, why: str | None) -> None:
    """AutoPay off for good: the mandate row (once, under its lock), then cancelled at PhonePe (a
    failure there is logged: redemptions check the mandate first).  ``why`` is the ``autopay-off``
    email's reason; None sends none."""
    with deps.unit() as uow:
        current = uow.mandates.get_mandate(mandate.merchant_subscription_id, lock=True)
        if current is None or current.autopay_off_at is not None:
            return
        uow.mandates.set_mandate(mandate.merchant_subscription_id, autopay_off=True)
        outbox_id = _off_email(deps, uow, mandate, why) if why is not None else None
        uow.commit()
    try:
        _gateway(deps).cancel_mandate(mandate.merchant_subscription_id)
    except AdapterError as exc:
        deps.log.warning(
            "mandate not cancelled at PhonePe; redemptions check the mandate first",
            extra={"merchant_subscription_id": mandate.merchant_subscription_id, "error": str(exc)},
        )
    if outbox_id:
        deliver_email(deps, outbox_id)


def _off_email(deps: PaymentDeps, uow: PaymentsUnit, mandate: Mandate, why: str) -> str | None:
    facts = uow.payments.email_facts(mandate.user_id, mandate.workspace_id, mandate.plan_id)
    if facts is None:
        return None
    email = billing_notice(
        AUTOPAY_OFF_EMAIL,
        facts,
        "UPI AutoPay is off: renew by hand",
        [
            why,
            f"Your {facts.plan_name} plan runs to the end of its period. Renew it from the billing"
            " page in the last 7 days (you will get reminders).",
        ],
        f"{AUTOPAY_OFF_EMAIL}/{mandate.merchant_subscription_id}",
        frontend_url=deps.config.frontend_url,
    )
    if email is None:
        return None
    uow.payments.add_email(email)
    return email.id


def stop_autopay(deps: PaymentDeps, workspace_id: str) -> bool:
    """The customer cancelled the plan: the mandate is cancelled at PhonePe and AutoPay is off
    (no email: the cancellation's own notice says what happens)."""
    with deps.unit() as uow:
        mandate = uow.mandates.live_mandate(workspace_id)
    if mandate is None:
        return False
    _turn_off(deps, mandate, None)
    return True


def autopay_view(deps: PaymentDeps, workspace_id: str) -> dict[str, Any] | None:
    with deps.unit() as uow:
        mandate = uow.mandates.live_mandate(workspace_id)
    return None if mandate is None else mandate.as_json()


__all__ = [
    "AutoPayRun",
    "MandateCheckout",
    "as_gateway_status",
    "autopay_view",
    "on_failed",
    "on_granted",
    "order_status",
    "refresh_mandate",
    "run_autopay",
    "start_mandate",
    "stop_autopay",
]
