"""Rebuilds: the request (a de-duplicated job and a Cloud Task) and the worker.

Request: the job is keyed by (workspace, checksum of the stored
business_context); while one is queued or running, asking again returns it.
A queued job nobody started for ``STUCK_AFTER_S`` (its task was lost) is
closed as failed and a new one opened.

Worker: re-reduce the stored business_context (source ``rebuild``); a new
version is written only when the checksum changed (``next_version`` picks
major/minor/patch); the origin is written first, then the Redis pointer moves
and the tiers are refreshed.  On failure the current version keeps serving:
the attempt is retried by Cloud Tasks (non-2xx) until the last attempt, which
marks the job failed with the reason and acknowledges (2xx).  An invalid
stored context is permanent: failed at once.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from lib import ops_events
from lib.domain.bcm import next_version
from lib.domain.bcm.records import TERMINAL_JOB_STATUSES, Job, JobStatus, NewManifest
from lib.domain.ids import canonical_uuid
from lib.domain.subscriptions import PaidAction
from lib.errors import AdapterError, AlreadyExists, AppError, NotFound, ServiceUnavailable, Unprocessable
from lib.ports import TaskRequest
from lib.services.bcm.deps import BcmDeps
from lib.services.bcm.ports import BcmRepo
from lib.tasks import enqueue_once

log = logging.getLogger(__name__)

# A queued job not started after this long lost its task: close it and queue afresh.
STUCK_AFTER_S = 10 * 60
# A new version's number collided with a concurrent writer: recompute this many times.
VERSION_ATTEMPTS = 3
# Opening a job: insert, else read the open one; each miss means a job finished in between.
OPEN_JOB_ATTEMPTS = 3
# Failure reasons stored on a job are cut to this length.
MAX_ERROR_CHARS = 500
# What a 503 for an unqueueable rebuild tells the client to wait.
RETRY_AFTER_S = 5


def task_name(job_id: str) -> str:
    return f"bcm-rebuild-{job_id}"


def open_job(
    workspace_id: str, source_checksum: str, *, reason: str | None, requested_by: str | None, repo: BcmRepo
) -> tuple[Job, bool]:
    """(a new queued job, True), or (the open one for the same source, False): one rebuild per source
    at a time.  The database keeps one open job per workspace and source, so of racing requests one
    inserts and the others find it; one that finished between the two statements is tried again."""
    for _ in range(OPEN_JOB_ATTEMPTS):
        created = repo.insert_job(workspace_id, source_checksum, reason=reason, requested_by=requested_by)
        if created is not None:
            return created, True
        existing = repo.open_job_for(workspace_id, source_checksum)
        if existing is not None:
            return existing, False
    raise ServiceUnavailable("rebuild jobs kept finishing while one was being opened; try again")


def request_rebuild(
    workspace_id: str, *, reason: str | None, requested_by: str | None, deps: BcmDeps
) -> dict[str, Any]:
    """POST /rebuild: ``{job_id, status}`` of the new job or of the open one for the same source."""
    deps.entitlements.check(workspace_id, PaidAction.REBUILD)
    context = deps.repo.latest_context(workspace_id)
    if context is None:
        raise NotFound("Nothing to rebuild: this workspace has no business context yet.", code="manifest_not_found")
    job, created = open_job(workspace_id, context.checksum, reason=reason, requested_by=requested_by, repo=deps.repo)
    if not created and job.status == "queued" and deps.clock.now() - job.created_at > timedelta(seconds=STUCK_AFTER_S):
        deps.repo.finish_job(job.id, "failed", error="never started (its task was lost)")
        job, created = open_job(
            workspace_id, context.checksum, reason=reason, requested_by=requested_by, repo=deps.repo
        )
    if created:
        task = TaskRequest(
            queue=deps.config.rebuild_queue,
            url=deps.config.rebuild_url,
            payload={"job_id": job.id, "workspace_id": workspace_id},
            name=task_name(job.id),
        )
        try:
            enqueue_once(deps.tasks, task)  # a task of the job's name exists already: that is the one
        except AdapterError as exc:
            deps.repo.finish_job(job.id, "failed", error=f"could not be queued: {exc}"[:MAX_ERROR_CHARS])
            raise ServiceUnavailable(
                "Rebuilds cannot be queued right now; try again shortly.",
                code="tasks_unavailable",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            ) from exc
    deps.cache.note_job(workspace_id, job)
    return job.brief()


@dataclass(frozen=True)
class RebuildOutcome:
    """What the worker answers: ``retry`` True means non-2xx (Cloud Tasks tries again)."""

    job_id: str
    status: str
    version: str | None = None
    error: str | None = None
    retry: bool = False

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"job_id": self.job_id, "status": self.status, "version": self.version}
        if self.error:
            out["error"] = self.error
        return out


def run_rebuild(job_id: str, *, attempt: int, deps: BcmDeps) -> RebuildOutcome:
    """One delivery of a rebuild task (``attempt`` = X-CloudTasks-TaskRetryCount, from 0)."""
    canonical = canonical_uuid(job_id)
    if canonical is None:
        return RebuildOutcome(job_id, "unknown")  # a malformed task never succeeds: acknowledge it
    job_id = canonical  # the one form passed on
    existing = deps.repo.job(job_id)
    if existing is None:
        return RebuildOutcome(job_id, "unknown")  # acknowledged: nothing to do, ever
    if existing.status in TERMINAL_JOB_STATUSES:
        return RebuildOutcome(job_id, existing.status, existing.result_version, existing.error)  # a duplicate
    job = deps.repo.start_job(job_id) or existing
    deps.cache.note_job(job.workspace_id, job)
    try:
        status, version = _rebuild(job.workspace_id, deps)
    except Exception as exc:  # the current version keeps serving whatever went wrong
        reason = _reason(exc)
        permanent = isinstance(exc, Unprocessable) or (isinstance(exc, AppError) and exc.status < 500)
        last = attempt + 1 >= deps.config.rebuild_max_attempts
        log.warning(
            "bcm.rebuild.failed",
            extra={"job_id": job_id, "attempt": attempt, "permanent": permanent, "error": reason},
            exc_info=not isinstance(exc, AppError | AdapterError),
        )
        if permanent or last:
            log.error(
                "bcm.rebuild.gave_up",
                extra={"event": ops_events.BCM_REBUILD_FAILED, "job_id": job_id, "attempt": attempt, "error": reason},
            )
            deps.repo.finish_job(job_id, "failed", error=reason)
            _note(deps, job_id, job.workspace_id)
            return RebuildOutcome(job_id, "failed", error=reason)
        with contextlib.suppress(AdapterError):  # the retry matters more than the note
            deps.repo.note_job_error(job_id, reason)
        return RebuildOutcome(job_id, "running", error=reason, retry=True)
    deps.repo.finish_job(job_id, status, result_version=version)
    _note(deps, job_id, job.workspace_id)
    return RebuildOutcome(job_id, status, version)


def _note(deps: BcmDeps, job_id: str, workspace_id: str) -> None:
    finished = deps.repo.job(job_id)
    if finished is not None:
        deps.cache.note_job(workspace_id, finished)


def _reason(exc: Exception) -> str:
    if isinstance(exc, AppError):
        text = exc.detail + "".join(f"; {e.path}: {e.message}" for e in exc.errors[:5])
    else:
        text = str(exc) or type(exc).__name__
    return text[:MAX_ERROR_CHARS]


def _rebuild(workspace_id: str, deps: BcmDeps) -> tuple[JobStatus, str | None]:
    """("succeeded", new version) or ("skipped", current version) when the content did not change."""
    context = deps.repo.latest_context(workspace_id)
    if context is None:
        raise Unprocessable("the workspace has no business context")
    reduced = deps.reduce(context.document, source="rebuild")
    for _ in range(VERSION_ATTEMPTS):
        current = deps.repo.current(workspace_id)
        change = (
            next_version(current.manifest, current.version, reduced.manifest)
            if current is not None
            else next_version(None, None, reduced.manifest)
        )
        if change is None:
            assert current is not None
            deps.cache.fill(current)  # same content: make sure the tiers serve it
            return "skipped", current.version
        new = NewManifest(change, reduced.checksum, reduced.token_count, reduced.manifest, "rebuild")
        try:
            stored = deps.repo.add_version(workspace_id, new, context_id=context.id)
        except AlreadyExists:
            continue  # another writer took that number: compare with the new current
        deps.cache.fill(stored)  # origin written: now move the pointer and refresh the tiers
        return "succeeded", stored.version
    raise ServiceUnavailable("manifest versions kept colliding")
