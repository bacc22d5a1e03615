"""Gemini on Vertex AI through google-genai: the ``SuggestionModel`` port.

One ``generate_content`` call per attempt, with ``response_mime_type`` JSON and
the task's schema as ``response_json_schema``, a low temperature (suggestions
should be stable, not creative) and a per-call timeout; the SDK's own retries
stay off because Cloud Tasks owns retrying (3 attempts with backoff).

Vendor errors become ``lib.errors`` adapter errors: timeouts, connection
failures, 408/429 and 5xx are ``Unavailable`` (retry later); other 4xx are
``Rejected``; an answer that is not a JSON object is ``InvalidOutput``.

Locally ``base_url`` points the client at the Gemini stand-in
(``devtools.local.gemini_stub``): the SDK then sends the same Vertex path
(``/v1beta1/projects/{p}/locations/{l}/publishers/google/models/{m}:generateContent``)
under that URL, authorised by a fixed token so no metadata server is asked.
The client is built on first use, never at import or construction.
"""

from __future__ import annotations

import contextlib
import importlib
import json
from typing import TYPE_CHECKING, Any

import httpx
from google.auth import exceptions as auth_errors
from google.genai import errors as genai_errors

from lib.adapters.lazy import Lazy
from lib.errors import Rejected, Unavailable
from lib.services.onboarding_ai.ports import InvalidOutput

if TYPE_CHECKING:
    from google import genai

    from lib.config import Settings

SERVICE = "vertex"
# Suggestions should come out nearly the same for the same inputs: low, not zero, temperature.
TEMPERATURE = 0.2
# HTTP statuses worth another attempt later (timeout, rate limit); every 5xx is too.
RETRYABLE_STATUSES = frozenset({408, 429})
# The token sent to a local stand-in (it checks presence, not value); never used with Google.
LOCAL_TOKEN = "local-gemini-stand-in"  # noqa: S105 - not a secret


def _http_errors(name: str) -> tuple[type[Exception], ...]:
    """``name`` (e.g. ``TimeoutException``) from httpx and from httpx2, the fork google-genai
    uses when it is installed: their classes are unrelated, so both are caught."""
    found: list[type[Exception]] = [getattr(httpx, name)]
    with contextlib.suppress(ImportError):
        found.append(getattr(importlib.import_module("httpx2"), name))
    return tuple(found)


HTTP_TIMEOUTS = _http_errors("TimeoutException")
HTTP_TRANSPORT_ERRORS = _http_errors("TransportError")
# A prompt error message is cut to this many characters (they can quote the whole request).
MAX_MESSAGE_CHARS = 300


class VertexSuggestions:
    """``SuggestionModel`` over ``google.genai.Client(vertexai=True, ...)``."""

    def __init__(
        self,
        *,
        project: str,
        location: str,
        model: str,
        base_url: str | None = None,
        timeout_s: float = 30.0,
        temperature: float = TEMPERATURE,
    ) -> None:
        self.project = project
        self.location = location
        self.model = model
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.temperature = temperature
        self._client: Lazy[genai.Client] = Lazy(self._build_client)

    @classmethod
    def from_settings(cls, settings: Settings) -> VertexSuggestions:
        return cls(
            project=settings.gcp_project,
            location=settings.vertex_location,
            model=settings.vertex_model,
            base_url=settings.genai_base_url,
            timeout_s=settings.ai_timeout_s,
        )

    def client(self) -> genai.Client:
        """The google-genai client, built once (credentials are resolved on the first call)."""
        return self._client.get()

    def _build_client(self) -> genai.Client:
        from google import genai
        from google.genai import types

        credentials = None
        if self.base_url:
            from google.oauth2.credentials import Credentials

            credentials = Credentials(token=LOCAL_TOKEN)  # type: ignore[no-untyped-call]
        return genai.Client(
            vertexai=True,
            project=self.project,
            location=self.location,
            credentials=credentials,
            http_options=types.HttpOptions(
                base_url=self.base_url,
                timeout=_ms(self.timeout_s),
                retry_options=types.HttpRetryOptions(attempts=1),  # Cloud Tasks retries, not the SDK
            ),
        )

    def generate_json(
        self, prompt: str, *, response_schema: dict[str, Any], timeout_s: float
    ) -> tuple[dict[str, Any], str]:
        from google.genai import types

        config = types.GenerateContentConfig(
            response_mime_type="application/json",
            response_json_schema=response_schema,
            temperature=self.temperature,
            candidate_count=1,
            http_options=types.HttpOptions(timeout=_ms(timeout_s)),
        )
        try:
            response = self.client().models.generate_content(model=self.model, contents=prompt, config=config)
        except genai_errors.APIError as exc:
            raise _translate_api_error(exc) from exc
        except HTTP_TIMEOUTS as exc:
            raise Unavailable(f"no answer within {timeout_s:g} s", SERVICE, timeout=True) from exc
        except HTTP_TRANSPORT_ERRORS as exc:
            raise Unavailable(f"cannot reach the model: {type(exc).__name__}", SERVICE) from exc
        except auth_errors.TransportError as exc:
            raise Unavailable("cannot fetch credentials", SERVICE) from exc
        except auth_errors.GoogleAuthError as exc:
            raise Rejected(f"credentials refused: {type(exc).__name__}", SERVICE) from exc
        return _parse(response), response.model_version or self.model


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _translate_api_error(exc: genai_errors.APIError) -> Unavailable | Rejected:
    code = int(exc.code or 0)
    message = f"{code} {exc.status or ''}: {(exc.message or '')[:MAX_MESSAGE_CHARS]}".strip()
    if code >= 500 or code in RETRYABLE_STATUSES:
        return Unavailable(message, SERVICE, status=code)
    return Rejected(message, SERVICE, status=code)


def _parse(response: Any) -> dict[str, Any]:
    """The first candidate's text as a JSON object, or ``InvalidOutput`` saying why not."""
    candidates = response.candidates or []
    reason = candidates[0].finish_reason if candidates else None
    finish = str(getattr(reason, "value", reason) or "none")
    text = response.text
    if not text:
        raise InvalidOutput(f"no text in the answer (finish reason {finish})", SERVICE)
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidOutput(f"the answer is not JSON (finish reason {finish})", SERVICE) from exc
    if not isinstance(value, dict):
        raise InvalidOutput(f"the answer is JSON {type(value).__name__}, not an object", SERVICE)
    return value
