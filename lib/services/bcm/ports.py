"""The BCM services' ports (their records are ``lib.domain.bcm.records``).

- ``BcmRepo``: the BCM slice of Postgres (``business_contexts``,
  ``bcm_manifests`` = the origin tier, ``bcm_jobs``);
  ``lib.adapters.postgres_bcm.PostgresBcm`` and ``lib.testing.fake_bcm.FakeBcmRepo``.
- ``OnboardingSessions``: what finalize needs from the onboarding session store
  (the onboarding service): the row and the draft document, then marking the draft finalized
  and purging the hot copy; ``lib.services.bcm.sessions.OnboardingStoreSessions``, over
  onboarding's public ``read_document`` and ``close_draft``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from lib.domain.bcm.records import (
    Finalized,
    FinalizeWrite,
    Job,
    JobStatus,
    NewManifest,
    StoredContext,
    StoredManifest,
)
from lib.domain.onboarding import SessionRow
from lib.ports import UnitOfWork


class BcmRepo(Protocol):
    # --- finalize's steps, each inside a ``BcmUnit`` (the rule is ``services.bcm.finalize``) ----
    def lock_session(self, session_id: str) -> tuple[str, str] | None:
        """The onboarding session's (status, user id), row-locked to the unit's end; None: unknown."""
        ...

    def add_context(self, write: FinalizeWrite) -> StoredContext:
        """Store the business_context; ``AlreadyExists`` when the session already has one."""
        ...

    def lock_versions(self, workspace_id: str) -> None:
        """Serialise version numbering for the workspace (with the rebuild worker) to the unit's end."""
        ...

    def close_session(self, session_id: str, steps_total: int) -> None:
        """Mark the onboarding session finalized (all steps complete)."""
        ...

    def complete_onboarding(self, user_id: str) -> str:
        """Move the user's onboarding status forward to ``completed``; the status it has now."""
        ...

    def finalized(self, session_id: str) -> Finalized | None:
        """The stored result of a finalized session, if any."""
        ...

    def current(self, workspace_id: str) -> StoredManifest | None:
        """The workspace's newest manifest version (the origin tier)."""
        ...

    def history(self, workspace_id: str, limit: int) -> list[StoredManifest]:
        """Versions newest first (``manifest`` may be left empty)."""
        ...

    def latest_context(self, workspace_id: str) -> StoredContext | None: ...

    def add_version(self, workspace_id: str, new: NewManifest, *, context_id: str | None) -> StoredManifest:
        """Insert a version; ``AlreadyExists`` when that version number was taken meanwhile."""
        ...

    def insert_job(
        self, workspace_id: str, source_checksum: str, *, reason: str | None, requested_by: str | None
    ) -> Job | None:
        """Insert a queued job; None when the source already has an open (queued/running) one
        (the database keeps one per workspace and source)."""
        ...

    def open_job_for(self, workspace_id: str, source_checksum: str) -> Job | None:
        """The open (queued/running) job for this source, if any."""
        ...

    def job(self, job_id: str) -> Job | None: ...

    def latest_job(self, workspace_id: str) -> Job | None: ...

    def start_job(self, job_id: str) -> Job | None:
        """queued -> running (running stays running on a retry); None when the job is finished or unknown."""
        ...

    def finish_job(
        self, job_id: str, status: JobStatus, *, error: str | None = None, result_version: str | None = None
    ) -> None: ...

    def note_job_error(self, job_id: str, error: str) -> None:
        """Record the last attempt's error on a job that will be retried."""
        ...


class BcmUnit(UnitOfWork, Protocol):
    """One BCM transaction: ``with deps.unit() as uow: ... uow.bcm ...; uow.commit()``."""

    @property
    def bcm(self) -> BcmRepo:
        """The repository, acting inside this unit's transaction."""
        ...


class OnboardingSessions(Protocol):
    def read(self, session_id: str) -> tuple[SessionRow, dict[str, Any]] | None:
        """The session row and its draft document (Redis, else Firestore); None when unknown."""
        ...

    def finished(self, session_id: str, finalized_at: datetime) -> None:
        """After the commit: mark the Firestore draft finalized and purge the hot copy (best effort)."""
        ...
