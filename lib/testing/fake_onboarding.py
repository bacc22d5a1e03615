"""An in-memory ``OnboardingRepo`` (hand-written, not a mock) for the onboarding unit tests.

It stores; it keeps only what the database itself enforces: one active session
per workspace (the unique index: ``AlreadyExists``), the ``onboarding_status``
trigger (a backward move raises ``Rejected``), and the conditions the adapter's
statements carry (a move only from the given state, ``last_saved_at`` never
moving backwards).  Which moves to make is the service's rule.  ``down = True``
makes every call ``Unavailable``.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime

from lib.domain.onboarding import SessionRow, SessionStatus, StaleSession
from lib.errors import AlreadyExists, Rejected, Unavailable
from lib.ports import Clock
from lib.testing.fake_uow import FakeUnitOfWork
from lib.testing.fakes import ManualClock

# users.onboarding_status moves the trigger allows (same state is a no-op).
_ALLOWED = {
    "pending": {"payment_confirmed", "abandoned"},
    "payment_confirmed": {"in_progress", "abandoned"},
    "in_progress": {"completed", "abandoned"},
    "abandoned": {"in_progress"},
    "completed": set(),
}


class FakeOnboardingRepo:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or ManualClock()
        self.down = False
        self.rows: dict[str, SessionRow] = {}
        self.percent: dict[str, float] = {}
        self.user_status: dict[str, str] = {}  # user id -> onboarding_status (absent = pending)
        self._lock = threading.RLock()

    def _check(self) -> None:
        if self.down:
            raise Unavailable("simulated outage", "postgres")

    def get(self, session_id: str) -> SessionRow | None:
        with self._lock:
            self._check()
            return self.rows.get(session_id)

    def latest_for_workspace(self, workspace_id: str) -> SessionRow | None:
        with self._lock:
            self._check()
            rows = [r for r in self.rows.values() if r.workspace_id == workspace_id]
            rows.sort(key=lambda r: (r.status == "active", r.created_at), reverse=True)
            return rows[0] if rows else None

    def create_active(self, session_id: str, workspace_id: str, user_id: str) -> SessionRow:
        with self._lock:
            self._check()
            if any(r.workspace_id == workspace_id and r.status == "active" for r in self.rows.values()):
                raise AlreadyExists("duplicate key", "postgres", constraint="onboarding_sessions_one_active_idx")
            now = self.clock.now()
            row = SessionRow(session_id, workspace_id, user_id, "active", 0, 23, None, now, now)
            self.rows[session_id] = row
            return row

    def move_session(
        self, session_id: str, *, to: SessionStatus, only_from: SessionStatus, idle_before: datetime | None = None
    ) -> SessionRow | None:
        with self._lock:
            self._check()
            row = self.rows.get(session_id)
            if row is None or row.status != only_from:
                return None
            if idle_before is not None and (row.last_saved_at or row.created_at) >= idle_before:
                return None
            if to == "active" and any(
                r.workspace_id == row.workspace_id and r.status == "active" for r in self.rows.values()
            ):
                raise AlreadyExists("duplicate key", "postgres", constraint="onboarding_sessions_one_active_idx")
            row = replace(row, status=to, updated_at=self.clock.now())
            self.rows[session_id] = row
            return row

    def record_write(
        self,
        session_id: str,
        *,
        written_at: datetime,
        steps_complete: int | None = None,
        percent: float | None = None,
    ) -> None:
        with self._lock:
            self._check()
            row = self.rows.get(session_id)
            if row is not None and (row.last_saved_at is None or row.last_saved_at < written_at):
                self.rows[session_id] = replace(
                    row,
                    last_saved_at=written_at,
                    steps_complete=row.steps_complete if steps_complete is None else steps_complete,
                    updated_at=self.clock.now(),
                )
                if percent is not None:
                    self.percent[session_id] = percent

    def stale_active(self, older_than: datetime, limit: int) -> list[StaleSession]:
        with self._lock:
            self._check()
            rows = [
                r for r in self.rows.values() if r.status == "active" and (r.last_saved_at or r.created_at) < older_than
            ]
            return [StaleSession(r.id, r.workspace_id, r.user_id) for r in rows[:limit]]

    def user_onboarding_status(self, user_id: str) -> str | None:
        with self._lock:
            self._check()
            return self.user_status.get(user_id, "pending")

    def set_user_onboarding_status(self, user_id: str, status: str) -> None:
        with self._lock:
            self._check()
            current = self.user_status.get(user_id, "pending")
            if status != current and status not in _ALLOWED[current]:
                raise Rejected(f"users: illegal onboarding_status transition {current} -> {status}", "postgres")
            self.user_status[user_id] = status

    # test helper (not part of the port)
    def finalize(self, session_id: str) -> None:
        with self._lock:
            self.rows[session_id] = replace(self.rows[session_id], status="finalized")


class FakeOnboardingUnit(FakeUnitOfWork):
    """``OnboardingUnit`` over a ``FakeOnboardingRepo``: serialised (the store's lock), undone unless committed."""

    def __init__(self, repo: FakeOnboardingRepo) -> None:
        super().__init__(repo, lock=repo._lock)
        self.sessions = repo
