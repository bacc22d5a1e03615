"""Onboarding's records: a session's row (who owns it, its status, its mirrored progress) and a
stale one for the abandon sweep; and the rule that moves a user's ``onboarding_status`` when
their session starts being saved, is abandoned or resumed.  Frozen values; no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
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
    stale one (see ``lib.services.onboarding.service``).
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


class SessionEvent(StrEnum):
    """What happened to a session that moves its owner's ``users.onboarding_status``."""

    FIRST_SAVE = "first_save"  # the first step save of the session
    ABANDONED = "abandoned"  # the sweep found it idle too long
    RESUMED = "resumed"  # POST /sessions brought an abandoned one back


# users.onboarding_status, forward only (the database's trigger refuses a backward move):
# pending -> payment_confirmed -> in_progress -> completed, and abandoned <-> in_progress.
# For each event: the states it moves from, and the states it moves through from each.
_USER_MOVES: dict[SessionEvent, dict[str, tuple[str, ...]]] = {
    # A paid or free workspace let them start, so a first save confirms the payment on the way.
    SessionEvent.FIRST_SAVE: {
        "pending": ("payment_confirmed", "in_progress"),
        "payment_confirmed": ("in_progress",),
        "abandoned": ("in_progress",),
    },
    SessionEvent.ABANDONED: {"payment_confirmed": ("abandoned",), "in_progress": ("abandoned",)},
    SessionEvent.RESUMED: {"abandoned": ("in_progress",)},
}


def user_status_moves(event: SessionEvent, current: str) -> tuple[str, ...]:
    """The ``onboarding_status`` values to set, in order, when ``event`` happens to a user at
    ``current``; empty when it does not move them (finished users stay put)."""
    return _USER_MOVES[event].get(current, ())


__all__ = [
    "ABANDONED",
    "ACTIVE",
    "FINALIZED",
    "SessionEvent",
    "SessionRow",
    "SessionStatus",
    "StaleSession",
    "user_status_moves",
]
