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
from datetime import timedelta

from lib.ports import Clock
from lib.services.onboarding.ports import OnboardingRepo

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
    repo: OnboardingRepo, clock: Clock, *, idle: timedelta = ABANDON_AFTER, batch: int = BATCH_SIZE
) -> SweepResult:
    cutoff = clock.now() - idle
    examined = abandoned = 0
    seen: set[str] = set()
    for _ in range(MAX_BATCHES):
        stale = [s for s in repo.stale_active(cutoff, batch) if s.id not in seen]
        for session in stale:
            seen.add(session.id)
            examined += 1
            if repo.abandon(session.id, cutoff):
                abandoned += 1
                log.info("onboarding.session_abandoned", extra={"session_id": session.id})
        if len(stale) < batch:
            break
    return SweepResult(examined, abandoned)
