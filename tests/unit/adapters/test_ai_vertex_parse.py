"""How the Vertex adapter reads Gemini's answer and its errors (no network)."""

from __future__ import annotations

import pytest
from google.genai import errors as genai_errors
from google.genai import types

from lib.adapters.vertex import _parse, _translate_api_error
from lib.errors import Rejected, Unavailable
from lib.services.onboarding_ai import InvalidOutput


def answer(text: str | None, finish: str = "STOP") -> types.GenerateContentResponse:
    parts = [types.Part(text=text)] if text is not None else []
    return types.GenerateContentResponse(
        candidates=[types.Candidate(content=types.Content(role="model", parts=parts), finish_reason=finish)]
    )


def test_a_json_object_is_the_suggestion() -> None:
    assert _parse(answer('{"dos": ["Be plain"]}')) == {"dos": ["Be plain"]}


@pytest.mark.parametrize(
    ("response", "why"),
    [
        (answer(None, "SAFETY"), "no text in the answer .finish reason"),
        (answer('{"cut": "off', "MAX_TOKENS"), "not JSON"),
        (answer("[1, 2]"), "JSON list, not an object"),
        (types.GenerateContentResponse(candidates=[]), "no text"),
    ],
)
def test_anything_else_is_invalid_output(response: types.GenerateContentResponse, why: str) -> None:
    with pytest.raises(InvalidOutput, match=why) as caught:
        _parse(response)
    assert caught.value.retryable


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (500, Unavailable),
        (503, Unavailable),
        (429, Unavailable),
        (408, Unavailable),
        (400, Rejected),
        (403, Rejected),
        (404, Rejected),
    ],
)
def test_status_codes_map_to_retry_or_refuse(code: int, kind: type[Exception]) -> None:
    error = genai_errors.APIError(code, {"error": {"code": code, "message": "m" * 1000, "status": "X"}})
    translated = _translate_api_error(error)
    assert isinstance(translated, kind)
    assert translated.details["status"] == code
    assert len(translated.message) < 400
