"""finalize: aggregate the 23 steps into the business context and the BCM.

Routes per API.md; the handlers answer 501 until issue 5 replaces their bodies.
"""

from __future__ import annotations

from typing import Any

import functions_framework
from flask import Request, Response

from lib.errors import NotImplementedYet
from lib.http import RequestContext, Router

router = Router("finalize")
PENDING = "finalize lands with issue 5"


@router.route("/<session_id>", methods=["POST"], auth="user", rate="write", idempotent=True)
def finalize_session(ctx: RequestContext, session_id: str) -> dict[str, Any]:
    """Validate, reduce, persist, mark completed."""
    raise NotImplementedYet(detail=PENDING)


@functions_framework.http
def main(request: Request) -> Response:
    return router.dispatch(request)
