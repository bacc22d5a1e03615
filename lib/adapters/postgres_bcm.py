"""The BCM in PostgreSQL: business contexts, every manifest version (the origin tier), rebuild jobs.

Data access only.  Finalize's rule is ``lib.services.bcm.finalize``, inside one
``PostgresBcmUnit``: it locks the onboarding session row first (``lock_session``,
``for update``), so of two concurrent finalizes of one session the second waits,
then sees ``finalized`` and reads back the first one's result.  The unique
``business_contexts.session_id`` is the backstop (``AlreadyExists``).

Rebuild jobs de-duplicate on the partial unique index
``(workspace_id, source_checksum) where status in (queued, running)``:
``insert ... on conflict do nothing`` then read the open one.
"""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from lib.adapters.postgres_uow import OneConnection, PostgresUnitOfWork
from lib.domain.bcm.records import (
    Finalized,
    FinalizeWrite,
    Job,
    JobStatus,
    NewManifest,
    StoredContext,
    StoredManifest,
)
from lib.ports import Connection, Database

_MANIFEST_COLS = (
    "workspace_id, version, checksum, token_count, manifest, source, change, created_at, business_context_id"
)
_HISTORY_COLS = "workspace_id, version, checksum, token_count, source, change, created_at, business_context_id"
_CONTEXT_COLS = "id, workspace_id, session_id, document, checksum, created_at"
_JOB_COLS = (
    "id, workspace_id, status, source_checksum, reason, error, result_version, created_at, started_at, finished_at"
)
_NEWEST = "order by major desc, minor desc, patch desc"
# Attempts at inserting an open job when the open one finished between our insert and our read.


def _manifest(row: dict[str, Any] | None) -> StoredManifest | None:
    if row is None:
        return None
    context_id = row.get("business_context_id")
    return StoredManifest(
        workspace_id=str(row["workspace_id"]),
        version=row["version"],
        checksum=row["checksum"],
        token_count=int(row["token_count"]),
        manifest=dict(row.get("manifest") or {}),
        source=row["source"],
        change=row["change"],
        created_at=row["created_at"],
        business_context_id=str(context_id) if context_id is not None else None,
    )


def _context(row: dict[str, Any] | None) -> StoredContext | None:
    if row is None:
        return None
    return StoredContext(
        id=str(row["id"]),
        workspace_id=str(row["workspace_id"]),
        session_id=str(row["session_id"]) if row["session_id"] is not None else None,
        document=dict(row["document"]),
        checksum=row["checksum"],
        created_at=row["created_at"],
    )


