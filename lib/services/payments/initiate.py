"""initiate_payment: price from ``plans``, order row, reconciliation, PhonePe pay.

The reconciliation task is queued BEFORE the pay call: whatever happens next
(PhonePe down, a timeout after PhonePe accepted, this instance dying), the
order already has a status check coming.  A pay that may have reached PhonePe
is resolved by that check, never by a second pay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lib.domain.autopay import AutoPayNotAvailable
from lib.domain.payment_records import CREATED, FAILED, NewOrder, Order, OrderKind
from lib.domain.payments import MIN_PAYABLE_PAISE, UnknownPlan, new_merchant_order_id, quote
from lib.domain.subscriptions import plan_purchase
from lib.errors import AdapterError, FieldError, ServiceUnavailable, Unprocessable
from lib.services.payments.autopay import autopay_view, on_failed, start_mandate
from lib.services.payments.deps import PaymentDeps
from lib.services.payments.grants import grant_free
from lib.services.payments.ports import PayResult
from lib.services.payments.scheduling import schedule_reconcile
from lib.services.payments.subscriptions import list_price

# What a 503 tells the client to wait before retrying the checkout.
GATEWAY_RETRY_AFTER_S = 30


@dataclass(frozen=True)
class InitiateCommand:
    user_id: str
    workspace_id: str
    plan: Any
    billing_period: Any
    autopay: Any = False


def parse_command(body: dict[str, Any], *, user_id: str, workspace_id: str) -> InitiateCommand:
    """The fields we read; anything else (an ``amount``, say) is ignored: prices come from ``plans``."""
    return InitiateCommand(
        user_id, workspace_id, body.get("plan"), body.get("billing_period", "monthly"), body.get("autopay", False)
    )


def _order_json(order: Order) -> dict[str, Any]:
    return {
        "merchant_order_id": order.merchant_order_id,
        "checkout_url": order.checkout_url,
        "amount": order.amount_paise,
        "credit": order.credit_paise,
        "currency": order.currency,
        "state": order.state,
        "plan": order.plan_id,
        "billing_period": order.billing_period,
        "expires_at": order.expires_at.isoformat() if order.expires_at else None,
        "autopay": order.kind == OrderKind.MANDATE_SETUP,
    }


def initiate_payment(cmd: InitiateCommand, *, deps: PaymentDeps) -> tuple[dict[str, Any], int]:
    if not isinstance(cmd.plan, str) or not cmd.plan:
        raise UnknownPlan("Unknown plan.", errors=[FieldError("plan", "required: one of free, starter, growth")])
    period = cmd.billing_period if isinstance(cmd.billing_period, str) else ""
    plan = deps.repo.get_plan(cmd.plan)
    # The domain's pricing rule: unknown plan or period, or no online price, is a 422.
    priced = quote({plan.id: plan} if plan else {}, cmd.plan, period)
    billing = priced.billing_period.value
    if not priced.needs_checkout:
        subscription = grant_free(deps, cmd.workspace_id, cmd.user_id, billing)
        return {"state": "COMPLETED", "plan": priced.plan_id, "subscription": subscription.as_json()}, 200

    if not isinstance(cmd.autopay, bool):
        raise Unprocessable(
            "autopay must be true or false.",
            code="invalid_autopay",
            errors=[FieldError("autopay", "must be a boolean")],
        )
    now = deps.clock.now()
    current = deps.repo.get_subscription(cmd.workspace_id)
    if cmd.autopay and autopay_view(deps, cmd.workspace_id) is not None:
        raise AutoPayNotAvailable(
            "UPI AutoPay is already on for this workspace: renewals are charged through it.",
            extra={"workspace_id": cmd.workspace_id},
        )
    purchase = plan_purchase(current, priced.plan_id, billing, list_price(deps), now=now, grace=deps.config.grace)
    # An upgrade pays the list price less the old plan's unused time (never below PhonePe's minimum).
    price = max(priced.amount_paise - purchase.credit_paise, MIN_PAYABLE_PAISE)
    credit = priced.amount_paise - price
    mid = new_merchant_order_id(now)
    kind = OrderKind.MANDATE_SETUP if cmd.autopay else OrderKind.CHECKOUT
    new = NewOrder(mid, cmd.workspace_id, cmd.user_id, priced.plan_id, billing, price, credit_paise=credit, kind=kind)
    order = deps.repo.create_order(new)
    schedule_reconcile(deps, mid, step=0, chain="pay")
    mandate_id: str | None = None
    try:
        if cmd.autopay:
            setup = start_mandate(deps, order)
            mandate_id = setup.merchant_subscription_id
            paid = PayResult(setup.phonepe_order_id, "PENDING", setup.expire_at, setup.checkout_url)
        else:
            paid = deps.gateway.pay(
                merchant_order_id=mid,
                amount_paise=price,
                redirect_url=f"{deps.config.frontend_url}/billing/return?order={mid}",
                expire_after_s=deps.config.order_expire_s,
                meta_info={"udf1": cmd.workspace_id, "udf2": cmd.user_id, "udf3": f"{priced.plan_id}:{billing}"},
            )
    except AdapterError as exc:
        bound = deps.log.bind(merchant_order_id=mid)
        if exc.retryable:
            bound.warning("PhonePe unreachable at pay; reconciliation will decide", extra={"error": str(exc)})
            raise ServiceUnavailable(
                "The payment provider is unreachable; try again shortly.",
                code="payment_provider_unavailable",
                headers={"Retry-After": str(GATEWAY_RETRY_AFTER_S)},
                extra={"merchant_order_id": mid},
            ) from exc
        bound.error("PhonePe refused the pay call", extra={"error": str(exc)})
        with deps.unit() as uow:
            failed = uow.payments.transition(mid, FAILED, from_states=(CREATED,), error_code="PAY_REJECTED")
            if failed is not None:
                on_failed(uow, failed)
            uow.commit()
        raise ServiceUnavailable("The payment provider refused the order.", code="payment_provider_rejected") from exc
    pending = deps.repo.mark_pending(
        mid, phonepe_order_id=paid.phonepe_order_id, checkout_url=paid.redirect_url, expires_at=paid.expire_at
    )
    # None: a reconciliation moved it first (it cannot have lost the checkout URL we just got).
    body = _order_json(pending or deps.repo.get_order(mid) or order)
    if mandate_id is not None:
        body["merchant_subscription_id"] = mandate_id  # the mandate the customer approves
    return body, 201
