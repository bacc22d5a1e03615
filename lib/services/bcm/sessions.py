"""Finalize's view of the onboarding session store, through ``OnboardingService``'s public methods.

Reads go through the store's own read path (Redis when fresh, else Firestore),
so finalize sees exactly what the founder last saved; after finalize commits,
onboarding closes the draft (``OnboardingService.close_draft``, best effort).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lib.domain.onboarding import SessionRow
from lib.errors import NotFound
from lib.services.onboarding.service import OnboardingService


class OnboardingStoreSessions:
    """``lib.services.bcm.ports.OnboardingSessions`` over ``OnboardingService``."""

    def __init__(self, service: OnboardingService) -> None:
        self._service = service

    def read(self, session_id: str) -> tuple[SessionRow, dict[str, Any]] | None:
        try:
            return self._service.read_document(session_id)
        except NotFound:
            return None

    def finished(self, session_id: str, finalized_at: datetime) -> None:
        self._service.close_draft(session_id, finalized_at)
