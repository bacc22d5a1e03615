"""Move a user's ``onboarding_status`` for a session event, inside the caller's unit of work."""

from __future__ import annotations

from lib.domain.onboarding import SessionEvent, user_status_moves
from lib.services.onboarding.ports import OnboardingRepo


def move_user(sessions: OnboardingRepo, user_id: str, event: SessionEvent) -> None:
    """Apply ``event``'s moves to the user (their row locked by the read); nothing for a finished user."""
    current = sessions.user_onboarding_status(user_id)
    if current is None:
        return
    for status in user_status_moves(event, current):
        sessions.set_user_onboarding_status(user_id, status)
