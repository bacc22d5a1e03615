"""An in-memory ``BcmRepo`` (hand-written, not a mock) for the BCM unit tests.

It stores, and keeps the rules the database enforces: one business_context per
session (``AlreadyExists``), unique (workspace, version), at most one open job
per (workspace, source checksum), jobs finishing once.  Finalize's rule runs in
``lib.services.bcm.finalize`` over a ``FakeBcmUnit`` (serialised like the row
lock) exactly as over Postgres.  ``down = True`` makes every call
``Unavailable``; ``sessions`` / ``user_status`` stand in for the
onboarding_sessions and users rows finalize moves.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace

from lib.domain.bcm.records import (
    OPEN_JOB_STATUSES,
    Finalized,
    FinalizeWrite,
    Job,
    JobStatus,
    NewManifest,
    StoredContext,
    StoredManifest,
)
from lib.errors import AlreadyExists, Unavailable
from lib.ports import Clock
from lib.testing.fake_uow import FakeUnitOfWork
from lib.testing.fakes import ManualClock


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


class FakeBcmRepo:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or ManualClock()
        self.down = False
        self.contexts: dict[str, StoredContext] = {}
        self.manifests: list[StoredManifest] = []
        self.jobs: dict[str, Job] = {}
        self.sessions: dict[str, tuple[str, str]] = {}  # session id -> (status, user id)
        self.user_status: dict[str, str] = {}
        self.finalize_calls = 0
        self._lock = threading.RLock()

    def _check(self) -> None:
        if self.down:
            raise Unavailable("simulated outage", "postgres")

    # --- finalize -----------------------------------------------------------------------------
    def lock_session(self, session_id: str) -> tuple[str, str] | None:
        with self._lock:
            self._check()
            self.finalize_calls += 1
            return self.sessions.get(session_id)

    def add_context(self, write: FinalizeWrite) -> StoredContext:
        with self._lock:
            self._check()
            if any(c.session_id == write.session_id for c in self.contexts.values()):
                raise AlreadyExists("duplicate key", "postgres", constraint="business_contexts_session_id_key")
            context = StoredContext(
                str(uuid.uuid4()),
                write.workspace_id,
                write.session_id,
                dict(write.document),
                write.document_checksum,
                self.clock.now(),
            )
            self.contexts[context.id] = context
            return context

    def lock_versions(self, workspace_id: str) -> None:
        """The unit already holds the store's lock: versions are serialised."""
        self._check()

    def close_session(self, session_id: str, steps_total: int) -> None:
        with self._lock:
            self._check()
            _, user = self.sessions[session_id]
            self.sessions[session_id] = ("finalized", user)

    def complete_onboarding(self, user_id: str) -> str:
        """The users trigger's forward-only moves: payment_confirmed/abandoned -> in_progress ->
        completed (a user the fake was not told about counts as in_progress)."""
        with self._lock:
            self._check()
            status = self.user_status.get(user_id, "in_progress")
            if status in ("payment_confirmed", "abandoned"):
                status = "in_progress"
            if status == "in_progress":
                status = "completed"
            self.user_status[user_id] = status
            return status

    def finalized(self, session_id: str) -> Finalized | None:
        with self._lock:
            self._check()
            context = next((c for c in self.contexts.values() if c.session_id == session_id), None)
            if context is None:
                return None
            made = [m for m in self.manifests if m.business_context_id == context.id]
            manifest = min(made, key=lambda m: _key(m.version)) if made else self.current(context.workspace_id)
            if manifest is None:
                return None
            return Finalized(context, manifest, self.user_status.get(self.sessions[session_id][1], "completed"))

    # --- manifests ------------------------------------------------------------------------------
    def _insert(self, workspace_id: str, new: NewManifest, context_id: str | None) -> StoredManifest:
        if any(m.workspace_id == workspace_id and m.version == new.version.version for m in self.manifests):
            raise AlreadyExists("duplicate key", "postgres", constraint="bcm_manifests_workspace_id_version_key")
        stored = StoredManifest(
            workspace_id,
            new.version.version,
            new.checksum,
            new.token_count,
            dict(new.manifest),
            new.source,
            new.version.change,
            self.clock.now(),
            context_id,
        )
        self.manifests.append(stored)
        return stored

    def current(self, workspace_id: str) -> StoredManifest | None:
        with self._lock:
            self._check()
            mine = [m for m in self.manifests if m.workspace_id == workspace_id]
            return max(mine, key=lambda m: _key(m.version)) if mine else None

    def history(self, workspace_id: str, limit: int) -> list[StoredManifest]:
        with self._lock:
            self._check()
            mine = [m for m in self.manifests if m.workspace_id == workspace_id]
            return sorted(mine, key=lambda m: _key(m.version), reverse=True)[:limit]

    def latest_context(self, workspace_id: str) -> StoredContext | None:
        with self._lock:
            self._check()
            mine = [c for c in self.contexts.values() if c.workspace_id == workspace_id]
            return mine[-1] if mine else None

    def add_version(self, workspace_id: str, new: NewManifest, *, context_id: str | None) -> StoredManifest:
        with self._lock:
            self._check()
            return self._insert(workspace_id, new, context_id)

    # --- jobs ---------------------------------------------------------------------------------
    def insert_job(
        self, workspace_id: str, source_checksum: str, *, reason: str | None, requested_by: str | None
    ) -> Job | None:
        with self._lock:
            self._check()
            if self._open_job(workspace_id, source_checksum) is not None:
                return None  # the partial unique index: one open job per workspace and source
            job = Job(str(uuid.uuid4()), workspace_id, "queued", source_checksum, reason, None, None, self.clock.now())
            self.jobs[job.id] = job
            return job

    def open_job_for(self, workspace_id: str, source_checksum: str) -> Job | None:
        with self._lock:
            self._check()
            return self._open_job(workspace_id, source_checksum)

    def _open_job(self, workspace_id: str, source_checksum: str) -> Job | None:
        for job in self.jobs.values():
            open_ = job.status in OPEN_JOB_STATUSES
            if open_ and job.workspace_id == workspace_id and job.source_checksum == source_checksum:
                return job
        return None

    def job(self, job_id: str) -> Job | None:
        with self._lock:
            self._check()
            return self.jobs.get(job_id)

    def latest_job(self, workspace_id: str) -> Job | None:
        with self._lock:
            self._check()
            mine = [j for j in self.jobs.values() if j.workspace_id == workspace_id]
            return mine[-1] if mine else None

    def start_job(self, job_id: str) -> Job | None:
        with self._lock:
            self._check()
            job = self.jobs.get(job_id)
            if job is None or job.status not in OPEN_JOB_STATUSES:
                return None
            job = replace(job, status="running", started_at=job.started_at or self.clock.now())
            self.jobs[job_id] = job
            return job

    def finish_job(
        self, job_id: str, status: JobStatus, *, error: str | None = None, result_version: str | None = None
    ) -> None:
        with self._lock:
            self._check()
            job = self.jobs.get(job_id)
            if job is None or job.status not in OPEN_JOB_STATUSES:
                return
            self.jobs[job_id] = replace(
                job, status=status, error=error, result_version=result_version, finished_at=self.clock.now()
            )

    def note_job_error(self, job_id: str, error: str) -> None:
        with self._lock:
            self._check()
            job = self.jobs.get(job_id)
            if job is not None and job.status in OPEN_JOB_STATUSES:
                self.jobs[job_id] = replace(job, error=error)


class FakeBcmUnit(FakeUnitOfWork):
    """``BcmUnit`` over a ``FakeBcmRepo``: serialised (the store's lock), undone unless committed."""

    def __init__(self, repo: FakeBcmRepo) -> None:
        super().__init__(repo, lock=repo._lock)
        self.bcm = repo
