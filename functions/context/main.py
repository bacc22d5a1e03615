"""context: the BCM: manifest, rebuild, version history, export, guardrails, recommendations.

Routes per API.md; the handlers answer 501 until issue 5 replaces their bodies.
"""

from __future__ import annotations

from typing import Any

import functions_framework
from flask import Request, Response

from lib.errors import NotImplementedYet
from lib.http import RequestContext, Router

router = Router("context")
PENDING = "context lands with issue 5"


@router.route("/manifest", methods=["GET"], auth="user", rate="read")
def get_manifest(ctx: RequestContext) -> dict[str, Any]:
    """The current manifest with freshness and serving tier."""
    raise NotImplementedYet(detail=PENDING)


@router.route("/rebuild", methods=["POST"], auth="user", rate="expensive", idempotent=True)
def request_rebuild(ctx: RequestContext) -> dict[str, Any]:
    """Queue a rebuild (or return the queued one)."""
    raise NotImplementedYet(detail=PENDING)


@router.route("/version-history", methods=["GET"], auth="user", rate="read")
def version_history(ctx: RequestContext) -> dict[str, Any]:
    """Manifest versions, newest first."""
    raise NotImplementedYet(detail=PENDING)


@router.route("/export", methods=["GET"], auth="user", rate="expensive")
def export(ctx: RequestContext) -> dict[str, Any]:
    """A signed URL to the exported document (or the document)."""
    raise NotImplementedYet(detail=PENDING)


@router.route("/guardrails/check", methods=["POST"], auth="user", rate="read")
def check_guardrails(ctx: RequestContext) -> dict[str, Any]:
    """Check text against the manifest's don'ts."""
    raise NotImplementedYet(detail=PENDING)


@router.route("/recommendations", methods=["GET"], auth="user", rate="read")
def recommendations(ctx: RequestContext) -> dict[str, Any]:
    """ICP, channels and messaging for a move, campaign or analytics."""
    raise NotImplementedYet(detail=PENDING)


@functions_framework.http
def main(request: Request) -> Response:
    return router.dispatch(request)
