"""The context API's reads: the manifest (with its tier and freshness), history, export, guardrails, recommendations.

Every function takes a workspace id the caller's membership was already
checked for (the HTTP layer's ``ctx.workspace_id``): another tenant's
workspace never reaches here, it is a 404 before.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from lib.domain.bcm.records import OPEN_JOB_STATUSES, StoredManifest
from lib.domain.numbers import parse_int
from lib.domain.subscriptions import PaidAction
from lib.errors import AdapterError, FieldError, NotFound, Unprocessable
from lib.services.bcm import export as exp
from lib.services.bcm.deps import BcmDeps
from lib.services.bcm.guardrails import MAX_TEXT_CHARS, donts_of, violations
from lib.services.bcm.recommendations import PURPOSES, Purpose, recommend
from lib.services.bcm.tiers import JOB_TTL_S, Served

# A manifest not rebuilt for this long is flagged stale: the business has likely moved since.
STALE_AFTER_S = 30 * 24 * 3600
# Version history page size: default and the most a caller may ask for.
HISTORY_DEFAULT_LIMIT = 20
HISTORY_MAX_LIMIT = 100


def _no_manifest() -> NotFound:
    return NotFound("This workspace has no manifest yet: finish onboarding first.", code="manifest_not_found")


def current(workspace_id: str, *, deps: BcmDeps) -> Served:
    served = deps.cache.read(workspace_id, lambda: deps.repo.current(workspace_id))
    if served is None:
        raise _no_manifest()
    return served


def _latest_job(served: Served, workspace_id: str, deps: BcmDeps) -> dict[str, Any] | None:
    if served.job_known:
        return served.job
    try:
        job = deps.repo.latest_job(workspace_id)
    except AdapterError:
        return None
    if job is None or deps.clock.now() - job.created_at > timedelta(seconds=JOB_TTL_S):
        return None
    return job.brief()


def manifest_view(workspace_id: str, *, deps: BcmDeps) -> dict[str, Any]:
    """GET /manifest: the current version, where it was served from and how fresh it is.

    ``stale`` is true while a rebuild is queued or running (a newer version is
    on its way) or when the version is older than ``STALE_AFTER_S``.
    """
    served = current(workspace_id, deps=deps)
    m = served.manifest
    job = _latest_job(served, workspace_id, deps)
    age = max(0, int((deps.clock.now() - m.created_at).total_seconds()))
    stale = age > STALE_AFTER_S or (job is not None and job.get("status") in OPEN_JOB_STATUSES)
    return {
        "workspace_id": workspace_id,
        "version": m.version,
        "checksum": m.checksum,
        "token_count": m.token_count,
        "manifest": m.manifest,
        "created_at": m.created_at.isoformat(),
        "served_from": served.served_from,
        "freshness": {"age_seconds": age, "stale": stale},
        "rebuild": job,
    }


def parse_limit(raw: str | None) -> int:
    return parse_int(raw, name="limit", default=HISTORY_DEFAULT_LIMIT, minimum=1, maximum=HISTORY_MAX_LIMIT)


def version_history(workspace_id: str, limit: int, *, deps: BcmDeps) -> dict[str, Any]:
    rows = deps.repo.history(workspace_id, limit)
    return {
        "workspace_id": workspace_id,
        "versions": [
            {
                "version": r.version,
                "checksum": r.checksum,
                "created_at": r.created_at.isoformat(),
                "source": r.source,
                "change": r.change,
            }
            for r in rows
        ],
    }


def parse_format(raw: str | None) -> exp.ExportFormat:
    fmt = (raw or "json").lower()
    if fmt not in exp.FORMATS:
        raise Unprocessable("Unknown export format.", errors=[FieldError("format", "must be json or markdown")])
    return "json" if fmt == "json" else "markdown"


def export_document(workspace_id: str, fmt: exp.ExportFormat, *, deps: BcmDeps) -> tuple[StoredManifest, bytes]:
    deps.entitlements.check(workspace_id, PaidAction.EXPORT)
    stored = current(workspace_id, deps=deps).manifest
    return stored, exp.render(stored, fmt)


def export_link(workspace_id: str, fmt: exp.ExportFormat, *, deps: BcmDeps) -> dict[str, Any]:
    """Write the export to the exports bucket and answer a short-lived signed URL to it."""
    stored, body = export_document(workspace_id, fmt, deps=deps)
    name = exp.object_name(stored, fmt)
    bucket = deps.config.exports_bucket
    deps.blobs.put(bucket, name, body, content_type=exp.CONTENT_TYPES[fmt])
    ttl = deps.config.export_url_ttl_s
    download = exp.filename(stored, fmt)
    # Saved under the API's file name, served as UTF-8 (CONTENT_TYPES carries the charset) wherever stored.
    url = deps.blobs.signed_url(
        bucket, name, expires_s=ttl, download_name=download, response_type=exp.CONTENT_TYPES[fmt]
    )
    expires_at = deps.clock.now() + timedelta(seconds=ttl)
    return {
        "url": url,
        "expires_at": expires_at.isoformat(),
        "format": fmt,
        "version": stored.version,
        "filename": download,
    }


def check_text(workspace_id: str, text: Any, *, deps: BcmDeps) -> dict[str, Any]:
    """POST /guardrails/check: the text's violations of the manifest's don'ts (rule: ``guardrails``)."""
    if not isinstance(text, str) or not text.strip():
        raise Unprocessable("Send the text to check.", errors=[FieldError("text", "is required")])
    if len(text) > MAX_TEXT_CHARS:
        raise Unprocessable(
            "The text is too long.", errors=[FieldError("text", f"must be at most {MAX_TEXT_CHARS} characters")]
        )
    deps.entitlements.check(workspace_id, PaidAction.GUARDRAILS)
    stored = current(workspace_id, deps=deps).manifest
    found = violations(text, donts_of(stored.manifest))
    return {"ok": not found, "violations": found, "manifest_version": stored.version}


def parse_purpose(raw: str | None) -> Purpose:
    if raw not in PURPOSES:
        raise Unprocessable(
            "Say what the recommendation is for.", errors=[FieldError("for", "must be move, campaign or analytics")]
        )
    return "move" if raw == "move" else "campaign" if raw == "campaign" else "analytics"


def recommendations(workspace_id: str, purpose: Purpose, *, deps: BcmDeps) -> dict[str, Any]:
    deps.entitlements.check(workspace_id, PaidAction.RECOMMENDATIONS)
    return recommend(current(workspace_id, deps=deps).manifest, purpose)
