"""Onboarding's records: a session's row (who owns it, its status, its mirrored progress) and a
stale one for the abandon sweep.  Frozen values; no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

SessionStatus = Literal["active", "finalized", "abandoned"]
ACTIVE: SessionStatus = "active"
FINALIZED: SessionStatus = "finalized"
ABANDONED: SessionStatus = "abandoned"


@dataclass(frozen=True)
class SessionRow:
    """One ``onboarding_sessions`` row: who owns the session, its status and mirrored progress.

    ``last_saved_at`` is the ``updated_at`` of the newest draft document this row
    has seen: reads use it as the fence that tells a fresh cached copy from a
    stale one (see ``OnboardingService``).
    """

    id: str
    workspace_id: str
    user_id: str
    status: SessionStatus
    steps_complete: int
    steps_total: int
    last_saved_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class StaleSession:
    """An active session that has not been saved for too long (the abandon sweep)."""

    id: str
    workspace_id: str
    user_id: str


__all__ = ["ABANDONED", "ACTIVE", "FINALIZED", "SessionRow", "SessionStatus", "StaleSession"]
