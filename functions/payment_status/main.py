"""payment_status: one order's state for its owner (checked with PhonePe when PENDING and stale)."""

from __future__ import annotations

from lib import bootstrap
from lib.contract.payments import PaymentStatus
from lib.http import RequestContext, Router
from lib.services.payments.deps import PaymentDeps
from lib.services.payments.status import StatusQuery, get_payment_status

router = Router("payment_status", wiring=bootstrap.payments)


@router.route(
    "/<merchant_order_id>",
    methods=["GET"],
    auth="user",
    rate="read",
    responses={200: PaymentStatus},
    problems=["order_not_found"],
)
def get_status(ctx: RequestContext[PaymentDeps], merchant_order_id: str) -> PaymentStatus:
    """Another user's order is 404."""
    return PaymentStatus.model_validate(get_payment_status(StatusQuery(ctx.user_id, merchant_order_id), deps=ctx.app))


main = router.entry_point()
