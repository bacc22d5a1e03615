"""The ports the onboarding services use (their records are ``lib.domain.onboarding``).

- ``OnboardingRepo``: the onboarding slice of Postgres (the ``onboarding_sessions``
  mirror and ``users.onboarding_status``), data access only; ``OnboardingUnit``
  runs it in one transaction;
  ``lib.adapters.postgres_onboarding.PostgresOnboarding`` and
  ``lib.testing.fake_onboarding.FakeOnboardingRepo``.
- ``DraftStore``: the durable session document (Firestore, collection
  ``onboarding_drafts``); ``lib.adapters.firestore_drafts.FirestoreDrafts``.
- ``SessionCache``: the hot copy of that document (Redis, 7-day TTL);
  ``lib.adapters.redis_sessions.RedisSessionCache``.

Both document ports work on plain JSON-ready dicts (timestamps as ISO-8601
strings); the adapters convert what their store needs (``expires_at`` becomes a
Firestore timestamp so its TTL policy can delete the document).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from lib.domain.onboarding import SessionRow, SessionStatus, StaleSession
from lib.ports import UnitOfWork


class OnboardingRepo(Protocol):
    def get(self, session_id: str) -> SessionRow | None: ...

    def latest_for_workspace(self, workspace_id: str) -> SessionRow | None:
        """The workspace's active session, else its most recent one (any status)."""
        ...

    def create_active(self, session_id: str, workspace_id: str, user_id: str) -> SessionRow:
        """Insert an active row; ``AlreadyExists`` when the workspace already has one."""
        ...

    def move_session(
        self, session_id: str, *, to: SessionStatus, only_from: SessionStatus, idle_before: datetime | None = None
    ) -> SessionRow | None:
        """Set the status to ``to`` if it is ``only_from`` (and, with ``idle_before``, the last save or
        creation is before it); the updated row, or None when the row was not in that state."""
        ...

    def record_write(
        self,
        session_id: str,
        *,
        written_at: datetime,
        steps_complete: int | None = None,
        percent: float | None = None,
    ) -> None:
        """Mirror one draft write: ``last_saved_at`` (never backwards: an older write landing late
        changes nothing) and, for a step save, progress."""
        ...

    def stale_active(self, older_than: datetime, limit: int) -> list[StaleSession]:
        """Active sessions whose last save (or creation) is before ``older_than``."""
        ...

    def user_onboarding_status(self, user_id: str) -> str | None:
        """The user's ``onboarding_status`` (locked until the unit of work ends); None for no such user."""
        ...

    def set_user_onboarding_status(self, user_id: str, status: str) -> None:
        """Store one forward move (``Rejected`` for a move the database refuses)."""
        ...


class OnboardingUnit(UnitOfWork, Protocol):
    """One transaction over the onboarding repository (a status move with its user move)."""

    @property
    def sessions(self) -> OnboardingRepo: ...


class DraftStore(Protocol):
    def create(self, session_id: str, doc: Mapping[str, Any]) -> None: ...

    def get(self, session_id: str) -> dict[str, Any] | None: ...

    def get_versioned(self, session_id: str) -> tuple[dict[str, Any], str] | None:
        """The document and its store version (Firestore ``update_time``), or None when gone."""
        ...

    def update(self, session_id: str, updates: Mapping[str, Any], *, expect: Mapping[str, Any]) -> dict[str, Any]:
        """Atomically apply dotted-path ``updates`` when every ``expect`` path holds its
        value; the new document.  ``Rejected`` (details ``path``) on a mismatch,
        ``Missing`` when gone, ``Unavailable`` when the store is down."""
        ...

    def update_unchanged(
        self, session_id: str, base: Mapping[str, Any], updates: Mapping[str, Any], *, version: str
    ) -> tuple[dict[str, Any], str]:
        """Apply dotted-path ``updates`` in ONE write when the stored document is still at
        ``version``, ``base`` being that document (from ``get_versioned``, the cache or
        the previous call); (the new document, its version).  ``Rejected`` when it was
        written or deleted since (read again), ``Unavailable`` when the store is down."""
        ...


class SessionCache(Protocol):
    """Best effort: never raises; a miss and an outage look the same to the caller.

    Each copy may carry the store version it was read or written at (None when
    unknown), so the next save can be one conditional write without a read.
    """

    def get(self, session_id: str) -> dict[str, Any] | None: ...

    def get_versioned(self, session_id: str) -> tuple[dict[str, Any], str | None] | None: ...

    def put(self, session_id: str, doc: Mapping[str, Any], version: str | None = None) -> bool: ...

    def drop(self, session_id: str) -> bool: ...
