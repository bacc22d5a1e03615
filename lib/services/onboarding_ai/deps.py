"""What the AI worker's use case takes: the onboarding store it writes through, the model, the clock
and its limits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from lib.ports import Clock
from lib.queues import AI as AI_QUEUE
from lib.services.onboarding.deps import OnboardingDeps
from lib.services.onboarding_ai.ports import SuggestionModel

# The AI queue's max_attempts (lib/queues.json, which Terraform creates the queue from):
# the attempt with this number is the last one, so its failure is recorded and acknowledged.
MAX_ATTEMPTS = AI_QUEUE.retry.max_attempts
# A task delivered this long after it was requested is stale (a stuck queue, a replay): acknowledge it.
POISON_AFTER = timedelta(hours=6)
# The per-attempt model limit (docs/architecture.md: 30 s per attempt); Settings.ai_timeout_s overrides it.
DEFAULT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class SuggestionDeps:
    """The step's ``ai`` fields are written through onboarding's own functions (Firestore first,
    then the Redis hot copy), never around them."""

    onboarding: OnboardingDeps
    model: SuggestionModel
    clock: Clock
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_attempts: int = MAX_ATTEMPTS
    poison_after: timedelta = POISON_AFTER
