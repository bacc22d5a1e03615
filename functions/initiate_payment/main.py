"""initiate_payment: create a PhonePe order for a plan and return its checkout URL.

Thin by design: parse -> ``lib.services.payments.initiate`` -> respond.
"""

from __future__ import annotations

from lib import bootstrap
from lib.contract.payments import FreePlanGranted, InitiatePaymentRequest, Order
from lib.http import RequestContext, Router
from lib.services.payments.deps import PaymentDeps
from lib.services.payments.initiate import initiate_payment, parse_command

router = Router("initiate_payment", wiring=bootstrap.payments)


@router.route(
    "/",
    methods=["POST"],
    auth="user",
    rate="write",
    idempotent=True,
    body=InitiatePaymentRequest,
    responses={201: Order, 200: FreePlanGranted},
    problems=[
        "workspace_not_found",
        "unknown_plan",
        "unknown_billing_period",
        "plan_not_purchasable",
        "invalid_autopay",
        "renewal_not_open",
        "plan_change_not_available",
        "autopay_not_available",
        "payment_provider_unavailable",
        "payment_provider_rejected",
        "autopay_unavailable",
    ],
)
def create_order(ctx: RequestContext[PaymentDeps]) -> tuple[Order | FreePlanGranted, int]:
    """Price from plans, reconciliation scheduled, PhonePe pay; ``free`` activates at once."""
    body = ctx.json()
    workspace_id = ctx.workspace_id(body.get("workspace_id"))
    command = parse_command(body, user_id=ctx.user_id, workspace_id=workspace_id)
    result, status = initiate_payment(command, deps=ctx.app)
    return (Order if status == 201 else FreePlanGranted).model_validate(result), status


main = router.entry_point()
