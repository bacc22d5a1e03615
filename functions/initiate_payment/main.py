"""initiate_payment: create a PhonePe order for a plan and return its checkout URL.

Thin by design: parse -> ``lib.services.payments.initiate`` -> respond.
"""

from __future__ import annotations

from typing import Any

from lib import bootstrap
from lib.http import RequestContext, Router
from lib.services.payments.deps import PaymentDeps
from lib.services.payments.initiate import initiate_payment, parse_command

router = Router("initiate_payment", wiring=bootstrap.payments)


@router.route("/", methods=["POST"], auth="user", rate="write", idempotent=True)
def create_order(ctx: RequestContext[PaymentDeps]) -> tuple[dict[str, Any], int]:
    """Price from plans, reconciliation scheduled, PhonePe pay; ``free`` activates at once."""
    body = ctx.json()
    workspace_id = ctx.workspace_id(body.get("workspace_id"))
    command = parse_command(body, user_id=ctx.user_id, workspace_id=workspace_id)
    return initiate_payment(command, deps=ctx.app)


main = router.entry_point()
