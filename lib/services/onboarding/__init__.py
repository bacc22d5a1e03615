"""Onboarding sessions: start/resume, read, save a step, AI requests, the abandon sweep.

Each use case is a function over ``OnboardingDeps`` (built by
``lib.bootstrap.Container.onboarding``): the ``onboarding_step`` function calls
them, the ``onboarding_ai`` worker records its results through ``record_ai``
(contract: ``ai_contract``), finalize reads through ``read_document`` and
``close_draft``, and ``maintenance`` runs ``abandon_stale``.
"""

from lib.services.onboarding.abandon import ABANDON_AFTER, abandon_stale_sessions
from lib.services.onboarding.deps import OnboardingDeps
from lib.services.onboarding.service import (
    MAX_SAVE_BODY,
    StartResult,
    abandon_stale,
    close_draft,
    get_session,
    read_document,
    record_ai,
    request_ai,
    save_step,
    start_session,
    step_catalogue,
)

__all__ = [
    "ABANDON_AFTER",
    "MAX_SAVE_BODY",
    "OnboardingDeps",
    "StartResult",
    "abandon_stale",
    "abandon_stale_sessions",
    "close_draft",
    "get_session",
    "read_document",
    "record_ai",
    "request_ai",
    "save_step",
    "start_session",
    "step_catalogue",
]
