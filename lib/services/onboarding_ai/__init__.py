"""AI suggestions for onboarding steps: the ``onboarding_ai`` worker's use case.

``SuggestionRunner.run(payload, retry_count=...)`` runs one Cloud Tasks delivery
of one step's AI task; ``SuggestionModel`` is the LLM port (implemented by
``lib.adapters.vertex.VertexSuggestions``); prompts live in ``lib/prompts/``.
"""

from lib.services.onboarding_ai.ports import AiSessionStore, InvalidOutput, SuggestionModel
from lib.services.onboarding_ai.prompts import build_prompt
from lib.services.onboarding_ai.runner import MAX_ATTEMPTS, POISON_AFTER, Outcome, SuggestionRunner, unusable_payload
from lib.services.onboarding_ai.schema import response_schema

__all__ = [
    "MAX_ATTEMPTS",
    "POISON_AFTER",
    "AiSessionStore",
    "InvalidOutput",
    "Outcome",
    "SuggestionModel",
    "SuggestionRunner",
    "build_prompt",
    "response_schema",
    "unusable_payload",
]
