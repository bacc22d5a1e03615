"""The maintenance sweep: sessions without a save for 7 days become ``abandoned``.

The row moves active -> abandoned and the owner's unfinished
``onboarding_status`` -> ``abandoned`` (one transaction, re-checking staleness
so a save that lands meanwhile wins).  The draft itself stays in Firestore
until its ``expires_at`` TTL (30 days after the last write) removes it;
``POST /sessions`` resumes the session while the draft exists.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from lib.domain.onboarding import ABANDONED, ACTIVE, SessionEvent
from lib.services.onboarding.deps import OnboardingDeps
from lib.services.onboarding.user_status import move_user

log = logging.getLogger(__name__)

# A session not saved for this long is abandoned (docs/domain.md).
ABANDON_AFTER = timedelta(days=7)
# Sessions handled per batch; a scheduler run loops until a batch comes back short.
BATCH_SIZE = 200
# Upper bound of batches per run so one invocation stays well inside its timeout.
MAX_BATCHES = 25


@dataclass(frozen=True)
class SweepResult:
    examined: int
    abandoned: int

    def as_dict(self) -> dict[str, int]:
        return {"examined": self.examined, "abandoned": self.abandoned}


def abandon_stale_sessions(
    *, deps: OnboardingDeps, idle: timedelta = ABANDON_AFTER, batch: int = BATCH_SIZE
) -> SweepResult:
    cutoff = deps.clock.now() - idle
    examined = abandoned = 0
    seen: set[str] = set()
    for _ in range(MAX_BATCHES):
        stale = [s for s in deps.repo.stale_active(cutoff, batch) if s.id not in seen]
        for session in stale:
            seen.add(session.id)
            examined += 1
            if _abandon(session.id, cutoff, deps=deps):
                abandoned += 1
                log.info("onboarding.session_abandoned", extra={"session_id": session.id})
        if len(stale) < batch:
            break
    return SweepResult(examined, abandoned)


def _abandon(session_id: str, cutoff: datetime, *, deps: OnboardingDeps) -> bool:
    """active -> abandoned, re-checking the staleness in the same statement (a save that landed
    meanwhile wins: False), and the owner's unfinished ``onboarding_status`` with it."""
    with deps.unit() as uow:
        row = uow.sessions.move_session(session_id, to=ABANDONED, only_from=ACTIVE, idle_before=cutoff)
        if row is None:
            return False
        move_user(uow.sessions, row.user_id, SessionEvent.ABANDONED)
        uow.commit()
    return True
