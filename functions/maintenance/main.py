"""maintenance: scheduled jobs: expire sessions, sweep the email outbox, reconcile old orders (Cloud Scheduler).

Routes per API.md; the outbox and payment sweeps run the payment services (issue 3); expire-sessions runs the
onboarding sweep (issue 4). One route per Cloud Scheduler job.
"""

from __future__ import annotations

from typing import Any

import functions_framework
from flask import Request, Response

from lib.http import RequestContext, Router
from lib.services.payments.reconcile import relay_outbox, sweep_stale_orders

router = Router("maintenance")


@router.route("/expire-sessions", methods=["POST"], auth="internal", rate=None)
def expire_sessions(ctx: RequestContext) -> dict[str, Any]:
    """Mark onboarding sessions without a save for 7 days abandoned (drafts expire by Firestore TTL)."""
    return ctx.deps.container.onboarding.abandon_stale()


@router.route("/sweep-outbox", methods=["POST"], auth="internal", rate=None)
def sweep_outbox(ctx: RequestContext) -> dict[str, Any]:
    """Send pending emails from the outbox (each failure backs off on its own row)."""
    return relay_outbox(deps=ctx.deps.container.payment_deps)


@router.route("/reconcile-payments", methods=["POST"], auth="internal", rate=None)
def reconcile_payments(ctx: RequestContext) -> dict[str, Any]:
    """Queue reconciliation for open orders nobody checked recently."""
    return sweep_stale_orders(deps=ctx.deps.container.payment_deps)


@functions_framework.http
def main(request: Request) -> Response:
    return router.dispatch(request)
