"""What every payment service shares: its dependencies, scheduling the
reconciliation ladder and the one place a gateway status is applied.

The rules themselves (order ids, the webhook header, the ladder, the state
machine, subscription periods) live once, in ``lib.domain.payments``; this
module applies them and re-exports the two the services import from here.

A PhonePe status is the only thing that moves money state here: webhooks,
reconciliation and ``payment_status`` all end in ``apply_gateway_status``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

from lib import ops_events
from lib.config import Settings
from lib.domain.payment_records import (
    CREATED,
    FAILED,
    OPEN_STATES,
    Order,
    OutboxEmail,
    sources_of,
)
from lib.domain.payments import (
    PaymentState,
    TransitionKind,
    is_expired,
    new_merchant_order_id,
    next_check_delay,
    next_state,
    parse_state,
    webhook_authorization_ok,
)
from lib.errors import AdapterError
from lib.logs import BoundLogger, get_logger
from lib.ports import Clock, KeyValue, TaskQueue, TaskRequest
from lib.services.payments.emails import confirmed_subject, failed_email_extra, failed_subject, message_for
from lib.services.payments.ports import GatewayStatus, Mailer, PaymentGateway, PaymentsRepo
from lib.tasks import enqueue_once

PROVIDER = "phonepe"

# An order whose row is not (yet) visible is retried this many ladder steps, then given up (logged).
MAX_UNKNOWN_ORDER_STEPS = 12
# A CREATED order PhonePe has never heard of this long after creation: the pay never arrived.
CREATED_GIVE_UP_S = 120
# Outbox: how long a claimed email is reserved for its sender before another relay may take it.
OUTBOX_LEASE_S = 120
# Outbox: attempts before an email is marked failed for good.
OUTBOX_MAX_ATTEMPTS = 8
# Outbox: first retry after 60 s, doubling, at most an hour.
OUTBOX_BACKOFF_BASE_S = 60
OUTBOX_BACKOFF_MAX_S = 3600
# PhonePe reports an order that expired unpaid as FAILED with this code: recorded as EXPIRED, no email.
EXPIRED_UNPAID_CODES = frozenset({"TXN_NOT_COMPLETED"})
# A last check after the ladder said "stop" while the order is still open (it then settles as expired).
FINAL_CHECK_DELAY_S = 1.0

log = get_logger("lib.services.payments")


def outbox_backoff(attempts: int) -> int:
    return int(min(OUTBOX_BACKOFF_BASE_S * 2 ** max(attempts - 1, 0), OUTBOX_BACKOFF_MAX_S))


def until_expiry_s(expire_at: datetime | None, now: datetime) -> float | None:
    """Seconds until ``expire_at`` (negative once passed; None when unknown), for the ladder."""
    return None if expire_at is None else (expire_at - now).total_seconds()


@dataclass(frozen=True)
class PaymentConfig:
    functions_base_url: str
    frontend_url: str
    queue: str
    webhook_username: str
    webhook_password: str
    order_expire_s: int
    # The Cloud Tasks queue that re-runs the outbox relay when an email could not be sent at once.
    outbox_queue: str = "outbox-relay"

    @classmethod
    def from_settings(cls, s: Settings) -> PaymentConfig:
        return cls(
            functions_base_url=s.functions_base_url.rstrip("/"),
            frontend_url=s.frontend_url.rstrip("/"),
            queue=s.tasks_queue_payments,
            webhook_username=s.phonepe_webhook_username,
            webhook_password=s.phonepe_webhook_password.get_secret_value(),
            order_expire_s=s.phonepe_order_expire_s,
            outbox_queue=s.tasks_queue_outbox,
        )

    @property
    def reconcile_url(self) -> str:
        return f"{self.functions_base_url}/payment_reconcile/"

    @property
    def outbox_relay_url(self) -> str:
        return f"{self.functions_base_url}/maintenance/sweep-outbox"


@dataclass
class PaymentDeps:
    """Everything the payment services touch, as ports (fakes in unit tests)."""

    repo: PaymentsRepo
    gateway: PaymentGateway
    tasks: TaskQueue
    mailer: Mailer
    clock: Clock
    config: PaymentConfig
    kv: KeyValue | None = None
    log: BoundLogger = log


def schedule_reconcile(
    deps: PaymentDeps,
    merchant_order_id: str,
    *,
    step: int,
    chain: str,
    elapsed_s: float = 0.0,
    expire_at: datetime | None = None,
    delay_s: float | None = None,
) -> bool:
    """Queue one reconciliation step (named, so a repeat is a no-op); False when the queue is down
    (the maintenance sweep picks up every open order it has not heard about).

    ``elapsed_s`` is where the order stands on PhonePe's ladder (seconds after pay, counted in
    ladder time, not wall time); the delay is ``next_check_delay`` unless ``delay_s`` is given.
    The task carries the ladder position it will run at, so each run knows the next delay."""
    if delay_s is None:
        delay_s = next_check_delay(elapsed_s, until_expiry_s=until_expiry_s(expire_at, deps.clock.now()))
        if delay_s is None:
            delay_s = FINAL_CHECK_DELAY_S
    task = TaskRequest(
        queue=deps.config.queue,
        url=deps.config.reconcile_url,
        payload={
            "merchant_order_id": merchant_order_id,
            "step": step,
            "chain": chain,
            "elapsed_s": round(elapsed_s + delay_s, 3),
        },
        name=f"reconcile-{merchant_order_id}-{chain}-{step}",
        delay_s=delay_s,
    )
    try:
        enqueue_once(deps.tasks, task)
    except AdapterError as exc:
        deps.log.warning(
            "reconciliation not scheduled", extra={"merchant_order_id": merchant_order_id, "error": str(exc)}
        )
        return False
    return True


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
        # The repo re-applies next_state under the row lock: of concurrent callers exactly one grants.
        plan = deps.repo.get_plan(order.plan_id)
        activation = deps.repo.activate(
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
    """PhonePe says FAILED: the move and its payment-failed outbox row commit together (``repo.fail``);
    only the caller whose conditional update matched gets an outbox id, so a repeat sends nothing."""
    mid = order.merchant_order_id
    plan = deps.repo.get_plan(order.plan_id)
    error_code = status.error_code or "FAILED"
    failed, outbox_id = deps.repo.fail(
        mid,
        error_code=error_code,
        payment_details=status.payment_details,
        email_subject=failed_subject(plan.name if plan else order.plan_id),
        email_extra=failed_email_extra(status.error_code, deps.config.frontend_url),
    )
    if failed is not None:
        deps.log.bind(merchant_order_id=mid).info("payment failed", extra={"error_code": error_code})
    return Applied("failed", failed or deps.repo.get_order(mid), outbox_id)


def deliver_email(deps: PaymentDeps, outbox_id: str) -> bool:
    """Send one just-committed outbox email now (the sweep retries whatever fails here)."""
    try:
        row = deps.repo.claim_email(outbox_id, lease_s=OUTBOX_LEASE_S)
    except AdapterError as exc:
        deps.log.warning("outbox claim failed; left for the sweep", extra={"outbox_id": outbox_id, "error": str(exc)})
        return False
    return send_claimed(deps, row) if row is not None else False


def schedule_outbox_relay(deps: PaymentDeps, outbox_id: str, *, attempt: int, delay_s: float) -> bool:
    """Run the outbox relay when this email is due again (sooner than the 15-minute sweep).

    Named per outbox row and attempt, so a repeat is a no-op; False when the queue is down
    (the maintenance sweep still finds the row)."""
    task = TaskRequest(
        queue=deps.config.outbox_queue,
        url=deps.config.outbox_relay_url,
        payload={"outbox_id": outbox_id},
        name=f"outbox-{outbox_id}-{attempt}",
        delay_s=delay_s,
    )
    try:
        enqueue_once(deps.tasks, task)
    except AdapterError as exc:
        deps.log.warning("outbox relay not scheduled; the sweep will send it", extra={"error": str(exc)})
        return False
    return True


def send_claimed(deps: PaymentDeps, row: OutboxEmail) -> bool:
    """Send a claimed outbox row; mark it sent, or back off / give up."""
    try:
        deps.mailer.send(message_for(row))
    except AdapterError as exc:
        give_up = not exc.retryable or row.attempts >= OUTBOX_MAX_ATTEMPTS
        retry_in = None if give_up else outbox_backoff(row.attempts)
        (deps.log.error if give_up else deps.log.warning)(
            "email not sent", extra={"outbox_id": row.id, "attempts": row.attempts, "error": str(exc)}
        )
        with contextlib.suppress(AdapterError):  # if this fails too, the lease runs out and the sweep retries
            deps.repo.mark_email_failed(row.id, error=str(exc), retry_in_s=retry_in)
        if retry_in is not None:
            schedule_outbox_relay(deps, row.id, attempt=row.attempts, delay_s=retry_in)
        return False
    try:
        deps.repo.mark_email_sent(row.id)
    except AdapterError as exc:
        # Sent but not marked: the retry carries the same idempotency key, so no second email.
        deps.log.warning("email sent but not marked", extra={"outbox_id": row.id, "error": str(exc)})
    return True


__all__ = [
    "PROVIDER",
    "Applied",
    "PaymentConfig",
    "PaymentDeps",
    "apply_gateway_status",
    "deliver_email",
    "new_merchant_order_id",
    "schedule_reconcile",
    "send_claimed",
    "sources_of",
    "until_expiry_s",
    "webhook_authorization_ok",
]
