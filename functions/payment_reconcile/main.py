"""payment_reconcile: the status-check ladders for orders and refunds still open (Cloud Tasks worker).

2xx acknowledges the task; a 5xx (database down) makes Cloud Tasks retry it.
"""

from __future__ import annotations

from typing import Any

from lib import bootstrap
from lib.http import RequestContext, Router
from lib.services.payments.deps import PaymentDeps
from lib.services.payments.reconcile import parse_reconcile, reconcile_order
from lib.services.payments.refunds import check_refund, parse_refund_check

router = Router("payment_reconcile", wiring=bootstrap.payments)


@router.route("/", methods=["POST"], auth="internal", rate=None)
def reconcile(ctx: RequestContext[PaymentDeps]) -> dict[str, Any]:
    """One rung of the ladder for one order."""
    return reconcile_order(parse_reconcile(ctx.json()), deps=ctx.app)


@router.route("/refund", methods=["POST"], auth="internal", rate=None)
def refund(ctx: RequestContext[PaymentDeps]) -> dict[str, Any]:
    """One rung of the ladder for one refund."""
    return check_refund(parse_refund_check(ctx.json()), deps=ctx.app)


main = router.entry_point()
