"""context: the BCM: manifest, rebuild, version history, export, guardrails, recommendations.

Routes as in docs/api.md.  Each takes ``workspace_id`` (query, or body for POSTs);
omitted means the caller's own workspace, and one the caller is not a member
of is 404 (never another tenant's data).  Every decision lives in
``lib.services.bcm``.
"""

from __future__ import annotations

from typing import Any

import functions_framework
from flask import Request, Response
from werkzeug.wrappers import Response as WsgiResponse

from lib import bootstrap
from lib.errors import FieldError, Unprocessable
from lib.http import RequestContext, ResponseLike, Router
from lib.services.bcm import export as exp
from lib.services.bcm import reads
from lib.services.bcm.deps import BcmDeps
from lib.services.bcm.rebuild import request_rebuild

router = Router("context", wiring=bootstrap.bcm)
# Rebuild requests per workspace (all members together), on top of each user's "expensive" limit.
REBUILD_RATE_FUNCTION = "context.rebuild"
# A rebuild reason longer than this is refused (it is a note, stored on the job).
MAX_REASON_CHARS = 500


def _query_workspace(ctx: RequestContext[BcmDeps]) -> str:
    return ctx.workspace_id(ctx.request.args.get("workspace_id") or None)


def _body_workspace(ctx: RequestContext[BcmDeps], body: dict[str, Any]) -> str:
    requested = body.get("workspace_id")
    return ctx.workspace_id(requested if requested not in (None, "") else None)


@router.route("/manifest", methods=["GET"], auth="user", rate="read")
def get_manifest(ctx: RequestContext[BcmDeps]) -> ResponseLike:
    """The current manifest with freshness and serving tier."""
    return reads.manifest_view(_query_workspace(ctx), deps=ctx.app)


@router.route("/rebuild", methods=["POST"], auth="user", rate="expensive", idempotent=True)
def rebuild(ctx: RequestContext[BcmDeps]) -> ResponseLike:
    """Queue a rebuild (or return the queued one): 202 ``{job_id, status}``."""
    body = ctx.json()
    workspace_id = _body_workspace(ctx, body)
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS):
        raise Unprocessable(
            "The reason is invalid.", errors=[FieldError("reason", f"must be text of at most {MAX_REASON_CHARS}")]
        )
    limiter = ctx.deps.rate_limiter
    if limiter is not None:  # per workspace too; "expensive" fails closed when Redis is down
        limiter.check(REBUILD_RATE_FUNCTION, "expensive", f"workspace:{workspace_id}")
    job = request_rebuild(workspace_id, reason=reason, requested_by=ctx.user_id, deps=ctx.app)
    return job, 202


@router.route("/version-history", methods=["GET"], auth="user", rate="read")
def version_history(ctx: RequestContext[BcmDeps]) -> ResponseLike:
    """Manifest versions, newest first."""
    limit = reads.parse_limit(ctx.request.args.get("limit"))
    return reads.version_history(_query_workspace(ctx), limit, deps=ctx.app)


@router.route("/export", methods=["GET"], auth="user", rate="expensive")
def export(ctx: RequestContext[BcmDeps]) -> ResponseLike:
    """A signed URL to the exported document, or (``inline=true``) the document as a download."""
    fmt = reads.parse_format(ctx.request.args.get("format"))
    workspace_id = _query_workspace(ctx)
    deps = ctx.app
    if ctx.request.args.get("inline", "").lower() in {"1", "true", "yes"}:
        stored, body = reads.export_document(workspace_id, fmt, deps=deps)
        return Response(
            body,
            status=200,
            content_type=exp.CONTENT_TYPES[fmt],
            headers={"Content-Disposition": f'attachment; filename="{exp.filename(stored, fmt)}"'},
        )
    return reads.export_link(workspace_id, fmt, deps=deps)


@router.route("/guardrails/check", methods=["POST"], auth="user", rate="read")
def check_guardrails(ctx: RequestContext[BcmDeps]) -> ResponseLike:
    """Check text against the manifest's don'ts (rule: ``lib.services.bcm.guardrails``)."""
    body = ctx.json()
    return reads.check_text(_body_workspace(ctx, body), body.get("text"), deps=ctx.app)


@router.route("/recommendations", methods=["GET"], auth="user", rate="read")
def recommendations(ctx: RequestContext[BcmDeps]) -> ResponseLike:
    """ICP, channels and messaging for a move, campaign or analytics, with the manifest version."""
    purpose = reads.parse_purpose(ctx.request.args.get("for"))
    return reads.recommendations(_query_workspace(ctx), purpose, deps=ctx.app)


@functions_framework.http
def main(request: Request) -> WsgiResponse:
    return router.dispatch(request)
