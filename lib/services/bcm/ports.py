"""The BCM services' ports and the records that cross them.

- ``BcmRepo``: the BCM slice of Postgres (``business_contexts``,
  ``bcm_manifests`` = the origin tier, ``bcm_jobs``);
  ``lib.adapters.postgres_bcm.PostgresBcm`` and ``lib.testing.fake_bcm.FakeBcmRepo``.
- ``OnboardingSessions``: what finalize needs from the onboarding session store
  (the onboarding service): the row and the draft document, then marking the draft finalized
  and purging the hot copy; ``lib.services.bcm.sessions.OnboardingStoreSessions``, over
  onboarding's public ``read_document`` and ``close_draft``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from lib.domain.bcm import VersionChange
from lib.services.onboarding.ports import SessionRow

JobStatus = Literal["queued", "running", "succeeded", "failed", "skipped"]
OPEN_JOB_STATUSES: frozenset[str] = frozenset({"queued", "running"})
TERMINAL_JOB_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "skipped"})


@dataclass(frozen=True)
class StoredManifest:
    """One ``bcm_manifests`` row: a version of a workspace's manifest."""

    workspace_id: str
    version: str
    checksum: str
    token_count: int
    manifest: dict[str, Any]
    source: str
    change: str
    created_at: datetime
    business_context_id: str | None = None

    def summary(self) -> dict[str, Any]:
        """What finalize answers about the manifest."""
        return {"version": self.version, "checksum": self.checksum, "token_count": self.token_count}


@dataclass(frozen=True)
class StoredContext:
    """One ``business_contexts`` row."""

    id: str
    workspace_id: str
    session_id: str | None
    document: dict[str, Any]
    checksum: str
    created_at: datetime


@dataclass(frozen=True)
class Job:
    """One ``bcm_jobs`` row (a rebuild request and its outcome)."""

    id: str
    workspace_id: str
    status: str
    source_checksum: str
    reason: str | None
    error: str | None
    result_version: str | None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def brief(self) -> dict[str, Any]:
        return {"job_id": self.id, "status": self.status}


@dataclass(frozen=True)
class NewManifest:
    """A manifest to store as a new version."""

    version: VersionChange
    checksum: str
    token_count: int
    manifest: Mapping[str, Any]
    source: str


@dataclass(frozen=True)
class FinalizeWrite:
    """Everything finalize stores in its one transaction."""

    session_id: str
    workspace_id: str
    user_id: str
    schema_version: str
    document: Mapping[str, Any]
    document_checksum: str
    checksum: str
    token_count: int
    manifest: Mapping[str, Any]
    steps_total: int


@dataclass(frozen=True)
class Finalized:
    """A finalized session's result: the business_context and the manifest it produced."""

    context: StoredContext
    manifest: StoredManifest
    onboarding_status: str
    created: bool = field(default=False, compare=False)


# Decides the version of a new manifest given the workspace's current one (None: no new row).
VersionDecider = Callable[[StoredManifest | None], VersionChange | None]


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
