"""payment_status: one order's state for its owner (checked with PhonePe when PENDING and stale)."""

from __future__ import annotations

from typing import Any

from lib import bootstrap
from lib.http import RequestContext, Router
from lib.services.payments.deps import PaymentDeps
from lib.services.payments.status import StatusQuery, get_payment_status

router = Router("payment_status", wiring=bootstrap.payments)


@router.route("/<merchant_order_id>", methods=["GET"], auth="user", rate="read")
def get_status(ctx: RequestContext[PaymentDeps], merchant_order_id: str) -> dict[str, Any]:
    """Another user's order is 404."""
    return get_payment_status(StatusQuery(ctx.user_id, merchant_order_id), deps=ctx.app)


main = router.entry_point()
