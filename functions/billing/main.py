"""billing: a workspace's plan, next charge and transactions; cancel and resume.

``workspace_id`` (query for GET, body for POSTs) defaults to the caller's own
workspace; one the caller is not a member of answers 404.
"""

from __future__ import annotations

from typing import Any

from lib import bootstrap
from lib.contract.billing import BillingOverview, ChangeRequest, ReceiptLink, SubscriptionView, WorkspaceRequest
from lib.http import RequestContext, Router
from lib.http.query import WORKSPACE_ID, QueryParam
from lib.services.payments.deps import PaymentDeps
from lib.services.payments.receipts import receipt_link
from lib.services.payments.subscriptions import (
    ChangeCommand,
    billing_overview,
    cancel_subscription,
    change_subscription,
    resume_subscription,
)

router = Router("billing", wiring=bootstrap.payments)
RECEIPT_NUMBER = QueryParam(
    "number",
    "The receipt's number, as listed with its transaction (R/2026-27/000123).",
    {"type": "string", "pattern": "^R/[0-9]{4}-[0-9]{2}/[0-9]{6,}$"},
    required=True,
)


def _body_workspace(ctx: RequestContext[PaymentDeps]) -> str:
    body = ctx.json()
    requested = body.get("workspace_id")
    return ctx.workspace_id(requested if requested not in (None, "") else None)


def _text(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    return value if isinstance(value, str) else ""


@router.route(
    "/",
    methods=["GET"],
    auth="user",
    rate="read",
    query=[WORKSPACE_ID],
    responses={200: BillingOverview},
    problems=["workspace_not_found"],
)
def overview(ctx: RequestContext[PaymentDeps]) -> BillingOverview:
    """Plan, status, period, next charge, cancel flag, credit and the workspace's transactions."""
    return BillingOverview.model_validate(
        billing_overview(ctx.workspace_id(ctx.arg("workspace_id") or None), deps=ctx.app)
    )


@router.route(
    "/receipt",
    methods=["GET"],
    auth="user",
    rate="read",
    query=[RECEIPT_NUMBER, WORKSPACE_ID],
    responses={200: ReceiptLink},
    problems=["workspace_not_found", "invalid_receipt_number", "receipt_not_found", "receipts_unavailable"],
)
def receipt(ctx: RequestContext[PaymentDeps]) -> ReceiptLink:
    """A receipt as PDF behind a 15-minute signed URL; 404 for no such receipt in the workspace."""
    workspace_id = ctx.workspace_id(ctx.arg("workspace_id") or None)
    return ReceiptLink.model_validate(receipt_link(workspace_id, ctx.arg("number") or "", deps=ctx.app))


@router.route(
    "/cancel",
    methods=["POST"],
    auth="user",
    rate="write",
    idempotent=True,
    body=WorkspaceRequest,
    responses={200: SubscriptionView},
    problems=["workspace_not_found", "nothing_to_cancel", "subscription_not_found", "autopay_unavailable"],
)
def cancel(ctx: RequestContext[PaymentDeps]) -> SubscriptionView:
    """Cancel at the period end; 409 ``nothing_to_cancel`` for free, lapsed or already cancelled plans."""
    return SubscriptionView.model_validate(cancel_subscription(_body_workspace(ctx), deps=ctx.app))


@router.route(
    "/change",
    methods=["POST"],
    auth="user",
    rate="write",
    idempotent=True,
    body=ChangeRequest,
    responses={200: SubscriptionView},
    problems=[
        "workspace_not_found",
        "unknown_plan",
        "unknown_billing_period",
        "plan_not_purchasable",
        "change_not_schedulable",
        "subscription_not_found",
    ],
)
def change(ctx: RequestContext[PaymentDeps]) -> SubscriptionView:
    """Schedule a downgrade or a monthly/annual switch for the period end (the plan you have clears
    it); 409 ``change_not_schedulable`` for upgrades (pay now), free, cancelled or lapsed plans."""
    body = ctx.json()
    workspace_id = _body_workspace(ctx)
    command = ChangeCommand(workspace_id, _text(body, "plan"), _text(body, "billing_period"))
    return SubscriptionView.model_validate(change_subscription(command, deps=ctx.app))


@router.route(
    "/resume",
    methods=["POST"],
    auth="user",
    rate="write",
    idempotent=True,
    body=WorkspaceRequest,
    responses={200: SubscriptionView},
    problems=["workspace_not_found", "nothing_to_resume", "subscription_not_found"],
)
def resume(ctx: RequestContext[PaymentDeps]) -> SubscriptionView:
    """Undo a cancellation before the period ends; 409 ``nothing_to_resume`` otherwise."""
    return SubscriptionView.model_validate(resume_subscription(_body_workspace(ctx), deps=ctx.app))


main = router.entry_point()
