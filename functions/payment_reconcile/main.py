"""payment_reconcile: the status-check ladder for orders still open (Cloud Tasks worker).

2xx acknowledges the task; a 5xx (database down) makes Cloud Tasks retry it.
"""

from __future__ import annotations

from typing import Any

import functions_framework
from flask import Request, Response

from lib.http import RequestContext, Router
from lib.services.payments.reconcile import parse_reconcile, reconcile_order

router = Router("payment_reconcile")


@router.route("/", methods=["POST"], auth="internal", rate=None)
def reconcile(ctx: RequestContext) -> dict[str, Any]:
    """One rung of the ladder for one order."""
    return reconcile_order(parse_reconcile(ctx.json()), deps=ctx.deps.container.payment_deps)


@functions_framework.http
def main(request: Request) -> Response:
    return router.dispatch(request)
