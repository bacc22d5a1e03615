"""payment_reconcile: the status-check ladders for orders and refunds still open (Cloud Tasks worker).

2xx acknowledges the task; a 5xx (database down) makes Cloud Tasks retry it.
"""

from __future__ import annotations

from lib import bootstrap
from lib.contract.payments import ReconcileRequest, ReconcileStep, RefundCheckRequest, RefundCheckStep
from lib.http import RequestContext, Router
from lib.services.payments.deps import PaymentDeps
from lib.services.payments.reconcile import parse_reconcile, reconcile_order
from lib.services.payments.refunds import check_refund, parse_refund_check

router = Router("payment_reconcile", wiring=bootstrap.payments)


@router.route(
    "/",
    methods=["POST"],
    auth="internal",
    rate=None,
    body=ReconcileRequest,
    responses={200: ReconcileStep},
    problems=["bad_task"],
)
def reconcile(ctx: RequestContext[PaymentDeps]) -> ReconcileStep:
    """One rung of the ladder for one order."""
    return ReconcileStep.model_validate(reconcile_order(parse_reconcile(ctx.json()), deps=ctx.app))


@router.route(
    "/refund",
    methods=["POST"],
    auth="internal",
    rate=None,
    body=RefundCheckRequest,
    responses={200: RefundCheckStep},
    problems=["bad_task", "refund_not_found"],
)
def refund(ctx: RequestContext[PaymentDeps]) -> RefundCheckStep:
    """One rung of the ladder for one refund."""
    return RefundCheckStep.model_validate(check_refund(parse_refund_check(ctx.json()), deps=ctx.app))


main = router.entry_point()
