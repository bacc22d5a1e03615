"""The ports the AI worker uses: the model that suggests, and the session it writes to.

``SuggestionModel`` is implemented by ``lib.adapters.vertex.VertexSuggestions``
(Gemini on Vertex AI through google-genai; locally pointed at the Gemini
stand-in) and by hand-written fakes in the tests.  ``AiSessionStore`` is the
slice of ``lib.services.onboarding.OnboardingService`` the worker needs, so
the step's ``ai`` fields go through the same store API as every other write
(Firestore first, then the Redis hot copy), never around it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from lib.domain.onboarding import SessionRow
from lib.errors import AdapterError


class InvalidOutput(AdapterError):
    """The model answered, but not with a JSON object (or not with text at all): worth another try."""

    def __init__(self, message: str, service: str = "vertex", **details: Any) -> None:
        super().__init__(message, service, True, details)


class SuggestionModel(Protocol):
    def generate_json(
        self, prompt: str, *, response_schema: dict[str, Any], timeout_s: float
    ) -> tuple[dict[str, Any], str]:
        """One model call constrained to ``response_schema``: (the JSON object, the model id).

        Raises ``Unavailable`` (timeouts, 429, 5xx: retry later), ``Rejected`` (other 4xx:
        the request itself is wrong) or ``InvalidOutput`` (not a JSON object)."""
        ...


class AiSessionStore(Protocol):
    def read_document(self, session_id: str) -> tuple[SessionRow, dict[str, Any]]:
        """The row and the session document; ``NotFound`` / ``Gone`` / ``ServiceUnavailable``."""
        ...

    def record_ai(self, session_id: str, number: int, task_id: str, fields: Mapping[str, Any]) -> bool:
        """Set the step's public ``ai`` fields when ``task_id`` is still its task; False otherwise."""
        ...
