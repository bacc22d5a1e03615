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
    VersionDecider,
)
from lib.domain.onboarding import SessionRow


class BcmRepo(Protocol):
    def finalize(self, write: FinalizeWrite, decide: VersionDecider) -> Finalized:
        """ONE transaction, the session row locked first: store the context, the manifest
        version ``decide`` picks, the finalized session and the user's ``completed``.
        A session already finalized returns its stored result (``created`` False).
        Raises ``Rejected`` (details ``status``) when the session is not active."""
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

    def open_job(
        self, workspace_id: str, source_checksum: str, *, reason: str | None, requested_by: str | None
    ) -> tuple[Job, bool]:
        """Create a queued job, or return the open (queued/running) one for the same source: (job, created)."""
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


class OnboardingSessions(Protocol):
    def read(self, session_id: str) -> tuple[SessionRow, dict[str, Any]] | None:
        """The session row and its draft document (Redis, else Firestore); None when unknown."""
        ...

    def finished(self, session_id: str, finalized_at: datetime) -> None:
        """After the commit: mark the Firestore draft finalized and purge the hot copy (best effort)."""
        ...
