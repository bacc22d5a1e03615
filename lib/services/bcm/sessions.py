"""Finalize's view of the onboarding session store (``OnboardingService``).

Reads go through the store's own read path (Redis when fresh, else Firestore),
so finalize sees exactly what the founder last saved.  After finalize commits,
the Firestore draft is stamped ``status: finalized`` (the durable record that
the draft is closed; its TTL still removes it later) and the hot Redis copy is
dropped.  Both are best effort: Postgres already says the session is
finalized, and every later read or write checks the row first.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from lib.errors import AdapterError, NotFound
from lib.services.onboarding.ports import SessionRow
from lib.services.onboarding.service import OnboardingService

log = logging.getLogger(__name__)

FINALIZED = "finalized"


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
        stamp = finalized_at.astimezone(UTC).isoformat(timespec="microseconds")
        try:
            self._service.drafts.update(session_id, {"status": FINALIZED, "finalized_at": stamp}, expect={})
        except AdapterError as exc:  # the draft expired or Firestore is down: Postgres is the record
            log.warning("bcm.finalize.draft_mark_failed", extra={"session_id": session_id, "error": str(exc)})
        self._service.cache.drop(session_id)