def _job(row: dict[str, Any] | None) -> Job | None:
    if row is None:
        return None
    return Job(
        id=str(row["id"]),
        workspace_id=str(row["workspace_id"]),
        status=row["status"],
        source_checksum=row["source_checksum"],
        reason=row["reason"],
        error=row["error"],
        result_version=row["result_version"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


def _insert_manifest(conn: Connection, workspace_id: str, new: NewManifest, context_id: str | None) -> StoredManifest:
    major, minor, patch = (int(part) for part in new.version.version.split("."))
    row = conn.execute(
        "insert into public.bcm_manifests (workspace_id, version, major, minor, patch, checksum, token_count,"
        " manifest, source, change, business_context_id) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        f" returning {_MANIFEST_COLS}",
        (
            workspace_id,
            new.version.version,
            major,
            minor,
            patch,
            new.checksum,
            new.token_count,
            Jsonb(dict(new.manifest)),
            new.source,
            new.version.change,
            context_id,
        ),
    ).fetchone()
    stored = _manifest(row)
    assert stored is not None
    return stored


def _current(conn: Connection, workspace_id: str) -> StoredManifest | None:
    return _manifest(
        conn.execute(
            f"select {_MANIFEST_COLS} from public.bcm_manifests where workspace_id = %s {_NEWEST} limit 1",
            (workspace_id,),
        ).fetchone()
    )


def _finalized(conn: Connection, session_id: str) -> Finalized | None:
    context = _context(
        conn.execute(
            f"select {_CONTEXT_COLS} from public.business_contexts where session_id = %s", (session_id,)
        ).fetchone()
    )
    if context is None:
        return None
    # The version finalize made from this context (the oldest one pointing at it).
    manifest = _manifest(
        conn.execute(
            f"select {_MANIFEST_COLS} from public.bcm_manifests where business_context_id = %s"
            " order by major, minor, patch limit 1",
            (context.id,),
        ).fetchone()
    )
    if manifest is None:  # finalize reused an identical current version (no new row for this context)
        manifest = _current(conn, context.workspace_id)
    if manifest is None:
        return None
    status = conn.execute(
        "select u.onboarding_status from public.users u join public.onboarding_sessions s on s.user_id = u.id"
        " where s.id = %s",
        (session_id,),
    ).fetchone()
    return Finalized(context, manifest, status["onboarding_status"] if status else "completed")


class PostgresBcm:
    """``lib.services.bcm.ports.BcmRepo`` on PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # --- finalize -----------------------------------------------------------------------
    def lock_session(self, session_id: str) -> tuple[str, str] | None:
        with self._db.connection() as conn:
            row = conn.execute(
                "select status, user_id from public.onboarding_sessions where id = %s for update", (session_id,)
            ).fetchone()
        return None if row is None else (str(row["status"]), str(row["user_id"]))

    def add_context(self, write: FinalizeWrite) -> StoredContext:
        with self._db.connection() as conn:
            context = _context(
                conn.execute(
                    "insert into public.business_contexts (workspace_id, session_id, schema_version, document,"
                    f" checksum) values (%s, %s, %s, %s, %s) returning {_CONTEXT_COLS}",
                    (
                        write.workspace_id,
                        write.session_id,
                        write.schema_version,
                        Jsonb(dict(write.document)),
                        write.document_checksum,
                    ),
                ).fetchone()
            )
        assert context is not None
        return context

    def lock_versions(self, workspace_id: str) -> None:
        with self._db.connection() as conn:
            conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"bcm:{workspace_id}",))

    def close_session(self, session_id: str, steps_total: int) -> None:
        with self._db.connection() as conn:
            conn.execute(
                "update public.onboarding_sessions set status = 'finalized', finalized_at = now(),"
                " steps_complete = %s, steps_total = %s, percent = 100 where id = %s",
                (steps_total, steps_total, session_id),
            )

    def complete_onboarding(self, user_id: str) -> str:
        with self._db.connection() as conn:
            # Forward-only (the trigger): walk to in_progress first when the mirror never got there.
            conn.execute(
                "update public.users set onboarding_status = 'in_progress'"
                " where id = %s and onboarding_status in ('payment_confirmed', 'abandoned')",
                (user_id,),
            )
            conn.execute(
                "update public.users set onboarding_status = 'completed', onboarding_completed_at = now()"
                " where id = %s and onboarding_status = 'in_progress'",
                (user_id,),
            )
            status = conn.execute("select onboarding_status from public.users where id = %s", (user_id,)).fetchone()
        return str(status["onboarding_status"]) if status else "completed"

    def finalized(self, session_id: str) -> Finalized | None:
        with self._db.connection() as conn:
            return _finalized(conn, session_id)

    # --- manifests ----------------------------------------------------------------------
    def current(self, workspace_id: str) -> StoredManifest | None:
        with self._db.connection() as conn:
            return _current(conn, workspace_id)

    def history(self, workspace_id: str, limit: int) -> list[StoredManifest]:
        with self._db.connection() as conn:
            rows = conn.execute(
                f"select {_HISTORY_COLS} from public.bcm_manifests where workspace_id = %s {_NEWEST} limit %s",
                (workspace_id, limit),
            ).fetchall()
        return [m for m in (_manifest(r) for r in rows) if m is not None]

    def latest_context(self, workspace_id: str) -> StoredContext | None:
        with self._db.connection() as conn:
            return _context(
                conn.execute(
                    f"select {_CONTEXT_COLS} from public.business_contexts where workspace_id = %s"
                    " order by created_at desc limit 1",
                    (workspace_id,),
                ).fetchone()
            )

    def add_version(self, workspace_id: str, new: NewManifest, *, context_id: str | None) -> StoredManifest:
        with self._db.transaction() as conn:
            return _insert_manifest(conn, workspace_id, new, context_id)

    # --- jobs ---------------------------------------------------------------------------
    def insert_job(
        self, workspace_id: str, source_checksum: str, *, reason: str | None, requested_by: str | None
    ) -> Job | None:
        with self._db.connection() as conn:
            return _job(
                conn.execute(
                    "insert into public.bcm_jobs (workspace_id, source_checksum, reason, requested_by)"
                    " values (%s, %s, %s, %s) on conflict (workspace_id, source_checksum)"
                    f" where status in ('queued', 'running') do nothing returning {_JOB_COLS}",
                    (workspace_id, source_checksum, reason, requested_by),
                ).fetchone()
            )

    def open_job_for(self, workspace_id: str, source_checksum: str) -> Job | None:
        with self._db.connection() as conn:
            return _job(
                conn.execute(
                    f"select {_JOB_COLS} from public.bcm_jobs where workspace_id = %s and source_checksum = %s"
                    " and status in ('queued', 'running') limit 1",
                    (workspace_id, source_checksum),
                ).fetchone()
            )

    def job(self, job_id: str) -> Job | None:
        with self._db.connection() as conn:
            return _job(conn.execute(f"select {_JOB_COLS} from public.bcm_jobs where id = %s", (job_id,)).fetchone())

    def latest_job(self, workspace_id: str) -> Job | None:
        with self._db.connection() as conn:
            return _job(
                conn.execute(
                    f"select {_JOB_COLS} from public.bcm_jobs where workspace_id = %s order by created_at desc limit 1",
                    (workspace_id,),
                ).fetchone()
            )

    def start_job(self, job_id: str) -> Job | None:
        with self._db.connection() as conn:
            return _job(
                conn.execute(
                    "update public.bcm_jobs set status = 'running', started_at = coalesce(started_at, now())"
                    f" where id = %s and status in ('queued', 'running') returning {_JOB_COLS}",
                    (job_id,),
                ).fetchone()
            )

    def finish_job(
        self, job_id: str, status: JobStatus, *, error: str | None = None, result_version: str | None = None
    ) -> None:
        with self._db.connection() as conn:
            conn.execute(
                "update public.bcm_jobs set status = %s, error = %s, result_version = %s, finished_at = now()"
                " where id = %s and status in ('queued', 'running')",
                (status, error, result_version, job_id),
            )

    def note_job_error(self, job_id: str, error: str) -> None:
        with self._db.connection() as conn:
            conn.execute(
                "update public.bcm_jobs set error = %s where id = %s and status in ('queued', 'running')",
                (error, job_id),
            )


class PostgresBcmUnit(PostgresUnitOfWork):
    """``BcmUnit``: a ``PostgresBcm`` bound to one transaction's connection."""

    bcm: PostgresBcm

    def _bind(self, conn: Connection) -> None:
        self.bcm = PostgresBcm(OneConnection(conn))
