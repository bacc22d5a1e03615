"""AI suggestions for onboarding steps: the ``onboarding_ai`` worker's use case.

``run_suggestion(payload, retry_count=..., deps=...)`` runs one Cloud Tasks
delivery of one step's AI task; ``SuggestionModel`` is the LLM port
(implemented by ``lib.adapters.vertex.VertexSuggestions``); prompts live in
``lib/prompts/``.
"""

from lib.services.onboarding_ai.deps import MAX_ATTEMPTS, POISON_AFTER, SuggestionDeps
from lib.services.onboarding_ai.ports import InvalidOutput, SuggestionModel
from lib.services.onboarding_ai.prompts import build_prompt
from lib.services.onboarding_ai.runner import Outcome, run_suggestion, unusable_payload
from lib.services.onboarding_ai.schema import response_schema

__all__ = [
    "MAX_ATTEMPTS",
    "POISON_AFTER",
    "InvalidOutput",
    "Outcome",
    "SuggestionDeps",
    "SuggestionModel",
    "build_prompt",
    "response_schema",
    "run_suggestion",
    "unusable_payload",
]
