"""The onboarding slice of Postgres (``OnboardingRepo``).

``onboarding_sessions`` mirrors each session's status and progress (drafts live
in Firestore); ``users.onboarding_status`` moves forward here (the database's
trigger refuses a backward move, so every update is conditional on the states
it may come from); the payment check reads ``subscriptions`` and ``users``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lib.domain.onboarding import SessionRow, StaleSession
from lib.ports import Database

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

    def reactivate(self, session_id: str, user_id: str) -> SessionRow | None:
        with self._db.transaction() as conn:
            row = _row(
                conn.execute(
                    "update public.onboarding_sessions set status = 'active' where id = %s and status = 'abandoned'"
                    f" returning {_COLUMNS}",
                    (session_id,),
                ).fetchone()
            )
            if row is not None:
                conn.execute(
                    "update public.users set onboarding_status = 'in_progress'"
                    " where id = %s and onboarding_status = 'abandoned'",
                    (user_id,),
                )
        return row

    def record_write(
        self,
        session_id: str,
        *,
        written_at: datetime,
        steps_complete: int | None = None,
        percent: float | None = None,
        first_save_user: str | None = None,
    ) -> None:
        params = {"id": session_id, "at": written_at, "complete": steps_complete, "percent": percent}
        if first_save_user is None:
            # Every save but the first: one statement on an autocommit connection (no BEGIN/COMMIT
            # round trips on the hot path).
            with self._db.connection() as conn:
                conn.execute(_RECORD_WRITE, params)
            return
        with self._db.transaction() as conn:
            conn.execute(_RECORD_WRITE, params)
            # Forward only: pending -> payment_confirmed (a paid or free workspace let them
            # start) -> in_progress; abandoned -> in_progress.  Finished users stay put.
            conn.execute(
                "update public.users set onboarding_status = 'payment_confirmed'"
                " where id = %s and onboarding_status = 'pending'",
                (first_save_user,),
            )
            conn.execute(
                "update public.users set onboarding_status = 'in_progress'"
                " where id = %s and onboarding_status in ('payment_confirmed', 'abandoned')",
                (first_save_user,),
            )

    def stale_active(self, older_than: datetime, limit: int) -> list[StaleSession]:
        with self._db.connection() as conn:
            rows = conn.execute(
                "select id, workspace_id, user_id from public.onboarding_sessions"
                " where status = 'active' and coalesce(last_saved_at, created_at) < %s"
                " order by last_saved_at nulls first limit %s",
                (older_than, limit),
            ).fetchall()
        return [StaleSession(str(r["id"]), str(r["workspace_id"]), str(r["user_id"])) for r in rows]

    def abandon(self, session_id: str, older_than: datetime) -> bool:
        with self._db.transaction() as conn:
            row = conn.execute(
                "update public.onboarding_sessions set status = 'abandoned'"
                " where id = %s and status = 'active' and coalesce(last_saved_at, created_at) < %s"
                " returning user_id",
                (session_id, older_than),
            ).fetchone()
            if row is None:
                return False
            conn.execute(
                "update public.users set onboarding_status = 'abandoned'"
                " where id = %s and onboarding_status in ('payment_confirmed', 'in_progress')",
                (row["user_id"],),
            )
        return True
