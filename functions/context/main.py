"""context: the BCM: manifest, rebuild, version history, export, guardrails, recommendations.

Routes as in docs/api.md.  Each takes ``workspace_id`` (query, or body for POSTs);
omitted means the caller's own workspace, and one the caller is not a member
of is 404 (never another tenant's data).  Every decision lives in
``lib.services.bcm``.
"""

from __future__ import annotations

from typing import Any

from flask import Response

from lib import bootstrap
from lib.contract.bcm import (
    Export,
    ExportLink,
    GuardrailsRequest,
    GuardrailsResult,
    Job,
    Manifest,
    RebuildRequest,
    Recommendations,
    VersionHistory,
)
from lib.errors import FieldError, Unprocessable
from lib.http import RequestContext, ResponseLike, Router
from lib.http.query import WORKSPACE_ID, QueryParam
from lib.services.bcm import export as exp
from lib.services.bcm import reads
from lib.services.bcm.deps import BcmDeps
from lib.services.bcm.rebuild import request_rebuild
from lib.services.bcm.recommendations import PURPOSES

router = Router("context", wiring=bootstrap.bcm)
# Rebuild requests per workspace (all members together), on top of each user's "expensive" limit.
REBUILD_RATE_FUNCTION = "context.rebuild"
# A rebuild reason longer than this is refused (it is a note, stored on the job).
MAX_REASON_CHARS = 500


TRUTHY = frozenset({"1", "true", "yes"})
LIMIT = QueryParam(
    "limit",
    "How many versions, newest first.",
    {"type": "integer", "minimum": 1, "maximum": reads.HISTORY_MAX_LIMIT, "default": reads.HISTORY_DEFAULT_LIMIT},
)
FORMAT = QueryParam(
    "format", "The document's format.", {"type": "string", "enum": list(exp.FORMATS), "default": "json"}
)
INLINE = QueryParam(
    "inline",
    "true: the document itself as a download, instead of a signed URL to it.",
    {"type": "string", "enum": sorted(TRUTHY | {"0", "false", "no"}), "default": "false"},
)
PURPOSE = QueryParam(
    "for", "What the recommendation is for.", {"type": "string", "enum": list(PURPOSES)}, required=True
)


def _query_workspace(ctx: RequestContext[BcmDeps]) -> str:
    return ctx.workspace_id(ctx.arg("workspace_id") or None)


def _body_workspace(ctx: RequestContext[BcmDeps], body: dict[str, Any]) -> str:
    requested = body.get("workspace_id")
    return ctx.workspace_id(requested if requested not in (None, "") else None)


@router.route(
    "/manifest",
    methods=["GET"],
    auth="user",
    rate="read",
    query=[WORKSPACE_ID],
    responses={200: Manifest},
    problems=["workspace_not_found", "manifest_not_found"],
)
def get_manifest(ctx: RequestContext[BcmDeps]) -> Manifest:
    """The current manifest with freshness and serving tier."""
    return Manifest.model_validate(reads.manifest_view(_query_workspace(ctx), deps=ctx.app))


@router.route(
    "/rebuild",
    methods=["POST"],
    auth="user",
    rate="expensive",
    idempotent=True,
    body=RebuildRequest,
    responses={202: Job},
    problems=[
        "workspace_not_found",
        "subscription_inactive",
        "plan_limit_reached",
        "manifest_not_found",
        "tasks_unavailable",
    ],
)
def rebuild(ctx: RequestContext[BcmDeps]) -> tuple[Job, int]:
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
    return Job.model_validate(job), 202


@router.route(
    "/version-history",
    methods=["GET"],
    auth="user",
    rate="read",
    query=[WORKSPACE_ID, LIMIT],
    responses={200: VersionHistory},
    problems=["workspace_not_found"],
)
def version_history(ctx: RequestContext[BcmDeps]) -> VersionHistory:
    """Manifest versions, newest first."""
    limit = reads.parse_limit(ctx.arg("limit"))
    return VersionHistory.model_validate(reads.version_history(_query_workspace(ctx), limit, deps=ctx.app))


@router.route(
    "/export",
    methods=["GET"],
    auth="user",
    rate="expensive",
    query=[WORKSPACE_ID, FORMAT, INLINE],
    responses={200: {"application/json": Export, "text/markdown": None}},
    problems=["workspace_not_found", "subscription_inactive", "plan_limit_reached", "manifest_not_found"],
)
def export(ctx: RequestContext[BcmDeps]) -> ResponseLike:
    """A signed URL to the exported document, or (``inline=true``) the document as a download."""
    fmt = reads.parse_format(ctx.arg("format"))
    workspace_id = _query_workspace(ctx)
    deps = ctx.app
    if (ctx.arg("inline") or "").lower() in TRUTHY:
        stored, body = reads.export_document(workspace_id, fmt, deps=deps)
        return Response(
            body,
            status=200,
            content_type=exp.CONTENT_TYPES[fmt],
            headers={"Content-Disposition": f'attachment; filename="{exp.filename(stored, fmt)}"'},
        )
    return ExportLink.model_validate(reads.export_link(workspace_id, fmt, deps=deps))


@router.route(
    "/guardrails/check",
    methods=["POST"],
    auth="user",
    rate="read",
    body=GuardrailsRequest,
    responses={200: GuardrailsResult},
    problems=["workspace_not_found", "subscription_inactive", "manifest_not_found"],
)
def check_guardrails(ctx: RequestContext[BcmDeps]) -> GuardrailsResult:
    """Check text against the manifest's don'ts (rule: ``lib.services.bcm.guardrails``)."""
    body = ctx.json()
    return GuardrailsResult.model_validate(reads.check_text(_body_workspace(ctx, body), body.get("text"), deps=ctx.app))


@router.route(
    "/recommendations",
    methods=["GET"],
    auth="user",
    rate="read",
    query=[WORKSPACE_ID, PURPOSE],
    responses={200: Recommendations},
    problems=["workspace_not_found", "subscription_inactive", "manifest_not_found"],
)
def recommendations(ctx: RequestContext[BcmDeps]) -> Recommendations:
    """ICP, channels and messaging for a move, campaign or analytics, with the manifest version."""
    purpose = reads.parse_purpose(ctx.arg("for"))
    return Recommendations.model_validate(reads.recommendations(_query_workspace(ctx), purpose, deps=ctx.app))


main = router.entry_point()
