"""Refunds: an operator's request, PhonePe's answer, and what a completed refund changes.

Order of work, each step for a reason:
1. ``request_refund`` writes the refund row (REQUESTED) under the order's row lock, after the
   domain's amount rules, and commits BEFORE PhonePe is asked: a crash or a lost answer leaves a
   row the ladder finishes, never a refund we do not know about.  The same ``merchant_refund_id``
   again is the same refund (PhonePe de-duplicates on it too): never two refunds for one request.
2. PhonePe is asked (``start_refund``); its answer, a ``PG_REFUND_*`` webhook (a hint, checked
   with ``refund_state`` like order webhooks) or a step of the refund ladder settles the row.
3. ``settle_refund`` applies a final state in one unit of work: the refund row; on COMPLETED the
   order's move to REFUNDED once refunds cover it, the subscription's time taken back
   (``lib.domain.refunds.after_refund``) and the customer's email (once per refund).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lib import ops_events
from lib.domain.payment_records import COMPLETED, REFUNDED, Order
from lib.domain.refunds import (
    OPEN_REFUND_STATES,
    REFUND_EMAIL,
    NewRefund,
    Refund,
    RefundIdConflict,
    RefundRequest,
    RefundState,
    after_refund,
    fully_refunded,
    gateway_refund_state,
    refund_amount,
    same_request,
    validate_request,
)
from lib.errors import AdapterError, BadRequest, NotFound, Rejected
from lib.ports import TaskRequest
from lib.services.payments.deps import PaymentDeps, schedule
from lib.services.payments.emails import billing_notice, rupees
from lib.services.payments.outbox import deliver_email
from lib.services.payments.ports import GatewayRefund, PaymentsUnit

# The refund ladder: PhonePe settles most refunds within minutes and some within days.
REFUND_CHECK_DELAYS_S: tuple[float, ...] = (30.0, 120.0, 600.0, 1800.0, 3600.0)
# After the ladder, once every this many seconds (the maintenance sweep also re-queues).
REFUND_CHECK_TAIL_S = 6 * 3600.0
# A refund still open after this many ladder steps (about 7 days) is left to the sweep and an alert.
MAX_REFUND_STEPS = 32
# The sweep re-queues open refunds nobody has checked for this long.
REFUND_STALE_AFTER_S = 3600


@dataclass(frozen=True)
class RefundOutcome:
    refund: Refund
    created: bool

    def as_json(self) -> dict[str, Any]:
        return {"refund": self.refund.as_json(), "created": self.created}


def request_refund(req: RefundRequest, *, deps: PaymentDeps) -> RefundOutcome:
    """Record the refund (or find the earlier request with this id), ask PhonePe, start the ladder."""
    validate_request(req)
    with deps.unit() as uow:
        order = uow.payments.lock_order(req.merchant_order_id)
        existing = uow.refunds.get_refund(req.merchant_refund_id)
        if existing is not None:
            if not same_request(existing, req):
                raise RefundIdConflict(
                    f"Refund id {req.merchant_refund_id} was used for another request"
                    f" ({existing.merchant_order_id}, {existing.amount_paise} paise).",
                    extra={"merchant_refund_id": req.merchant_refund_id},
                )
            refund, created = existing, False
        else:
            amount = refund_amount(order, uow.refunds.order_refunds(req.merchant_order_id), req)
            assert order is not None, "refund_amount answers 404 for a missing order"
            refund = uow.refunds.add_refund(
                NewRefund(
                    req.merchant_refund_id,
                    order.merchant_order_id,
                    order.workspace_id,
                    amount,
                    req.reason.strip(),
                    req.requested_by,
                )
            )
            uow.commit()
            created = True
    deps.log.info(
        "refund requested",
        extra={"merchant_refund_id": refund.merchant_refund_id, "amount_paise": refund.amount_paise, "new": created},
    )
    if refund.state == RefundState.REQUESTED:
        refund = _ask(deps, refund)
    if refund.open:
        schedule_refund_check(deps, refund.merchant_refund_id, step=0)
    return RefundOutcome(refund, created)


def _ask(deps: PaymentDeps, refund: Refund) -> Refund:
    """Send the refund to PhonePe (again, when a check found PhonePe never got it).  An outage
    leaves it REQUESTED for the ladder; a refusal is final (FAILED, alerted)."""
    try:
        answer = deps.gateway.start_refund(
            merchant_refund_id=refund.merchant_refund_id,
            merchant_order_id=refund.merchant_order_id,
            amount_paise=refund.amount_paise,
        )
    except Rejected as exc:
        # A repeat of a refund PhonePe already holds may be refused as a duplicate: its state decides.
        known = _known(deps, refund.merchant_refund_id)
        failed = GatewayRefund(True, "FAILED", error_code=_code(exc))
        return settle_refund(deps, refund.merchant_refund_id, known if known is not None else failed)
    except AdapterError as exc:
        deps.log.warning(
            "refund not sent; the ladder asks again",
            extra={"merchant_refund_id": refund.merchant_refund_id, "error": str(exc)},
        )
        return refund
    return settle_refund(deps, refund.merchant_refund_id, answer)


def _known(deps: PaymentDeps, merchant_refund_id: str) -> GatewayRefund | None:
    """PhonePe's refund with this id, or None when it has none (or cannot say now)."""
    try:
        answer = deps.gateway.refund_state(merchant_refund_id)
    except AdapterError:
        return None
    return answer if answer.found else None


