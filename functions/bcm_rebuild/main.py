"""bcm_rebuild: rebuild one workspace's BCM from its stored business_context (Cloud Tasks).

Routes per API.md; the handlers answer 501 until issue 5 replaces their bodies.
"""

from __future__ import annotations

from typing import Any

import functions_framework
from flask import Request, Response

from lib.errors import NotImplementedYet
from lib.http import RequestContext, Router

router = Router("bcm_rebuild")
PENDING = "bcm_rebuild lands with issue 5"


@router.route("/", methods=["POST"], auth="internal", rate=None)
def rebuild(ctx: RequestContext) -> dict[str, Any]:
    """One rebuild job; de-duplicated by task name."""
    raise NotImplementedYet(detail=PENDING)


@functions_framework.http
def main(request: Request) -> Response:
    return router.dispatch(request)
