"""The port the AI worker adds: the model that suggests.

``SuggestionModel`` is implemented by ``lib.adapters.vertex.VertexSuggestions``
(Gemini on Vertex AI through google-genai; locally pointed at the Gemini
stand-in) and by hand-written fakes in the tests.  The session it writes to is
onboarding's own (``SuggestionDeps.onboarding``).
"""

from __future__ import annotations

from typing import Any, Protocol

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