def _code(exc: Rejected) -> str:
    return str(exc.details.get("code") or "REFUND_REJECTED")


def settle_refund(deps: PaymentDeps, merchant_refund_id: str, answer: GatewayRefund) -> Refund:
    """Apply PhonePe's word on a refund, in one unit of work (order lock, then refund, then
    workspace: the order of every payment unit).  A repeat changes nothing."""
    state = gateway_refund_state(answer.state) if answer.found else None
    outbox_id: str | None = None
    with deps.unit() as uow:
        found = uow.refunds.get_refund(merchant_refund_id)
        if found is None:
            raise NotFound(f"No refund {merchant_refund_id}.", code="refund_not_found")
        order = uow.payments.lock_order(found.merchant_order_id)
        refund = uow.refunds.get_refund(merchant_refund_id, lock=True)
        assert order is not None, "a refund's order is never deleted"
        assert refund is not None, "refund rows are never deleted"
        if not refund.open or state is None or (state == RefundState.PENDING and refund.state == state):
            uow.refunds.touch_refund_checked(merchant_refund_id)
            uow.commit()
            return refund
        moved = uow.refunds.move_refund(
            merchant_refund_id,
            state,
            from_states=OPEN_REFUND_STATES,
            phonepe_refund_id=answer.phonepe_refund_id,
            error_code=answer.error_code,
        )
        assert moved is not None, "the refund row is locked in this unit"
        if state == RefundState.COMPLETED:
            outbox_id = _completed(deps, uow, order, moved)
        uow.commit()
    if state == RefundState.FAILED:
        deps.log.error(
            "refund failed",
            extra={
                "event": ops_events.REFUND_FAILED,
                "merchant_refund_id": merchant_refund_id,
                "error_code": answer.error_code,
            },
        )
    if outbox_id:
        deliver_email(deps, outbox_id)
    return moved


def _completed(deps: PaymentDeps, uow: PaymentsUnit, order: Order, refund: Refund) -> str | None:
    """The money has gone back: the order, the subscription's time, the customer's email."""
    now = deps.clock.now()
    if order.state == COMPLETED and fully_refunded(order, uow.refunds.order_refunds(order.merchant_order_id)):
        uow.payments.transition(order.merchant_order_id, REFUNDED, from_states=(COMPLETED,))
    uow.payments.lock_workspace(order.workspace_id)
    current = uow.payments.get_subscription(order.workspace_id, lock=True)
    changed = after_refund(current, order, refund.amount_paise, now, deps.config.grace)
    if changed is not None:
        uow.payments.save_subscription(changed)
    facts = uow.payments.email_facts(order.user_id, order.workspace_id, order.plan_id)
    if facts is None:
        return None
    after = changed or current
    if changed is not None and changed.status == "cancelled":
        access = f"Your {facts.plan_name} plan has ended with this refund."
    elif changed is not None and changed.current_period_end is not None:
        access = f"Your {facts.plan_name} plan now runs until {changed.current_period_end.date().isoformat()}."
    else:
        access = "Your plan is unchanged."
    email = billing_notice(
        REFUND_EMAIL,
        facts,
        f"Refund of {rupees(refund.amount_paise)} processed",
        [
            f"We have refunded {rupees(refund.amount_paise)} of your payment {order.merchant_order_id}"
            f" for {facts.workspace_name} (refund {refund.merchant_refund_id}).",
            "It reaches the account you paid from within 5-7 working days, depending on your bank.",
            access,
        ],
        f"{REFUND_EMAIL}/{refund.merchant_refund_id}",
        frontend_url=deps.config.frontend_url,
        extra={
            "merchant_order_id": order.merchant_order_id,
            "merchant_refund_id": refund.merchant_refund_id,
            "amount_paise": refund.amount_paise,
            "plan_name": facts.plan_name,
            "workspace_name": facts.workspace_name,
            "period_end": after.current_period_end.isoformat() if after and after.current_period_end else None,
        },
    )
    if email is None:
        return None
    uow.payments.add_email(email)
    return email.id


