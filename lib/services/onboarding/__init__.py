"""Onboarding sessions: start/resume, read, save a step, AI requests, the abandon sweep.

``OnboardingService`` is built by ``lib.bootstrap.Container.onboarding``; the
``onboarding_step`` function calls it, the ``onboarding_ai`` worker records its
results through ``OnboardingService.record_ai`` (contract: ``ai_contract``), and
``maintenance`` runs ``abandon.abandon_stale_sessions``.
"""

from lib.services.onboarding.abandon import ABANDON_AFTER, abandon_stale_sessions
from lib.services.onboarding.service import MAX_SAVE_BODY, OnboardingService, StartResult

__all__ = ["ABANDON_AFTER", "MAX_SAVE_BODY", "OnboardingService", "StartResult", "abandon_stale_sessions"]
