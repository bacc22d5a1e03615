"""maintenance: scheduled jobs: expire sessions, sweep the email outbox, reconcile old orders and
refunds, move subscriptions through their lifecycle, notify and debit UPI AutoPay renewals (Cloud
Scheduler); and the operator's refund.

The outbox and payment sweeps run the payment services; expire-sessions runs the onboarding sweep.
One route per Cloud Scheduler job (each tied to its Terraform job by a test).  ``POST /refunds``
is an operator's action (``python -m lib refund``), under the same Google OIDC check: the
caller's identity must be in ``OIDC_ALLOWED_EMAILS`` and is recorded as ``requested_by``.
"""

from __future__ import annotations

from typing import Any

from lib import bootstrap
from lib.bootstrap import MaintenanceDeps
from lib.contract.common import NoBody
from lib.contract.maintenance import (
    AutoPayRun,
    OutboxSwept,
    PaymentsRequeued,
    RefundOutcome,
    RefundRequestBody,
    SessionsExpired,
    SubscriptionsSwept,
)
from lib.domain.refunds import RefundRequest
from lib.errors import FieldError, Unprocessable
from lib.http import RequestContext, Router
from lib.services import onboarding
from lib.services.payments import subscriptions
from lib.services.payments.autopay import run_autopay
from lib.services.payments.reconcile import relay_outbox, sweep_stale_orders
from lib.services.payments.refunds import request_refund, sweep_stale_refunds

router = Router("maintenance", wiring=bootstrap.maintenance)
# Called by an operator (``python -m lib refund``), not by a Scheduler job.
OPERATOR_PATHS = frozenset({"/refunds"})


@router.route(
    "/expire-sessions", methods=["POST"], auth="internal", rate=None, body=NoBody, responses={200: SessionsExpired}
)
def expire_sessions(ctx: RequestContext[MaintenanceDeps]) -> SessionsExpired:
    """Mark onboarding sessions without a save for 7 days abandoned (drafts expire by Firestore TTL)."""
    return SessionsExpired.model_validate(onboarding.abandon_stale(deps=ctx.app.onboarding))


@router.route("/sweep-outbox", methods=["POST"], auth="internal", rate=None, body=NoBody, responses={200: OutboxSwept})
def sweep_outbox(ctx: RequestContext[MaintenanceDeps]) -> OutboxSwept:
    """Send pending emails from the outbox (each failure backs off on its own row)."""
    return OutboxSwept.model_validate(relay_outbox(deps=ctx.app.payments))


@router.route(
    "/reconcile-payments", methods=["POST"], auth="internal", rate=None, body=NoBody, responses={200: PaymentsRequeued}
)
def reconcile_payments(ctx: RequestContext[MaintenanceDeps]) -> PaymentsRequeued:
    """Queue reconciliation for open orders and refunds nobody checked recently."""
    swept = sweep_stale_orders(deps=ctx.app.payments)
    return PaymentsRequeued.model_validate({**swept, "refunds_requeued": sweep_stale_refunds(deps=ctx.app.payments)})


@router.route(
    "/sweep-subscriptions",
    methods=["POST"],
    auth="internal",
    rate=None,
    body=NoBody,
    responses={200: SubscriptionsSwept},
)
def sweep_subscriptions(ctx: RequestContext[MaintenanceDeps]) -> SubscriptionsSwept:
    """Move due subscriptions (past due, expired, ended) and queue their reminders and notices."""
    return SubscriptionsSwept.model_validate(subscriptions.sweep_all_due(deps=ctx.app.payments).as_json())


@router.route("/autopay", methods=["POST"], auth="internal", rate=None, body=NoBody, responses={200: AutoPayRun})
def autopay(ctx: RequestContext[MaintenanceDeps]) -> AutoPayRun:
    """UPI AutoPay renewals: notify those ending within 48 h, debit those due (24 h after notice)."""
    return AutoPayRun.model_validate(run_autopay(deps=ctx.app.payments).as_json())


@router.route(
    "/refunds",
    methods=["POST"],
    auth="internal",
    rate=None,
    body=RefundRequestBody,
    responses={200: RefundOutcome},
    problems=["invalid_refund", "order_not_found", "order_not_refundable", "refund_id_conflict", "refund_exceeds_paid"],
)
def refund(ctx: RequestContext[MaintenanceDeps]) -> RefundOutcome:
    """Refund a paid order, in full or ``amount_paise`` of it.  Idempotent on ``merchant_refund_id``:
    the same request again answers the same refund (``created`` false)."""
    body = ctx.json()
    outcome = request_refund(
        _refund_request(body, ctx.principal.email if ctx.principal else None), deps=ctx.app.payments
    )
    return RefundOutcome.model_validate(outcome.as_json())


def _refund_request(body: dict[str, Any], caller: str | None) -> RefundRequest:
    errors = [
        FieldError(name, "is required (a string)")
        for name in ("merchant_order_id", "merchant_refund_id", "reason")
        if not isinstance(body.get(name), str)
    ]
    amount = body.get("amount_paise")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)):
        errors.append(FieldError("amount_paise", "must be an integer number of paise, or absent for all of it"))
    if errors:
        raise Unprocessable("The refund request is not valid.", code="invalid_refund", errors=errors)
    return RefundRequest(
        merchant_order_id=body["merchant_order_id"],
        merchant_refund_id=body["merchant_refund_id"],
        reason=body["reason"],
        requested_by=caller or "unknown",
        amount_paise=amount,
    )


main = router.entry_point()