# --- the ladder ----------------------------------------------------------------------------------


def refund_check_delay(step: int) -> float:
    return REFUND_CHECK_DELAYS_S[step] if step < len(REFUND_CHECK_DELAYS_S) else REFUND_CHECK_TAIL_S


def schedule_refund_check(deps: PaymentDeps, merchant_refund_id: str, *, step: int, chain: str = "req") -> bool:
    task = TaskRequest(
        queue=deps.config.queue,
        url=deps.config.refund_check_url,
        payload={"merchant_refund_id": merchant_refund_id, "step": step, "chain": chain},
        name=f"refund-{merchant_refund_id}-{chain}-{step}",
        delay_s=refund_check_delay(step),
    )
    return schedule(deps, task, "refund check not scheduled", merchant_refund_id=merchant_refund_id)


@dataclass(frozen=True)
class RefundCheck:
    merchant_refund_id: str
    step: int = 0
    chain: str = "req"


def parse_refund_check(body: dict[str, Any]) -> RefundCheck:
    rid, step, chain = body.get("merchant_refund_id"), body.get("step", 0), body.get("chain", "req")
    if not isinstance(rid, str) or not rid or not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise BadRequest("merchant_refund_id (string) and step (int >= 0) are required.", code="bad_task")
    if not isinstance(chain, str):
        raise BadRequest("chain must be a string.", code="bad_task")
    return RefundCheck(rid, step, chain)


def check_refund(cmd: RefundCheck, *, deps: PaymentDeps) -> dict[str, Any]:
    """One ladder step: ask PhonePe, settle, queue the next step while still open.  PhonePe not
    knowing a REQUESTED refund means our request never reached it: it is sent again (same id)."""
    with deps.unit() as uow:
        refund = uow.refunds.get_refund(cmd.merchant_refund_id)
    if refund is None:
        deps.log.warning("refund check for an unknown refund", extra={"merchant_refund_id": cmd.merchant_refund_id})
        return {"state": "unknown"}
    if not refund.open:
        return {"state": refund.state}
    try:
        answer = deps.gateway.refund_state(refund.merchant_refund_id)
    except AdapterError as exc:
        deps.log.warning(
            "refund check failed", extra={"merchant_refund_id": refund.merchant_refund_id, "error": str(exc)}
        )
        answer = None
    if answer is not None and not answer.found and refund.state == RefundState.REQUESTED:
        refund = _ask(deps, refund)
    elif answer is not None:
        refund = settle_refund(deps, refund.merchant_refund_id, answer)
    if refund.open:
        if cmd.step + 1 < MAX_REFUND_STEPS:
            schedule_refund_check(deps, refund.merchant_refund_id, step=cmd.step + 1, chain=cmd.chain)
        else:
            deps.log.error(
                "refund still open after its ladder",
                extra={"event": ops_events.REFUND_STUCK, "merchant_refund_id": refund.merchant_refund_id},
            )
    return {"state": refund.state}


def sweep_stale_refunds(*, deps: PaymentDeps, limit: int = 200) -> int:
    """Re-queue open refunds nobody has checked for an hour (a lost chain, a queue that was down)."""
    with deps.unit() as uow:
        stale = uow.refunds.stale_open_refunds(older_than_s=REFUND_STALE_AFTER_S, limit=limit)
    chain = f"sweep{int(deps.clock.now().timestamp()) // REFUND_STALE_AFTER_S}"
    return sum(schedule_refund_check(deps, r.merchant_refund_id, step=0, chain=chain) for r in stale)
