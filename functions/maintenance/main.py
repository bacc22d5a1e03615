"""maintenance: scheduled jobs: expire sessions, sweep the email outbox, reconcile old orders, move
subscriptions through their lifecycle (Cloud Scheduler).

The outbox and payment sweeps run the payment services; expire-sessions runs the onboarding sweep.
One route per Cloud Scheduler job (each tied to its Terraform job by a test).
"""

from __future__ import annotations

from typing import Any

from lib import bootstrap
from lib.bootstrap import MaintenanceDeps
from lib.http import RequestContext, Router
from lib.services.payments import subscriptions
from lib.services.payments.reconcile import relay_outbox, sweep_stale_orders

router = Router("maintenance", wiring=bootstrap.maintenance)


@router.route("/expire-sessions", methods=["POST"], auth="internal", rate=None)
def expire_sessions(ctx: RequestContext[MaintenanceDeps]) -> dict[str, Any]:
    """Mark onboarding sessions without a save for 7 days abandoned (drafts expire by Firestore TTL)."""
    return ctx.app.onboarding.abandon_stale()


@router.route("/sweep-outbox", methods=["POST"], auth="internal", rate=None)
def sweep_outbox(ctx: RequestContext[MaintenanceDeps]) -> dict[str, Any]:
    """Send pending emails from the outbox (each failure backs off on its own row)."""
    return relay_outbox(deps=ctx.app.payments)


@router.route("/reconcile-payments", methods=["POST"], auth="internal", rate=None)
def reconcile_payments(ctx: RequestContext[MaintenanceDeps]) -> dict[str, Any]:
    """Queue reconciliation for open orders nobody checked recently."""
    return sweep_stale_orders(deps=ctx.app.payments)


@router.route("/sweep-subscriptions", methods=["POST"], auth="internal", rate=None)
def sweep_subscriptions(ctx: RequestContext[MaintenanceDeps]) -> dict[str, Any]:
    """Move due subscriptions (past due, expired, ended) and queue their reminders and notices."""
    return subscriptions.sweep_all_due(deps=ctx.app.payments).as_json()


main = router.entry_point()
