"""The onboarding slice of Postgres (``OnboardingRepo``).

``onboarding_sessions`` mirrors each session's status and progress (drafts live
in Firestore) and ``users.onboarding_status``.  Data access only: which moves to
make is the service's rule (``lib.domain.onboarding.user_status_moves``), run in
a ``PostgresOnboardingUnit``; a status move is conditional on the state it comes
from, so a racing writer makes it a no-op rather than a wrong move.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lib.adapters.postgres_uow import OneConnection, PostgresUnitOfWork
from lib.domain.onboarding import SessionRow, SessionStatus, StaleSession
from lib.ports import Connection, Database

_COLUMNS = "id, workspace_id, user_id, status, steps_complete, steps_total, last_saved_at, created_at, updated_at"


# Progress comes from the newest document only: an older write landing late changes nothing.
_RECORD_WRITE = (
    "update public.onboarding_sessions set last_saved_at = %(at)s,"
    " steps_complete = coalesce(%(complete)s, steps_complete), percent = coalesce(%(percent)s, percent)"
    " where id = %(id)s and (last_saved_at is null or last_saved_at < %(at)s)"
)


def _row(row: dict[str, Any] | None) -> SessionRow | None:
    if row is None:
        return None
    return SessionRow(
        id=str(row["id"]),
        workspace_id=str(row["workspace_id"]),
        user_id=str(row["user_id"]),
        status=row["status"],
        steps_complete=int(row["steps_complete"]),
        steps_total=int(row["steps_total"]),
        last_saved_at=row["last_saved_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class PostgresOnboarding:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, session_id: str) -> SessionRow | None:
        with self._db.connection() as conn:
            return _row(
                conn.execute(
                    f"select {_COLUMNS} from public.onboarding_sessions where id = %s", (session_id,)
                ).fetchone()
            )

    def latest_for_workspace(self, workspace_id: str) -> SessionRow | None:
        with self._db.connection() as conn:
            return _row(
                conn.execute(
                    f"select {_COLUMNS} from public.onboarding_sessions where workspace_id = %s"
                    " order by (status = 'active') desc, created_at desc limit 1",
                    (workspace_id,),
                ).fetchone()
            )

    def create_active(self, session_id: str, workspace_id: str, user_id: str) -> SessionRow:
        with self._db.transaction() as conn:
            row = _row(
                conn.execute(
                    "insert into public.onboarding_sessions (id, workspace_id, user_id, status)"
                    f" values (%s, %s, %s, 'active') returning {_COLUMNS}",
                    (session_id, workspace_id, user_id),
                ).fetchone()
            )
        assert row is not None  # insert ... returning always returns the row
        return row

    def move_session(
        self, session_id: str, *, to: SessionStatus, only_from: SessionStatus, idle_before: datetime | None = None
    ) -> SessionRow | None:
        idle = "" if idle_before is None else " and coalesce(last_saved_at, created_at) < %(idle)s"
        with self._db.connection() as conn:
            return _row(
                conn.execute(
                    "update public.onboarding_sessions set status = %(to)s where id = %(id)s and status = %(from)s"
                    f"{idle} returning {_COLUMNS}",
                    {"to": to, "id": session_id, "from": only_from, "idle": idle_before},
                ).fetchone()
            )

    def record_write(
        self,
        session_id: str,
        *,
        written_at: datetime,
        steps_complete: int | None = None,
        percent: float | None = None,
    ) -> None:
        # One statement: on its own connection it needs no BEGIN/COMMIT round trips (the hot path).
        with self._db.connection() as conn:
            conn.execute(
                _RECORD_WRITE, {"id": session_id, "at": written_at, "complete": steps_complete, "percent": percent}
            )

    def user_onboarding_status(self, user_id: str) -> str | None:
        with self._db.connection() as conn:
            row = conn.execute(
                "select onboarding_status from public.users where id = %s for update", (user_id,)
            ).fetchone()
        return None if row is None else str(row["onboarding_status"])

    def set_user_onboarding_status(self, user_id: str, status: str) -> None:
        with self._db.connection() as conn:
            conn.execute("update public.users set onboarding_status = %s where id = %s", (status, user_id))

    def stale_active(self, older_than: datetime, limit: int) -> list[StaleSession]:
        with self._db.connection() as conn:
            rows = conn.execute(
                "select id, workspace_id, user_id from public.onboarding_sessions"
                " where status = 'active' and coalesce(last_saved_at, created_at) < %s"
                " order by last_saved_at nulls first limit %s",
                (older_than, limit),
            ).fetchall()
        return [StaleSession(str(r["id"]), str(r["workspace_id"]), str(r["user_id"])) for r in rows]


class PostgresOnboardingUnit(PostgresUnitOfWork):
    """``OnboardingUnit``: a ``PostgresOnboarding`` bound to one transaction's connection."""

    sessions: PostgresOnboarding

    def _bind(self, conn: Connection) -> None:
        self.sessions = PostgresOnboarding(OneConnection(conn))
