"""Finalize's view of the onboarding session store, through onboarding's public functions.

Reads go through the store's own read path (Redis when fresh, else Firestore),
so finalize sees exactly what the founder last saved; after finalize commits,
onboarding closes the draft (``close_draft``, best effort).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lib.domain.onboarding import SessionRow
from lib.errors import NotFound
from lib.services import onboarding


class OnboardingStoreSessions:
    """``lib.services.bcm.ports.OnboardingSessions`` over onboarding's ``read_document`` and ``close_draft``."""

    def __init__(self, deps: onboarding.OnboardingDeps) -> None:
        self._deps = deps

    def read(self, session_id: str) -> tuple[SessionRow, dict[str, Any]] | None:
        try:
            return onboarding.read_document(session_id, deps=self._deps)
        except NotFound:
            return None

    def finished(self, session_id: str, finalized_at: datetime) -> None:
        onboarding.close_draft(session_id, finalized_at, deps=self._deps)
